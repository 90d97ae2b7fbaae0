//! The lifecycle rules of docs/BEHAVIOUR.md as a table: one row per rule,
//! (prior state, event, looked-up facts) → (outcome, alert after, emitted).

use chrono::{DateTime, TimeZone, Utc};

use super::*;
use crate::rules::domain::{Action, Impact};
use crate::rules::parse::IncidentUpdate;
use Priority::*;

fn t(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_700_000_000 + secs, 0).unwrap()
}

fn inc(status: &str, impact: Option<&str>, over: Option<&str>) -> IncidentEvent {
    IncidentEvent {
        page_id: "p".into(),
        incident_id: "i".into(),
        name: Some("API down".into()),
        status: Some(IncidentStatus::parse(status)),
        impact: impact.map(Impact::parse),
        impact_override: over.map(Impact::parse),
        backfilled: false,
        shortlink: None,
        created_at: Some(t(0)),
        updated_at: Some(t(100)),
        started_at: Some(t(0)),
        resolved_at: None,
        latest_update: Some(IncidentUpdate {
            id: Some("u1".into()),
            status: Some(status.into()),
            body: Some("text".into()),
            created_at: Some(t(90)),
        }),
        components: vec![],
    }
}

fn comp(status: &str) -> ComponentEvent {
    ComponentEvent {
        page_id: "p".into(),
        component_id: "c".into(),
        name: Some("API".into()),
        group_id: None,
        update_id: Some("cu1".into()),
        old_status: None,
        new_status: Some(ComponentStatus::parse(status)),
        created_at: Some(t(100)),
    }
}

fn closed() -> Prior {
    Prior::default()
}

fn prior(alert: Alert, status: &str, at: i64) -> Prior {
    Prior {
        alert,
        status: Some(status.into()),
        last_event_at: Some(t(at)),
    }
}

fn open(p: Priority) -> Prior {
    prior(Alert::Open(p), "investigating", 50)
}

fn trig(p: Priority) -> Option<Emit> {
    Some(Emit {
        action: Action::Trigger,
        priority: p,
    })
}

fn res(p: Priority) -> Option<Emit> {
    Some(Emit {
        action: Action::Resolve,
        priority: p,
    })
}

const OFF: Rules = Rules {
    page_maintenance: false,
};
const ON: Rules = Rules {
    page_maintenance: true,
};

enum Ev {
    I(IncidentEvent),
    C(ComponentEvent, Option<Priority>),
}

struct MachineCase {
    name: &'static str,
    prior: Prior,
    ev: Ev,
    dup: Option<&'static str>,
    rules: Rules,
    outcome: Outcome,
    after: Alert,
    emit: Option<Emit>,
}

fn row(
    name: &'static str,
    prior: Prior,
    ev: Ev,
    rules: Rules,
    outcome: Outcome,
    after: Alert,
    emit: Option<Emit>,
) -> MachineCase {
    MachineCase {
        name,
        prior,
        ev,
        dup: None,
        rules,
        outcome,
        after,
        emit,
    }
}

fn i(status: &str, impact: &str) -> Ev {
    Ev::I(inc(status, Some(impact), None))
}

fn c(status: &str) -> Ev {
    Ev::C(comp(status), None)
}

