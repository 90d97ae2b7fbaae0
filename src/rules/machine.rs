//! The lifecycle of incidents and components as a pure state machine.
//!
//! Given what the bridge knows of an entity (`Prior`), one parsed event and
//! the facts the pipeline looked up for it (was it applied before, the
//! priority of associated open incidents), `step` says whether the event is
//! applied, what the alert state becomes, what to emit, and why. No I/O, no
//! clock: every time comes from the payload or the caller.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use crate::rules::decide::{self, Emit, Target, Unpaged};
use crate::rules::domain::{Alert, ComponentStatus, IncidentStatus, Outcome, Priority};
use crate::rules::parse::{ComponentEvent, IncidentEvent};
use crate::rules::time::format_time;

/// What the bridge holds for an entity before the event. `Default` is an
/// entity never seen: closed, no status, no time.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Prior {
    pub alert: Alert,
    pub status: Option<String>,
    pub last_event_at: Option<DateTime<Utc>>,
}

/// Settings that change the rules.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rules {
    /// `[maintenance] page`: maintenance statuses open an alert.
    pub page_maintenance: bool,
}

/// The result of applying one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub outcome: Outcome,
    pub reason: String,
    /// True when the entity's state moves to `after` and a transition is
    /// recorded; false for duplicate, stale and unrecognized events.
    pub applied: bool,
    pub after: Alert,
    pub emit: Option<Emit>,
}

/// The keys that identify an event as "already applied" to its entity. Any
/// one of them seen before makes the event a duplicate; the database holds
/// them under a UNIQUE constraint.
pub fn incident_keys(ev: &IncidentEvent, body: &[u8]) -> Vec<String> {
    let mut keys = vec![body_key(body)];
    if let Some(update_id) = ev.latest_update.as_ref().and_then(|u| u.id.as_deref()) {
        keys.push(format!(
            "update:{update_id}:{}:{}",
            ev.status.as_ref().map_or("", |s| s.as_str()),
            ev.effective_impact().map_or("", |i| i.as_str()),
        ));
    }
    keys
}

pub fn component_keys(ev: &ComponentEvent, body: &[u8]) -> Vec<String> {
    let mut keys = vec![body_key(body)];
    if let Some(id) = &ev.update_id {
        keys.push(format!("component_update:{id}"));
    }
    keys
}

fn body_key(body: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digest = Sha256::digest(body);
    let mut key = String::with_capacity(7 + 2 * digest.len());
    key.push_str("sha256:");
    for b in digest {
        key.push(HEX[usize::from(b >> 4)].into());
        key.push(HEX[usize::from(b & 0xf)].into());
    }
    key
}

/// The incident's lifecycle. `duplicate_of` is the webhook id that already
/// applied one of this event's keys, if any.
pub fn incident_step(
    prior: &Prior,
    ev: &IncidentEvent,
    duplicate_of: Option<&str>,
    rules: Rules,
) -> Step {
    if let Some(step) = duplicate_or_stale(prior, ev.event_time(), duplicate_of) {
        return step;
    }
    let Some(status) = &ev.status else {
        return not_applied(
            prior,
            Outcome::Unrecognized,
            "incident has no status: stored, state unchanged".into(),
        );
    };
    let priority = ev
        .effective_impact()
        .map_or(Priority::Medium, |i| i.priority());
    let mut target = match status {
        IncidentStatus::Investigating | IncidentStatus::Identified | IncidentStatus::Monitoring => {
            Target::open(priority)
        }
        IncidentStatus::Resolved
        | IncidentStatus::Postmortem
        | IncidentStatus::Scheduled
        | IncidentStatus::Completed => Target::closed(),
        IncidentStatus::InProgress | IncidentStatus::Verifying if rules.page_maintenance => {
            Target::open(priority)
        }
        IncidentStatus::InProgress | IncidentStatus::Verifying => {
            Target::quiet(Unpaged::MaintenanceNotPaged)
        }
        IncidentStatus::Unknown(s) => {
            return not_applied(
                prior,
                Outcome::Unrecognized,
                format!("unrecognized incident status \"{s}\": stored, state unchanged"),
            );
        }
    };
    // A backfilled incident is history typed in after the fact: it may
    // close an alert that is somehow open, but never opens one.
    if ev.backfilled && !prior.alert.is_open() {
        target = Target::quiet(Unpaged::Backfilled);
    }
    let reopened = prior
        .status
        .as_deref()
        .map(IncidentStatus::parse)
        .is_some_and(|s| {
            matches!(
                s,
                IncidentStatus::Resolved | IncidentStatus::Postmortem | IncidentStatus::Completed
            )
        });
    applied(prior, status.as_str(), target, reopened, None)
}

