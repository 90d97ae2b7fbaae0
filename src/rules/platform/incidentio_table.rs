//! The incident.io adapter against `tests/fixtures/incidentio/` (see
//! PROVENANCE.md there).

use super::*;
use crate::rules::domain::{ComponentStatus, Impact, IncidentStatus};
use crate::rules::heal;

fn fixture(name: &str) -> Value {
    super::super::fixture("incidentio", name)
}

#[test]
fn every_value_maps_to_one_the_bridge_knows() {
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
    for (from, to) in IMPACT {
        assert!(!matches!(Impact::parse(to), Impact::Unknown(_)), "{from}");
    }
    for (table, from, to) in [
        (COMPONENT_STATUS, "full_outage", "major_outage"),
        (
            COMPONENT_STATUS,
            "degraded_performance",
            "degraded_performance",
        ),
        (INCIDENT_STATUS, "maintenance_in_progress", "in_progress"),
        (INCIDENT_STATUS, "maintenance_scheduled", "scheduled"),
        (INCIDENT_STATUS, "maintenance_complete", "completed"),
        (IMPACT, "full_outage", "critical"),
        (IMPACT, "partial_outage", "major"),
        (IMPACT, "degraded_performance", "minor"),
        (IMPACT, "minor", "minor"),
    ] {
        assert_eq!(mapped(table, from), to, "{from}");
    }
}

#[test]
fn a_summary_in_trouble_reads_as_statuspage_s() {
    let s = summary("openai", &fixture("summary_trouble.json")).unwrap();
    assert_eq!(s["page"]["id"], "openai");
    assert_eq!(s["page"]["name"], "OpenAI");
    assert_eq!(s["components"][0]["status"], "major_outage");
    assert_eq!(s["components"][0]["group"], false);
    assert_eq!(s["incidents"][0]["status"], "investigating");
    assert_eq!(
        s["incidents"][0]["incident_updates"][0]["affected_components"][0]["new_status"],
        "major_outage"
    );
    assert_eq!(s["scheduled_maintenances"][0]["status"], "in_progress");
    let read = heal::read_summary(&s, "openai").unwrap();
    assert_eq!((read.incidents.len(), read.components.len()), (2, 2));
    let m = crate::rules::maintenance::read(&s);
    assert_eq!(m[0].status, "in_progress");
    assert!(m[0].scheduled_until.is_some());
}

#[test]
fn null_lists_are_empty_and_the_recent_list_is_mapped() {
    let s = summary("openai", &fixture("summary_recovered.json")).unwrap();
    assert_eq!(s["incidents"], json!([]));
    assert_eq!(s["scheduled_maintenances"], json!([]));
    let r = super::super::recent(
        super::super::Platform::Incidentio,
        "openai",
        fixture("incidents_recent.json"),
    )
    .unwrap();
    let ended = heal::read_recent(&r, "openai").unwrap();
    assert_eq!(ended[0]["status"], "resolved");
    assert_eq!(ended[0]["id"], "01M36RMC01ZFWQ861WYJKC4XE1");
}

#[test]
fn answers_that_are_not_compatible_say_why() {
    assert!(
        summary("openai", &json!({"components": []}))
            .unwrap_err()
            .contains("page")
    );
    assert!(
        summary(
            "openai",
            &json!({"page": {}, "components": {}, "incidents": []})
        )
        .unwrap_err()
        .contains("components")
    );
    assert!(
        recent(&json!({"page": {}}))
            .unwrap_err()
            .contains("incidents")
    );
}
