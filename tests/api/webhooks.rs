//! The Statuspage endpoint and what it stores.

use serde_json::json;

use crate::helpers::*;

const INC: &str = "01_incident_created_investigating_critical.json";
const INC_FP: &str = "statuspage:x1y2z3a4b5c6:incident:lq0v6n2c9t4h";
const COMP_FP: &str = "statuspage:x1y2z3a4b5c6:component:r7p3k9d2m5w1";

fn s(v: &str) -> String {
    v.to_owned()
}

#[tokio::test]
async fn every_sample_is_stored_with_its_outcome() {
    needs_database!();
    let cases = [
        (
            "01_incident_created_investigating_critical.json",
            "triggered",
            Some(("trigger", "critical", INC_FP)),
        ),
        ("02_incident_resolved.json", "no_change", None),
        (
            "03_component_major_outage.json",
            "triggered",
            Some(("trigger", "medium", COMP_FP)),
        ),
        ("04_component_back_to_operational.json", "no_change", None),
        ("05_scheduled_maintenance_scheduled.json", "no_change", None),
        (
            "ref_atlassian_doc_component_major_outage_to_operational.json",
            "no_change",
            None,
        ),
        (
            "ref_atlassian_doc_incident_monitoring_critical.json",
            "triggered",
            Some((
                "trigger",
                "critical",
                "statuspage:j2mfxwj97wnj:incident:lbkhbwn21v5q",
            )),
        ),
    ];
    for (name, outcome, emitted) in cases {
        // A fresh bridge per sample: each is judged on its own.
        let app = spawn_app().await;
        let (status, v) = app.post_json(fixture(name)).await;
        assert_eq!(status, 200, "{name}: {v}");
        assert_eq!(v["outcome"], outcome, "{name}: {v}");
        let id = v["id"].as_str().unwrap().to_owned();
        // The raw bytes: SQLite keeps text as text, PostgreSQL a BYTEA.
        let (stored_outcome, body): (String, Vec<u8>) = app
            .db()
            .one(
                if app.db().is_postgres() {
                    "SELECT outcome, body FROM webhooks WHERE id = ?"
                } else {
                    "SELECT outcome, CAST(body AS BLOB) FROM webhooks WHERE id = ?"
                },
                &[Bind::from(&id)],
            )
            .await;
        let body = String::from_utf8(body).unwrap();
        assert_eq!(stored_outcome, outcome);
        assert_eq!(body, fixture(name), "raw body kept byte for byte");
        let want: Vec<(String, String, String)> = emitted
            .into_iter()
            .map(|(a, p, f)| (s(a), s(p), s(f)))
            .collect();
        assert_eq!(app.outbox().await, want, "{name}");
        app.stop().await;
    }
}

#[tokio::test]
async fn incident_lifecycle_trigger_then_resolve() {
    needs_database!();
    let app = spawn_app().await;
    assert_eq!(app.outcome(fixture(INC)).await, "triggered");
    let update = incident_update("identified", "10:20", &[]);
    assert_eq!(app.outcome(update).await, "deduplicated");
    let resolved = incident_update("resolved", "11:02", &[("incident.impact", json!("minor"))]);
    assert_eq!(app.outcome(resolved).await, "resolved");
    assert_eq!(
        app.outbox().await,
        vec![
            (s("trigger"), s("critical"), s(INC_FP)),
            (s("resolve"), s("critical"), s(INC_FP))
        ],
        "a resolve carries the severity the alert last had"
    );
    let (ends_at, starts_at): (Option<String>, String) = app
        .db()
        .one(
            "SELECT ends_at, starts_at FROM outbox WHERE action = 'resolve'",
            &[],
        )
        .await;
    assert_eq!(ends_at.as_deref(), Some("2025-03-04T11:02:00.000Z"));
    assert_eq!(starts_at, "2025-03-04T10:15:01.900Z");
    // Three applied events, three transitions; the incident row is closed.
    assert_eq!(app.count("SELECT count(*) FROM transitions").await, 3);
    let (open, status): (bool, String) = app
        .db()
        .one(
            "SELECT alert_open <> 0, status FROM incidents WHERE incident_id = 'lq0v6n2c9t4h'",
            &[],
        )
        .await;
    assert!(!open);
    assert_eq!(status, "resolved");
    app.stop().await;
}