#[rustfmt::skip]
fn rows() -> Vec<MachineCase> {
    use Alert::{Closed as C0, Open as O};
    use Outcome::*;
    let mut rows = vec![
        // Incident status × prior closed.
        row("investigating opens", closed(), i("investigating", "critical"), OFF, Triggered, O(Critical), trig(Critical)),
        row("identified opens", closed(), i("identified", "major"), OFF, Triggered, O(High), trig(High)),
        row("monitoring opens", closed(), i("monitoring", "minor"), OFF, Triggered, O(Medium), trig(Medium)),
        row("first seen resolved emits nothing", closed(), i("resolved", "major"), OFF, NoChange, C0, None),
        row("first seen postmortem emits nothing", closed(), i("postmortem", "major"), OFF, NoChange, C0, None),
        row("scheduled stays closed", closed(), i("scheduled", "maintenance"), OFF, NoChange, C0, None),
        row("completed stays closed", closed(), i("completed", "maintenance"), OFF, NoChange, C0, None),
        row("in_progress not paged", closed(), i("in_progress", "maintenance"), OFF, Ignored, C0, None),
        row("verifying not paged", closed(), i("verifying", "maintenance"), OFF, Ignored, C0, None),
        row("in_progress paged when on", closed(), i("in_progress", "maintenance"), ON, Triggered, O(Low), trig(Low)),
        row("verifying paged when on", closed(), i("verifying", "major"), ON, Triggered, O(High), trig(High)),
        row("scheduled closed even when on", closed(), i("scheduled", "maintenance"), ON, NoChange, C0, None),
        row("unknown status is unrecognized", closed(), i("exploded", "major"), OFF, Unrecognized, C0, None),
        // Incident status × prior open.
        row("investigating again same priority", open(Critical), i("investigating", "critical"), OFF, Deduplicated, O(Critical), None),
        row("identified same priority", open(High), i("identified", "major"), OFF, Deduplicated, O(High), None),
        row("monitoring same priority", open(High), i("monitoring", "major"), OFF, Deduplicated, O(High), None),
        row("resolved resolves", open(High), i("resolved", "major"), OFF, Resolved, C0, res(High)),
        row("postmortem resolves", open(High), i("postmortem", "major"), OFF, Resolved, C0, res(High)),
        row("resolve carries last priority", open(Critical), i("resolved", "minor"), OFF, Resolved, C0, res(Critical)),
        row("completed resolves paged maintenance", open(Low), i("completed", "maintenance"), ON, Resolved, C0, res(Low)),
        row("maintenance off closes open alert", open(Low), i("in_progress", "maintenance"), OFF, Resolved, C0, res(Low)),
        row("unknown status keeps open alert", open(High), i("exploded", "major"), OFF, Unrecognized, O(High), None),
        // Priority: impact and override.
        row("impact none is low", closed(), i("investigating", "none"), OFF, Triggered, O(Low), trig(Low)),
        row("impact minor is medium", closed(), i("investigating", "minor"), OFF, Triggered, O(Medium), trig(Medium)),
        row("impact major is high", closed(), i("investigating", "major"), OFF, Triggered, O(High), trig(High)),
        row("impact critical is critical", closed(), i("investigating", "critical"), OFF, Triggered, O(Critical), trig(Critical)),
        row("impact maintenance is low", closed(), i("investigating", "maintenance"), OFF, Triggered, O(Low), trig(Low)),
        row("unknown impact is medium", closed(), i("investigating", "cosmic"), OFF, Triggered, O(Medium), trig(Medium)),
        row("missing impact is medium", closed(), Ev::I(inc("investigating", None, None)), OFF, Triggered, O(Medium), trig(Medium)),
        row("override raises", closed(), Ev::I(inc("investigating", Some("minor"), Some("critical"))), OFF, Triggered, O(Critical), trig(Critical)),
        row("override lowers", closed(), Ev::I(inc("investigating", Some("critical"), Some("none"))), OFF, Triggered, O(Low), trig(Low)),
        row("override without impact", closed(), Ev::I(inc("investigating", None, Some("major"))), OFF, Triggered, O(High), trig(High)),
        row("escalation retriggers", open(High), i("identified", "critical"), OFF, Retriggered, O(Critical), trig(Critical)),
        row("de-escalation retriggers", open(Critical), i("monitoring", "minor"), OFF, Retriggered, O(Medium), trig(Medium)),
        row("override change retriggers", open(Medium), Ev::I(inc("identified", Some("minor"), Some("major"))), OFF, Retriggered, O(High), trig(High)),
        // Reopen.
        row("reopen after resolve", prior(C0, "resolved", 50), i("investigating", "major"), OFF, Triggered, O(High), trig(High)),
        row("reopen after postmortem", prior(C0, "postmortem", 50), i("identified", "minor"), OFF, Triggered, O(Medium), trig(Medium)),
        row("resolved twice", prior(C0, "resolved", 50), i("resolved", "major"), OFF, NoChange, C0, None),
        // Stale.
        row("older event is stale", prior(O(High), "resolved", 500), i("investigating", "major"), OFF, Stale, O(High), None),
        row("stale resolve does not close", prior(O(High), "investigating", 500), i("resolved", "major"), OFF, Stale, O(High), None),
        row("same time is applied", prior(C0, "resolved", 100), i("investigating", "major"), OFF, Triggered, O(High), trig(High)),
        // Component statuses.
        row("component degraded opens", closed(), c("degraded_performance"), OFF, Triggered, O(Medium), trig(Medium)),
        row("component partial opens", closed(), c("partial_outage"), OFF, Triggered, O(Medium), trig(Medium)),
        row("component major opens", closed(), c("major_outage"), OFF, Triggered, O(Medium), trig(Medium)),
        row("component operational first seen", closed(), c("operational"), OFF, NoChange, C0, None),
        row("component back to operational resolves", open(Medium), c("operational"), OFF, Resolved, C0, res(Medium)),
        row("component outage level move", open(Medium), c("partial_outage"), OFF, Deduplicated, O(Medium), None),
        row("component maintenance off", closed(), c("under_maintenance"), OFF, Ignored, C0, None),
        row("component maintenance on", closed(), c("under_maintenance"), ON, Triggered, O(Medium), trig(Medium)),
        row("component outage → maintenance off resolves", open(Medium), c("under_maintenance"), OFF, Resolved, C0, res(Medium)),
        row("component unknown status", closed(), c("melting"), OFF, Unrecognized, C0, None),
        row("component stale", prior(C0, "operational", 500), c("major_outage"), OFF, Stale, C0, None),
        // Component priority from associated open incidents.
        row("component takes incident priority", closed(), Ev::C(comp("major_outage"), Some(Critical)), OFF, Triggered, O(Critical), trig(Critical)),
        // An incident of impact none (Low) never pulls a component below Medium.
        // Incident first: the component opens at Medium (the other order is a
        // row of `incidents_lift_their_open_components`).
        row("component low incident opens at medium", closed(), Ev::C(comp("partial_outage"), Some(Low)), OFF, Triggered, O(Medium), trig(Medium)),
        row("component maintenance incident opens at medium", closed(), Ev::C(comp("under_maintenance"), Some(Low)), ON, Triggered, O(Medium), trig(Medium)),
        row("component medium incident opens at medium", closed(), Ev::C(comp("degraded_performance"), Some(Medium)), OFF, Triggered, O(Medium), trig(Medium)),
        row("component under a low incident stays medium", open(Medium), Ev::C(comp("major_outage"), Some(Low)), OFF, Deduplicated, O(Medium), None),
        row("component priority rises with incident", open(Medium), Ev::C(comp("major_outage"), Some(High)), OFF, Retriggered, O(High), trig(High)),
        row("component priority falls back to medium", open(High), c("degraded_performance"), OFF, Retriggered, O(Medium), trig(Medium)),
        row("component resolve keeps sent priority", open(Critical), Ev::C(comp("operational"), Some(Low)), OFF, Resolved, C0, res(Critical)),
    ];
    // Backfilled.
    let mut backfilled = inc("investigating", Some("critical"), None);
    backfilled.backfilled = true;
    rows.push(row("backfilled never opens", closed(), Ev::I(backfilled.clone()), OFF, Ignored, C0, None));
    let mut backfilled_resolved = backfilled.clone();
    backfilled_resolved.status = Some(IncidentStatus::Resolved);
    rows.push(row("backfilled resolved is ignored", closed(), Ev::I(backfilled_resolved.clone()), OFF, Ignored, C0, None));
    rows.push(row("backfilled still closes an open alert", open(High), Ev::I(backfilled_resolved), OFF, Resolved, C0, res(High)));
    // Duplicates come before stale and apply to any state.
    let mut dup = row("duplicate incident", open(High), i("investigating", "major"), OFF, Duplicate, O(High), None);
    dup.dup = Some("w1");
    rows.push(dup);
    let mut dup = row("duplicate before stale", prior(C0, "resolved", 500), i("investigating", "major"), OFF, Duplicate, C0, None);
    dup.dup = Some("w1");
    rows.push(dup);
    let mut dup = row("duplicate component", closed(), c("major_outage"), OFF, Duplicate, C0, None);
    dup.dup = Some("w2");
    rows.push(dup);
    // No usable time is never stale.
    let mut timeless = inc("investigating", Some("major"), None);
    timeless.updated_at = None;
    timeless.latest_update = None;
    rows.push(row("no time is never stale", prior(C0, "resolved", 500), Ev::I(timeless), OFF, Triggered, O(High), trig(High)));
    // Missing status.
    let mut nostatus = inc("investigating", Some("major"), None);
    nostatus.status = None;
    rows.push(row("incident without status", closed(), Ev::I(nostatus), OFF, Unrecognized, C0, None));
    rows
}

