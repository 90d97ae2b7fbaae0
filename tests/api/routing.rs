//! Routing (docs/ROUTING.md) against a fake ITOC360 that tells its sources
//! apart by token: page names, page filters, routes with fan-out and their
//! own formats, unrouted alerts, and destinations that keep their own view
//! of each alert across restarts and route changes.

use statuspage_bridge::config::{Format, PageRules, Route, Secret, Settings};
use statuspage_bridge::rules::domain::{EntityKind, Priority};

use crate::fake_itoc360::FakeItoc360;
use crate::helpers::*;

const PAGE: &str = "x1y2z3a4b5c6";
const TEAM_A: &str = "team-a-token-0123456789";
const TEAM_B: &str = "team-b-token-0123456789";
const DEFAULT: &str = "default-token-0123456789";

fn route(name: &str, token: &str, f: impl FnOnce(&mut Route)) -> Route {
    let mut r = Route {
        name: name.into(),
        pages: vec![],
        components: vec![],
        kinds: vec![],
        min_priority: None,
        token: Secret::new(token),
        format: None,
        continue_matching: false,
        page_after_secs: None,
        resolve_after_secs: None,
    };
    f(&mut r);
    r
}

fn example_page(f: impl FnOnce(&mut PageRules)) -> PageRules {
    let mut p = PageRules {
        page_id: PAGE.into(),
        name: "Example".into(),
        ..PageRules::default()
    };
    f(&mut p);
    p
}

/// Two teams and a default: team A owns the API (Alertmanager format) and
/// lets alerts go on; team B takes incidents.
fn two_teams(s: &mut Settings, base_url: &str) {
    s.itoc360.base_url = base_url.to_owned();
    s.itoc360.token = Secret::new(DEFAULT);
    s.routing.pages = vec![example_page(|p| {
        p.ignore_components = vec!["Ignored".into()];
    })];
    s.routing.routes = vec![
        route("team-a", TEAM_A, |r| {
            r.components = vec!["API".into()];
            r.format = Some(Format::Alertmanager);
            r.continue_matching = true;
        }),
        route("team-b", TEAM_B, |r| r.kinds = vec![EntityKind::Incident]),
    ];
}

/// A bridge that delivers to `fake`, with `[itoc360]`'s token `DEFAULT`
/// and the routing `f` sets.
async fn spawn_routed(
    fake: &FakeItoc360,
    f: impl FnOnce(&mut Settings) + Send + 'static,
) -> TestApp {
    let base = fake.base_url.clone();
    spawn_app_with(move |s| {
        s.itoc360.base_url = base;
        s.itoc360.token = Secret::new(DEFAULT);
        f(s);
    })
    .await
}

async fn outcome_and_reason(app: &TestApp, body: String) -> (String, String) {
    let (status, v) = app.post_json(body).await;
    assert_eq!(status, 200, "{v}");
    (
        v["outcome"].as_str().unwrap().to_owned(),
        v["reason"].as_str().unwrap().to_owned(),
    )
}

/// (destination, action, priority) of every outbox row, in order.
async fn sent(app: &TestApp) -> Vec<(String, String, String)> {
    app.db()
        .all(
            "SELECT destination, action, priority FROM outbox ORDER BY id",
            &[],
        )
        .await
}

fn row(d: &str, a: &str, p: &str) -> (String, String, String) {
    (d.into(), a.into(), p.into())
}

