//! The bridge's vocabulary: statuses, impacts, priorities, outcomes and the
//! alert state kept per entity. Parsed once at the edge (`parse`) and used by
//! the pure stages (`machine`, `decide`) and for storage. Every enum that the
//! outside world may extend keeps an `Unknown(String)` variant so a new value
//! is stored and shown, never rejected.

use std::fmt;

/// Serialises a closed set's values as the strings stored and served for
/// them (`as_str`), so JSON answers read as the database does.
macro_rules! serialize_as_str {
    ($($t:ty),+ $(,)?) => {$(
        impl serde::Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
    )+};
}
pub(crate) use serialize_as_str;

/// Generates `as_str`, `parse` and `Display` for an open enum whose known
/// variants map one-to-one to wire strings.
macro_rules! open_enum {
    ($name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        impl $name {
            pub fn parse(s: &str) -> Self {
                match s {
                    $($text => $name::$variant,)+
                    other => $name::Unknown(other.to_owned()),
                }
            }

            pub fn as_str(&self) -> &str {
                match self {
                    $($name::$variant => $text,)+
                    $name::Unknown(s) => s,
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

/// An incident's (or scheduled maintenance's) status as Statuspage sends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IncidentStatus {
    Investigating,
    Identified,
    Monitoring,
    Resolved,
    Postmortem,
    Scheduled,
    InProgress,
    Verifying,
    Completed,
    Unknown(String),
}

open_enum!(IncidentStatus {
    Investigating => "investigating",
    Identified => "identified",
    Monitoring => "monitoring",
    Resolved => "resolved",
    Postmortem => "postmortem",
    Scheduled => "scheduled",
    InProgress => "in_progress",
    Verifying => "verifying",
    Completed => "completed",
});

/// A component's status as Statuspage sends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ComponentStatus {
    Operational,
    DegradedPerformance,
    PartialOutage,
    MajorOutage,
    UnderMaintenance,
    Unknown(String),
}

open_enum!(ComponentStatus {
    Operational => "operational",
    DegradedPerformance => "degraded_performance",
    PartialOutage => "partial_outage",
    MajorOutage => "major_outage",
    UnderMaintenance => "under_maintenance",
});

/// An incident's impact (or `impact_override`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Impact {
    None,
    Minor,
    Major,
    Critical,
    Maintenance,
    Unknown(String),
}

open_enum!(Impact {
    None => "none",
    Minor => "minor",
    Major => "major",
    Critical => "critical",
    Maintenance => "maintenance",
});

impl Impact {
    /// The priority an incident of this impact pages with.
    pub fn priority(&self) -> Priority {
        match self {
            Impact::None | Impact::Maintenance => Priority::Low,
            Impact::Minor => Priority::Medium,
            Impact::Major => Priority::High,
            Impact::Critical => Priority::Critical,
            Impact::Unknown(_) => Priority::Medium,
        }
    }
}

/// The ITOC360 priority of an alert. Ordered so `max` picks the most urgent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Priority {
    Low,
    Medium,
    High,
    Critical,
}

impl Priority {
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Low => "low",
            Priority::Medium => "medium",
            Priority::High => "high",
            Priority::Critical => "critical",
        }
    }

    pub fn parse(s: &str) -> Option<Priority> {
        match s {
            "low" => Some(Priority::Low),
            "medium" => Some(Priority::Medium),
            "high" => Some(Priority::High),
            "critical" => Some(Priority::Critical),
            _ => None,
        }
    }
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which kind of entity an alert is about: a Statuspage incident or
/// component, or the page itself (an alert the bridge raises about a page,
/// such as the components a reconcile round grouped).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EntityKind {
    Incident,
    Component,
    Page,
}

impl EntityKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EntityKind::Incident => "incident",
            EntityKind::Component => "component",
            EntityKind::Page => "page",
        }
    }

    pub fn parse(s: &str) -> Option<EntityKind> {
        match s {
            "incident" => Some(EntityKind::Incident),
            "component" => Some(EntityKind::Component),
            "page" => Some(EntityKind::Page),
            _ => None,
        }
    }
}

impl fmt::Display for EntityKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The ITOC360 alert state the bridge believes an entity has: what it last
/// sent. Before the first event every entity is closed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Alert {
    #[default]
    Closed,
    Open(Priority),
}

impl Alert {
    pub fn is_open(self) -> bool {
        matches!(self, Alert::Open(_))
    }

    /// `closed` or `open:<priority>`, as a transition row stores it.
    pub fn parse(s: &str) -> Option<Alert> {
        match s.split_once(':') {
            None if s == "closed" => Some(Alert::Closed),
            Some(("open", p)) => Priority::parse(p).map(Alert::Open),
            _ => None,
        }
    }
}

impl fmt::Display for Alert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Alert::Closed => f.write_str("closed"),
            Alert::Open(p) => write!(f, "open:{p}"),
        }
    }
}