#[test]
fn lifecycle_table() {
    let rows = rows();
    assert!(rows.len() >= 40, "only {} rows", rows.len());
    for r in rows {
        let step = match &r.ev {
            Ev::I(ev) => incident_step(&r.prior, ev, r.dup, r.rules),
            Ev::C(ev, p) => component_step(&r.prior, ev, r.dup, *p, r.rules),
        };
        assert_eq!(
            (step.outcome, step.after, step.emit),
            (r.outcome, r.after, r.emit),
            "row `{}`: {}",
            r.name,
            step.reason
        );
        let applied = !matches!(
            r.outcome,
            Outcome::Duplicate | Outcome::Stale | Outcome::Unrecognized
        );
        assert_eq!(step.applied, applied, "row `{}`", r.name);
        assert!(!step.reason.is_empty());
    }
}

#[test]
fn reasons_read_well() {
    let s = incident_step(
        &prior(Alert::Closed, "resolved", 0),
        &inc("investigating", Some("major"), None),
        None,
        OFF,
    );
    assert_eq!(
        s.reason,
        "resolved → investigating: reopened, alert opens at high"
    );
    let s = incident_step(
        &open(High),
        &inc("identified", Some("critical"), None),
        None,
        OFF,
    );
    assert_eq!(
        s.reason,
        "investigating → identified: priority high → critical, alert updated"
    );
    let s = component_step(&closed(), &comp("major_outage"), None, None, OFF);
    assert_eq!(
        s.reason,
        "major_outage: alert opens at medium (priority medium: no associated open incident)"
    );
    // Every outcome says what happened in words.
    let mut backfilled = inc("investigating", Some("major"), None);
    backfilled.backfilled = true;
    let cases = [
        (
            incident_step(
                &open(High),
                &inc("identified", Some("major"), None),
                None,
                OFF,
            ),
            "investigating → identified: alert already open at high",
        ),
        (
            incident_step(
                &open(High),
                &inc("resolved", Some("major"), None),
                None,
                OFF,
            ),
            "investigating → resolved: alert resolved",
        ),
        (
            incident_step(
                &closed(),
                &inc("in_progress", Some("maintenance"), None),
                None,
                OFF,
            ),
            "in_progress: maintenance paging is off, not paged",
        ),
        (
            incident_step(&closed(), &backfilled, None, OFF),
            "investigating: backfilled incident, recorded but never paged",
        ),
    ];
    for (step, want) in cases {
        assert_eq!(step.reason, want);
    }
    // The same status again names it once.
    let s = incident_step(
        &open(High),
        &inc("investigating", Some("critical"), None),
        None,
        OFF,
    );
    assert_eq!(
        s.reason,
        "investigating: priority high → critical, alert updated"
    );
    let s = incident_step(
        &prior(Alert::Closed, "resolved", 500),
        &inc("investigating", Some("major"), None),
        None,
        OFF,
    );
    assert!(s.reason.starts_with("stale: event time"), "{}", s.reason);
}

