//! Silences and grace periods (docs/ROUTING.md), from outside: a fake
//! ITOC360 that tells destinations apart by token, real HTTP, restarts.

use chrono::{Duration as Span, SecondsFormat, Utc};
use serde_json::{Value, json};
use statuspage_bridge::config::{PageRules, Route, Secret, Settings};
use statuspage_bridge::rules::domain::EntityKind;

use crate::fake_itoc360::FakeItoc360;
use crate::helpers::{TestApp, needs_database, other_component, spawn_app_with, spawn_in};

const PAGE: &str = "x1y2z3a4b5c6";
const DEFAULT: &str = "default-token-0123456789";
const SLOW: &str = "slow-team-token-0123456789";
const QUICK: &str = "quick-team-token-0123456789";
const FLAPPY: &str = "flappy-team-token-0123456789";
const USER: &str = "oncall";
const PASS: &str = "correct horse battery staple";

fn route(name: &str, token: &str, component: &str, page_after: u64, resolve_after: u64) -> Route {
    Route {
        name: name.into(),
        pages: vec![],
        components: vec![component.into()],
        kinds: vec![EntityKind::Component],
        min_priority: None,
        token: Secret::new(token),
        format: None,
        continue_matching: false,
        page_after_secs: (page_after > 0).then_some(page_after),
        resolve_after_secs: (resolve_after > 0).then_some(resolve_after),
    }
}

/// A bridge delivering to `fake`, the page named "Example", audit
/// credentials set, and the routing `f` adds.
async fn spawn(fake: &FakeItoc360, f: impl FnOnce(&mut Settings) + Send + 'static) -> TestApp {
    let base = fake.base_url.clone();
    spawn_app_with(move |s| {
        s.itoc360.base_url = base;
        s.itoc360.token = Secret::new(DEFAULT);
        s.audit.username = USER.into();
        s.audit.password = Secret::new(PASS);
        s.routing.pages = vec![PageRules {
            page_id: PAGE.into(),
            name: "Example".into(),
            ..PageRules::default()
        }];
        f(s);
    })
    .await
}