#[tokio::test]
async fn component_takes_the_priority_of_its_open_incident_and_links_are_recorded() {
    needs_database!();
    let app = spawn_app().await;
    assert_eq!(app.outcome(fixture(INC)).await, "triggered");
    assert_eq!(
        app.outcome(fixture("03_component_major_outage.json")).await,
        "triggered"
    );
    assert_eq!(
        app.outbox().await[1],
        (s("trigger"), s("critical"), s(COMP_FP)),
        "the associated open incident is critical"
    );
    let links: Vec<(String, String, bool)> = app
        .db()
        .all(
            "SELECT incident_id, component_id, current <> 0 FROM incident_components",
            &[],
        )
        .await;
    assert_eq!(links, vec![(s("lq0v6n2c9t4h"), s("r7p3k9d2m5w1"), true)]);
    // Back to operational resolves the component at the priority it had.
    let back = component_change("major_outage", "operational", "11:00");
    assert_eq!(app.outcome(back).await, "resolved");
    assert_eq!(
        app.outbox().await[2],
        (s("resolve"), s("critical"), s(COMP_FP))
    );
    app.stop().await;
}

#[tokio::test]
async fn wrong_or_missing_token_is_401_and_nothing_is_stored() {
    needs_database!();
    let app = spawn_app().await;
    let url = format!("{}/webhooks/statuspage", app.address);
    for (query, header) in [
        (Some("wrong-token"), None),
        (None, None),
        (Some(""), None),
        (None, Some("wrong-token")),
        // The query parameter wins over the header.
        (Some("wrong-token"), Some(TOKEN)),
    ] {
        let target = match query {
            Some(q) => format!("{url}?token={q}"),
            None => url.clone(),
        };
        let mut req = app.client.post(target).body(fixture(INC));
        if let Some(h) = header {
            req = req.header("X-ITOC360-Token", h);
        }
        let r = req.send().await.unwrap();
        assert_eq!(r.status().as_u16(), 401, "{query:?} {header:?}");
        let v: serde_json::Value = r.json().await.unwrap();
        assert!(v["error"].as_str().unwrap().contains("token"));
    }
    assert_eq!(app.count("SELECT count(*) FROM webhooks").await, 0);
    app.stop().await;
}

#[tokio::test]
async fn header_token_is_accepted() {
    needs_database!();
    let app = spawn_app().await;
    let r = app
        .client
        .post(format!("{}/webhooks/statuspage", app.address))
        .header("X-ITOC360-Token", TOKEN)
        .body(fixture(INC))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(app.count("SELECT count(*) FROM webhooks").await, 1);
    app.stop().await;
}

#[tokio::test]
async fn body_over_the_limit_is_413_and_not_stored() {
    needs_database!();
    let app = spawn_app_with(|s| s.server.max_body_bytes = 2048).await;
    let big = fixture_with(INC, &[("incident.name", json!("x".repeat(4096)))]);
    let r = app.post(big).await;
    assert_eq!(r.status().as_u16(), 413);
    let v: serde_json::Value = r.json().await.unwrap();
    assert!(v["error"].as_str().unwrap().contains("2048"));
    // Streamed without a Content-Length, the limit still holds.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..8).map(|_| Ok(vec![b' '; 1024])).collect();
    let r = app
        .client
        .post(app.webhook_url())
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            chunks,
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 413);
    assert_eq!(app.count("SELECT count(*) FROM webhooks").await, 0);
    // Exactly at the limit is fine.
    let fits = format!("{{\"pad\": \"{}\"}}", "y".repeat(2048 - 11));
    assert_eq!(fits.len(), 2048);
    assert_eq!(app.post(fits).await.status().as_u16(), 200);
    app.stop().await;
}