#[test]
fn duplicate_keys() {
    let a = inc("investigating", Some("major"), None);
    let keys = incident_keys(&a, b"{}");
    assert_eq!(keys.len(), 2);
    assert!(keys[1].starts_with("update:u1:investigating:major"));
    // Same update, other impact: a different event.
    let b = inc("investigating", Some("critical"), None);
    assert_ne!(incident_keys(&b, b"{}")[1], keys[1]);
    // Byte-identical bodies share the body key; other bytes do not.
    assert_eq!(incident_keys(&b, b"{}")[0], keys[0]);
    assert_ne!(incident_keys(&b, b"{ }")[0], keys[0]);
    assert_eq!(
        keys[0],
        "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
    );
    assert_eq!(
        component_keys(&comp("operational"), b"x")[1],
        "component_update:cu1"
    );
}

/// An incident's event and one component it lists, open before it:
/// (component alert, incident's alert after its event) → the component's
/// outcome, alert and emitted event, if it changes at all.
#[test]
fn incidents_lift_their_open_components() {
    use Outcome::*;
    type Lifted = Option<(Outcome, Alert, Option<Emit>)>;
    #[rustfmt::skip]
    let rows: &[(Alert, Alert, Lifted)] = &[
        // Open above the component (opened, rose, or newly listing it):
        // re-trigger at the incident's priority.
        (
            Alert::Open(Medium),
            Alert::Open(Critical),
            Some((Retriggered, Alert::Open(Critical), trig(Critical))),
        ),
        (
            Alert::Open(Medium),
            Alert::Open(High),
            Some((Retriggered, Alert::Open(High), trig(High))),
        ),
        (
            Alert::Open(Low),
            Alert::Open(Medium),
            Some((Retriggered, Alert::Open(Medium), trig(Medium))),
        ),
        // Never lowers, never repeats the same priority.
        (Alert::Open(Critical), Alert::Open(High), None),
        // Component first, then an incident of impact none: stays at Medium.
        (Alert::Open(Medium), Alert::Open(Low), None),
        (Alert::Open(High), Alert::Open(High), None),
        // A closed incident leaves it.
        (Alert::Open(Medium), Alert::Closed, None),
        // A closed component is not opened by an incident.
        (Alert::Closed, Alert::Open(Critical), None),
    ];
    for &(alert, incident_after, want) in rows {
        let component = prior(alert, "major_outage", 50);
        let got = component_lift(&component, incident_after, "\"API down\" (i)")
            .map(|s| (s.outcome, s.after, s.emit));
        assert_eq!(got, want, "{alert:?} {incident_after:?}");
    }
    let lifted = component_lift(&open(Medium), Alert::Open(Critical), "\"API down\" (i)").unwrap();
    assert!(lifted.applied);
    assert!(
        lifted.reason.contains("medium → critical")
            && lifted
                .reason
                .contains("raised by incident \"API down\" (i)"),
        "{}",
        lifted.reason
    );
}

