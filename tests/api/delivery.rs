//! Delivery to ITOC360 against the fake Events API.

use std::time::Duration;

use serde_json::{Value, json};
use statuspage_bridge::config::{Format, Secret};

use crate::fake_itoc360::{FakeItoc360, Reply};
use crate::helpers::*;

const ITOC_TOKEN: &str = "itoc-source-token";
const INC: &str = "01_incident_created_investigating_critical.json";
const INC_FP: &str = "statuspage:x1y2z3a4b5c6:incident:lq0v6n2c9t4h";
const COMP: &str = "03_component_major_outage.json";
const COMP_FP: &str = "statuspage:x1y2z3a4b5c6:component:r7p3k9d2m5w1";

async fn live_app(fake: &FakeItoc360, format: Format) -> TestApp {
    let base = fake.base_url.clone();
    spawn_app_with(move |s| {
        s.itoc360.base_url = base;
        s.itoc360.token = Secret::new(ITOC_TOKEN);
        s.itoc360.format = format;
    })
    .await
}

fn resolved_incident() -> String {
    incident_update(
        "resolved",
        "11:02",
        &[(
            "incident.incident_updates.0.body",
            json!("This incident has been resolved."),
        )],
    )
}

/// A distinct incident of the sample, for several fingerprints.
fn incident_n(n: usize, status: &str, minute: u32) -> String {
    fixture_with(
        INC,
        &[
            ("incident.id", json!(format!("inc{n}"))),
            ("incident.status", json!(status)),
            (
                "incident.updated_at",
                json!(format!("2025-03-04T10:{minute:02}:00.000Z")),
            ),
            (
                "incident.incident_updates.0.id",
                json!(format!("u{n}-{minute}")),
            ),
            (
                "incident.incident_updates.0.created_at",
                json!(format!("2025-03-04T10:{minute:02}:00.000Z")),
            ),
        ],
    )
}

#[tokio::test]
async fn incident_lifecycle_is_trigger_then_resolve_generic() {
    needs_database!();
    let fake = FakeItoc360::start(ITOC_TOKEN).await;
    let mut app = live_app(&fake, Format::Generic).await;
    assert_eq!(app.outcome(fixture(INC)).await, "triggered");
    assert_eq!(app.outcome(resolved_incident()).await, "resolved");
    app.drain().await;
    let got = fake.accepted();
    assert_eq!(
        got,
        vec![
            json!({
                "id": INC_FP,
                "title": "Statuspage incident \"API unavailable\": investigating (critical)",
                "status": "trigger",
                "severity": "critical",
                "message": "We are investigating reports that API requests are failing with 5xx errors.\n\nhttps://stspg.io/8d1fz0k3q2wm",
            }),
            json!({
                "id": INC_FP,
                "title": "Statuspage incident \"API unavailable\": resolved (critical)",
                "status": "resolve",
                "severity": "critical",
                "message": "This incident has been resolved.\n\nhttps://stspg.io/8d1fz0k3q2wm",
            }),
        ]
    );
    let r = &fake.received()[0];
    assert_eq!(r.authorization.as_deref(), Some("Bearer itoc-source-token"));
    assert!(
        r.user_agent
            .as_deref()
            .unwrap()
            .starts_with("statuspage-bridge/")
    );
    assert_eq!(r.content_type.as_deref(), Some("application/json"));
    let delivered = app
        .count("SELECT count(*) FROM outbox WHERE state = 'delivered'")
        .await;
    assert_eq!(delivered, 2);
    let attempts: Vec<(i64, String)> = app
        .db()
        .all(
            "SELECT http_status, result FROM delivery_attempts ORDER BY id",
            &[],
        )
        .await;
    assert_eq!(
        attempts,
        vec![(202, "delivered".into()), (202, "delivered".into())]
    );
    app.stop().await;
    fake.stop().await;
}