#[tokio::test]
async fn broken_json_is_400_and_kept_as_rejected() {
    needs_database!();
    let app = spawn_app().await;
    let raw: Vec<u8> = b"{\"incident\": \xff\xfe broken".to_vec();
    let r = app.post(raw.clone()).await;
    assert_eq!(r.status().as_u16(), 400);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["outcome"], "rejected");
    assert!(v["error"].as_str().unwrap().contains("not JSON"), "{v}");
    let (outcome, body, kind): (String, Vec<u8>, String) = app
        .db()
        .one(
            "SELECT outcome, body, kind FROM webhooks WHERE id = ?",
            &[Bind::from(v["id"].as_str().unwrap())],
        )
        .await;
    assert_eq!(outcome, "rejected");
    assert_eq!(kind, "invalid");
    assert_eq!(body, raw, "the exact bytes are kept");
    app.stop().await;
}

#[tokio::test]
async fn unknown_shapes_and_statuses_get_2xx_and_are_flagged() {
    needs_database!();
    let app = spawn_app().await;
    for body in [
        json!({"hello": "world"}).to_string(),
        json!([1, 2, 3]).to_string(),
        "null".to_owned(),
        fixture_with(INC, &[("incident.status", json!("on_fire"))]),
        fixture_with(
            "03_component_major_outage.json",
            &[("component_update.new_status", json!("melting"))],
        ),
    ] {
        let (status, v) = app.post_json(body.clone()).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(v["outcome"], "unrecognized", "{body}");
        assert!(!v["reason"].as_str().unwrap().is_empty());
    }
    assert_eq!(
        app.count("SELECT count(*) FROM webhooks WHERE outcome = 'unrecognized'")
            .await,
        5
    );
    assert_eq!(app.count("SELECT count(*) FROM outbox").await, 0);
    app.stop().await;
}

#[tokio::test]
async fn twenty_concurrent_copies_give_one_trigger() {
    needs_database!();
    let app = spawn_app().await;
    let body = fixture(INC);
    let posts = (0..20).map(|_| app.outcome(body.clone()));
    let mut outcomes = futures_util::future::join_all(posts).await;
    outcomes.sort();
    let mut want = vec![s("duplicate"); 19];
    want.push(s("triggered"));
    want.sort();
    assert_eq!(outcomes, want);
    assert_eq!(app.outbox().await.len(), 1);
    assert_eq!(app.count("SELECT count(*) FROM webhooks").await, 20);
    app.stop().await;
}

