//! The Instatus adapter against the bodies in `tests/fixtures/instatus/`
//! (see PROVENANCE.md there): each value through its table, and what the
//! parser makes of the result.

use super::*;
use crate::rules::domain::{ComponentStatus, Impact, IncidentStatus};
use crate::rules::parse::{self, Parsed};

fn fixture(name: &str) -> Value {
    super::super::fixture("instatus", name)
}

fn parsed(name: &str) -> Parsed {
    parse::parse(&webhook(&fixture(name)).expect(name))
}

#[test]
fn every_documented_value_has_a_row() {
    let rows = [
        (COMPONENT_STATUS, "OPERATIONAL", "operational"),
        (
            COMPONENT_STATUS,
            "DEGRADEDPERFORMANCE",
            "degraded_performance",
        ),
        (COMPONENT_STATUS, "PARTIALOUTAGE", "partial_outage"),
        (COMPONENT_STATUS, "MINOROUTAGE", "partial_outage"),
        (COMPONENT_STATUS, "MAJOROUTAGE", "major_outage"),
        (COMPONENT_STATUS, "UNDERMAINTENANCE", "under_maintenance"),
        (IMPACT, "OPERATIONAL", "none"),
        (IMPACT, "DEGRADEDPERFORMANCE", "minor"),
        (IMPACT, "MINOROUTAGE", "minor"),
        (IMPACT, "PARTIALOUTAGE", "major"),
        (IMPACT, "MAJOROUTAGE", "critical"),
        (IMPACT, "UNDERMAINTENANCE", "maintenance"),
        (INCIDENT_STATUS, "INVESTIGATING", "investigating"),
        (INCIDENT_STATUS, "IDENTIFIED", "identified"),
        (INCIDENT_STATUS, "MONITORING", "monitoring"),
        (INCIDENT_STATUS, "RESOLVED", "resolved"),
        (MAINTENANCE_STATUS, "NOTSTARTEDYET", "scheduled"),
        (MAINTENANCE_STATUS, "INPROGRESS", "in_progress"),
        (MAINTENANCE_STATUS, "COMPLETED", "completed"),
    ];
    for (table, from, to) in rows {
        assert_eq!(mapped(table, from), to, "{from}");
    }
    // Each table's rows are all checked above.
    assert_eq!(
        COMPONENT_STATUS.len() + IMPACT.len() + INCIDENT_STATUS.len() + MAINTENANCE_STATUS.len(),
        rows.len()
    );
    // Every bridge value a table gives is one the domain knows.
    for (_, to) in COMPONENT_STATUS {
        assert!(
            !matches!(ComponentStatus::parse(to), ComponentStatus::Unknown(_)),
            "{to}"
        );
    }
    for (_, to) in IMPACT {
        assert!(!matches!(Impact::parse(to), Impact::Unknown(_)), "{to}");
    }
    for (_, to) in INCIDENT_STATUS.iter().chain(MAINTENANCE_STATUS) {
        assert!(
            !matches!(IncidentStatus::parse(to), IncidentStatus::Unknown(_)),
            "{to}"
        );
    }
}

#[test]
fn an_incident_webhook_reads_as_a_statuspage_incident() {
    let Parsed::Incident(e) = parsed("webhook_incident_investigating.json") else {
        panic!("not an incident")
    };
    assert_eq!(e.page_id, "cl8y2m2pq0017wistia");
    assert_eq!(e.incident_id, "cl4a3i2k90001incident");
    assert_eq!(e.status, Some(IncidentStatus::Investigating));
    assert_eq!(e.impact, Some(Impact::Critical));
    assert_eq!(
        e.shortlink.as_deref(),
        Some("https://status.wistia.com/incident/cl4a3i2k90001incident")
    );
    let u = e.latest_update.unwrap();
    assert_eq!(u.id.as_deref(), Some("cl4a3i2kc0002update"));
    assert_eq!(u.status.as_deref(), Some("investigating"));

    let Parsed::Incident(e) = parsed("webhook_incident_resolved.json") else {
        panic!("not an incident")
    };
    assert_eq!(e.status, Some(IncidentStatus::Resolved));
    // The newest update leads, whatever order Instatus listed them in.
    assert_eq!(
        e.latest_update.unwrap().id.as_deref(),
        Some("cl4a4f0aa0009update")
    );
    assert!(e.resolved_at.is_some());
}

