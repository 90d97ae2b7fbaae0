//! Reconcile against a fake status API: heals through the webhook path,
//! rounds that agree or fail change nothing, and the quarantine banner.

use serde_json::{Value, json};
use statuspage_bridge::config::{Page, Secret};

use crate::fake_status::{Answer, FakeStatus};
use crate::helpers::*;

const PAGE: &str = "x1y2z3a4b5c6";
const INCIDENT: &str = "lq0v6n2c9t4h";

/// An upstream incident as the status API shows it (the sample's incident,
/// with its latest update `u<hh_mm>` at that time, as `incident_update`).
fn up_incident(id: &str, status: &str, impact: &str, hh_mm: &str) -> Value {
    let at = format!("2025-03-04T{hh_mm}:00.000Z");
    json!({"id": id, "name": format!("Incident {id}"), "status": status, "impact": impact,
           "created_at": "2025-03-04T10:15:00.000Z", "updated_at": at,
           "started_at": "2025-03-04T10:15:00.000Z",
           "resolved_at": if status == "resolved" { json!(at) } else { Value::Null },
           "shortlink": "https://stspg.io/x", "page_id": PAGE,
           "incident_updates": [{"id": format!("u{hh_mm}"), "status": status, "body": "Update",
                                 "incident_id": id, "created_at": at}],
           "components": []})
}

fn up_component(id: &str, status: &str, group: bool) -> Value {
    json!({"id": id, "name": format!("Component {id}"), "status": status,
           "created_at": "2023-01-01T00:00:00.000Z", "updated_at": "2025-03-04T10:20:00.000Z",
           "position": 1, "group_id": null, "page_id": PAGE, "group": group,
           "components": if group { json!(["leaf1"]) } else { Value::Null }})
}

/// A bridge that reconciles the page at `fake` (its first round done).
pub(crate) async fn spawn_reconciling(fake: &FakeStatus) -> TestApp {
    let base_url = fake.base_url.clone();
    let app = spawn_app_with(move |s| {
        s.pages = vec![Page {
            id: PAGE.into(),
            source: String::new(),
            base_url,
            api_key: Secret::default(),
            webhooks: true,
            kind: Default::default(),
            feed: None,
        }];
        s.reconcile.interval_secs = 3600;
        s.reconcile.misses_to_resolve = 2;
    })
    .await;
    // The first round runs at start.
    app.reconcile.clone().unwrap().wait_for(1).await;
    app
}

/// A bridge whose first round fails (the page answers 500), so that the
/// test's webhooks come first.
async fn spawn_with_failing_page(fake: &FakeStatus) -> TestApp {
    fake.set(
        "summary.json",
        Answer {
            status: 500,
            body: "oops".into(),
        },
    );
    spawn_reconciling(fake).await
}

async fn round(app: &TestApp) {
    app.reconcile.clone().unwrap().round().await;
}

/// (origin, kind, entity, outcome, reason) of every stored webhook, oldest first.
async fn stored(app: &TestApp) -> Vec<(String, String, String, String, String)> {
    app.db()
        .all(
            "SELECT origin, kind, coalesce(entity_id, ''), outcome, reason FROM webhooks
         ORDER BY received_at, id",
            &[],
        )
        .await
}

async fn last_round(app: &TestApp) -> (String, Option<String>, i64) {
    app.db()
        .one(
            "SELECT result, error, heals FROM reconcile_rounds ORDER BY id DESC LIMIT 1",
            &[],
        )
        .await
}

