//! Reconcile's comparison as tables: upstream JSON × the bridge's view →
//! heals.

use chrono::TimeZone;

use super::*;

fn t(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_700_000_000 + secs, 0).unwrap()
}

fn up_incident(id: &str, status: &str, impact: &str, at: i64) -> Value {
    json!({"id": id, "name": "API down", "status": status, "impact": impact,
           "updated_at": format_time(t(at)), "page_id": "p",
           "incident_updates": [{"id": format!("u-{id}-{at}"), "status": status,
                                 "created_at": format_time(t(at))}]})
}

fn up_component(id: &str, status: &str, at: i64, group: bool) -> Value {
    json!({"id": id, "name": "API", "status": status, "updated_at": format_time(t(at)),
           "page_id": "p", "group": group})
}

fn summary(incidents: Vec<Value>, components: Vec<Value>) -> Value {
    json!({"page": {"id": "p"}, "incidents": incidents, "components": components,
           "scheduled_maintenances": []})
}

fn local_incident(status: &str, impact: &str, at: i64) -> LocalIncident {
    LocalIncident {
        name: Some("API down".into()),
        status: Some(status.into()),
        impact: Some(impact.into()),
        last_event_at: Some(t(at)),
    }
}

fn local_component(status: &str, open: bool, at: i64) -> LocalComponent {
    LocalComponent {
        status: Some(status.into()),
        alert_open: open,
        last_event_at: Some(t(at)),
    }
}

fn plan(v: &Value, local: &Local, misses: &mut Misses) -> Heals {
    let s = read_summary(v, "p").unwrap();
    plan_summary("p", &s, local, misses, 2, t(1000))
}

fn ids(heals: &[Heal]) -> Vec<(EntityKind, String)> {
    heals
        .iter()
        .map(|h| (h.kind, h.entity_id.clone()))
        .collect()
}

#[test]
fn incidents_open_upstream() {
    let known = |l: LocalIncident| Local {
        incidents: HashMap::from([("i".to_owned(), l)]),
        ..Local::default()
    };
    let up = summary(vec![up_incident("i", "identified", "major", 100)], vec![]);
    // (the bridge's view, heals?)
    let rows: Vec<(Local, bool)> = vec![
        (Local::default(), true),                                      // never seen
        (known(local_incident("investigating", "major", 50)), true),   // older, other status
        (known(local_incident("identified", "minor", 50)), true),      // older, other impact
        (known(local_incident("identified", "major", 50)), false),     // agrees
        (known(local_incident("investigating", "major", 100)), false), // as new: kept
        (known(local_incident("monitoring", "major", 200)), false),    // newer: kept
    ];
    for (local, heals) in rows {
        let p = plan(&up, &local, &mut Misses::new());
        assert_eq!(!p.heals.is_empty(), heals, "{local:?}");
        if heals {
            let h = &p.heals[0];
            assert_eq!(h.body["incident"]["id"], "i");
            assert_eq!(h.body["page"]["id"], "p");
            assert_eq!(h.changed_at, Some(t(100)));
            assert!(matches!(parse::parse(&h.body), Parsed::Incident(_)));
        }
    }
}

#[test]
fn components_leaf_only_and_only_when_newer() {
    let local = Local {
        components: HashMap::from([
            (
                "known".to_owned(),
                local_component("operational", false, 50),
            ),
            (
                "fresh".to_owned(),
                local_component("operational", false, 500),
            ),
            ("same".to_owned(), local_component("major_outage", true, 50)),
        ]),
        ..Local::default()
    };
    let up = summary(
        vec![],
        vec![
            up_component("new-down", "major_outage", 100, false),
            up_component("new-fine", "operational", 100, false),
            up_component("group", "major_outage", 100, true),
            up_component("known", "partial_outage", 100, false),
            up_component("fresh", "partial_outage", 100, false),
            up_component("maint", "under_maintenance", 100, false),
            // Agrees, though the page's time is newer: nothing to heal.
            up_component("same", "major_outage", 100, false),
        ],
    );
    let p = plan(&up, &local, &mut Misses::new());
    let mut got = ids(&p.heals);
    got.sort_by(|a, b| a.1.cmp(&b.1));
    let c = |s: &str| (EntityKind::Component, s.to_owned());
    // A group never heals (its children page); maintenance is healed as a
    // status and the machine decides whether it pages.
    assert_eq!(got, [c("known"), c("maint"), c("new-down")]);
    let known = p.heals.iter().find(|h| h.entity_id == "known").unwrap();
    assert_eq!(known.body["component_update"]["old_status"], "operational");
    assert_eq!(
        known.body["component_update"]["new_status"],
        "partial_outage"
    );
    assert!(matches!(parse::parse(&known.body), Parsed::Component(_)));
}

