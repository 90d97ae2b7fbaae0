//! `POST /api/outbox/<id>/retry`: a dead event sent again from the audit
//! pages — credentials always, same origin only, history kept.

use serde_json::Value;
use statuspage_bridge::config::Secret;

use crate::fake_itoc360::{FakeItoc360, Reply};
use crate::helpers::*;

const INC: &str = "01_incident_created_investigating_critical.json";
const USER: &str = "oncall";
const PASSWORD: &str = "correct horse battery";

/// A bridge with audit credentials that delivers to `fake`.
async fn spawn(fake: &FakeItoc360) -> TestApp {
    let base = fake.base_url.clone();
    spawn_app_with(move |s| {
        s.itoc360.base_url = base;
        s.itoc360.token = Secret::new("itoc-token-0123456789");
        s.audit.username = USER.into();
        s.audit.password = Secret::new(PASSWORD);
    })
    .await
}

fn retry_url(app: &TestApp, id: &str) -> String {
    format!("{}/api/outbox/{id}/retry", app.address)
}

/// Posts to the retry route with these credentials and headers.
async fn retry(
    app: &TestApp,
    id: &str,
    credentials: Option<(&str, &str)>,
    headers: &[(&str, &str)],
) -> (u16, Value) {
    let mut req = app.client.post(retry_url(app, id));
    if let Some((u, p)) = credentials {
        req = req.basic_auth(u, Some(p));
    }
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn outbox_state(app: &TestApp) -> (String, i64) {
    app.db()
        .one("SELECT state, attempts FROM outbox WHERE id = 1", &[])
        .await
}

async fn page(app: &TestApp, path: &str) -> String {
    app.client
        .get(format!("{}{path}", app.address))
        .basic_auth(USER, Some(PASSWORD))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_dead_event_is_redelivered_from_the_page_and_its_history_kept() {
    needs_database!();
    let fake = FakeItoc360::start("itoc-token-0123456789").await;
    fake.script([Reply::Status(400)]);
    let mut app = spawn(&fake).await;
    let (_, v) = app.post_json(fixture(INC)).await;
    let webhook = v["id"].as_str().unwrap().to_owned();
    app.drain().await;
    fake.wait_for_requests(1).await;
    assert_eq!(outbox_state(&app).await, ("dead".to_owned(), 1));

    // The button stands beside the dead event, on every page that shows it.
    let button = "action=\"/api/outbox/1/retry\"";
    for path in [
        format!("/events/{webhook}"),
        "/incidents/x1y2z3a4b5c6/lq0v6n2c9t4h".to_owned(),
        "/alerts".to_owned(),
        "/events".to_owned(),
    ] {
        let html = page(&app, &path).await;
        assert!(html.contains(button), "{path}: {html}");
    }

    let own_origin = app.address.clone();
    let (status, event) = retry(
        &app,
        "1",
        Some((USER, PASSWORD)),
        &[("Origin", &own_origin), ("Sec-Fetch-Site", "same-origin")],
    )
    .await;
    assert_eq!(status, 202, "{event}");
    assert_eq!(event["state"], "pending");
    assert_eq!(event["id"], 1);
    assert_eq!(
        event["fingerprint"],
        "statuspage:x1y2z3a4b5c6:incident:lq0v6n2c9t4h"
    );
    app.drain().await;
    fake.wait_for_requests(2).await;
    let received = fake.received();
    assert_eq!(received[1].status, 202, "sent again and accepted");
    assert_eq!(received[1].body, received[0].body, "the same event");
    assert_eq!(outbox_state(&app).await, ("delivered".to_owned(), 2));

    // The history keeps the failed attempt, says who asked, then the
    // delivery.
    let attempts: Vec<(String, Option<String>)> = app
        .db()
        .all(
            "SELECT result, requested_by FROM delivery_attempts WHERE outbox_id = 1 ORDER BY id",
            &[],
        )
        .await;
    assert_eq!(
        attempts,
        [
            ("dead".to_owned(), None),
            ("requeued".to_owned(), Some(USER.to_owned())),
            ("delivered".to_owned(), None),
        ]
    );
    let html = page(&app, &format!("/events/{webhook}")).await;
    assert!(html.contains("redelivered by oncall"), "{html}");
    assert!(!html.contains(button), "a delivered event has no button");

    // A delivered event is not sent again.
    let (status, v) = retry(&app, "1", Some((USER, PASSWORD)), &[]).await;
    assert_eq!(status, 409, "{v}");
    assert!(v["error"].as_str().unwrap().contains("delivered"), "{v}");
    assert_eq!(fake.received().len(), 2);
    app.stop().await;
    fake.stop().await;
}

#[tokio::test]
async fn the_retry_route_refuses_strangers_and_other_sites() {
    needs_database!();
    let fake = FakeItoc360::start("itoc-token-0123456789").await;
    fake.script([Reply::Status(400)]);
    let mut app = spawn(&fake).await;
    app.post_json(fixture(INC)).await;
    app.drain().await;

    let good = Some((USER, PASSWORD));
    // (outbox id, Basic credentials, headers) → status
    type Case<'a> = (
        &'a str,
        Option<(&'a str, &'a str)>,
        &'a [(&'a str, &'a str)],
        u16,
    );
    let cases: &[Case] = &[
        ("1", None, &[], 401),
        ("1", Some((USER, "wrong")), &[], 401),
        ("1", Some(("someone", PASSWORD)), &[], 401),
        ("1", good, &[("Origin", "https://evil.example")], 403),
        ("1", good, &[("Origin", "null")], 403),
        ("1", good, &[("Sec-Fetch-Site", "cross-site")], 403),
        ("999", good, &[], 404),
        ("abc", good, &[], 404),
    ];
    for &(id, credentials, headers, want) in cases {
        let (status, v) = retry(&app, id, credentials, headers).await;
        assert_eq!(status, want, "{id} {credentials:?} {headers:?}: {v}");
    }
    assert_eq!(
        outbox_state(&app).await,
        ("dead".to_owned(), 1),
        "nothing changed"
    );
    let requeued: i64 = app
        .count("SELECT count(*) FROM delivery_attempts WHERE result = 'requeued'")
        .await;
    assert_eq!(requeued, 0);

    // A browser's form post from the bridge's own page: redirected to the
    // webhook's page once queued.
    let res = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(retry_url(&app, "1"))
        .basic_auth(USER, Some(PASSWORD))
        .header("Origin", app.address.as_str())
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 303);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with("/events/"), "{location}");
    app.drain().await;
    assert_eq!(outbox_state(&app).await.0, "delivered");
    app.stop().await;
    fake.stop().await;
}

