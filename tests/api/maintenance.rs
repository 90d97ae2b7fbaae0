//! Maintenance the vendor announced (docs/RECONCILE.md, "Maintenance"),
//! followed from the status API with `maintenance.notify`: a heads-up, a
//! note at start, its component held by a silence while it runs, an
//! overrun alert, everything resolved at the end — and a replay of the
//! stored history decides the same.

use serde_json::{Value, json};
use statuspage_bridge::config::{Page, Secret};

use crate::fake_itoc360::FakeItoc360;
use crate::fake_status::{Answer, FakeStatus};
use crate::helpers::*;

const PAGE: &str = "x1y2z3a4b5c6";
const API: &str = "r7p3k9d2m5w1";
const TOKEN: &str = "itoc-token-0123456789";

fn at(minutes_from_now: i64) -> String {
    statuspage_bridge::rules::time::format_time(
        chrono::Utc::now() + chrono::Duration::minutes(minutes_from_now),
    )
}

/// The page's summary: the API component, and the maintenance if any.
fn summary(maintenance: Option<Value>) -> Value {
    json!({
        "page": {"id": PAGE, "name": "Example", "url": "https://status.example.com",
                 "time_zone": "Etc/UTC", "updated_at": "2025-03-04T10:00:00.000Z"},
        "components": [{"id": API, "name": "API", "status": "operational", "group": false,
                        "group_id": null, "page_id": PAGE, "position": 1,
                        "created_at": "2023-01-01T00:00:00.000Z",
                        "updated_at": "2025-03-04T10:00:00.000Z"}],
        "incidents": [],
        "scheduled_maintenances": maintenance.into_iter().collect::<Vec<_>>(),
        "status": {"indicator": "none", "description": "All Systems Operational"}
    })
}

fn maintenance(status: &str, from: i64, until: i64) -> Value {
    json!({"id": "mnt1", "name": "Database upgrade", "status": status, "impact": "maintenance",
           "page_id": PAGE, "scheduled_for": at(from), "scheduled_until": at(until),
           "created_at": "2025-03-04T09:00:00.000Z", "updated_at": "2025-03-04T09:00:00.000Z",
           "incident_updates": [], "shortlink": "https://stspg.io/m",
           "components": [{"id": API, "name": "API", "status": "operational"}]})
}

/// (status, severity, title) of every maintenance event ITOC360 took.
fn maintenance_events(itoc: &FakeItoc360) -> Vec<(String, String, String)> {
    itoc.accepted()
        .iter()
        .filter(|e| {
            e["id"]
                .as_str()
                .is_some_and(|id| id.starts_with(&format!("statuspage:{PAGE}:page:maintenance:")))
        })
        .map(|e| {
            let f = |k: &str| e[k].as_str().unwrap().to_owned();
            (f("status"), f("severity"), f("title"))
        })
        .collect()
}

#[tokio::test]
async fn a_maintenance_from_heads_up_to_overrun_and_end() {
    needs_database!();
    let fake = FakeStatus::start().await;
    fake.set(
        "summary.json",
        Answer::json(summary(Some(maintenance("scheduled", 30, 90)))),
    );
    let itoc = FakeItoc360::start(TOKEN).await;
    let (base_url, itoc_url) = (fake.base_url.clone(), itoc.base_url.clone());
    let mut app = spawn_app_with(move |s| {
        s.itoc360.base_url = itoc_url;
        s.itoc360.token = Secret::new(TOKEN);
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
        s.maintenance.notify = true;
        s.maintenance.lead_secs = 3600;
        s.maintenance.overrun_grace_secs = 0;
    })
    .await;
    app.reconcile.clone().unwrap().wait_for(1).await;
    app.drain().await;
    let round = |app: &TestApp| {
        let mut r = app.reconcile.clone().unwrap();
        async move { r.round().await }
    };

    // Within the lead time: a heads-up, at low priority.
    let events = maintenance_events(&itoc);
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(
        (events[0].0.as_str(), events[0].1.as_str()),
        ("trigger", "low")
    );
    assert!(
        events[0]
            .2
            .starts_with("Maintenance \"Database upgrade\" on page Example starts at"),
        "{events:?}"
    );

    // It starts (no webhook says so): heads-up resolved, in progress noted,
    // the API held by a silence until its end.
    fake.set(
        "summary.json",
        Answer::json(summary(Some(maintenance("in_progress", -1, 60)))),
    );
    round(&app).await;
    app.drain().await;
    let events = maintenance_events(&itoc);
    // Two alerts: ITOC360 may take them in either order.
    let mut titles: Vec<(&str, &str)> = events[1..]
        .iter()
        .map(|(s, _, t)| (s.as_str(), t.as_str()))
        .collect();
    titles.sort();
    assert_eq!(
        titles,
        [
            (
                "resolve",
                "Maintenance \"Database upgrade\" on page Example has started"
            ),
            (
                "trigger",
                "Maintenance \"Database upgrade\" on page Example is in progress"
            )
        ],
        "{events:?}"
    );
    assert!(events[1..].iter().all(|(_, p, _)| p == "low"), "{events:?}");
    let (by, component): (String, String) = app
        .db()
        .one("SELECT created_by, component FROM silences", &[])
        .await;
    assert_eq!((by.as_str(), component.as_str()), ("maintenance:mnt1", API));
    let (_, silences) = app.get("/silences").await;
    assert!(silences.contains("maintenance:mnt1"), "{silences}");
    // Its component's change during the maintenance is held.
    let degraded = component_change("operational", "degraded_performance", "10:20");
    assert_eq!(app.outcome(degraded).await, "silenced");

    // Still running past its end: overran, at high priority.
    fake.set(
        "summary.json",
        Answer::json(summary(Some(maintenance("in_progress", -90, -1)))),
    );
    round(&app).await;
    app.drain().await;
    let last = maintenance_events(&itoc).last().cloned().unwrap();
    assert_eq!(
        last,
        (
            "trigger".to_owned(),
            "high".to_owned(),
            "Maintenance \"Database upgrade\" on page Example overran".to_owned()
        )
    );

    // It ends, its component operational: both resolved.
    fake.set("summary.json", Answer::json(summary(None)));
    round(&app).await;
    app.drain().await;
    let events = maintenance_events(&itoc);
    // Two alerts: ITOC360 may take them in either order.
    let mut tail: Vec<(&str, &str)> = events[events.len() - 2..]
        .iter()
        .map(|(s, p, _)| (s.as_str(), p.as_str()))
        .collect();
    tail.sort();
    assert_eq!(
        tail,
        [("resolve", "high"), ("resolve", "low")],
        "{events:?}"
    );
    assert_eq!(
        app.count("SELECT count(*) FROM page_alerts WHERE alert_open = 1")
            .await,
        0
    );

    // A replay of the stored history decides everything the same.
    let config = crate::commands::config_for(&app);
    let tmp = tempfile::tempdir().unwrap();
    let out = crate::commands::run(&config, tmp.path(), &["replay", "--json"]);
    assert!(out.status.success(), "{out:?}");
    let text = crate::commands::stdout(&out);
    assert!(text.contains("\"differences\":0"), "{text}");
    app.stop().await;
    fake.stop().await;
    itoc.stop().await;
}