impl serde::Serialize for Alert {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// What a webhook ended as. Exactly one per stored webhook.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    Triggered,
    Retriggered,
    Resolved,
    Deduplicated,
    NoChange,
    Duplicate,
    Stale,
    Ignored,
    Unrecognized,
    Rejected,
    /// A page filter kept the decision from ITOC360 (docs/ROUTING.md).
    Filtered,
    /// Routes exist, none matched, and `[itoc360]` has no token.
    Unrouted,
    /// A silence kept a trigger from ITOC360 (sent when it ends).
    Silenced,
    /// A component recovered within its grace period: nothing was paged.
    Recovered,
}

impl Outcome {
    pub const ALL: [Outcome; 14] = [
        Outcome::Triggered,
        Outcome::Retriggered,
        Outcome::Resolved,
        Outcome::Deduplicated,
        Outcome::NoChange,
        Outcome::Duplicate,
        Outcome::Stale,
        Outcome::Ignored,
        Outcome::Unrecognized,
        Outcome::Rejected,
        Outcome::Filtered,
        Outcome::Unrouted,
        Outcome::Silenced,
        Outcome::Recovered,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Triggered => "triggered",
            Outcome::Retriggered => "retriggered",
            Outcome::Resolved => "resolved",
            Outcome::Deduplicated => "deduplicated",
            Outcome::NoChange => "no_change",
            Outcome::Duplicate => "duplicate",
            Outcome::Stale => "stale",
            Outcome::Ignored => "ignored",
            Outcome::Unrecognized => "unrecognized",
            Outcome::Rejected => "rejected",
            Outcome::Filtered => "filtered",
            Outcome::Unrouted => "unrouted",
            Outcome::Silenced => "silenced",
            Outcome::Recovered => "recovered",
        }
    }

    pub fn parse(s: &str) -> Option<Outcome> {
        Outcome::ALL.into_iter().find(|o| o.as_str() == s)
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An event for ITOC360: open (or update) the alert, or close it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Trigger,
    Resolve,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Trigger => "trigger",
            Action::Resolve => "resolve",
        }
    }

    pub fn parse(s: &str) -> Option<Action> {
        match s {
            "trigger" => Some(Action::Trigger),
            "resolve" => Some(Action::Resolve),
            _ => None,
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

serialize_as_str!(Priority, EntityKind, Outcome, Action);

/// Who wrote a webhook: Statuspage, or the bridge itself healing from a
/// page's status API (docs/RECONCILE.md). A heal takes exactly the
/// webhook's path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Webhook,
    /// `why` says what the round found; it leads the stored reason and is
    /// kept in its own column.
    Reconcile {
        why: String,
    },
}

impl Origin {
    pub fn as_str(&self) -> &'static str {
        match self {
            Origin::Webhook => "webhook",
            Origin::Reconcile { .. } => "reconcile",
        }
    }

    pub fn is_reconcile(&self) -> bool {
        matches!(self, Origin::Reconcile { .. })
    }

    /// A heal its round grouped (docs/RECONCILE.md, "Many changes at
    /// once"): the note says so, so a replay of the stored history decides
    /// the same.
    pub fn grouped(&self) -> bool {
        matches!(self, Origin::Reconcile { why } if why.starts_with(GROUPED_NOTE))
    }

    /// What the reconcile round found, for a heal.
    pub fn note(&self) -> Option<&str> {
        match self {
            Origin::Webhook => None,
            Origin::Reconcile { why } => Some(why),
        }
    }
}

/// How the note of a heal its round grouped begins.
pub const GROUPED_NOTE: &str = "grouped with the round's other changes";

/// The ITOC360 de-duplication key of an entity; stable for its whole life.
pub fn fingerprint(kind: EntityKind, page_id: &str, entity_id: &str) -> String {
    format!("statuspage:{page_id}:{}:{entity_id}", kind.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_enums_keep_unknown_values() {
        assert_eq!(
            IncidentStatus::parse("in_progress"),
            IncidentStatus::InProgress
        );
        assert_eq!(
            IncidentStatus::parse("on_fire"),
            IncidentStatus::Unknown("on_fire".into())
        );
        assert_eq!(IncidentStatus::parse("on_fire").as_str(), "on_fire");
        assert_eq!(
            ComponentStatus::parse("major_outage").as_str(),
            "major_outage"
        );
        assert_eq!(Impact::parse("weird").priority(), Priority::Medium);
    }

    #[test]
    fn priorities_order_by_urgency() {
        assert!(Priority::Critical > Priority::High);
        assert!(Priority::High > Priority::Medium);
        assert!(Priority::Medium > Priority::Low);
        for p in [
            Priority::Low,
            Priority::Medium,
            Priority::High,
            Priority::Critical,
        ] {
            assert_eq!(Priority::parse(p.as_str()), Some(p));
        }
    }

    #[test]
    fn outcomes_round_trip() {
        for o in Outcome::ALL {
            assert_eq!(Outcome::parse(o.as_str()), Some(o));
        }
        assert_eq!(
            fingerprint(EntityKind::Incident, "p1", "i1"),
            "statuspage:p1:incident:i1"
        );
    }
}