#[tokio::test]
async fn same_update_in_a_new_body_is_a_duplicate_and_older_events_are_stale() {
    needs_database!();
    let app = spawn_app().await;
    assert_eq!(app.outcome(fixture(INC)).await, "triggered");
    // A retry with a new generated_at: other bytes, same update.
    let retried = fixture_with(
        INC,
        &[("meta.generated_at", json!("2025-03-04T10:16:00.000Z"))],
    );
    assert_eq!(app.outcome(retried).await, "duplicate");
    // Same update id but the impact changed: a new event (priority change).
    let escalated = fixture_with(INC, &[("incident.impact", json!("major"))]);
    assert_eq!(app.outcome(escalated).await, "retriggered");
    // An older update delivered late: stale, nothing emitted.
    let older = incident_update("resolved", "10:00", &[]);
    let (_, v) = app.post_json(older).await;
    assert_eq!(v["outcome"], "stale");
    assert!(v["reason"].as_str().unwrap().contains("older"));
    assert_eq!(app.outbox().await.len(), 2);
    // The UNIQUE constraint holds the applied keys.
    assert_eq!(
        app.count("SELECT count(*) FROM (SELECT event_key FROM applied_events GROUP BY source, kind, page_id, entity_id, event_key HAVING count(*) > 1) d").await,
        0
    );
    let dup = app.db().execute("INSERT INTO applied_events (source, kind, page_id, entity_id, event_key, webhook_id)
         SELECT source, kind, page_id, entity_id, event_key, webhook_id FROM applied_events LIMIT 1", &[]).await;
    assert!(
        dup.is_err(),
        "duplicates are refused by the database itself"
    );
    app.stop().await;
}

#[tokio::test]
async fn backfilled_and_maintenance_are_ignored_unless_paging_is_on() {
    needs_database!();
    let app = spawn_app().await;
    let backfilled = fixture_with(INC, &[("incident.backfilled", json!(true))]);
    assert_eq!(app.outcome(backfilled).await, "ignored");
    let in_progress = fixture_with(
        "05_scheduled_maintenance_scheduled.json",
        &[
            ("incident.status", json!("in_progress")),
            ("incident.incident_updates.0.id", json!("m2")),
        ],
    );
    assert_eq!(app.outcome(in_progress.clone()).await, "ignored");
    assert_eq!(app.outbox().await.len(), 0);
    app.stop().await;

    let app = spawn_app_with(|s| s.maintenance.page = true).await;
    assert_eq!(app.outcome(in_progress).await, "triggered");
    assert_eq!(
        app.outbox().await[0].1,
        "low",
        "maintenance impact pages at low"
    );
    app.stop().await;
}

#[tokio::test]
async fn restart_on_the_same_database_keeps_state() {
    needs_database!();
    let app = spawn_app().await;
    assert_eq!(app.outcome(fixture(INC)).await, "triggered");
    let (dir, settings) = app.stop().await;

    let app = spawn_in(dir, settings).await;
    // The same delivery again is still a duplicate after the restart ...
    assert_eq!(app.outcome(fixture(INC)).await, "duplicate");
    // ... and a resolve closes the alert opened before it.
    let resolved = incident_update("resolved", "11:02", &[]);
    assert_eq!(app.outcome(resolved).await, "resolved");
    assert_eq!(
        app.outbox().await,
        vec![
            (s("trigger"), s("critical"), s(INC_FP)),
            (s("resolve"), s("critical"), s(INC_FP))
        ]
    );
    app.stop().await;
}

#[tokio::test]
async fn healthz_answers_and_metrics_count_outcomes() {
    needs_database!();
    let app = spawn_app().await;
    assert_eq!(app.get("/healthz").await.0, 200);
    app.outcome(fixture(INC)).await;
    let (_, text) = app.get("/metrics").await;
    assert!(
        text.contains(
            "statuspage_bridge_webhooks_total{source=\"statuspage\",outcome=\"triggered\"} 1"
        ),
        "{text}"
    );
    // The writer's batches (migrations aside, at least the webhook's),
    // before the exposition's end.
    let count = text
        .lines()
        .find_map(|l| l.strip_prefix("statuspage_bridge_write_batch_size_count "))
        .and_then(|n| n.parse::<u64>().ok());
    assert!(count.is_some_and(|n| n >= 1), "{text}");
    assert!(text.trim_end().ends_with("# EOF"), "{text}");
    app.stop().await;
}

#[tokio::test]
async fn secrets_stay_out_of_stored_metadata() {
    needs_database!();
    let app = spawn_app().await;
    app.outcome(fixture(INC)).await;
    // Every column but the raw body, as text.
    let rows: Vec<String> = app.db().values("SELECT concat_ws('|', id, received_at, source, remote_addr, kind, page_id, entity_id,
            entity_name, event_id, old_status, new_status, impact, event_at, outcome, reason, action,
            priority) FROM webhooks
         UNION ALL SELECT concat_ws('|', title, message, fingerprint, link, last_error) FROM outbox
         UNION ALL SELECT concat_ws('|', name, status, shortlink) FROM incidents", &[]).await;
    assert_eq!(rows.len(), 3);
    for row in rows {
        assert!(!row.contains(TOKEN), "{row}");
        assert!(!row.contains("unsubscribe"), "{row}");
        assert!(!row.contains("q4m2x8r1v7kp"), "{row}");
    }
    app.stop().await;
}

#[tokio::test]
async fn locked_database_answers_503_and_loses_nothing() {
    needs_database!();
    sqlite_only!();
    let app = spawn_app_with(|s| s.database.busy_timeout_ms = 200).await;
    assert_eq!(app.outcome(fixture(INC)).await, "triggered");
    // Another process holds the write lock (an analyst's write, a backup).
    let mut other = app.db().other_sqlite_connection().await;
    sqlx::query("BEGIN EXCLUSIVE")
        .execute(&mut other)
        .await
        .unwrap();
    let resolved = incident_update("resolved", "11:02", &[]);
    let r = app.post(resolved.clone()).await;
    assert_eq!(r.status().as_u16(), 503);
    assert_eq!(r.headers().get("retry-after").unwrap(), "5");
    let v: serde_json::Value = r.json().await.unwrap();
    assert!(v["error"].as_str().unwrap().contains("retry"), "{v}");
    sqlx::query("COMMIT").execute(&mut other).await.unwrap();
    drop(other);
    // Statuspage's retry goes through; the first webhook is intact.
    assert_eq!(app.outcome(resolved).await, "resolved");
    assert_eq!(app.count("SELECT count(*) FROM webhooks").await, 2);
    assert_eq!(
        app.outbox().await,
        vec![
            (s("trigger"), s("critical"), s(INC_FP)),
            (s("resolve"), s("critical"), s(INC_FP))
        ]
    );
    app.stop().await;
}

/// Odd bodies through the whole pipeline of a real server: arbitrary bytes
/// and real samples with bytes flipped, cut or inserted get 200 or 400 (413
/// over the limit), never a 5xx; every 2xx and 400 is stored.
#[test]
fn odd_bodies_never_get_a_server_error() {
    needs_database!();
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};

    let rt = tokio::runtime::Runtime::new().unwrap();
    let app = rt.block_on(spawn_app_with(|s| s.server.max_body_bytes = 4096));
    let samples: Vec<Vec<u8>> = [
        INC,
        "02_incident_resolved.json",
        "03_component_major_outage.json",
        "04_component_back_to_operational.json",
        "05_scheduled_maintenance_scheduled.json",
    ]
    .iter()
    .map(|f| fixture(f).into_bytes())
    .collect();
    let mutated = (
        0..samples.len(),
        prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0..3u8), 1..6),
        prop::option::of(any::<prop::sample::Index>()),
    )
        .prop_map(move |(which, edits, cut)| {
            let mut b = samples[which].clone();
            for (at, byte, how) in edits {
                let i = at.index(b.len().max(1)).min(b.len());
                match how {
                    0 if i < b.len() => b[i] = byte,
                    1 => b.insert(i, byte),
                    _ if i < b.len() => {
                        b.remove(i);
                    }
                    _ => b.push(byte),
                }
            }
            if let Some(cut) = cut {
                b.truncate(cut.index(b.len() + 1));
            }
            b
        });
    let bodies = prop_oneof![prop::collection::vec(any::<u8>(), 0..600), mutated];
    let mut runner = TestRunner::new(Config {
        cases: 300,
        failure_persistence: None,
        ..Config::default()
    });
    let sent = std::cell::Cell::new(0i64);
    runner
        .run(&bodies, |body| {
            let status = rt.block_on(app.post(body.clone())).status().as_u16();
            sent.set(sent.get() + 1);
            prop_assert!(
                status == 200 || status == 400,
                "{status} for {:?}",
                String::from_utf8_lossy(&body)
            );
            Ok(())
        })
        .unwrap();
    let oversized = rt.block_on(app.post(vec![b'{'; 5000])).status().as_u16();
    assert_eq!(oversized, 413);
    let stored = rt.block_on(app.count("SELECT count(*) FROM webhooks"));
    assert_eq!(stored, sent.get(), "every answered body is stored");
    rt.block_on(app.stop());
}

