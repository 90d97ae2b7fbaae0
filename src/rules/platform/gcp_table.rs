//! The Google Cloud adapter against `tests/fixtures/gcp/` (see
//! PROVENANCE.md there).

use super::*;
use crate::rules::domain::{ComponentStatus, Impact, IncidentStatus};
use crate::rules::heal;

fn fixture(name: &str) -> Value {
    super::super::fixture("gcp", name)
}

use super::super::component;

const ALLOYDB_IOWA: &str = "fPovtKbaWN9UTepMm3kJ·us-central1";

#[test]
fn every_value_maps_to_one_the_bridge_knows() {
    for (from, to) in SEVERITY {
        assert!(!matches!(Impact::parse(to), Impact::Unknown(_)), "{from}");
    }
    for (from, to) in STATUS_IMPACT {
        assert!(
            !matches!(ComponentStatus::parse(to), ComponentStatus::Unknown(_)),
            "{from}"
        );
    }
    for (from, to) in UPDATE_STATUS {
        assert!(
            !matches!(IncidentStatus::parse(to), IncidentStatus::Unknown(_)),
            "{from}"
        );
    }
    assert_eq!(mapped(SEVERITY, "high"), "critical");
    assert_eq!(mapped(STATUS_IMPACT, "SERVICE_OUTAGE"), "major_outage");
    assert_eq!(mapped(UPDATE_STATUS, "AVAILABLE"), "resolved");
}

#[test]
fn an_open_incident_and_its_regions_read_as_statuspage_s() {
    let (s, ended) = summary("gcp", &fixture("incidents_trouble.json")).unwrap();
    assert_eq!(s["page"]["name"], "Google Cloud");
    let i = &s["incidents"][0];
    assert_eq!(i["id"], "xVSEV3kVaJBmS7SZbnre");
    assert_eq!(i["status"], "investigating");
    assert_eq!(i["impact"], "major");
    assert_eq!(
        i["name"],
        "AlloyDB for PostgreSQL instances in us-central1 may fail to connect"
    );
    assert_eq!(
        i["shortlink"],
        "https://status.cloud.google.com/incidents/xVSEV3kVaJBmS7SZbnre"
    );
    assert_eq!(
        i["incident_updates"][0]["body"],
        "Mitigation work is underway. We will provide an update by 17:00 US/Pacific."
    );
    assert_eq!(i["components"][0]["id"], ALLOYDB_IOWA);
    let c = component(&s, ALLOYDB_IOWA).unwrap();
    assert_eq!(c["name"], "AlloyDB for PostgreSQL · us-central1");
    assert_eq!(c["status"], "partial_outage");
    assert_eq!(c["group_id"], "fPovtKbaWN9UTepMm3kJ");
    let g = component(&s, "fPovtKbaWN9UTepMm3kJ").unwrap();
    assert_eq!(
        (g["group"].as_bool(), g["name"].as_str()),
        (Some(true), Some("AlloyDB for PostgreSQL"))
    );
    // The ended incident is recent, its region listed as operational.
    assert_eq!(ended.len(), 1);
    assert_eq!(ended[0]["status"], "resolved");
    assert_eq!(
        component(&s, "UwaYoXQ5bHYHG6EdiPB8·europe-west1").unwrap()["status"],
        "operational"
    );
    let read = heal::read_summary(&s, "gcp").unwrap();
    assert_eq!((read.incidents.len(), read.components.len()), (1, 2));
    // Groups by name select every region of a product.
    let catalog = crate::rules::catalog::read_catalog(&s, "gcp").unwrap();
    let iowa = catalog
        .components
        .iter()
        .find(|c| c.id == ALLOYDB_IOWA)
        .unwrap();
    assert!(iowa.facts().is("AlloyDB for PostgreSQL"));
    assert!(iowa.facts().is("AlloyDB for PostgreSQL · us-central1"));
}

#[test]
fn once_ended_the_incident_is_recent_and_its_region_operational() {
    let (s, ended) = summary("gcp", &fixture("incidents_recovered.json")).unwrap();
    assert_eq!(s["incidents"], json!([]));
    assert_eq!(
        component(&s, ALLOYDB_IOWA).unwrap()["status"],
        "operational"
    );
    let alloy = ended
        .iter()
        .find(|i| i["id"] == "xVSEV3kVaJBmS7SZbnre")
        .unwrap();
    assert_eq!(alloy["status"], "resolved");
    assert_eq!(alloy["resolved_at"], "2026-09-01T18:52:00+00:00");
    assert_eq!(alloy["incident_updates"][0]["status"], "resolved");
}

#[test]
fn a_region_takes_the_worst_of_its_open_incidents_and_headings_are_no_names() {
    let base = fixture("incidents_trouble.json")[0].clone();
    let with = |id: &str, impact: &str| {
        let mut i = base.clone();
        i["id"] = json!(id);
        i["status_impact"] = json!(impact);
        i
    };
    let info = with("a", "SERVICE_INFORMATION");
    let disruption = with("b", "SERVICE_DISRUPTION");
    let outage = with("c", "SERVICE_OUTAGE");
    for list in [
        vec![info.clone(), disruption.clone(), outage.clone()],
        vec![outage.clone(), disruption.clone(), info.clone()],
        vec![disruption.clone(), info.clone()],
    ] {
        let want = if list.contains(&outage) {
            "major_outage"
        } else {
            "partial_outage"
        };
        let (s, _) = summary("gcp", &Value::Array(list)).unwrap();
        assert_eq!(component(&s, ALLOYDB_IOWA).unwrap()["status"], want);
        // One group per product, one component per region.
        let groups = s["components"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["group"] == true)
            .count();
        assert_eq!((groups, s["components"].as_array().unwrap().len()), (1, 2));
    }
    let mut titled = base.clone();
    titled["external_desc"] = json!("**Title:**\nGmail delays for some users");
    let (s, _) = summary("gcp", &json!([titled])).unwrap();
    assert_eq!(s["incidents"][0]["name"], "Gmail delays for some users");
}

#[test]
fn information_is_no_outage_and_other_answers_fail() {
    let mut doc = fixture("incidents_trouble.json");
    doc[0]["status_impact"] = json!("SERVICE_INFORMATION");
    let (s, _) = summary("gcp", &doc).unwrap();
    assert_eq!(s["incidents"][0]["impact"], "none");
    assert_eq!(
        component(&s, ALLOYDB_IOWA).unwrap()["status"],
        "operational"
    );
    // No location: the product's `global` component.
    doc[0]["currently_affected_locations"] = json!([]);
    doc[0]["status_impact"] = json!("SERVICE_OUTAGE");
    let (s, _) = summary("gcp", &doc).unwrap();
    assert_eq!(
        component(&s, "fPovtKbaWN9UTepMm3kJ·global").unwrap()["status"],
        "major_outage"
    );
    assert!(
        summary("gcp", &json!({"incidents": []}))
            .unwrap_err()
            .contains("list")
    );
}
