//! The documented SQL is a test: every ```sql block of the README and of
//! docs/SCHEMA.md runs against a database filled by a real lifecycle, so
//! neither can drift from the schema.

use serde_json::json;

use crate::fake_itoc360::{FakeItoc360, Reply};
use crate::helpers::*;

/// The files whose SQL is tested.
const DOCUMENTED: [&str; 2] = ["README.md", "docs/SCHEMA.md"];

/// The statements of every ```sql block in the documented files for this
/// engine (```sql: both; ```sql sqlite or ```sql postgres: that one), each
/// with the comment lines that precede it (its title).
fn readme_queries(postgres: bool) -> Vec<String> {
    let readme: String = DOCUMENTED
        .iter()
        .map(|f| std::fs::read_to_string(format!("{}/{f}", env!("CARGO_MANIFEST_DIR"))).unwrap())
        .collect::<Vec<_>>()
        .join("\n");
    let mine = if postgres {
        "```sql postgres"
    } else {
        "```sql sqlite"
    };
    let mut queries = Vec::new();
    let mut in_sql = false;
    let mut current = String::new();
    for line in readme.lines() {
        match (in_sql, line.trim()) {
            (false, "```sql") => in_sql = true,
            (false, l) if l == mine => in_sql = true,
            (true, "```") => in_sql = false,
            (true, l) => {
                current.push_str(line);
                current.push('\n');
                if l.ends_with(';') {
                    queries.push(std::mem::take(&mut current));
                }
            }
            _ => {}
        }
    }
    assert!(
        current.trim().is_empty(),
        "a documented query lacks its ';':\n{current}"
    );
    queries
}

/// The API component breaks, then the incident that lists it opens at
/// critical (lifting the component to critical); both are delivered.
async fn component_then_incident(app: &mut TestApp) {
    assert_eq!(
        app.outcome(component_change("operational", "major_outage", "10:14"))
            .await,
        "triggered"
    );
    assert_eq!(
        app.outcome(fixture("01_incident_created_investigating_critical.json"))
            .await,
        "triggered"
    );
    app.drain().await;
}

#[tokio::test]
async fn every_readme_query_runs_and_answers_on_a_real_lifecycle() {
    needs_database!();
    let queries = readme_queries(postgres());
    assert!(queries.len() >= 7, "found {} queries", queries.len());

    let fake = FakeItoc360::start("itoc-token").await;
    // ITOC360 refuses the first attempt, so the failure query has a row.
    fake.script([Reply::Status(503)]);
    let mut app = spawn_delivering(&fake.base_url, "itoc-token").await;
    component_then_incident(&mut app).await;
    assert_eq!(
        app.outcome(incident_update("resolved", "11:00", &[])).await,
        "resolved"
    );
    assert_eq!(
        app.outcome(json!({"incident": {"status": 7}}).to_string())
            .await,
        "unrecognized"
    );
    app.drain().await;

    for q in &queries {
        let rows = app
            .db()
            .try_count_rows(q.as_str())
            .await
            .unwrap_or_else(|e| panic!("documented query failed: {e}\n{q}"));
        assert!(
            rows > 0,
            "documented query answered nothing on a full lifecycle:\n{q}"
        );
    }
    app.stop().await;
    fake.stop().await;
}

/// Seconds from `a` to `b` (stored UTC text), to the millisecond.
fn seconds_between(a: &str, b: &str) -> f64 {
    let a = chrono::DateTime::parse_from_rfc3339(a).unwrap();
    let b = chrono::DateTime::parse_from_rfc3339(b).unwrap();
    (b - a).num_milliseconds() as f64 / 1000.0
}