/// For every impact and every opening component status, "incident, then
/// component" and "component, then incident" end at the same alert: the
/// higher of Medium and the incident's priority.
#[test]
fn both_orders_agree_for_every_impact_and_status() {
    let rules = ON;
    for impact in [
        "none",
        "minor",
        "major",
        "critical",
        "maintenance",
        "cosmic",
    ] {
        let incident = incident_step(
            &closed(),
            &inc("investigating", Some(impact), None),
            None,
            rules,
        );
        let Some(emit) = incident.emit else {
            panic!("{impact} opens");
        };
        for status in [
            "degraded_performance",
            "partial_outage",
            "major_outage",
            "under_maintenance",
        ] {
            let first = component_step(&closed(), &comp(status), None, Some(emit.priority), rules);
            let early = component_step(&closed(), &comp(status), None, None, rules);
            let late = component_lift(&prior(early.after, status, 100), incident.after, "i")
                .map_or(early.after, |l| l.after);
            let want = Alert::Open(emit.priority.max(Medium));
            assert_eq!((first.after, late), (want, want), "{impact} {status}");
        }
    }
}

/// "Incident critical, then component major_outage" and the other order
/// leave the component open at Critical (docs/BEHAVIOUR.md).
#[test]
fn component_priority_does_not_depend_on_arrival_order() {
    let rules = Rules::default();
    let incident = incident_step(
        &closed(),
        &inc("investigating", Some("critical"), None),
        None,
        rules,
    );
    assert_eq!(incident.emit, trig(Critical));

    // Incident first: the component reads the open incident's priority.
    let first = component_step(
        &closed(),
        &comp("major_outage"),
        None,
        Some(Critical),
        rules,
    );
    assert!(component_lift(&closed(), incident.after, "i").is_none());
    let emitted_a = vec![first.emit];

    // Component first: it opens at Medium, then the incident lifts it.
    let early = component_step(&closed(), &comp("major_outage"), None, None, rules);
    assert_eq!(early.after, Alert::Open(Medium));
    let prior_b = prior(early.after, "major_outage", 100);
    let lift = component_lift(&prior_b, incident.after, "i").expect("lifted");
    let emitted_b = vec![early.emit, lift.emit];

    assert_eq!(first.after, Alert::Open(Critical));
    assert_eq!(lift.after, first.after, "both orders end at the same state");
    assert_eq!(emitted_a, [trig(Critical)]);
    assert_eq!(emitted_b, [trig(Medium), trig(Critical)]);
}

/// An incident event of `impact` at `at` (seconds), listing component `c`
/// when `listing`.
fn inc_at(status: &str, impact: &str, at: i64, listing: bool) -> IncidentEvent {
    let mut ev = inc(status, Some(impact), None);
    ev.updated_at = Some(t(at));
    if let Some(u) = ev.latest_update.as_mut() {
        u.id = Some(format!("u{at}"));
        u.created_at = Some(t(at));
    }
    if listing {
        ev.components = vec![crate::rules::parse::ComponentRef {
            id: "c".into(),
            name: Some("API".into()),
        }];
    }
    ev
}