#[tokio::test]
async fn alerts_go_to_the_teams_that_own_them_in_their_formats() {
    needs_database!();
    let fake = FakeItoc360::start_many(&[TEAM_A, TEAM_B, DEFAULT]).await;
    let base = fake.base_url.clone();
    let mut app = spawn_app_with(move |s| two_teams(s, &base)).await;

    // The API's outage: team A only (team B takes incidents).
    let api = component_change("operational", "major_outage", "10:16");
    assert_eq!(app.outcome(api).await, "triggered");
    // The incident lists the API: team A, and on to team B.
    assert_eq!(
        app.outcome(fixture("01_incident_created_investigating_critical.json"))
            .await,
        "triggered"
    );
    // Another component: no route takes it, so [itoc360].
    let billing = other_component("bil1", "Billing", "operational", "partial_outage", "10:17");
    assert_eq!(app.outcome(billing).await, "triggered");
    app.drain().await;

    let a = fake.accepted_by(TEAM_A);
    let b = fake.accepted_by(TEAM_B);
    let d = fake.accepted_by(DEFAULT);
    assert_eq!((a.len(), b.len(), d.len()), (3, 1, 1), "{a:?} {b:?} {d:?}");
    // Team A reads Alertmanager bodies, titled with the page's name. Per
    // alert, in order: the outage, then its raise to critical by the
    // incident; and the incident itself (another alert: any order).
    let of = |fp: &str| -> Vec<serde_json::Value> {
        a.iter()
            .filter(|e| e["alerts"][0]["fingerprint"] == fp)
            .cloned()
            .collect()
    };
    let component = of("statuspage:x1y2z3a4b5c6:component:r7p3k9d2m5w1");
    assert_eq!(component.len(), 2);
    assert_eq!(component[0]["status"], "firing");
    assert_eq!(
        component[0]["commonAnnotations"]["summary"],
        "[Example] Statuspage component \"API\": major_outage"
    );
    assert_eq!(component[0]["alerts"][0]["labels"]["severity"], "warning");
    assert_eq!(component[1]["alerts"][0]["labels"]["severity"], "critical");
    assert_eq!(of("statuspage:x1y2z3a4b5c6:incident:lq0v6n2c9t4h").len(), 1);
    // Team B and the default read the generic body.
    assert_eq!(
        b[0]["title"],
        "[Example] Statuspage incident \"API unavailable\": investigating (critical)"
    );
    assert_eq!(b[0]["id"], "statuspage:x1y2z3a4b5c6:incident:lq0v6n2c9t4h");
    assert_eq!(
        d[0]["title"],
        "[Example] Statuspage component \"Billing\": partial_outage"
    );
    let (_, alerts) = app.get("/alerts").await;
    assert!(
        alerts.contains("data-label=\"At\">team-a, team-b<"),
        "{alerts}"
    );
    let (_, metrics) = app.get("/metrics").await;
    for line in [
        "statuspage_bridge_events_total{destination=\"team-a\",action=\"trigger\"} 3",
        "statuspage_bridge_events_total{destination=\"team-b\",action=\"trigger\"} 1",
        "statuspage_bridge_events_total{destination=\"default\",action=\"trigger\"} 1",
    ] {
        assert!(metrics.contains(line), "{line}\n{metrics}");
    }
    assert!(alerts.contains("data-label=\"At\">default<"), "{alerts}");
    // SQL lists what is open per destination: the incident at both teams.
    let open: Vec<(String, String, String, String)> = app
        .db()
        .all(
            "SELECT destination, kind, entity_id, priority FROM open_alerts
             ORDER BY destination, kind, entity_id",
            &[],
        )
        .await;
    let open_row = |d: &str, k: &str, e: &str, p: &str| -> (String, String, String, String) {
        (d.into(), k.into(), e.into(), p.into())
    };
    assert_eq!(
        open,
        [
            open_row("default", "component", "bil1", "medium"),
            open_row("team-a", "component", "r7p3k9d2m5w1", "critical"),
            open_row("team-a", "incident", "lq0v6n2c9t4h", "critical"),
            open_row("team-b", "incident", "lq0v6n2c9t4h", "critical"),
        ]
    );

    // The API comes back: its resolve goes where it was open, and only there.
    let back = component_change("major_outage", "operational", "10:40");
    assert_eq!(app.outcome(back).await, "resolved");
    app.drain().await;
    let a = fake.accepted_by(TEAM_A);
    assert_eq!(a.len(), 4);
    let last = a.last().unwrap();
    assert_eq!(last["status"], "resolved");
    assert_eq!(last["alerts"][0]["labels"]["severity"], "critical");
    assert_eq!(fake.accepted_by(TEAM_B).len(), 1);

    // The audit shows where each event went, and so does SQL.
    let destinations: Vec<(String, i64)> = app.db().all("SELECT destination, count(*) FROM alert_events GROUP BY destination ORDER BY destination", &[]).await;
    assert_eq!(
        destinations,
        [
            ("default".to_owned(), 1),
            ("team-a".to_owned(), 4),
            ("team-b".to_owned(), 1)
        ]
    );
    let webhook: String = app
        .db()
        .value(
            "SELECT webhook_id FROM outbox WHERE destination = 'team-b'",
            &[],
        )
        .await;
    let (_, page) = app.get(&format!("/events/{webhook}")).await;
    assert!(page.contains("data-label=\"To\">team-b<"), "{page}");
    assert!(page.contains("data-label=\"To\">team-a<"), "{page}");
    app.stop().await;
    fake.stop().await;
}

