//! A component's priority under its incidents does not depend on which
//! webhook comes first (docs/BEHAVIOUR.md, "Component: priority"): an
//! incident raises a component above Medium and never lowers it below.

use serde_json::{Value, json};

use crate::fake_status::FakeStatus;
use crate::helpers::*;

const PAGE: &str = "x1y2z3a4b5c6";

/// The sample incident as `id`, of `impact`, listing `component`.
fn incident(id: &str, impact: &str, component: &str) -> String {
    fixture_with(
        "01_incident_created_investigating_critical.json",
        &[
            ("incident.id", json!(id)),
            ("incident.name", json!(format!("Incident {id}"))),
            ("incident.impact", json!(impact)),
            ("incident.incident_updates.0.id", json!(format!("u-{id}"))),
            ("incident.incident_updates.0.incident_id", json!(id)),
            (
                "incident.incident_updates.0.affected_components.0.code",
                json!(component),
            ),
            ("incident.components.0.id", json!(component)),
        ],
    )
}

/// `component` leaving operational for `status`.
fn outage(component: &str, status: &str) -> String {
    other_component(component, component, "operational", status, "10:16")
}

/// The component's alert as stored: (open, priority).
async fn component_alert(app: &TestApp, component: &str) -> (bool, Option<String>) {
    app.db()
        .one(
            "SELECT alert_open <> 0, alert_priority FROM components WHERE component_id = ?",
            &[Bind::from(component)],
        )
        .await
}

/// The component's sent events: (action, priority).
async fn component_events(app: &TestApp, component: &str) -> Vec<(String, String)> {
    let fp = format!("statuspage:{PAGE}:component:{component}");
    app.outbox()
        .await
        .into_iter()
        .filter(|(_, _, f)| *f == fp)
        .map(|(a, p, _)| (a, p))
        .collect()
}

#[tokio::test]
async fn an_incident_of_impact_none_leaves_an_outage_at_medium_in_both_orders() {
    needs_database!();
    let app = spawn_app().await;

    // Incident first, then the component.
    assert_eq!(
        app.outcome(incident("inc1", "none", "cA")).await,
        "triggered"
    );
    let (status, answer) = app.post_json(outage("cA", "partial_outage")).await;
    assert_eq!(
        (status, answer["outcome"].as_str()),
        (200, Some("triggered"))
    );
    let reason = answer["reason"].as_str().unwrap().to_owned();
    assert_eq!(
        component_events(&app, "cA").await,
        [("trigger".to_owned(), "medium".to_owned())]
    );
    assert!(reason.contains("never lowers a component"), "{reason}");

    // The component first, then the incident.
    assert_eq!(
        app.outcome(outage("cB", "partial_outage")).await,
        "triggered"
    );
    assert_eq!(
        app.outcome(incident("inc2", "none", "cB")).await,
        "triggered"
    );
    assert_eq!(
        component_events(&app, "cB").await,
        [("trigger".to_owned(), "medium".to_owned())]
    );

    for c in ["cA", "cB"] {
        assert_eq!(
            component_alert(&app, c).await,
            (true, Some("medium".to_owned())),
            "{c}"
        );
    }
    app.stop().await;
}

/// Every (incident impact, component status) pair, both orders, through the
/// real pipeline: the component ends at the higher of Medium and the
/// incident's priority either way.
#[tokio::test]
async fn both_orders_agree_for_every_impact_and_component_status() {
    needs_database!();
    let app = spawn_app_with(|s| s.maintenance.page = true).await;
    let impacts = [
        ("none", "low"),
        ("minor", "medium"),
        ("major", "high"),
        ("critical", "critical"),
        ("maintenance", "low"),
    ];
    let statuses = [
        "degraded_performance",
        "partial_outage",
        "major_outage",
        "under_maintenance",
    ];
    let rank = |p: &str| {
        ["low", "medium", "high", "critical"]
            .iter()
            .position(|x| *x == p)
    };
    let mut pairs = 0;
    for (impact, incident_priority) in impacts {
        for status in statuses {
            let first = format!("{impact}-{status}-incident-first");
            let second = format!("{impact}-{status}-component-first");
            app.outcome(incident(&format!("i-{first}"), impact, &first))
                .await;
            app.outcome(outage(&first, status)).await;
            app.outcome(outage(&second, status)).await;
            app.outcome(incident(&format!("i-{second}"), impact, &second))
                .await;

            let want = if rank(incident_priority) > rank("medium") {
                incident_priority
            } else {
                "medium"
            };
            let a = component_alert(&app, &first).await;
            let b = component_alert(&app, &second).await;
            assert_eq!(a, b, "{impact} × {status}: both orders agree");
            assert_eq!(a, (true, Some(want.to_owned())), "{impact} × {status}");
            pairs += 1;
        }
    }
    assert_eq!(pairs, 20);
    app.stop().await;
}