#[tokio::test]
async fn without_audit_credentials_the_retry_route_is_closed() {
    needs_database!();
    let fake = FakeItoc360::start("itoc-token-0123456789").await;
    fake.script([Reply::Status(400)]);
    let mut app = spawn_delivering(&fake.base_url, "itoc-token-0123456789").await;
    app.post_json(fixture(INC)).await;
    app.drain().await;
    // Even from this machine, even with a Basic header.
    for credentials in [None, Some((USER, PASSWORD))] {
        let (status, v) = retry(&app, "1", credentials, &[]).await;
        assert_eq!(status, 403, "{v}");
        assert!(
            v["error"]
                .as_str()
                .unwrap()
                .contains("[audit] username and password"),
            "{v}"
        );
    }
    assert_eq!(outbox_state(&app).await.0, "dead");
    app.stop().await;
    fake.stop().await;
}

/// A trigger held by a grace period is not released by the retry route:
/// 409 with the hold, and it stays held.
#[tokio::test]
async fn a_held_event_is_not_released_by_a_retry() {
    needs_database!();
    let fake = FakeItoc360::start("itoc-token-0123456789").await;
    let base = fake.base_url.clone();
    let app = spawn_app_with(move |s| {
        s.itoc360.base_url = base;
        s.itoc360.token = Secret::new("itoc-token-0123456789");
        s.audit.username = USER.into();
        s.audit.password = Secret::new(PASSWORD);
        s.routing.pages = vec![statuspage_bridge::config::PageRules {
            page_id: "x1y2z3a4b5c6".into(),
            page_after_secs: Some(600),
            ..Default::default()
        }];
    })
    .await;
    let down = component_change("operational", "major_outage", "10:00");
    assert_eq!(app.outcome(down).await, "triggered");
    let (by, until): (String, String) = app
        .db()
        .one("SELECT held_by, held_until FROM outbox WHERE id = 1", &[])
        .await;
    assert_eq!(by, "page_after_secs");
    let (status, v) = retry(&app, "1", Some((USER, PASSWORD)), &[]).await;
    assert_eq!(status, 409, "{v}");
    let error = v["error"].as_str().unwrap();
    assert!(error.contains("held by page_after_secs until"), "{error}");
    let still: (String, String, i64) = app
        .db()
        .one(
            "SELECT held_until, state, (SELECT count(*) FROM delivery_attempts) FROM outbox WHERE id = 1",
            &[],
        )
        .await;
    assert_eq!(still, (until, "pending".to_owned(), 0), "still held");
    assert!(fake.received().is_empty());
    app.stop().await;
    fake.stop().await;
}

/// One queued retry per event at a time: a second before the worker has
/// tried the first gets 429 with `Retry-After`.
#[tokio::test]
async fn a_second_retry_before_the_first_is_tried_is_429() {
    needs_database!();
    let fake = FakeItoc360::start("itoc-token-0123456789").await;
    // Dead at once; the attempt the retry queues is answered slowly, so
    // it is still under way when the second retry comes.
    fake.script([
        Reply::Status(400),
        Reply::Slow(std::time::Duration::from_millis(1000)),
    ]);
    let mut app = spawn(&fake).await;
    app.outcome(fixture(INC)).await;
    app.drain().await;
    assert_eq!(outbox_state(&app).await, ("dead".to_owned(), 1));
    let (status, v) = retry(&app, "1", Some((USER, PASSWORD)), &[]).await;
    assert_eq!(status, 202, "{v}");
    fake.wait_for_started(2).await;
    let res = app
        .client
        .post(retry_url(&app, "1"))
        .basic_auth(USER, Some(PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 429);
    assert_eq!(res.headers()["retry-after"], "5");
    let v: Value = res.json().await.unwrap();
    assert!(
        v["error"].as_str().unwrap().contains("already queued"),
        "{v}"
    );
    app.drain().await;
    fake.wait_for_requests(2).await;
    assert_eq!(outbox_state(&app).await, ("delivered".to_owned(), 2));
    let requeued = app
        .count("SELECT count(*) FROM delivery_attempts WHERE result = 'requeued'")
        .await;
    assert_eq!(requeued, 1, "the refused retry queued nothing");
    app.stop().await;
    fake.stop().await;
}