#[tokio::test]
async fn incident_lifecycle_alertmanager_format() {
    needs_database!();
    let fake = FakeItoc360::start(ITOC_TOKEN).await;
    let mut app = live_app(&fake, Format::Alertmanager).await;
    app.outcome(fixture(INC)).await;
    app.outcome(resolved_incident()).await;
    app.drain().await;
    let got = fake.accepted();
    assert_eq!(got.len(), 2);
    let (fire, res) = (&got[0], &got[1]);
    assert_eq!(fire["status"], "firing");
    assert_eq!(fire["version"], "4");
    assert_eq!(fire["receiver"], "statuspage-bridge");
    assert_eq!(fire["groupKey"], INC_FP);
    assert_eq!(fire["groupLabels"], json!({"fingerprint": INC_FP}));
    let a = &fire["alerts"][0];
    assert_eq!(a["status"], "firing");
    assert_eq!(a["fingerprint"], INC_FP);
    assert_eq!(a["startsAt"], "2025-03-04T10:15:01.900Z");
    assert_eq!(a["generatorURL"], "https://stspg.io/8d1fz0k3q2wm");
    assert_eq!(
        a["labels"],
        json!({
            "alertname": "StatuspageIncident",
            "severity": "critical",
            "source": "statuspage",
            "kind": "incident",
            "page_id": "x1y2z3a4b5c6",
            "incident_id": "lq0v6n2c9t4h",
            "statuspage_status": "investigating",
            "statuspage_impact": "critical",
        })
    );
    assert_eq!(
        a["annotations"]["summary"],
        "Statuspage incident \"API unavailable\": investigating (critical)"
    );
    assert_eq!(fire["commonAnnotations"], a["annotations"]);
    assert_eq!(fire["commonLabels"], a["labels"]);
    assert_eq!(res["status"], "resolved");
    let b = &res["alerts"][0];
    assert_eq!(b["status"], "resolved");
    assert_eq!(b["endsAt"], "2025-03-04T11:02:00.000Z");
    assert_eq!(
        b["labels"]["severity"], "critical",
        "a resolve keeps the last severity"
    );
    assert_eq!(b["labels"]["statuspage_status"], "resolved");
    app.stop().await;
    fake.stop().await;
}

#[tokio::test]
async fn component_outage_is_trigger_then_resolve_in_both_formats() {
    needs_database!();
    for format in [Format::Generic, Format::Alertmanager] {
        let fake = FakeItoc360::start(ITOC_TOKEN).await;
        let mut app = live_app(&fake, format).await;
        assert_eq!(app.outcome(fixture(COMP)).await, "triggered");
        assert_eq!(
            app.outcome(component_change("major_outage", "operational", "11:00"))
                .await,
            "resolved"
        );
        app.drain().await;
        let got = fake.accepted();
        assert_eq!(got.len(), 2, "{format:?}");
        match format {
            Format::Generic => {
                assert_eq!(
                    got[0],
                    json!({"id": COMP_FP, "title": "Statuspage component \"API\": major_outage",
                           "status": "trigger", "severity": "medium",
                           "message": "Component \"API\" changed from operational to major_outage."})
                );
                assert_eq!(got[1]["status"], "resolve");
                assert_eq!(got[1]["severity"], "medium");
                assert_eq!(
                    got[1]["message"],
                    "Component \"API\" changed from major_outage to operational."
                );
            }
            Format::Alertmanager => {
                let (a, b) = (&got[0]["alerts"][0], &got[1]["alerts"][0]);
                assert_eq!(a["labels"]["severity"], "warning");
                assert_eq!(a["labels"]["component_id"], "r7p3k9d2m5w1");
                assert_eq!(a["labels"]["kind"], "component");
                assert_eq!(
                    a["startsAt"], "2025-03-04T10:15:01.951Z",
                    "when it left operational"
                );
                assert_eq!(b["startsAt"], "2025-03-04T10:15:01.951Z");
                assert_eq!(b["endsAt"], "2025-03-04T11:00:00.000Z", "when it came back");
                assert_eq!(got[1]["status"], "resolved");
            }
        }
        app.stop().await;
        fake.stop().await;
    }
}