#[tokio::test]
async fn the_views_answer_a_scripted_lifecycle() {
    needs_database!();
    let fake = FakeItoc360::start("itoc-token").await;
    let mut app = spawn_delivering(&fake.base_url, "itoc-token").await;
    component_then_incident(&mut app).await;

    let open: Vec<(String, String, Option<String>, String, String, String)> = app.db().all("SELECT kind, entity_id, name, status, priority, open_since FROM open_alerts ORDER BY kind", &[]).await;
    assert_eq!(
        open,
        vec![
            (
                "component".into(),
                "r7p3k9d2m5w1".into(),
                Some("API".into()),
                "major_outage".into(),
                "critical".into(),
                "2025-03-04T10:14:00.000Z".into()
            ),
            (
                "incident".into(),
                "lq0v6n2c9t4h".into(),
                Some("API unavailable".into()),
                "investigating".into(),
                "critical".into(),
                // the event that opened the alert (the payload's updated_at)
                "2025-03-04T10:15:02.118Z".into()
            ),
        ]
    );

    // The incident resolves, the API recovers, and Web starts failing.
    assert_eq!(
        app.outcome(incident_update("resolved", "11:00", &[])).await,
        "resolved"
    );
    assert_eq!(
        app.outcome(component_change("major_outage", "operational", "11:05"))
            .await,
        "resolved"
    );
    assert_eq!(
        app.outcome(other_component(
            "c2",
            "Web",
            "operational",
            "partial_outage",
            "11:10"
        ))
        .await,
        "triggered"
    );
    app.drain().await;

    // incident_report
    type Report = (
        String,
        String,
        String,
        Option<String>,
        String,
        String,
        String,
        String,
        String,
        f64,
        f64,
        String,
        i64,
        i64,
    );
    let r: Report = app
        .db()
        .one(
            "SELECT source, page_id, incident_id, name, started_at, resolved_at, first_seen_at,
                paged_at, resolve_sent_at, seconds_to_page, open_seconds, highest_priority,
                webhooks, components
         FROM incident_report",
            &[],
        )
        .await;
    let (trigger_done, resolve_done): (String, String) = app.db().one("SELECT (SELECT finished_at FROM outbox WHERE kind = 'incident' AND action = 'trigger'),
                (SELECT finished_at FROM outbox WHERE kind = 'incident' AND action = 'resolve')", &[]).await;
    assert_eq!(
        (r.0.as_str(), r.1.as_str(), r.2.as_str(), r.3.as_deref()),
        (
            "statuspage",
            "x1y2z3a4b5c6",
            "lq0v6n2c9t4h",
            Some("API unavailable")
        )
    );
    assert_eq!(r.4, "2025-03-04T10:15:01.900Z");
    assert_eq!(r.5, "2025-03-04T11:00:00.000Z");
    assert!(r.6.as_str() > "2026", "first seen when received: {}", r.6);
    assert_eq!(r.7, trigger_done, "paged when ITOC360 took the trigger");
    assert_eq!(r.8, resolve_done);
    assert!((r.9 - seconds_between(&r.4, &r.7)).abs() < 0.002, "{}", r.9);
    assert!(
        (r.10 - 2698.1).abs() < 0.002,
        "open 44 min 58.1 s: {}",
        r.10
    );
    assert_eq!(r.11, "critical");
    assert_eq!((r.12, r.13), (2, 1), "two webhooks, one component");

    // alert_events: every decided event, all delivered
    type TimelineRow = (
        i64,
        String,
        String,
        String,
        String,
        i64,
        String,
        f64,
        Option<i64>,
    );
    let events: Vec<TimelineRow> = app
        .db()
        .all(
            "SELECT outbox_id, kind, action, priority, state, attempts, delivered_at,
                    seconds_to_deliver, last_status
             FROM alert_events ORDER BY outbox_id",
            &[],
        )
        .await;
    let actions: Vec<(&str, &str, &str)> = events
        .iter()
        .map(|e| (e.1.as_str(), e.2.as_str(), e.3.as_str()))
        .collect();
    assert_eq!(
        actions,
        vec![
            ("component", "trigger", "medium"),
            ("component", "trigger", "critical"),
            ("incident", "trigger", "critical"),
            ("incident", "resolve", "critical"),
            ("component", "resolve", "critical"),
            ("component", "trigger", "medium"),
        ]
    );
    for e in &events {
        let (decided, finished): (String, String) = app
            .db()
            .one(
                "SELECT created_at, finished_at FROM outbox WHERE id = ?",
                &[Bind::from(e.0)],
            )
            .await;
        assert_eq!((e.4.as_str(), e.5), ("delivered", 1));
        assert_eq!(e.6, finished);
        assert!((e.7 - seconds_between(&decided, &finished)).abs() < 0.002);
        assert_eq!(e.8, Some(202));
    }

    // component_outages: API closed at critical during the incident; Web open
    type Outage = (
        String,
        Option<String>,
        String,
        Option<String>,
        f64,
        String,
        Option<String>,
    );
    let outages: Vec<Outage> = app
        .db()
        .all(
            "SELECT component_id, name, opened_at, closed_at, open_seconds, priority, incidents
             FROM component_outages ORDER BY opened_at",
            &[],
        )
        .await;
    assert_eq!(outages.len(), 2, "{outages:?}");
    let api = &outages[0];
    assert_eq!(
        (
            api.0.as_str(),
            api.1.as_deref(),
            api.2.as_str(),
            api.3.as_deref()
        ),
        (
            "r7p3k9d2m5w1",
            Some("API"),
            "2025-03-04T10:14:00.000Z",
            Some("2025-03-04T11:05:00.000Z")
        )
    );
    assert!((api.4 - 3060.0).abs() < 0.002, "{}", api.4);
    assert_eq!(
        api.5, "critical",
        "highest while open, lifted by the incident"
    );
    assert_eq!(api.6.as_deref(), Some("API unavailable"));
    let web = &outages[1];
    assert_eq!(
        (
            web.0.as_str(),
            web.1.as_deref(),
            web.2.as_str(),
            web.3.as_deref()
        ),
        ("c2", Some("Web"), "2025-03-04T11:10:00.000Z", None),
        "still open"
    );
    assert!(web.4 > 3600.0 * 24.0 * 30.0, "open until now: {}", web.4);
    assert_eq!(web.5, "medium");
    assert_eq!(web.6, None, "no incident listed it");

    // open_alerts: only Web is left
    let open: Vec<(String, String, String)> = app
        .db()
        .all("SELECT kind, entity_id, open_since FROM open_alerts", &[])
        .await;
    assert_eq!(
        open,
        vec![(
            "component".into(),
            "c2".into(),
            "2025-03-04T11:10:00.000Z".into()
        )]
    );
    app.stop().await;
    fake.stop().await;
}