#[tokio::test]
async fn a_filtered_component_is_followed_but_never_paged() {
    needs_database!();
    let fake = FakeItoc360::start_many(&[TEAM_A, TEAM_B, DEFAULT]).await;
    let base = fake.base_url.clone();
    let mut app = spawn_app_with(move |s| two_teams(s, &base)).await;
    let ignored = |old: &str, new: &str, at: &str| other_component("ign1", "Ignored", old, new, at);
    let (outcome, reason) =
        outcome_and_reason(&app, ignored("operational", "major_outage", "10:16")).await;
    assert_eq!(outcome, "filtered");
    assert!(
        reason.starts_with("filtered: component \"Ignored\" is ignored on page Example"),
        "{reason}"
    );
    let (_, alerts) = app.get("/alerts").await;
    assert!(
        alerts.contains("— (filtered: not open in ITOC360)"),
        "{alerts}"
    );
    // Still tracked: its state is open, its transition recorded.
    let open: bool = app
        .db()
        .value(
            "SELECT alert_open <> 0 FROM components WHERE component_id = 'ign1'",
            &[],
        )
        .await;
    assert!(open);
    // Its return sends nothing either: ITOC360 never had it.
    let (outcome, _) =
        outcome_and_reason(&app, ignored("major_outage", "operational", "10:30")).await;
    assert_eq!(outcome, "filtered");
    app.drain().await;
    assert!(fake.received().is_empty(), "{:?}", fake.received());
    assert!(sent(&app).await.is_empty());
    app.stop().await;
    fake.stop().await;
}