#[tokio::test]
async fn escalation_is_trigger_trigger_resolve() {
    needs_database!();
    for format in [Format::Generic, Format::Alertmanager] {
        let fake = FakeItoc360::start(ITOC_TOKEN).await;
        let mut app = live_app(&fake, format).await;
        let minor = fixture_with(INC, &[("incident.impact", json!("minor"))]);
        assert_eq!(app.outcome(minor).await, "triggered");
        let critical = fixture_with(
            INC,
            &[
                ("incident.impact_override", json!("critical")),
                ("incident.impact", json!("minor")),
                ("incident.status", json!("identified")),
                ("incident.updated_at", json!("2025-03-04T10:30:00.000Z")),
                ("incident.incident_updates.0.id", json!("u2")),
            ],
        );
        assert_eq!(app.outcome(critical).await, "retriggered");
        assert_eq!(app.outcome(resolved_incident()).await, "resolved");
        app.drain().await;
        let got = fake.accepted();
        let summary: Vec<(String, String)> = got
            .iter()
            .map(|b| match format {
                Format::Generic => (
                    b["status"].as_str().unwrap().into(),
                    b["severity"].as_str().unwrap().into(),
                ),
                Format::Alertmanager => (
                    b["status"].as_str().unwrap().into(),
                    b["alerts"][0]["labels"]["severity"]
                        .as_str()
                        .unwrap()
                        .into(),
                ),
            })
            .collect();
        let want: Vec<(&str, &str)> = match format {
            Format::Generic => vec![
                ("trigger", "medium"),
                ("trigger", "critical"),
                ("resolve", "critical"),
            ],
            Format::Alertmanager => vec![
                ("firing", "warning"),
                ("firing", "critical"),
                ("resolved", "critical"),
            ],
        };
        let want: Vec<(String, String)> = want
            .into_iter()
            .map(|(a, b)| (a.into(), b.into()))
            .collect();
        assert_eq!(summary, want, "{format:?}");
        app.stop().await;
        fake.stop().await;
    }
}

#[tokio::test]
async fn order_per_fingerprint_holds_under_retries() {
    needs_database!();
    let fake = FakeItoc360::start(ITOC_TOKEN).await;
    // Many failures, spread over whichever rows go first.
    fake.script(
        [
            Reply::Status(503),
            Reply::Status(500),
            Reply::TooMany(0),
            Reply::Status(502),
            Reply::Status(408),
        ]
        .into_iter()
        .cycle()
        .take(15),
    );
    let mut app = live_app(&fake, Format::Generic).await;
    for n in 0..5 {
        assert_eq!(
            app.outcome(incident_n(n, "investigating", 20)).await,
            "triggered"
        );
    }
    for n in 0..5 {
        assert_eq!(app.outcome(incident_n(n, "resolved", 40)).await, "resolved");
    }
    for n in 0..5 {
        assert_eq!(
            app.outcome(incident_n(n, "investigating", 50)).await,
            "triggered",
            "reopened"
        );
    }
    app.drain().await;
    let got = fake.accepted();
    assert_eq!(got.len(), 15);
    for n in 0..5 {
        let fp = format!("statuspage:x1y2z3a4b5c6:incident:inc{n}");
        let seq: Vec<&str> = got
            .iter()
            .filter(|b| b["id"] == fp)
            .map(|b| b["status"].as_str().unwrap())
            .collect();
        assert_eq!(seq, ["trigger", "resolve", "trigger"], "{fp}");
    }
    assert_eq!(
        app.count("SELECT count(*) FROM delivery_attempts WHERE result = 'retry'")
            .await,
        15
    );
    assert_eq!(
        app.count("SELECT count(*) FROM delivery_attempts").await,
        30
    );
    app.stop().await;
    fake.stop().await;
}

#[tokio::test]
async fn retry_after_is_honoured() {
    needs_database!();
    let fake = FakeItoc360::start(ITOC_TOKEN).await;
    fake.script([Reply::TooMany(1)]);
    let mut app = live_app(&fake, Format::Generic).await;
    app.outcome(fixture(INC)).await;
    app.drain().await;
    let times: Vec<(String, Option<i64>)> = app
        .db()
        .all(
            "SELECT started_at, http_status FROM delivery_attempts ORDER BY id",
            &[],
        )
        .await;
    assert_eq!(times.len(), 2);
    assert_eq!(times[0].1, Some(429));
    let t = |s: &str| chrono::DateTime::parse_from_rfc3339(s).unwrap();
    let gap = t(&times[1].0) - t(&times[0].0);
    assert!(
        gap >= chrono::Duration::milliseconds(1000),
        "waited {gap} for Retry-After: 1"
    );
    app.stop().await;
    fake.stop().await;
}

#[tokio::test]
async fn refusals_make_rows_dead_with_the_reason() {
    needs_database!();
    for (status, reason) in [
        (401, "scripted 401"),
        (402, "scripted 402"),
        (400, "scripted 400"),
    ] {
        let fake = FakeItoc360::start(ITOC_TOKEN).await;
        fake.script([Reply::Status(status)]);
        let mut app = live_app(&fake, Format::Generic).await;
        app.outcome(fixture(INC)).await;
        app.drain().await;
        let (state, last_status, last_error): (String, i64, String) = app
            .db()
            .one("SELECT state, last_status, last_error FROM outbox", &[])
            .await;
        assert_eq!((state.as_str(), last_status), ("dead", status as i64));
        assert!(last_error.contains(reason), "{last_error}");
        assert_eq!(fake.received().len(), 1, "not retried");
        app.stop().await;
        fake.stop().await;
    }
}