fn comp_at(status: &str, at: i64) -> ComponentEvent {
    let mut ev = comp(status);
    ev.update_id = Some(format!("cu{at}"));
    ev.created_at = Some(t(at));
    ev
}

/// The entity's prior after an applied step at `at`.
fn after(step: &Step, status: &str, at: i64) -> Prior {
    prior(step.after, status, at)
}

/// The open incidents' priority a component reads: the incident's, while
/// it is open and lists the component.
fn listing_priority(incident: Alert, listing: bool) -> Option<Priority> {
    match incident {
        Alert::Open(p) if listing => Some(p),
        _ => None,
    }
}

/// Every pair of webhooks of one Statuspage action — an incident's update
/// and a component's change — from every consistent state before it, in
/// both orders, ends with the same alerts and priorities wherever
/// docs/BEHAVIOUR.md promises it: the component returns to closed, or the
/// incident stays or becomes open, no lower than before, still listing the
/// component if it did (an incident that falls, resolves or stops listing a
/// component never lowers it: the component's own next event does).
#[test]
fn an_actions_two_webhooks_agree_in_either_order() {
    const IMPACTS: [&str; 5] = ["none", "minor", "major", "critical", "maintenance"];
    const INCIDENT: [&str; 4] = ["investigating", "identified", "monitoring", "resolved"];
    const COMPONENT: [&str; 5] = [
        "operational",
        "degraded_performance",
        "partial_outage",
        "major_outage",
        "under_maintenance",
    ];
    let mut checked = 0;
    for rules in [ON, OFF] {
        for before in INCIDENT.iter().flat_map(|s| IMPACTS.map(|i| (*s, i))) {
            for listed_before in [false, true] {
                for comp_before in COMPONENT {
                    for now in INCIDENT.iter().flat_map(|s| IMPACTS.map(|i| (*s, i))) {
                        for listed_now in [false, true] {
                            for comp_now in COMPONENT {
                                // The state before: the incident, then the
                                // component reading it.
                                let i0 = incident_step(
                                    &closed(),
                                    &inc_at(before.0, before.1, 10, listed_before),
                                    None,
                                    rules,
                                );
                                let c0 = component_step(
                                    &closed(),
                                    &comp_at(comp_before, 20),
                                    None,
                                    listing_priority(i0.after, listed_before),
                                    rules,
                                );
                                let inc_prior = after(&i0, before.0, 10);
                                let comp_prior = after(&c0, comp_before, 20);
                                let inc_event = inc_at(now.0, now.1, 100, listed_now);
                                let comp_event = comp_at(comp_now, 100);
                                let lift = |c: &Prior, incident: Alert| {
                                    if !listed_now {
                                        return c.clone();
                                    }
                                    component_lift(c, incident, "i")
                                        .map_or(c.clone(), |s| after(&s, comp_before, 20))
                                };

                                // Incident first.
                                let inc_a = incident_step(&inc_prior, &inc_event, None, rules);
                                let comp_a = component_step(
                                    &lift(&comp_prior, inc_a.after),
                                    &comp_event,
                                    None,
                                    listing_priority(inc_a.after, listed_now),
                                    rules,
                                );
                                // Component first.
                                let comp_b = component_step(
                                    &comp_prior,
                                    &comp_event,
                                    None,
                                    listing_priority(inc_prior.alert, listed_before),
                                    rules,
                                );
                                let inc_b = incident_step(&inc_prior, &inc_event, None, rules);
                                let comp_b = lift(&after(&comp_b, comp_now, 100), inc_b.after);

                                let no_lower = match (inc_prior.alert, inc_a.after) {
                                    (_, Alert::Closed) => false,
                                    (Alert::Open(p0), Alert::Open(p1)) => p1 >= p0,
                                    (Alert::Closed, Alert::Open(_)) => true,
                                };
                                let promised = comp_a.after == Alert::Closed
                                    || (no_lower && (listed_now || !listed_before));
                                if !promised {
                                    continue;
                                }
                                checked += 1;
                                assert_eq!(
                                    (inc_a.after, comp_a.after),
                                    (inc_b.after, comp_b.alert),
                                    "{rules:?}: incident {before:?} (listing: {listed_before}) \
                                     → {now:?} (listing: {listed_now}); component \
                                     {comp_before} → {comp_now}"
                                );
                            }
                        }
                    }
                }
            }
        }
    }
    assert!(checked > 10_000, "{checked} cases checked");
}