fn rfc3339(t: chrono::DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

async fn post_silence(app: &TestApp, body: &Value, creds: Option<(&str, &str)>) -> (u16, Value) {
    let mut req = app
        .client
        .post(format!("{}/api/silences", app.address))
        .json(body);
    if let Some((u, p)) = creds {
        req = req.basic_auth(u, Some(p));
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn delete_silence(app: &TestApp, id: &str) -> (u16, Value) {
    let r = app
        .client
        .delete(format!("{}/api/silences/{id}", app.address))
        .basic_auth(USER, Some(PASS))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn get(app: &TestApp, path: &str) -> String {
    let r = app
        .client
        .get(format!("{}{path}", app.address))
        .basic_auth(USER, Some(PASS))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200, "{path}");
    r.text().await.unwrap()
}

async fn posted(app: &TestApp, body: String) -> (String, String) {
    let (status, v) = app.post_json(body).await;
    assert_eq!(status, 200, "{v}");
    (
        v["outcome"].as_str().unwrap().to_owned(),
        v["reason"].as_str().unwrap().to_owned(),
    )
}

fn fingerprint(component: &str) -> String {
    format!("statuspage:{PAGE}:component:{component}")
}

/// (status, severity-or-priority field) of what `token` accepted for one
/// component, in order.
fn statuses(fake: &FakeItoc360, token: &str, component: &str) -> Vec<String> {
    fake.accepted_by(token)
        .iter()
        .filter(|e| e["id"] == fingerprint(component))
        .map(|e| e["status"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test]
async fn a_silence_holds_new_triggers_lets_resolves_through_and_pages_when_expired() {
    needs_database!();
    let fake = FakeItoc360::start(DEFAULT).await;
    let mut app = spawn(&fake, |_| {}).await;
    let now = Utc::now();
    let in_an_hour = rfc3339(now + Span::hours(1));

    // Billing is open in ITOC360 before anyone silences anything.
    let billing_down = other_component("bil1", "Billing", "operational", "major_outage", "10:00");
    assert_eq!(posted(&app, billing_down).await.0, "triggered");

    // Bad input: 400 naming what is wrong, and nothing stored.
    let bad = [
        (json!({"ends_at": in_an_hour, "reason": "r"}), "matcher"),
        (
            json!({"page": PAGE, "starts_at": rfc3339(now + Span::hours(2)), "ends_at": in_an_hour}),
            "ends_at",
        ),
        (json!({"page": PAGE, "ends_at": "tomorrow"}), "ends_at"),
        (json!({"page": PAGE}), "ends_at"),
        (
            json!({"page": PAGE, "ends_at": in_an_hour, "colour": "red"}),
            "colour",
        ),
        (
            json!({"page": PAGE, "ends_at": "9999-12-31T23:59:59Z"}),
            "at most a year",
        ),
        (
            json!({"component": "\u{200b}", "ends_at": in_an_hour}),
            "matcher",
        ),
    ];
    for (body, names) in &bad {
        let (status, v) = post_silence(&app, body, Some((USER, PASS))).await;
        assert_eq!(status, 400, "{body}: {v}");
        assert!(v["error"].as_str().unwrap().contains(names), "{body}: {v}");
    }
    // Credentials always: none or wrong ones change nothing.
    let good = json!({"page": "Example", "component": "API", "ends_at": in_an_hour,
                      "reason": "known, vendor ticket 4411"});
    assert_eq!(post_silence(&app, &good, None).await.0, 401);
    assert_eq!(
        post_silence(&app, &good, Some((USER, "wrong"))).await.0,
        401
    );
    assert_eq!(app.count("SELECT count(*) FROM silences").await, 0);

    let (status, silence) = post_silence(&app, &good, Some((USER, PASS))).await;
    assert_eq!(status, 201, "{silence}");
    let id = silence["id"].as_str().unwrap().to_owned();
    assert_eq!(silence["component"], "API");
    assert_eq!(silence["active"], true);

    // The API goes down: silenced, held until the silence ends.
    let api_down = other_component("api1", "API", "operational", "partial_outage", "10:01");
    let (outcome, reason) = posted(&app, api_down).await;
    assert_eq!(outcome, "silenced");
    assert!(
        reason.contains(&id) && reason.contains("vendor ticket 4411"),
        "{reason}"
    );
    // Billing recovers: resolves are always sent.
    let billing_up = other_component("bil1", "Billing", "major_outage", "operational", "10:02");
    assert_eq!(posted(&app, billing_up).await.0, "resolved");
    app.drain().await;
    assert_eq!(statuses(&fake, DEFAULT, "bil1"), ["trigger", "resolve"]);
    assert!(statuses(&fake, DEFAULT, "api1").is_empty());
    let alerts = get(&app, "/alerts").await;
    assert!(alerts.contains("default (held until"), "{alerts}");
    let page = get(&app, "/silences").await;
    assert!(
        page.contains("known, vendor ticket 4411") && page.contains(&id),
        "{page}"
    );

    // A restart keeps the silence and the held trigger; the API worsens
    // meanwhile (same priority: nothing new to tell).
    let (dir, settings) = app.stop().await;
    let app = spawn_in(dir, settings).await;
    let api_worse = other_component("api1", "API", "partial_outage", "major_outage", "10:03");
    let (outcome, reason) = posted(&app, api_worse).await;
    assert_eq!(outcome, "deduplicated", "{reason}");
    let accepted = fake.accepted().len();

    // Expired by hand: the alert is still open, so it is triggered now at
    // its current priority, once.
    let (status, v) = delete_silence(&app, &id).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["released"], 1);
    fake.wait_for_requests(accepted + 1).await;
    let api = fake
        .accepted_by(DEFAULT)
        .into_iter()
        .filter(|e| e["id"] == fingerprint("api1"))
        .collect::<Vec<_>>();
    assert_eq!(api.len(), 1, "{api:?}");
    assert_eq!(api[0]["status"], "trigger");
    assert_eq!(api[0]["severity"], "medium");
    assert!(api[0]["title"].as_str().unwrap().starts_with("[Example] "));
    assert_eq!(delete_silence(&app, "nope").await.0, 404);
    fake.stop().await;
}

#[tokio::test]
async fn a_silence_that_ends_by_itself_triggers_what_it_held() {
    needs_database!();
    let fake = FakeItoc360::start(DEFAULT).await;
    let mut app = spawn(&fake, |_| {}).await;
    let ends = Utc::now() + Span::seconds(2);
    let body = json!({"route": "default", "ends_at": rfc3339(ends), "reason": "deploy"});
    assert_eq!(post_silence(&app, &body, Some((USER, PASS))).await.0, 201);
    let down = other_component("api1", "API", "operational", "major_outage", "10:00");
    assert_eq!(posted(&app, down).await.0, "silenced");
    assert!(fake.received().is_empty());
    fake.wait_for_requests(1).await;
    app.drain().await;
    assert_eq!(statuses(&fake, DEFAULT, "api1"), ["trigger"]);
    let sent: String = app
        .db()
        .value("SELECT min(started_at) FROM delivery_attempts", &[])
        .await;
    assert!(
        sent >= rfc3339(ends),
        "sent at {sent}, the silence ended at {ends}"
    );
    fake.stop().await;
}

#[tokio::test]
async fn grace_periods_wait_out_blips_and_flaps_per_route() {
    needs_database!();
    let fake = FakeItoc360::start_many(&[DEFAULT, SLOW, QUICK, FLAPPY]).await;
    let mut app = spawn(&fake, |s| {
        s.routing.routes = vec![
            route("slow", SLOW, "API", 600, 0),
            route("quick", QUICK, "Billing", 1, 1),
            route("flappy", FLAPPY, "Search", 0, 600),
        ];
    })
    .await;

    // A blip shorter than page_after_secs: nobody is paged.
    let down = other_component("api1", "API", "operational", "major_outage", "10:00");
    assert_eq!(posted(&app, down).await.0, "triggered");
    let held: (String, Option<String>) = app
        .db()
        .one(
            "SELECT held_by, held_until FROM outbox WHERE destination = 'slow'",
            &[],
        )
        .await;
    assert_eq!(held.0, "page_after_secs");
    let up = other_component("api1", "API", "major_outage", "operational", "10:01");
    let (outcome, reason) = posted(&app, up).await;
    assert_eq!(outcome, "recovered");
    assert!(
        reason.starts_with("recovered within 600 s: not paged"),
        "{reason}"
    );

    // A flap within resolve_after_secs: the resolve is cancelled, the
    // alert stays open in ITOC360, nothing more is sent.
    let s1 = other_component("srch", "Search", "operational", "major_outage", "10:00");
    let s2 = other_component("srch", "Search", "major_outage", "operational", "10:01");
    let s3 = other_component("srch", "Search", "operational", "major_outage", "10:02");
    assert_eq!(posted(&app, s1).await.0, "triggered");
    assert_eq!(posted(&app, s2).await.0, "resolved");
    let alerts = get(&app, "/alerts").await;
    assert!(alerts.contains("Resolves held"), "{alerts}");
    let (outcome, reason) = posted(&app, s3).await;
    assert_eq!(outcome, "triggered");
    assert!(reason.contains("stays open"), "{reason}");

    // An outage longer than page_after_secs pages once, at the priority
    // it has when the time is up; its resolve waits resolve_after_secs.
    let b1 = other_component("bil1", "Billing", "operational", "partial_outage", "10:00");
    let b2 = other_component("bil1", "Billing", "partial_outage", "major_outage", "10:01");
    assert_eq!(posted(&app, b1).await.0, "triggered");
    assert_eq!(posted(&app, b2).await.0, "deduplicated");
    fake.wait_for_requests(2).await; // search's trigger, billing's
    app.drain().await;
    let billing: Vec<Value> = fake
        .accepted_by(QUICK)
        .into_iter()
        .filter(|e| e["id"] == fingerprint("bil1"))
        .collect();
    assert_eq!(billing.len(), 1, "{billing:?}");
    assert_eq!(billing[0]["severity"], "medium");
    let b3 = other_component("bil1", "Billing", "major_outage", "operational", "10:05");
    assert_eq!(posted(&app, b3).await.0, "resolved");
    fake.wait_for_requests(3).await;
    assert_eq!(statuses(&fake, QUICK, "bil1"), ["trigger", "resolve"]);

    assert!(fake.accepted_by(SLOW).is_empty());
    assert_eq!(statuses(&fake, FLAPPY, "srch"), ["trigger"]);
    assert!(fake.accepted_by(DEFAULT).is_empty());
    let states: Vec<(String, String)> = app
        .db()
        .all(
            "SELECT destination, state FROM outbox WHERE state = 'cancelled' ORDER BY id",
            &[],
        )
        .await;
    assert_eq!(
        states,
        [
            ("slow".to_owned(), "cancelled".to_owned()),
            ("flappy".to_owned(), "cancelled".to_owned()),
        ],
        "the blip's trigger, the flap's resolve"
    );
    let held_view: i64 = app
        .count("SELECT count(*) FROM alert_events WHERE held_by IS NOT NULL")
        .await;
    assert_eq!(held_view, 4, "alert_events shows every held event");
    fake.stop().await;
}
