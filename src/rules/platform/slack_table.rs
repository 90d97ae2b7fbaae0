//! The Slack adapter against `tests/fixtures/slack/` (see PROVENANCE.md
//! there).

use super::*;
use crate::rules::domain::{ComponentStatus, Impact, IncidentStatus};
use crate::rules::heal;

fn fixture(name: &str) -> Value {
    super::super::fixture("slack", name)
}

fn component<'a>(s: &'a Value, id: &str) -> &'a Value {
    super::super::component(s, id).unwrap_or_else(|| panic!("no component {id}"))
}

#[test]
fn every_value_maps_to_one_the_bridge_knows() {
    for (from, to) in IMPACT {
        assert!(!matches!(Impact::parse(to), Impact::Unknown(_)), "{from}");
    }
    for (from, to) in COMPONENT_STATUS {
        assert!(
            !matches!(ComponentStatus::parse(to), ComponentStatus::Unknown(_)),
            "{from}"
        );
    }
    for (from, to) in INCIDENT_STATUS {
        assert!(
            !matches!(IncidentStatus::parse(to), IncidentStatus::Unknown(_)),
            "{from}"
        );
    }
    assert_eq!(mapped(IMPACT, "outage"), "critical");
    assert_eq!(mapped(IMPACT, "incident"), "minor");
    assert_eq!(mapped(IMPACT, "notice"), "none");
    assert_eq!(mapped(COMPONENT_STATUS, "outage"), "major_outage");
    assert_eq!(mapped(INCIDENT_STATUS, "cancelled"), "completed");
}

#[test]
fn all_well_lists_every_service_operational_and_nothing_open() {
    let s = summary("slack", &fixture("current_ok.json")).unwrap();
    assert_eq!(s["page"]["name"], "Slack");
    assert_eq!(s["incidents"], json!([]));
    assert_eq!(s["components"].as_array().unwrap().len(), SERVICES.len());
    assert!(
        s["components"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["status"] == "operational")
    );
    let read = heal::read_summary(&s, "slack").unwrap();
    assert_eq!(read.components.len(), SERVICES.len());
}

#[test]
fn active_items_are_incidents_and_their_services_take_the_worst_status() {
    let s = summary("slack", &fixture("current_active.json")).unwrap();
    let i = &s["incidents"][0];
    assert_eq!(i["id"], "546");
    assert_eq!(i["status"], "investigating");
    assert_eq!(i["impact"], "minor");
    assert_eq!(
        i["shortlink"],
        "https://slack-status.com/2018-09/7dea1cd14cd0f657"
    );
    // The newest note leads, as plain text.
    let u = &i["incident_updates"][0];
    assert_eq!(
        u["body"],
        "We've identified the cause and are rolling out a fix."
    );
    assert_eq!(u["id"], "546@2018-09-07T18:34:15-07:00");
    assert_eq!(s["incidents"][1]["impact"], "critical");
    assert_eq!(
        component(&s, "Apps/Integrations/APIs")["status"],
        "degraded_performance"
    );
    assert_eq!(component(&s, "Connectivity")["status"], "major_outage");
    assert_eq!(component(&s, "Messaging")["status"], "major_outage");
    assert_eq!(component(&s, "Huddles")["status"], "operational");
    // The incident lists its services, so they take its priority.
    let body = json!({"page": {"id": "slack"}, "incident": s["incidents"][1].clone()});
    let crate::rules::parse::Parsed::Incident(e) = crate::rules::parse::parse(&body) else {
        panic!("not an incident")
    };
    let ids: Vec<&str> = e.components.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["Connectivity", "Messaging"]);
    assert_eq!(e.effective_impact(), Some(&Impact::Critical));
}

#[test]
fn a_service_takes_the_worst_status_and_the_latest_time_whatever_the_order() {
    let item = |id: Value, kind: &str, updated: &str| {
        json!({"id": id, "type": kind, "status": "active", "title": "t",
               "date_updated": updated, "services": ["Huddles"]})
    };
    let huddles = |items: Vec<Value>| {
        let s = summary(
            "slack",
            &json!({"status": "active", "active_incidents": items}),
        )
        .unwrap();
        let c = component(&s, "Huddles").clone();
        (
            c["status"].as_str().unwrap().to_owned(),
            c["updated_at"].clone(),
            s,
        )
    };
    let outage = item(json!(7), "outage", "2018-09-07T10:00:00-07:00");
    let incident = item(json!("8"), "incident", "2018-09-07T11:00:00-07:00");
    for items in [
        vec![outage.clone(), incident.clone()],
        vec![incident.clone(), outage.clone()],
    ] {
        let (status, at, _) = huddles(items);
        assert_eq!(
            (status.as_str(), at),
            ("major_outage", json!("2018-09-07T10:00:00-07:00"))
        );
    }
    let later = item(json!("9"), "outage", "2018-09-07T12:00:00-07:00");
    for items in [
        vec![outage.clone(), later.clone()],
        vec![later.clone(), outage.clone()],
    ] {
        let (_, at, _) = huddles(items);
        assert_eq!(at, json!("2018-09-07T12:00:00-07:00"));
    }
    let maintenance = item(json!("10"), "maintenance", "2018-09-07T12:00:00-07:00");
    let (status, _, _) = huddles(vec![maintenance.clone(), incident.clone()]);
    assert_eq!(status, "degraded_performance");
    // A numeric id is read as text; an item with an empty id is no incident.
    let (_, _, s) = huddles(vec![
        outage,
        item(json!(" "), "incident", "2018-09-07T11:00:00-07:00"),
    ]);
    let ids: Vec<&Value> = s["incidents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| &i["id"])
        .collect();
    assert_eq!(ids, [&json!("7")]);
}

#[test]
fn resolved_items_and_maintenance_and_other_answers() {
    let mut doc = fixture("current_active.json");
    doc["active_incidents"][0]["status"] = json!("resolved");
    doc["active_incidents"][1]["type"] = json!("maintenance");
    let s = summary("slack", &doc).unwrap();
    assert_eq!(s["incidents"], json!([]), "a resolved item is not open");
    assert_eq!(
        component(&s, "Apps/Integrations/APIs")["status"],
        "operational"
    );
    let m = &s["scheduled_maintenances"][0];
    assert_eq!(
        (m["status"].as_str(), m["impact"].as_str()),
        (Some("in_progress"), Some("maintenance"))
    );
    assert_eq!(component(&s, "Connectivity")["status"], "under_maintenance");
    assert!(
        summary("slack", &json!({"page": {}}))
            .unwrap_err()
            .contains("status")
    );
    assert!(summary("slack", &json!({"status": "ok", "active_incidents": 3})).is_err());
}