#[tokio::test]
async fn what_the_webhooks_missed_is_healed_and_the_banner_shows_until_a_webhook_comes() {
    needs_database!();
    let fake = FakeStatus::start().await;
    fake.page(
        PAGE,
        vec![up_incident(INCIDENT, "investigating", "critical", "10:20")],
        vec![
            up_component("leaf1", "major_outage", false),
            up_component("group1", "major_outage", true),
            up_component("maint1", "under_maintenance", false),
            up_component("fine1", "operational", false),
        ],
        vec![],
    );
    let app = spawn_reconciling(&fake).await;

    let rows = stored(&app).await;
    let summary: Vec<(&str, &str, &str)> = rows
        .iter()
        .map(|r| (r.1.as_str(), r.2.as_str(), r.3.as_str()))
        .collect();
    assert_eq!(
        summary,
        [
            ("incident", INCIDENT, "triggered"),
            ("component", "leaf1", "triggered"),
            ("component", "maint1", "ignored"),
        ],
        "a group never pages; maintenance does not page by default; an operational component agrees"
    );
    for r in &rows {
        assert_eq!(r.0, "reconcile");
        assert!(r.4.starts_with("reconcile: "), "{}", r.4);
    }
    let outbox = app.outbox().await;
    assert_eq!(outbox.len(), 2, "{outbox:?}");
    assert_eq!(
        (outbox[0].0.as_str(), outbox[0].1.as_str()),
        ("trigger", "critical")
    );
    assert_eq!(last_round(&app).await, ("ok".to_owned(), None, 3));
    let (_, _, ua) = &fake.seen()[0];
    assert!(ua.as_deref().unwrap().starts_with("statuspage-bridge/"));
    assert!(fake.seen().iter().all(|(_, auth, _)| auth.is_none()));

    // The API says where each event came from.
    let (_, body) = app.get("/api/events").await;
    let v: Value = serde_json::from_str(&body).unwrap();
    assert!(
        v["events"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["origin"] == "reconcile")
    );

    // Heals replay like webhooks: no difference under the same rules; with
    // maintenance paging on, the component under maintenance would page.
    let scratch = tempfile::tempdir().unwrap();
    // On PostgreSQL, replay reads a snapshot copied out first (as the
    // command does).
    let history = if app.settings.database.is_postgres() {
        let file = scratch.path().join("history.db");
        let n = statuspage_bridge::storage::postgres::export_history(
            app.settings.database.url.expose(),
            &file,
        )
        .await
        .unwrap();
        assert_eq!(n, 3);
        file
    } else {
        app.settings.database.path.clone()
    };
    for (page_maintenance, expected) in [(false, vec![]), (true, vec!["maint1"])] {
        let mut differ = Vec::new();
        let replayed = statuspage_bridge::replay::run(
            &history,
            statuspage_bridge::rules::machine::Rules { page_maintenance },
            scratch.path(),
            |d| differ.push(d.clone()),
        )
        .unwrap();
        assert_eq!(replayed, 3);
        let ids: Vec<&str> = differ
            .iter()
            .filter_map(|d| d.entity_id.as_deref())
            .collect();
        assert_eq!(ids, expected);
        if let Some(d) = differ.first() {
            assert_eq!(
                (d.recorded.outcome.as_str(), d.replayed.outcome.as_str()),
                ("ignored", "triggered")
            );
        }
    }

    // A round that agrees stores nothing.
    round(&app).await;
    assert_eq!(stored(&app).await.len(), 3);
    assert_eq!(last_round(&app).await, ("ok".to_owned(), None, 0));

    // Changes of 10:20 came only by polling, and no webhook came since.
    let (_, page) = app.get("/events").await;
    assert!(
        page.contains("reached the bridge only by polling"),
        "{page}"
    );
    let (status, page) = app.get("/reconcile").await;
    assert_eq!(status, 200);
    assert!(page.contains("reached the bridge only by polling"));
    assert!(page.contains(PAGE));

    // The late webhook of the healed update is a duplicate, and clears the banner.
    let (status, v) = app
        .post_json(incident_update("investigating", "10:20", &[]))
        .await;
    assert_eq!((status, v["outcome"].as_str()), (200, Some("duplicate")));
    let (_, page) = app.get("/events").await;
    assert!(!page.contains("reached the bridge only by polling"));
    assert_eq!(app.outbox().await.len(), 2, "nothing paged twice");
    app.stop().await;
    fake.stop().await;
}