#[tokio::test]
async fn timeouts_and_refused_connections_are_retried() {
    needs_database!();
    let fake = FakeItoc360::start(ITOC_TOKEN).await;
    fake.script([Reply::Slow(Duration::from_millis(1500))]);
    let base = fake.base_url.clone();
    let mut app = spawn_app_with(move |s| {
        s.itoc360.base_url = base;
        s.itoc360.token = Secret::new(ITOC_TOKEN);
        s.delivery.timeout_ms = 300;
        s.delivery.lease_secs = 2;
    })
    .await;
    app.outcome(fixture(INC)).await;
    app.drain().await;
    let attempts: Vec<(Option<i64>, String, Option<String>)> = app
        .db()
        .all(
            "SELECT http_status, result, error FROM delivery_attempts ORDER BY id",
            &[],
        )
        .await;
    assert_eq!(attempts.len(), 2, "{attempts:?}");
    assert_eq!(attempts[0].0, None);
    assert_eq!(attempts[0].1, "retry");
    assert!(
        attempts[0].2.as_deref().unwrap().contains("timed out"),
        "{attempts:?}"
    );
    assert_eq!(attempts[1].1, "delivered");
    app.stop().await;
    fake.stop().await;

    // Nothing listening: connection refused, retried, the row stays queued.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let app = spawn_app_with(move |s| {
        s.itoc360.base_url = url;
        s.itoc360.token = Secret::new(ITOC_TOKEN);
        s.delivery.retry_base_ms = 1;
        s.delivery.retry_max_secs = 1;
    })
    .await;
    app.outcome(fixture(INC)).await;
    let mut progress = app.progress().expect("live worker");
    loop {
        let n = app.count("SELECT count(*) FROM delivery_attempts").await;
        if n >= 2 {
            break;
        }
        tokio::time::timeout(Duration::from_secs(10), progress.changed())
            .await
            .unwrap()
            .unwrap();
    }
    let (result, error): (String, String) = app
        .db()
        .one(
            "SELECT result, error FROM delivery_attempts ORDER BY id LIMIT 1",
            &[],
        )
        .await;
    assert_eq!(result, "retry");
    assert!(error.contains("could not connect"), "{error}");
    assert_eq!(
        app.count("SELECT count(*) FROM outbox WHERE state = 'pending'")
            .await,
        1
    );
    app.stop().await;
}

#[tokio::test]
async fn dry_run_sends_nothing_and_records_decisions() {
    needs_database!();
    let fake = FakeItoc360::start(ITOC_TOKEN).await;
    let base = fake.base_url.clone();
    let app = spawn_app_with(move |s| s.itoc360.base_url = base).await;
    assert!(app.progress().is_none(), "no delivery worker in a dry run");
    assert_eq!(app.outcome(fixture(INC)).await, "triggered");
    assert_eq!(app.outcome(resolved_incident()).await, "resolved");
    let states: Vec<String> = app
        .db()
        .values("SELECT state FROM outbox ORDER BY id", &[])
        .await;
    assert_eq!(states, ["skipped", "skipped"]);
    app.stop().await;
    assert!(fake.received().is_empty());
    fake.stop().await;
}

#[tokio::test]
async fn graceful_stop_lets_an_in_flight_send_finish() {
    needs_database!();
    let fake = FakeItoc360::start(ITOC_TOKEN).await;
    fake.script([Reply::Slow(Duration::from_millis(500))]);
    let app = live_app(&fake, Format::Generic).await;
    app.outcome(fixture(INC)).await;
    fake.wait_for_started(1).await;
    let (dir, settings) = app.stop().await;
    assert_eq!(fake.accepted().len(), 1);
    let db = test_db(&settings).await;
    let state: String = db.value("SELECT state FROM outbox", &[]).await;
    assert_eq!(state, "delivered");
    drop(dir);
    fake.stop().await;
}

/// Used by the binary tests too: the body the fake saw, by fingerprint.
pub fn statuses_for(got: &[Value], fp: &str) -> Vec<String> {
    got.iter()
        .filter(|b| b["id"] == fp)
        .map(|b| b["status"].as_str().unwrap().to_owned())
        .collect()
}