/// The component's events, oldest first: (action, priority).
async fn component_events(app: &TestApp) -> Vec<(String, String)> {
    app.outbox()
        .await
        .into_iter()
        .filter(|(_, _, fp)| fp == COMP_FP)
        .map(|(a, p, _)| (a, p))
        .collect()
}

#[tokio::test]
async fn component_priority_does_not_depend_on_webhook_order() {
    needs_database!();
    let inc = fixture(INC);
    let comp = fixture("03_component_major_outage.json");

    // Incident first: the component opens at the incident's priority.
    let app = spawn_app().await;
    assert_eq!(app.outcome(inc.clone()).await, "triggered");
    assert_eq!(app.outcome(comp.clone()).await, "triggered");
    assert_eq!(
        component_events(&app).await,
        [(s("trigger"), s("critical"))]
    );
    app.stop().await;

    // Component first: it opens at Medium, then the incident raises it,
    // in the incident webhook's transaction.
    let app = spawn_app().await;
    assert_eq!(app.outcome(comp).await, "triggered");
    assert_eq!(component_events(&app).await, [(s("trigger"), s("medium"))]);
    let (status, v) = app.post_json(inc).await;
    assert_eq!(status, 200);
    assert_eq!(
        v["outcome"], "triggered",
        "the incident keeps its own outcome"
    );
    assert_eq!(
        component_events(&app).await,
        [(s("trigger"), s("medium")), (s("trigger"), s("critical"))]
    );
    let (open, priority): (bool, String) = app
        .db()
        .one(
            "SELECT alert_open <> 0, alert_priority FROM components WHERE component_id = 'r7p3k9d2m5w1'",
            &[],
        )
        .await;
    assert_eq!((open, priority.as_str()), (true, "critical"));
    let (outcome, reason, webhook): (String, String, String) = app
        .db()
        .one(
            "SELECT outcome, reason, webhook_id FROM transitions
         WHERE kind = 'component' ORDER BY id DESC LIMIT 1",
            &[],
        )
        .await;
    assert_eq!(outcome, "retriggered");
    assert_eq!(webhook, v["id"].as_str().unwrap());
    assert!(reason.contains("raised by incident"), "{reason}");
    assert!(reason.contains("lq0v6n2c9t4h"), "{reason}");
    // The component's timeline shows it, naming the incident.
    let (status, page) = app.get("/components/x1y2z3a4b5c6/r7p3k9d2m5w1").await;
    assert_eq!(status, 200);
    assert!(page.contains("raised by incident"), "{page}");

    // The incident resolving does not lower the component.
    assert_eq!(
        app.outcome(incident_update("resolved", "11:00", &[])).await,
        "resolved"
    );
    assert_eq!(component_events(&app).await.len(), 2);
    let priority: String = app.db().value("SELECT alert_priority FROM components WHERE component_id = 'r7p3k9d2m5w1' AND alert_open = 1", &[]).await;
    assert_eq!(priority, "critical");
    app.stop().await;
}