#[tokio::test]
async fn incidents_resolved_or_vanished_upstream_are_resolved() {
    needs_database!();
    let fake = FakeStatus::start().await;
    let app = spawn_with_failing_page(&fake).await;
    assert_eq!(last_round(&app).await.0, "failed");
    assert!(stored(&app).await.is_empty());

    assert_eq!(
        app.outcome(incident_update("investigating", "10:15", &[]))
            .await,
        "triggered"
    );
    let gone = incident_update("investigating", "10:16", &[("incident.id", json!("gone1"))]);
    assert_eq!(app.outcome(gone).await, "triggered");

    // Upstream: nothing open; the first incident was resolved at 10:40, the
    // other is not even among the recent ones.
    fake.page(
        PAGE,
        vec![],
        vec![],
        vec![up_incident(INCIDENT, "resolved", "critical", "10:40")],
    );
    round(&app).await;
    let rows = stored(&app).await;
    assert_eq!(rows.len(), 3);
    assert_eq!(
        (rows[2].0.as_str(), rows[2].2.as_str(), rows[2].3.as_str()),
        ("reconcile", INCIDENT, "resolved")
    );

    // Missing once is not enough; twice in a row is.
    round(&app).await;
    let rows = stored(&app).await;
    assert_eq!(rows.len(), 4);
    assert_eq!(
        (rows[3].2.as_str(), rows[3].3.as_str()),
        ("gone1", "resolved")
    );
    assert!(rows[3].4.contains("2 rounds in a row"), "{}", rows[3].4);
    let actions: Vec<String> = app.outbox().await.into_iter().map(|o| o.0).collect();
    assert_eq!(actions, ["trigger", "trigger", "resolve", "resolve"]);
    app.stop().await;
    fake.stop().await;
}

#[tokio::test]
async fn an_upstream_view_older_than_the_last_webhook_is_kept_local() {
    needs_database!();
    let fake = FakeStatus::start().await;
    let app = spawn_with_failing_page(&fake).await;
    assert_eq!(
        app.outcome(incident_update("monitoring", "10:30", &[]))
            .await,
        "triggered"
    );
    fake.page(
        PAGE,
        vec![up_incident(INCIDENT, "identified", "critical", "10:20")],
        vec![],
        vec![],
    );
    round(&app).await;
    assert_eq!(
        stored(&app).await.len(),
        1,
        "a webhook raced the poll: the bridge keeps its view"
    );
    assert_eq!(last_round(&app).await, ("ok".to_owned(), None, 0));
    app.stop().await;
    fake.stop().await;
}

#[tokio::test]
async fn a_failed_round_changes_nothing() {
    needs_database!();
    let fake = FakeStatus::start().await;
    let app = spawn_with_failing_page(&fake).await;
    assert_eq!(
        app.outcome(incident_update("investigating", "10:15", &[]))
            .await,
        "triggered"
    );
    let other_page = json!({"page": {"id": "someoneelse1"}, "components": [], "incidents": [],
                            "scheduled_maintenances": []});
    let answers = [
        (
            Answer {
                status: 500,
                body: "{}".into(),
            },
            "HTTP 500",
        ),
        (
            Answer {
                status: 401,
                body: "{\"error\":\"unauthorized\"}".into(),
            },
            "HTTP 401",
        ),
        (
            Answer {
                status: 200,
                body: "<html><body>maintenance</body></html>".into(),
            },
            "not JSON",
        ),
        (Answer::json(other_page), "someoneelse1"),
        (
            Answer::json(json!({"page": {"id": PAGE}})),
            "not the expected JSON",
        ),
    ];
    for (answer, why) in answers {
        fake.set("summary.json", answer);
        round(&app).await;
        let (result, error, heals) = last_round(&app).await;
        assert_eq!((result.as_str(), heals), ("failed", 0));
        assert!(error.as_deref().unwrap_or("").contains(why), "{error:?}");
        assert_eq!(stored(&app).await.len(), 1, "{why}: nothing healed");
    }
    // Failed rounds did not count as misses: one good round finding
    // nothing is one miss, not enough to resolve.
    fake.page(PAGE, vec![], vec![], vec![]);
    round(&app).await;
    assert_eq!(stored(&app).await.len(), 1);
    round(&app).await;
    assert_eq!(stored(&app).await.len(), 2);
    let (_, body) = app.get("/reconcile").await;
    assert!(body.contains("HTTP 500") && body.contains("failed"));
    app.stop().await;
    fake.stop().await;
}

