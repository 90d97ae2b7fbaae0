//! The Better Stack adapter against `tests/fixtures/betterstack/` (see
//! PROVENANCE.md there).

use super::*;
use crate::rules::domain::{ComponentStatus, Impact, IncidentStatus};
use crate::rules::heal;
use crate::rules::parse::{self, Parsed};

fn fixture(name: &str) -> Value {
    super::super::fixture("betterstack", name)
}

use super::super::component;

#[test]
fn every_value_maps_to_one_the_bridge_knows() {
    for (from, to) in RESOURCE_STATUS {
        assert!(
            !matches!(ComponentStatus::parse(to), ComponentStatus::Unknown(_)),
            "{from}"
        );
    }
    for (from, to) in IMPACT {
        assert!(!matches!(Impact::parse(to), Impact::Unknown(_)), "{from}");
    }
    assert_eq!(mapped(RESOURCE_STATUS, "downtime"), "major_outage");
    assert_eq!(mapped(RESOURCE_STATUS, "degraded"), "degraded_performance");
    assert_eq!(mapped(IMPACT, "downtime"), "critical");
    assert_eq!(mapped(REPORT_TYPE, "maintenance"), "maintenance");
    for s in ["investigating", "in_progress", "resolved", "completed"] {
        assert!(!matches!(
            IncidentStatus::parse(s),
            IncidentStatus::Unknown(_)
        ));
    }
}

#[test]
fn a_report_going_on_is_an_open_incident_and_its_resource_a_component() {
    let (s, ended) = summary("bs", &fixture("index_trouble.json")).unwrap();
    assert_eq!(s["page"]["name"], "Better Stack");
    let i = &s["incidents"][0];
    assert_eq!(i["id"], "1050825");
    assert_eq!(
        (i["status"].as_str(), i["impact"].as_str()),
        (Some("investigating"), Some("minor"))
    );
    assert_eq!(
        i["components"][0],
        json!({"id": "4188758", "name": "Data processing (Europe)"})
    );
    assert_eq!(i["incident_updates"][0]["id"], "5709801");
    assert!(ended.is_empty());
    assert_eq!(
        component(&s, "4188758").unwrap()["status"],
        "degraded_performance"
    );
    assert_eq!(
        component(&s, "4188758").unwrap()["group_id"],
        "section:104771"
    );
    assert_eq!(
        component(&s, "section:104771").unwrap()["name"],
        "Better Stack"
    );
    assert!(
        component(&s, "4190001").is_none(),
        "a resource not monitored is no component"
    );
    let read = heal::read_summary(&s, "bs").unwrap();
    assert_eq!((read.incidents.len(), read.components.len()), (1, 2));
}

#[test]
fn a_resolved_report_is_recent_whatever_its_ends_at() {
    let (s, ended) = summary("bs", &fixture("index_recovered.json")).unwrap();
    assert_eq!(s["incidents"], json!([]));
    assert_eq!(ended[0]["status"], "resolved");
    // The newest update leads.
    assert_eq!(ended[0]["incident_updates"][0]["id"], "5709883");
    assert_eq!(ended[0]["updated_at"], "2026-09-04T19:53:00.000Z");
    assert_eq!(component(&s, "4188758").unwrap()["status"], "operational");
    assert!(
        summary("bs", &json!({"data": {"type": "monitor"}}))
            .unwrap_err()
            .contains("status_page")
    );
}

#[test]
fn webhooks_read_as_statuspage_s() {
    let Parsed::Incident(e) = parse::parse(&webhook(&fixture("webhook_incident.json")).unwrap())
    else {
        panic!("not an incident")
    };
    assert_eq!(
        (e.page_id.as_str(), e.incident_id.as_str()),
        ("12345", "98765")
    );
    assert_eq!(e.status, Some(IncidentStatus::Investigating));
    assert_eq!(e.impact, Some(Impact::Critical), "the page says downtime");
    assert_eq!(e.latest_update.unwrap().id.as_deref(), Some("11111"));
    let Parsed::Incident(e) =
        parse::parse(&webhook(&fixture("webhook_incident_resolved.json")).unwrap())
    else {
        panic!("not an incident")
    };
    assert_eq!(e.status, Some(IncidentStatus::Resolved));
    assert_eq!(e.latest_update.unwrap().id.as_deref(), Some("11112"));
    // Over, it keeps a minor impact rather than the page's "operational".
    assert_eq!(e.impact, Some(Impact::Minor));
    // A status alone says it is over too.
    let mut by_status = fixture("webhook_incident.json");
    by_status["incident"]["status"] = json!("resolved");
    let Parsed::Incident(e) = parse::parse(&webhook(&by_status).unwrap()) else {
        panic!("not an incident")
    };
    assert_eq!(e.status, Some(IncidentStatus::Resolved));
    // A blank id is no id.
    let mut blank = fixture("webhook_incident.json");
    blank["incident"]["id"] = json!("  ");
    assert!(webhook(&blank).unwrap_err().contains("no id"));
    let Parsed::Incident(m) = parse::parse(&webhook(&fixture("webhook_maintenance.json")).unwrap())
    else {
        panic!("not an incident")
    };
    assert_eq!(m.status, Some(IncidentStatus::InProgress));
    assert_eq!(m.impact, Some(Impact::Maintenance));
    let c = webhook(
        &json!({"event_type": "component_update", "page": {"id": 12345},
        "component": {"id": 4188758, "name": "Data processing (Europe)", "status": "downtime"}}),
    )
    .unwrap();
    let Parsed::Component(c) = parse::parse(&c) else {
        panic!("not a component")
    };
    assert_eq!(c.component_id, "4188758");
    assert_eq!(c.new_status, Some(ComponentStatus::MajorOutage));
    assert!(
        webhook(&json!({"event_type": "monitor", "page": {"id": 1}}))
            .unwrap_err()
            .contains("monitor")
    );
    assert!(
        webhook(&json!({"page": {"id": 1}}))
            .unwrap_err()
            .contains("event_type")
    );
}