/// An incident already open at Critical that newly lists a component in an
/// update, and that component's own outage webhook: in either order the
/// component ends open at Critical (docs/BEHAVIOUR.md, "Component:
/// priority").
#[tokio::test]
async fn an_open_incident_newly_listing_a_component_raises_it_in_either_order() {
    needs_database!();
    let unlisted = [
        ("incident.components", json!([])),
        ("incident.incident_updates.0.affected_components", json!([])),
    ];
    let listing = incident_update("identified", "10:30", &[]);
    let outage = component_change("operational", "partial_outage", "10:29");

    // Component first: it opens at Medium, then the update raises it.
    let app = spawn_app().await;
    assert_eq!(app.outcome(fixture_with(INC, &unlisted)).await, "triggered");
    assert_eq!(app.outcome(outage.clone()).await, "triggered");
    assert_eq!(component_events(&app).await, [(s("trigger"), s("medium"))]);
    let (status, v) = app.post_json(listing.clone()).await;
    assert_eq!(status, 200);
    assert_eq!(v["outcome"], "deduplicated", "the incident's own outcome");
    assert_eq!(
        component_events(&app).await,
        [(s("trigger"), s("medium")), (s("trigger"), s("critical"))]
    );
    let late: String = app
        .db()
        .value(
            "SELECT alert_priority FROM components WHERE component_id = 'r7p3k9d2m5w1'",
            &[],
        )
        .await;
    app.stop().await;

    // The update first: the component opens at Critical.
    let app = spawn_app().await;
    assert_eq!(app.outcome(fixture_with(INC, &unlisted)).await, "triggered");
    assert_eq!(app.outcome(listing).await, "deduplicated");
    assert_eq!(app.outcome(outage).await, "triggered");
    assert_eq!(
        component_events(&app).await,
        [(s("trigger"), s("critical"))]
    );
    let early: String = app
        .db()
        .value(
            "SELECT alert_priority FROM components WHERE component_id = 'r7p3k9d2m5w1'",
            &[],
        )
        .await;
    assert_eq!((late.as_str(), early.as_str()), ("critical", "critical"));
    app.stop().await;
}

