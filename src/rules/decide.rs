//! The decision table: given the alert state before and the state an event
//! asks for, what (if anything) ITOC360 must be told, and the outcome to
//! record. Pure: no I/O, no clock.
//!
//! | before → after              | emitted            | outcome        |
//! |-----------------------------|--------------------|----------------|
//! | closed → open               | trigger            | triggered      |
//! | open → open, other priority | trigger            | retriggered    |
//! | open → open, same priority  | nothing            | deduplicated   |
//! | open → closed               | resolve (old prio) | resolved       |
//! | closed → closed             | nothing            | no_change / ignored |

use crate::rules::domain::{Action, Alert, Outcome, Priority};

/// The alert state an event asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target {
    pub alert: Alert,
    /// Set when a closed target comes from a rule that says "do not page
    /// this" (backfilled, maintenance not paged): a closed → closed step is
    /// then `ignored` rather than `no_change`.
    pub quiet: Option<Unpaged>,
}

/// Why an event is deliberately not paged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unpaged {
    Backfilled,
    MaintenanceNotPaged,
}

impl Target {
    pub fn open(p: Priority) -> Target {
        Target {
            alert: Alert::Open(p),
            quiet: None,
        }
    }

    pub fn closed() -> Target {
        Target {
            alert: Alert::Closed,
            quiet: None,
        }
    }

    pub fn quiet(why: Unpaged) -> Target {
        Target {
            alert: Alert::Closed,
            quiet: Some(why),
        }
    }
}

/// An event for ITOC360.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Emit {
    pub action: Action,
    /// For a trigger, the new priority; for a resolve, the one the alert
    /// last had.
    pub priority: Priority,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub outcome: Outcome,
    pub emit: Option<Emit>,
    /// The alert state after the event.
    pub after: Alert,
}

pub fn decide(before: Alert, target: Target) -> Decision {
    let (outcome, emit) = match (before, target.alert) {
        (Alert::Closed, Alert::Open(p)) => (
            Outcome::Triggered,
            Some(Emit {
                action: Action::Trigger,
                priority: p,
            }),
        ),
        (Alert::Open(old), Alert::Open(new)) if old != new => (
            Outcome::Retriggered,
            Some(Emit {
                action: Action::Trigger,
                priority: new,
            }),
        ),
        (Alert::Open(_), Alert::Open(_)) => (Outcome::Deduplicated, None),
        (Alert::Open(old), Alert::Closed) => (
            Outcome::Resolved,
            Some(Emit {
                action: Action::Resolve,
                priority: old,
            }),
        ),
        (Alert::Closed, Alert::Closed) if target.quiet.is_some() => (Outcome::Ignored, None),
        (Alert::Closed, Alert::Closed) => (Outcome::NoChange, None),
    };
    Decision {
        outcome,
        emit,
        after: target.alert,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Priority::*;

    #[test]
    fn table() {
        let trig = |p| {
            Some(Emit {
                action: Action::Trigger,
                priority: p,
            })
        };
        let res = |p| {
            Some(Emit {
                action: Action::Resolve,
                priority: p,
            })
        };
        let rows: Vec<(Alert, Target, Outcome, Option<Emit>)> = vec![
            (
                Alert::Closed,
                Target::open(High),
                Outcome::Triggered,
                trig(High),
            ),
            (
                Alert::Closed,
                Target::open(Low),
                Outcome::Triggered,
                trig(Low),
            ),
            (
                Alert::Open(High),
                Target::open(Critical),
                Outcome::Retriggered,
                trig(Critical),
            ),
            (
                Alert::Open(Critical),
                Target::open(Low),
                Outcome::Retriggered,
                trig(Low),
            ),
            (
                Alert::Open(High),
                Target::open(High),
                Outcome::Deduplicated,
                None,
            ),
            (
                Alert::Open(High),
                Target::closed(),
                Outcome::Resolved,
                res(High),
            ),
            (
                Alert::Open(Low),
                Target::quiet(Unpaged::MaintenanceNotPaged),
                Outcome::Resolved,
                res(Low),
            ),
            (Alert::Closed, Target::closed(), Outcome::NoChange, None),
            (
                Alert::Closed,
                Target::quiet(Unpaged::Backfilled),
                Outcome::Ignored,
                None,
            ),
            (
                Alert::Closed,
                Target::quiet(Unpaged::MaintenanceNotPaged),
                Outcome::Ignored,
                None,
            ),
        ];
        for (before, target, outcome, emit) in rows {
            let d = decide(before, target);
            assert_eq!(
                (d.outcome, d.emit),
                (outcome, emit),
                "{before:?} → {target:?}"
            );
            assert_eq!(d.after, target.alert);
        }
    }
}