#[tokio::test]
async fn a_minimum_priority_gates_opening_and_the_alert_is_followed_once_open() {
    needs_database!();
    let fake = FakeItoc360::start(DEFAULT).await;
    let mut app = spawn_routed(&fake, |s| {
        s.routing.pages = vec![example_page(|p| p.min_priority = Some(Priority::High))];
    })
    .await;
    let (outcome, reason) = outcome_and_reason(
        &app,
        component_change("operational", "major_outage", "10:16"),
    )
    .await;
    assert_eq!(outcome, "filtered");
    assert!(
        reason.starts_with("filtered: medium is below the page's minimum high"),
        "{reason}"
    );
    // A critical incident raises it: now it pages.
    assert_eq!(
        app.outcome(fixture("01_incident_created_investigating_critical.json"))
            .await,
        "triggered"
    );
    // The incident resolves; the component falls back to medium on its own
    // next event — below the minimum, but ITOC360 has it open, so it
    // follows, and then resolves.
    assert_eq!(
        app.outcome(incident_update("resolved", "10:50", &[])).await,
        "resolved"
    );
    assert_eq!(
        app.outcome(component_change("major_outage", "partial_outage", "10:55"))
            .await,
        "retriggered"
    );
    assert_eq!(
        app.outcome(component_change("partial_outage", "operational", "11:00"))
            .await,
        "resolved"
    );
    app.drain().await;
    let events: Vec<(String, String)> = fake
        .accepted_by(DEFAULT)
        .iter()
        .filter(|e| e["id"] == "statuspage:x1y2z3a4b5c6:component:r7p3k9d2m5w1")
        .map(|e| {
            (
                e["status"].as_str().unwrap().into(),
                e["severity"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        events,
        [
            ("trigger".to_owned(), "critical".to_owned()),
            ("trigger".to_owned(), "medium".to_owned()),
            ("resolve".to_owned(), "medium".to_owned()),
        ]
    );
    app.stop().await;
    fake.stop().await;
}

#[tokio::test]
async fn with_routes_and_no_default_token_an_unmatched_alert_is_unrouted() {
    needs_database!();
    let fake = FakeItoc360::start(TEAM_A).await;
    let base = fake.base_url.clone();
    let mut app = spawn_app_with(move |s| {
        s.itoc360.base_url = base;
        s.routing.routes = vec![route("team-a", TEAM_A, |r| {
            r.components = vec!["API".into()]
        })];
    })
    .await;
    let billing = other_component("bil1", "Billing", "operational", "partial_outage", "10:17");
    let (outcome, reason) = outcome_and_reason(&app, billing).await;
    assert_eq!(outcome, "unrouted");
    assert!(reason.starts_with("unrouted: no route matches"), "{reason}");
    assert_eq!(
        app.outcome(component_change("operational", "major_outage", "10:16"))
            .await,
        "triggered"
    );
    app.drain().await;
    assert_eq!(fake.accepted_by(TEAM_A).len(), 1);
    assert_eq!(sent(&app).await, [row("team-a", "trigger", "medium")]);
    app.stop().await;
    fake.stop().await;
}

#[tokio::test]
async fn an_alert_open_at_a_destination_gets_its_resolve_there_after_the_routes_change() {
    needs_database!();
    let fake = FakeItoc360::start_many(&[TEAM_A, DEFAULT]).await;
    let mut app = spawn_routed(&fake, |s| {
        s.routing.routes = vec![route("team-a", TEAM_A, |r| {
            r.components = vec!["API".into()]
        })];
    })
    .await;
    assert_eq!(
        app.outcome(component_change("operational", "major_outage", "10:16"))
            .await,
        "triggered"
    );
    app.drain().await;
    let (dir, mut settings) = app.stop().await;

    // Team A no longer owns the API: the resolve still goes to team A.
    settings.routing.routes[0].components = vec!["Billing".into()];
    let mut app = spawn_in(dir, settings).await;
    assert_eq!(
        app.outcome(component_change("major_outage", "operational", "10:30"))
            .await,
        "resolved"
    );
    app.drain().await;
    let a = fake.accepted_by(TEAM_A);
    assert_eq!(a.len(), 2);
    assert_eq!(a[1]["status"], "resolve");
    assert!(
        fake.accepted_by(DEFAULT).is_empty(),
        "the default never had it"
    );

    // Reopened: now unowned by team A, it goes to the default.
    assert_eq!(
        app.outcome(component_change("operational", "major_outage", "10:40"))
            .await,
        "triggered"
    );
    app.drain().await;
    assert_eq!(fake.accepted_by(DEFAULT).len(), 1);
    let (dir, mut settings) = app.stop().await;

    // Team A owns the API again; the alert is open at the default
    // destination, so its resolve goes there.
    settings.routing.routes = vec![route("team-a", TEAM_A, |r| {
        r.components = vec!["API".into()]
    })];
    let mut app = spawn_in(dir, settings).await;
    assert_eq!(
        app.outcome(component_change("major_outage", "operational", "10:50"))
            .await,
        "resolved"
    );
    app.drain().await;
    assert_eq!(
        fake.accepted_by(DEFAULT).len(),
        2,
        "resolved where it was open"
    );
    app.stop().await;
    fake.stop().await;
}

#[tokio::test]
async fn a_removed_routes_events_are_dead_with_the_reason() {
    needs_database!();
    let fake = FakeItoc360::start_many(&[TEAM_A, DEFAULT]).await;
    let mut app = spawn_routed(&fake, |s| {
        s.routing.routes = vec![route("team-a", TEAM_A, |_| {})];
    })
    .await;
    assert_eq!(
        app.outcome(component_change("operational", "major_outage", "10:16"))
            .await,
        "triggered"
    );
    app.drain().await;
    let (dir, mut settings) = app.stop().await;
    settings.routing.routes.clear();
    let mut app = spawn_in(dir, settings).await;
    let (_, alerts) = app.get("/alerts").await;
    assert!(
        alerts.contains("data-label=\"At\">team-a (orphaned)<"),
        "{alerts}"
    );
    assert_eq!(
        app.outcome(component_change("major_outage", "operational", "10:30"))
            .await,
        "resolved"
    );
    app.drain().await;
    let (state, error): (String, String) = app.db().one("SELECT state, last_error FROM outbox WHERE destination = 'team-a' AND action = 'resolve'", &[]).await;
    assert_eq!(state, "dead");
    assert!(error.contains("no destination named \"team-a\""), "{error}");
    assert!(fake.accepted_by(DEFAULT).is_empty());
    app.stop().await;
    fake.stop().await;
}

#[test]
fn routing_configuration_is_read_and_checked() {
    needs_database!();
    let text = r#"
[itoc360]
token = "default-token"

[[pages]]
id = "kctbh9vrtdwd"
name = "GitHub"
components = ["Git Operations", "API Requests"]
ignore_components = ["Codespaces"]
min_priority = "high"
incidents = "matching"

[[routes]]
name = "payments-team"
pages = ["GitHub"]
components = ["API Requests"]
kinds = ["incident", "component"]
min_priority = "medium"
token = "from-the-file"
format = "alertmanager"
continue = true
"#;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    std::fs::write(&path, text).unwrap();
    let env = |k: &str| (k == "ITOC360_TOKEN_PAYMENTS_TEAM").then(|| "from-the-env".to_owned());
    let s = Settings::load(Some(&path), env).unwrap();
    assert_eq!(s.pages.len(), 1, "a [[pages]] entry is still polled");
    assert_eq!(s.routing.pages[0].name, "GitHub");
    let r = &s.routing.routes[0];
    assert_eq!(r.token.expose(), "from-the-env", "the environment wins");
    assert!(r.continue_matching);
    assert_eq!(r.format, Some(Format::Alertmanager));
    assert!(s.secrets().any(|x| x == "from-the-env"));
    let policy = s.policy();
    assert_eq!(policy.page_name("kctbh9vrtdwd"), Some("GitHub"));
    assert!(!policy.is_plain());

    for (bad, key) in [
        ("[[routes]]\nname = \"\"\n", "routes[0].name"),
        (
            "[[routes]]\nname = \"a\"\n[[routes]]\nname = \"a\"\n",
            "routes[1].name",
        ),
        ("[[routes]]\nname = \"default\"\n", "routes[0].name"),
        (
            "[[routes]]\nname = \"a\"\nmin_priority = \"urgent\"\n",
            "routes[0].min_priority",
        ),
        (
            "[[routes]]\nname = \"a\"\nkinds = [\"maintenance\"]\n",
            "routes[0].kinds",
        ),
        (
            "[[routes]]\nname = \"a\"\npages = [\"Nowhere\"]\n",
            "routes[0].pages",
        ),
        ("[[routes]]\nname = \"a\"\nteam = \"x\"\n", "team"),
        (
            "[[pages]]\nid = \"abc\"\nincidents = \"some\"\n",
            "pages[0].incidents",
        ),
        (
            "[[pages]]\nid = \"abc\"\nmin_priority = \"hi\"\n",
            "pages[0].min_priority",
        ),
    ] {
        std::fs::write(&path, bad).unwrap();
        let e = Settings::load(Some(&path), |_| None)
            .unwrap_err()
            .to_string();
        assert!(e.contains(key), "{bad}: {e}");
    }
}

#[test]
fn the_documented_routing_example_is_a_working_configuration() {
    needs_database!();
    let doc =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/ROUTING.md")).unwrap();
    let section = doc
        .split("## In practice: routing and quiet")
        .nth(1)
        .expect("docs/ROUTING.md has a routing and quiet section");
    let example = section
        .split("```toml")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("the routing section has a toml example");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    std::fs::write(&path, example).unwrap();
    let env = |k: &str| (k == "ITOC360_TOKEN_PLATFORM").then(|| "platform-token".to_owned());
    let s = Settings::load(Some(&path), env).unwrap();
    let names: Vec<&str> = s.routing.routes.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["payments", "platform"]);
    assert_eq!(s.routing.routes[1].token.expose(), "platform-token");
    let policy = s.policy();
    assert_eq!(policy.page_name("kctbh9vrtdwd"), Some("GitHub"));
    assert!(!policy.default_has_token);
    assert!(!s.dry_run(), "platform has a token");
    assert_eq!(policy.delays("kctbh9vrtdwd", "platform"), (120, 300));
    assert_eq!(policy.delays("kctbh9vrtdwd", "payments"), (0, 300));

    // The worked example: the API Requests component goes down. Payments is
    // told at once and the alert goes on to platform, which waits 2 min; a
    // silence on Webhooks holds that component's trigger; Codespaces never
    // pages.
    use chrono::TimeZone;
    use statuspage_bridge::rules::alert::{AlertFacts, ComponentFacts};
    use statuspage_bridge::rules::domain::{Action, EntityKind, Outcome, Priority};
    use statuspage_bridge::rules::route::Quiet;
    use statuspage_bridge::rules::silence::Request;
    let now = chrono::Utc.with_ymd_and_hms(2026, 12, 1, 10, 0, 0).unwrap();
    let component = |name: &str| AlertFacts {
        kind: EntityKind::Component,
        page_id: "kctbh9vrtdwd".into(),
        page_name: None,
        entity_id: name.to_lowercase().replace(' ', "-"),
        components: vec![ComponentFacts {
            id: name.to_lowercase().replace(' ', "-"),
            name: Some(name.into()),
            ..ComponentFacts::default()
        }],
    };
    let silence = Request {
        page: Some("GitHub".into()),
        component: Some("Webhooks".into()),
        ends_at: chrono::Utc.with_ymd_and_hms(2026, 12, 1, 18, 0, 0).single(),
        reason: "known, vendor ticket 4411".into(),
        ..Request::default()
    }
    .silence("s1".into(), now)
    .unwrap();
    let silences = [silence];
    let quiet = Quiet {
        now,
        silences: &silences,
    };
    let api = policy.route(
        &component("API Requests"),
        Action::Trigger,
        Priority::Medium,
        &[],
        &quiet,
    );
    let told: Vec<(&str, Option<i64>)> = api
        .sends
        .iter()
        .map(|s| {
            (
                s.destination.as_str(),
                s.hold.as_ref().map(|h| (h.until - now).num_seconds()),
            )
        })
        .collect();
    assert_eq!(told, [("payments", None), ("platform", Some(120))]);
    let hooks = policy.route(
        &component("Webhooks"),
        Action::Trigger,
        Priority::Medium,
        &[],
        &quiet,
    );
    assert_eq!(hooks.unsent.map(|u| u.0), Some(Outcome::Silenced));
    let codespaces = policy.route(
        &component("Codespaces"),
        Action::Trigger,
        Priority::Critical,
        &[],
        &quiet,
    );
    assert_eq!(codespaces.unsent.map(|u| u.0), Some(Outcome::Filtered));
}

/// A configured secret that turns up in a webhook — another destination's
/// token in an update's text, or as a JSON key — never reaches a
/// destination, nor `/api/events/<id>`.
#[tokio::test]
async fn a_secret_in_a_webhook_is_not_forwarded_to_any_destination() {
    needs_database!();
    let fake = FakeItoc360::start_many(&[TEAM_A, TEAM_B, DEFAULT]).await;
    let base = fake.base_url.clone();
    let mut app = spawn_app_with(move |s| two_teams(s, &base)).await;
    let leaky = fixture_with(
        "01_incident_created_investigating_critical.json",
        &[
            (
                "incident.incident_updates.0.body",
                serde_json::json!(format!("pasted by mistake: {TEAM_A}")),
            ),
            ("incident.name", serde_json::json!(format!("API {TEAM_A}"))),
            (
                "incident.shortlink",
                serde_json::json!(format!("https://stspg.io/x?k={TEAM_A}")),
            ),
            (&format!("incident.{TEAM_A}"), serde_json::json!(true)),
        ],
    );
    let (status, v) = app.post_json(leaky).await;
    assert_eq!(status, 200, "{v}");
    let id = v["id"].as_str().unwrap().to_owned();
    app.drain().await;
    let received = fake.received();
    assert!(received.len() >= 2, "{received:?}");
    for r in &received {
        let text = r.body.to_string();
        assert!(!text.contains(TEAM_A), "forwarded a token: {text}");
        assert!(text.contains("********"), "{text}");
    }
    let (status, detail) = app.get(&format!("/api/events/{id}")).await;
    assert_eq!(status, 200);
    assert!(!detail.contains(TEAM_A), "{detail}");
    app.stop().await;
    fake.stop().await;
}