/// Reads what the server answers on a raw connection (until it closes it,
/// or 10 s pass), as text.
async fn answer_of(stream: &mut tokio::net::TcpStream) -> String {
    use tokio::io::AsyncReadExt;
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        stream.read_to_end(&mut buf),
    )
    .await;
    String::from_utf8_lossy(&buf).into_owned()
}

#[tokio::test]
async fn idle_stalled_and_trickling_clients_do_not_stop_others() {
    needs_database!();
    use tokio::io::AsyncWriteExt;
    use tokio::net::TcpStream;

    let app = spawn_app_with(|s| {
        s.server.request_timeout_ms = 500;
        s.server.body_timeout_ms = 500;
    })
    .await;
    let addr = app.address.trim_start_matches("http://").to_owned();
    let head = |len: usize| {
        format!(
            "POST /webhooks/statuspage?token={TOKEN} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {len}\r\n\r\n"
        )
    };

    // Hundreds of connections that send nothing.
    let mut idle = Vec::new();
    for _ in 0..300 {
        idle.push(TcpStream::connect(&addr).await.unwrap());
    }
    // Headers, then a stall.
    let mut stalled_head = TcpStream::connect(&addr).await.unwrap();
    stalled_head
        .write_all(b"POST /webhooks/statuspage HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    // A full head, part of the body, then a stall.
    let mut stalled_body = TcpStream::connect(&addr).await.unwrap();
    stalled_body.write_all(head(200).as_bytes()).await.unwrap();
    stalled_body.write_all(b"{\"incident\":").await.unwrap();
    // A body trickled a byte at a time, slower than the bound allows.
    let mut trickle = TcpStream::connect(&addr).await.unwrap();
    trickle.write_all(head(100).as_bytes()).await.unwrap();
    let (mut trickle_read, mut trickle_write) = trickle.into_split();
    let trickler = tokio::spawn(async move {
        for _ in 0..100 {
            if trickle_write.write_all(b" ").await.is_err() {
                return;
            }
            // The client's pace, not a wait for the server's work.
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    });

    // Everyone else is served meanwhile.
    assert_eq!(app.outcome(fixture(INC)).await, "triggered");
    assert_eq!(app.get("/healthz").await.0, 200);

    assert!(
        answer_of(&mut stalled_head)
            .await
            .starts_with("HTTP/1.1 408")
    );
    let answer = answer_of(&mut stalled_body).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        tokio::io::AsyncReadExt::read_to_end(&mut trickle_read, &mut buf),
    )
    .await;
    let answer = String::from_utf8_lossy(&buf);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    trickler.abort();
    drop(idle);

    let (_, metrics) = app.get("/metrics").await;
    assert!(
        metrics.contains("statuspage_bridge_webhooks_refused_total{reason=\"too_slow\"} 2"),
        "{metrics}"
    );
    assert_eq!(
        app.count("SELECT count(*) FROM webhooks").await,
        1,
        "nothing half-received is stored"
    );
    app.stop().await;
}