fn up_incident(id: &str, impact: &str, component: &str) -> Value {
    json!({"id": id, "name": format!("Incident {id}"), "status": "investigating", "impact": impact,
           "created_at": "2025-03-04T10:15:00.000Z", "updated_at": "2025-03-04T10:20:00.000Z",
           "started_at": "2025-03-04T10:15:00.000Z", "resolved_at": null,
           "shortlink": "https://stspg.io/x", "page_id": PAGE,
           "incident_updates": [{"id": "u1020", "status": "investigating", "body": "Looking",
                                 "incident_id": id, "created_at": "2025-03-04T10:20:00.000Z"}],
           "components": [{"id": component, "name": component, "status": "partial_outage",
                           "page_id": PAGE, "group_id": null}]})
}

#[tokio::test]
async fn reconcile_heals_an_incident_of_impact_none_and_its_outage_at_medium() {
    needs_database!();
    let fake = FakeStatus::start().await;
    fake.page(
        PAGE,
        vec![up_incident("inc1", "none", "cA")],
        vec![json!({"id": "cA", "name": "cA", "status": "partial_outage",
                    "created_at": "2023-01-01T00:00:00.000Z",
                    "updated_at": "2025-03-04T10:20:00.000Z", "position": 1,
                    "group_id": null, "page_id": PAGE, "group": false})],
        vec![],
    );
    // One round (run at start) heals both, the incident before the component.
    let app = crate::reconcile::spawn_reconciling(&fake).await;
    let heals: i64 = app
        .db()
        .value("SELECT heals FROM reconcile_rounds", &[])
        .await;
    assert_eq!(heals, 2);
    assert_eq!(
        component_alert(&app, "cA").await,
        (true, Some("medium".to_owned()))
    );
    assert_eq!(
        component_events(&app, "cA").await,
        [("trigger".to_owned(), "medium".to_owned())]
    );
    app.stop().await;
    fake.stop().await;
}

#[tokio::test]
async fn only_open_incidents_raise_a_component_however_many_it_had() {
    needs_database!();
    let app = spawn_app().await;
    // Many incidents touched cA and were resolved: none of them counts.
    for n in 0..30 {
        let id = format!("old{n}");
        assert_eq!(
            app.outcome(incident(&id, "critical", "cA")).await,
            "triggered"
        );
        let resolved = fixture_with(
            "01_incident_created_investigating_critical.json",
            &[
                ("incident.id", json!(id)),
                ("incident.status", json!("resolved")),
                ("incident.updated_at", json!("2025-03-04T11:00:00.000Z")),
                ("incident.resolved_at", json!("2025-03-04T11:00:00.000Z")),
                ("incident.incident_updates.0.id", json!(format!("r-{id}"))),
                ("incident.incident_updates.0.status", json!("resolved")),
                ("incident.incident_updates.0.incident_id", json!(id)),
                (
                    "incident.incident_updates.0.created_at",
                    json!("2025-03-04T11:00:00.000Z"),
                ),
                (
                    "incident.incident_updates.0.affected_components.0.code",
                    json!("cA"),
                ),
                ("incident.components.0.id", json!("cA")),
            ],
        );
        assert_eq!(app.outcome(resolved).await, "resolved");
    }
    let current_links: i64 = app
        .count("SELECT count(*) FROM incident_components WHERE component_id = 'cA' AND current = 1")
        .await;
    assert_eq!(current_links, 30, "the audit still knows what touched cA");
    assert_eq!(app.outcome(outage("cA", "major_outage")).await, "triggered");
    assert_eq!(
        component_alert(&app, "cA").await,
        (true, Some("medium".to_owned())),
        "no open incident: medium"
    );
    // One open major incident among them: high.
    assert_eq!(
        app.outcome(incident("now1", "major", "cA")).await,
        "triggered"
    );
    assert_eq!(
        component_alert(&app, "cA").await,
        (true, Some("high".to_owned())),
        "raised by the open incident"
    );
    app.stop().await;
}