#[test]
fn vanished_entities_resolve_after_enough_rounds() {
    let local = Local {
        incidents: HashMap::from([
            ("gone".to_owned(), local_incident("identified", "major", 50)),
            (
                "ended".to_owned(),
                local_incident("identified", "major", 50),
            ),
            ("old".to_owned(), local_incident("resolved", "major", 50)),
        ]),
        components: HashMap::from([("c".to_owned(), local_component("major_outage", true, 50))]),
    };
    let up = summary(vec![], vec![]);
    let recent = [up_incident("ended", "resolved", "major", 300)];
    let recent: Vec<&Value> = recent.iter().collect();
    let mut misses = Misses::new();

    // Round 1: the ended incident resolves at once; the rest waits.
    let p = plan(&up, &local, &mut misses);
    assert!(p.heals.is_empty());
    assert_eq!(p.missing_incidents, ["ended", "gone"]);
    let h = plan_missing(
        "p",
        &p.missing_incidents,
        &recent,
        &local,
        &mut misses,
        2,
        t(1000),
    );
    assert_eq!(ids(&h), [(EntityKind::Incident, "ended".to_owned())]);
    assert_eq!(h[0].body["incident"]["status"], "resolved");

    // Round 2: missing twice in a row — resolved.
    let p = plan(&up, &local, &mut misses);
    assert_eq!(ids(&p.heals), [(EntityKind::Component, "c".to_owned())]);
    assert_eq!(
        p.heals[0].body["component_update"]["new_status"],
        "operational"
    );
    let h = plan_missing(
        "p",
        &["gone".to_owned()],
        &recent,
        &local,
        &mut misses,
        2,
        t(1000),
    );
    assert_eq!(ids(&h), [(EntityKind::Incident, "gone".to_owned())]);
    assert!(h[0].why.contains("2 rounds"), "{}", h[0].why);
    let Parsed::Incident(ev) = parse::parse(&h[0].body) else {
        panic!("an incident")
    };
    assert_eq!(ev.status.unwrap().as_str(), "resolved");
}

#[test]
fn seen_again_resets_the_count() {
    let local = Local {
        components: HashMap::from([("c".to_owned(), local_component("major_outage", true, 50))]),
        ..Local::default()
    };
    let mut misses = Misses::new();
    assert!(
        plan(&summary(vec![], vec![]), &local, &mut misses)
            .heals
            .is_empty()
    );
    let back = summary(vec![], vec![up_component("c", "major_outage", 40, false)]);
    assert!(plan(&back, &local, &mut misses).heals.is_empty());
    assert!(
        plan(&summary(vec![], vec![]), &local, &mut misses)
            .heals
            .is_empty(),
        "one miss again, not two"
    );
}

#[test]
fn unusable_answers() {
    assert_eq!(
        read_summary(
            &json!({"page": {"id": "other"}, "incidents": [], "components": []}),
            "p"
        )
        .unwrap_err(),
        Unusable::OtherPage("other".into())
    );
    for v in [
        json!({}),
        json!([]),
        json!({"page": {"id": "p"}}),
        json!({"page": {"id": "p"}, "incidents": {}, "components": []}),
    ] {
        assert!(
            matches!(read_summary(&v, "p"), Err(Unusable::Shape(_))),
            "{v}"
        );
    }
    let recent = json!({"page": {"id": "p"}, "incidents": [{"id": "a"}, {"id": "b"}]});
    let ids: Vec<&str> = read_recent(&recent, "p")
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["a", "b"]);
    assert!(read_recent(&json!({"page": {"id": "q"}, "incidents": []}), "p").is_err());
}