#[test]
fn a_maintenance_webhook_is_an_incident_with_maintenance_statuses() {
    let Parsed::Incident(e) = parsed("webhook_maintenance_inprogress.json") else {
        panic!("not an incident")
    };
    assert_eq!(e.incident_id, "cl4a3i2ms0005maint");
    assert_eq!(e.status, Some(IncidentStatus::InProgress));
    assert_eq!(e.impact, Some(Impact::Maintenance));
    assert_eq!(
        e.latest_update.unwrap().status.as_deref(),
        Some("in_progress")
    );
}

#[test]
fn a_component_webhook_reads_as_a_component_update() {
    let Parsed::Component(c) = parsed("webhook_component_majoroutage.json") else {
        panic!("not a component")
    };
    assert_eq!(c.component_id, "cm86c68hh003drlefrrklqlw1");
    assert_eq!(c.name.as_deref(), Some("Group Record"));
    assert_eq!(c.new_status, Some(ComponentStatus::MajorOutage));
    assert!(c.created_at.is_some());
    let Parsed::Component(c) = parsed("webhook_component_operational.json") else {
        panic!("not a component")
    };
    assert_eq!(c.new_status, Some(ComponentStatus::Operational));
}

#[test]
fn an_incident_listing_components_and_edge_forms_of_the_lists() {
    let mut body = fixture("webhook_incident_investigating.json");
    body["incident"]["components"] =
        json!([{"id": "cm86c68hh003drlefrrklqlw1", "name": "Group Record"}, {"name": "no id"}]);
    let Parsed::Incident(e) = parse::parse(&webhook(&body).unwrap()) else {
        panic!("not an incident")
    };
    let listed: Vec<(&str, Option<&str>)> = e
        .components
        .iter()
        .map(|c| (c.id.as_str(), c.name.as_deref()))
        .collect();
    assert_eq!(
        listed,
        [("cm86c68hh003drlefrrklqlw1", Some("Group Record"))]
    );
    // A parent without children is a group still; a zero duration has no end.
    let components = json!([{"id": "p1", "name": "Parent", "status": "OPERATIONAL", "isParent": true, "children": []}]);
    let mut trouble = fixture("summary_hasissues.json");
    trouble["activeMaintenances"][0]["duration"] = json!(0);
    let s = summary("wistia", &[trouble, components]).unwrap();
    assert_eq!(s["components"][0]["group"], true);
    assert!(
        s["scheduled_maintenances"][0]
            .get("scheduled_until")
            .is_none()
    );
}

#[test]
fn a_body_of_another_shape_says_why() {
    let err = webhook(&json!({"page": {"id": "p"}, "hello": 1})).unwrap_err();
    assert!(err.contains("top-level keys: hello, page"), "{err}");
    assert!(
        webhook(&json!({"incident": {}}))
            .unwrap_err()
            .contains("page.id")
    );
    assert!(webhook(&json!([1])).is_err());
    // A value Instatus adds later is kept, and reads as unknown.
    let mut body = fixture("webhook_component_majoroutage.json");
    body["component"]["status"] = json!("ONFIRE");
    body["component_update"]["new_status"] = json!("ONFIRE");
    let Parsed::Component(c) = parse::parse(&webhook(&body).unwrap()) else {
        panic!("not a component")
    };
    assert_eq!(
        c.new_status,
        Some(ComponentStatus::Unknown("onfire".into()))
    );
}