/// One round that finds ten components in trouble pages three one by one
/// (`max_triggers_per_round = 3`) and names the other seven in one alert
/// of the page; when they recover, the three are resolved and the page's
/// alert with them — the seven were never paged, so nothing resolves them.
#[tokio::test]
async fn many_changes_in_one_round_are_grouped_into_one_alert() {
    needs_database!();
    use crate::fake_itoc360::FakeItoc360;
    let fake = FakeStatus::start().await;
    let down: Vec<Value> = (0..10)
        .map(|i| up_component(&format!("c{i}"), "major_outage", false))
        .collect();
    fake.page(PAGE, vec![], down, vec![]);
    let itoc = FakeItoc360::start("itoc-token-0123456789").await;
    let (base_url, itoc_url) = (fake.base_url.clone(), itoc.base_url.clone());
    let mut app = spawn_app_with(move |s| {
        s.itoc360.base_url = itoc_url;
        s.itoc360.token = Secret::new("itoc-token-0123456789");
        s.pages = vec![Page {
            id: PAGE.into(),
            source: String::new(),
            base_url,
            api_key: Secret::default(),
            webhooks: false,
            kind: Default::default(),
            feed: None,
        }];
        s.reconcile.interval_secs = 3600;
        s.reconcile.max_triggers_per_round = 3;
    })
    .await;
    app.reconcile.clone().unwrap().wait_for(1).await;
    app.drain().await;
    let sent = |itoc: &FakeItoc360| -> Vec<(String, String)> {
        itoc.accepted()
            .iter()
            .map(|e| {
                (
                    e["status"].as_str().unwrap().to_owned(),
                    e["id"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    let first = sent(&itoc);
    let triggers: Vec<&(String, String)> = first.iter().filter(|(a, _)| a == "trigger").collect();
    assert_eq!(
        triggers.len(),
        4,
        "three components and the page: {first:?}"
    );
    let page_fp = format!("statuspage:{PAGE}:page:grouped");
    let summary = itoc
        .accepted()
        .into_iter()
        .find(|e| e["id"] == page_fp.as_str())
        .expect("the page's grouped alert");
    assert_eq!(summary["severity"], "high");
    assert!(
        summary["title"]
            .as_str()
            .unwrap()
            .contains("7 more component(s) in trouble on page"),
        "{summary}"
    );
    let message = summary["message"].as_str().unwrap();
    for i in 3..10 {
        assert!(message.contains(&format!("Component c{i}")), "{message}");
    }
    assert!(!message.contains("Component c0"), "{message}");
    // The grouped ones are followed: open in the bridge, filtered.
    assert_eq!(
        app.count("SELECT count(*) FROM components WHERE alert_open = 1")
            .await,
        10
    );
    assert_eq!(
        app.count(
            "SELECT count(*) FROM webhooks WHERE outcome = 'filtered' AND reason LIKE '%grouped%'"
        )
        .await,
        7
    );
    let open: Vec<(String, String)> = app
        .db()
        .all(
            "SELECT kind, destination FROM open_alerts WHERE kind = 'page'",
            &[],
        )
        .await;
    assert_eq!(open, [("page".to_owned(), "default".to_owned())]);

    // A round that finds the same: nothing more is sent.
    app.reconcile.clone().unwrap().round().await;
    app.drain().await;
    assert_eq!(sent(&itoc).len(), 4);

    // Everything recovers: three resolves, and the page's alert resolves.
    let up: Vec<Value> = (0..10)
        .map(|i| {
            let mut c = up_component(&format!("c{i}"), "operational", false);
            c["updated_at"] = json!("2025-03-04T11:00:00.000Z");
            c
        })
        .collect();
    fake.page(PAGE, vec![], up, vec![]);
    app.reconcile.clone().unwrap().round().await;
    app.drain().await;
    let all = sent(&itoc);
    let resolves: Vec<&String> = all
        .iter()
        .filter(|(a, _)| a == "resolve")
        .map(|(_, fp)| fp)
        .collect();
    assert_eq!(resolves.len(), 4, "{all:?}");
    assert!(resolves.contains(&&page_fp), "{all:?}");
    assert_eq!(
        app.count("SELECT count(*) FROM open_alerts").await,
        0,
        "nothing left open anywhere"
    );
    let (_, events) = app.get("/api/events?kind=page").await;
    let events: Value = serde_json::from_str(&events).unwrap();
    let outcomes: Vec<&str> = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes, ["resolved", "triggered"], "{events}");
    app.stop().await;
    fake.stop().await;
    itoc.stop().await;
}