/// The component's lifecycle. `incident_priority` is the highest priority
/// of the open incidents associated with the component, if any; it raises
/// the component above Medium and never lowers it below (docs/BEHAVIOUR.md,
/// "Component: priority"), so the result does not depend on whether the
/// incident's webhook or the component's came first.
pub fn component_step(
    prior: &Prior,
    ev: &ComponentEvent,
    duplicate_of: Option<&str>,
    incident_priority: Option<Priority>,
    rules: Rules,
) -> Step {
    if let Some(step) = duplicate_or_stale(prior, ev.created_at, duplicate_of) {
        return step;
    }
    let Some(status) = &ev.new_status else {
        return not_applied(
            prior,
            Outcome::Unrecognized,
            "component update has no new status: stored, state unchanged".into(),
        );
    };
    let priority = incident_priority.map_or(Priority::Medium, |p| p.max(Priority::Medium));
    let target = match status {
        ComponentStatus::Operational => Target::closed(),
        ComponentStatus::DegradedPerformance
        | ComponentStatus::PartialOutage
        | ComponentStatus::MajorOutage => Target::open(priority),
        ComponentStatus::UnderMaintenance if rules.page_maintenance => Target::open(priority),
        ComponentStatus::UnderMaintenance => Target::quiet(Unpaged::MaintenanceNotPaged),
        ComponentStatus::Unknown(s) => {
            return not_applied(
                prior,
                Outcome::Unrecognized,
                format!("unrecognized component status \"{s}\": stored, state unchanged"),
            );
        }
    };
    let source = Some(match incident_priority {
        Some(p) if p > Priority::Medium => {
            format!("priority {p} from the associated open incidents")
        }
        Some(p) => format!(
            "priority medium: the associated open incidents are at {p}, which never lowers a component"
        ),
        None => "priority medium: no associated open incident".to_owned(),
    });
    applied(prior, status.as_str(), target, false, source)
}

/// What an incident's event does to one component it lists whose alert is
/// open (docs/BEHAVIOUR.md, "Component: priority"): while the incident's
/// alert is open (`incident_after`) at a priority above the component's,
/// the component is re-triggered at the incident's priority — whether the
/// incident just opened, rose, or newly lists the component, so the order
/// of an action's webhooks does not matter; otherwise nothing: an incident
/// never lowers a component.
pub fn component_lift(component: &Prior, incident_after: Alert, incident: &str) -> Option<Step> {
    let Alert::Open(raised) = incident_after else {
        return None;
    };
    let Alert::Open(current) = component.alert else {
        return None;
    };
    if current >= raised {
        return None;
    }
    let d = decide::decide(component.alert, Target::open(raised));
    let status = component.status.as_deref().unwrap_or("open");
    Some(Step {
        outcome: d.outcome,
        reason: format!("{status}: priority {current} → {raised}, raised by incident {incident}"),
        applied: true,
        after: d.after,
        emit: d.emit,
    })
}

/// A page alert's step: open at `open`'s priority, or closed when `None`.
pub fn page_step(prior: &Prior, status: &str, open: Option<Priority>) -> Step {
    let target = match open {
        Some(p) => Target::open(p),
        None => Target::closed(),
    };
    applied(prior, status, target, false, None)
}

fn duplicate_or_stale(
    prior: &Prior,
    event_at: Option<DateTime<Utc>>,
    duplicate_of: Option<&str>,
) -> Option<Step> {
    if let Some(id) = duplicate_of {
        return Some(not_applied(
            prior,
            Outcome::Duplicate,
            format!("duplicate: the same event was already applied by webhook {id}"),
        ));
    }
    if let (Some(at), Some(last)) = (event_at, prior.last_event_at)
        && at < last
    {
        return Some(not_applied(
            prior,
            Outcome::Stale,
            format!(
                "stale: event time {} is older than the last applied event ({})",
                format_time(at),
                format_time(last)
            ),
        ));
    }
    None
}

fn not_applied(prior: &Prior, outcome: Outcome, reason: String) -> Step {
    Step {
        outcome,
        reason,
        applied: false,
        after: prior.alert,
        emit: None,
    }
}

fn applied(
    prior: &Prior,
    status: &str,
    target: Target,
    reopened: bool,
    priority_source: Option<String>,
) -> Step {
    let before = prior.alert;
    let d = decide::decide(before, target);
    let moved = match prior.status.as_deref() {
        Some(from) if from != status => format!("{from} → {status}"),
        _ => status.to_owned(),
    };
    let mut reason = match (d.outcome, before, d.after) {
        (Outcome::Triggered, _, Alert::Open(p)) if reopened => {
            format!("{moved}: reopened, alert opens at {p}")
        }
        (Outcome::Triggered, _, Alert::Open(p)) => format!("{moved}: alert opens at {p}"),
        (Outcome::Retriggered, Alert::Open(old), Alert::Open(new)) => {
            format!("{moved}: priority {old} → {new}, alert updated")
        }
        (Outcome::Deduplicated, _, Alert::Open(p)) => {
            format!("{moved}: alert already open at {p}")
        }
        (Outcome::Resolved, _, _) => format!("{moved}: alert resolved"),
        (Outcome::Ignored, _, _) => match target.quiet {
            Some(Unpaged::Backfilled) => {
                format!("{moved}: backfilled incident, recorded but never paged")
            }
            _ => format!("{moved}: maintenance paging is off, not paged"),
        },
        _ => format!("{moved}: alert stays closed"),
    };
    if let (Some(src), Alert::Open(_)) = (priority_source, d.after) {
        reason = format!("{reason} ({src})");
    }
    Step {
        outcome: d.outcome,
        reason,
        applied: true,
        after: d.after,
        emit: d.emit,
    }
}

#[cfg(test)]
#[path = "machine_table.rs"]
mod table;