#[test]
fn a_healthy_summary_has_the_page_and_its_components_and_nothing_open() {
    let s = summary(
        "wistia",
        &[
            fixture("summary_up.json"),
            fixture("components_operational.json"),
        ],
    )
    .unwrap();
    assert_eq!(s["page"]["id"], "wistia");
    assert_eq!(s["page"]["name"], "Wistia");
    assert_eq!(s["incidents"], json!([]));
    assert_eq!(s["scheduled_maintenances"], json!([]));
    let c = &s["components"][0];
    assert_eq!(
        (c["id"].as_str(), c["status"].as_str(), c["group"].as_bool()),
        (
            Some("cm86c68hh003drlefrrklqlw1"),
            Some("operational"),
            Some(false)
        )
    );
    // The summary reads as Statuspage's does.
    let read = crate::rules::heal::read_summary(&s, "wistia").unwrap();
    assert_eq!((read.incidents.len(), read.components.len()), (0, 1));
}

#[test]
fn a_summary_with_trouble_lists_the_incident_and_the_maintenance_window() {
    let s = summary(
        "wistia",
        &[
            fixture("summary_hasissues.json"),
            fixture("components_majoroutage.json"),
        ],
    )
    .unwrap();
    let i = &s["incidents"][0];
    assert_eq!(i["id"], "cl4a3i2k90001incident");
    assert_eq!(i["status"], "investigating");
    assert_eq!(i["impact"], "critical");
    assert_eq!(i["updated_at"], "2022-06-11T18:55:50Z");
    let m = &s["scheduled_maintenances"][0];
    assert_eq!(m["status"], "scheduled");
    assert_eq!(m["scheduled_for"], "2022-06-11T18:55:54.000Z");
    assert_eq!(m["scheduled_until"], "2022-06-11T19:55:54.000Z");
    assert_eq!(s["components"][0]["status"], "major_outage");
    let read = crate::rules::heal::read_summary(&s, "wistia").unwrap();
    assert_eq!((read.incidents.len(), read.components.len()), (2, 1));
}

#[test]
fn the_documented_list_form_makes_parents_groups() {
    let s = summary(
        "wistia",
        &[
            fixture("summary_up.json"),
            fixture("components_documented.json"),
        ],
    )
    .unwrap();
    let c = s["components"].as_array().unwrap();
    let row = |i: usize| {
        (
            c[i]["id"].as_str().unwrap(),
            c[i]["status"].as_str().unwrap(),
            c[i]["group"].as_bool().unwrap(),
            c[i]["group_id"].as_str(),
        )
    };
    assert_eq!(
        row(0),
        ("ckf01fvnxywz60a35wdbn5gz5", "operational", true, None)
    );
    assert_eq!(
        row(1),
        (
            "ckf01fvnxywz60a35wdbn5gz6",
            "degraded_performance",
            false,
            Some("ckf01fvnxywz60a35wdbn5gz5")
        )
    );
    assert_eq!(
        row(2),
        (
            "ckf01fvnxywz60a35wdbn5gz7",
            "under_maintenance",
            false,
            None
        )
    );
    // Groups never page: their children do.
    let read = crate::rules::heal::read_summary(&s, "wistia").unwrap();
    assert_eq!(read.components.len(), 2);
}

#[test]
fn answers_that_are_not_instatus_fail_the_round_with_the_reason() {
    let atlassian = json!({"page": {"id": "x"}, "components": [], "incidents": []});
    let err = summary(
        "wistia",
        &[atlassian, fixture("components_operational.json")],
    )
    .unwrap_err();
    assert!(err.contains("page.status"), "{err}");
    let err = summary("wistia", &[fixture("summary_up.json"), json!({"data": 1})]).unwrap_err();
    assert!(err.contains("components"), "{err}");
    assert!(summary("wistia", &[fixture("summary_up.json")]).is_err());
}
