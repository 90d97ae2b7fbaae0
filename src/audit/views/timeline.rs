//! `/incidents/{page}/{id}` and `/components/{page}/{id}`: an entity's
//! statuses over time, the alert it held, and what was sent.

use askama::Template;
use chrono::{DateTime, Utc};

use super::super::chart::{self, Chart};
use super::{OutboxView, entity_href, seg, when};
use crate::rules::domain::{Alert, EntityKind};
use crate::storage::audit::{LinkRow, Timeline, TransitionRow};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransitionView {
    pub at: String,
    pub change: String,
    pub class: &'static str,
    pub alert: String,
    pub outcome: &'static str,
    /// Why, when another entity's event caused it.
    pub reason: Option<String>,
    pub webhook_href: String,
}

impl From<&TransitionRow> for TransitionView {
    fn from(t: &TransitionRow) -> Self {
        TransitionView {
            at: when(&t.at),
            change: match &t.from_status {
                Some(f) if *f != t.to_status => format!("{f} → {}", t.to_status),
                _ => t.to_status.clone(),
            },
            class: chart::status_class(&t.to_status),
            alert: if t.alert_before == t.alert_after {
                t.alert_after.to_string()
            } else {
                format!("{} → {}", t.alert_before, t.alert_after)
            },
            outcome: t.outcome.as_str(),
            reason: t.reason.clone(),
            webhook_href: format!("/events/{}", seg(&t.webhook_id)),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkView {
    pub href: String,
    pub name: String,
    pub status: String,
    pub class: &'static str,
    pub current: bool,
}

#[derive(Template)]
#[template(path = "timeline.html", config = "src/audit/askama.toml")]
pub struct TimelinePage {
    pub kind: &'static str,
    pub name: String,
    pub entity_id: String,
    pub page_id: String,
    pub source: String,
    pub status: String,
    pub status_class: &'static str,
    pub alert: String,
    pub link: Option<String>,
    pub chart: Option<Chart>,
    pub transitions: Vec<TransitionView>,
    pub events: Vec<OutboxView>,
    pub links_title: &'static str,
    pub links: Vec<LinkView>,
}

impl TimelinePage {
    pub fn new(t: &Timeline, now: DateTime<Utc>) -> Self {
        let (other, links_title) = match t.kind {
            EntityKind::Incident => (EntityKind::Component, "Components"),
            _ => (EntityKind::Incident, "Incidents"),
        };
        let links = t
            .links
            .iter()
            .map(|l: &LinkRow| LinkView {
                href: entity_href(other, &t.page_id, &l.id).unwrap_or_default(),
                name: l.name.clone().unwrap_or_else(|| l.id.clone()),
                status: l.status.clone().unwrap_or_else(|| "—".into()),
                class: chart::status_class(l.status.as_deref().unwrap_or("")),
                current: l.current,
            })
            .collect();
        let status = t.entity.status.clone().unwrap_or_else(|| "—".into());
        TimelinePage {
            kind: t.kind.as_str(),
            name: t.entity.name.clone().unwrap_or_else(|| t.entity_id.clone()),
            entity_id: t.entity_id.clone(),
            page_id: t.page_id.clone(),
            source: t.entity.source.clone(),
            status_class: chart::status_class(&status),
            status,
            alert: match (t.entity.alert_open, t.entity.alert_priority) {
                (true, Some(p)) => format!("open ({p})"),
                (true, None) => "open".into(),
                (false, _) => Alert::Closed.to_string(),
            },
            link: t
                .entity
                .link
                .clone()
                .filter(|l| l.starts_with("https://") || l.starts_with("http://")),
            chart: chart::build(&t.transitions, &t.events, now),
            transitions: t.transitions.iter().map(TransitionView::from).collect(),
            events: t.events.iter().map(|o| OutboxView::new(o, now)).collect(),
            links_title,
            links,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::outbox;
    use super::*;
    use crate::rules::domain::{Action, Outcome, Priority};
    use crate::storage::audit::EntityRow;
    use crate::storage::outbox::State;
    use chrono::TimeZone;

    fn transition(
        at: &str,
        from: Option<&str>,
        to: &str,
        before: Alert,
        after: Alert,
    ) -> TransitionRow {
        TransitionRow {
            webhook_id: "w1".into(),
            at: at.into(),
            from_status: from.map(Into::into),
            to_status: to.into(),
            alert_before: before,
            alert_after: after,
            outcome: Outcome::Triggered,
            reason: None,
        }
    }

    fn timeline(kind: EntityKind) -> Timeline {
        Timeline {
            kind,
            page_id: "p1".into(),
            entity_id: "i1".into(),
            entity: EntityRow {
                source: "statuspage".into(),
                name: Some("API down".into()),
                status: Some("identified".into()),
                alert_open: true,
                alert_priority: Some(Priority::High),
                last_event_at: None,
                first_seen_at: "2025-03-04T10:00:00.000Z".into(),
                link: Some("javascript:alert(1)".into()),
            },
            transitions: vec![
                transition(
                    "2025-03-04T10:00:00.000Z",
                    None,
                    "investigating",
                    Alert::Closed,
                    Alert::Open(Priority::High),
                ),
                transition(
                    "2025-03-04T10:05:00.000Z",
                    Some("investigating"),
                    "identified",
                    Alert::Open(Priority::High),
                    Alert::Open(Priority::High),
                ),
            ],
            events: vec![outbox(1, Action::Trigger, State::Delivered)],
            links: vec![LinkRow {
                id: "c 1".into(),
                name: None,
                status: Some("major_outage".into()),
                current: true,
            }],
        }
    }

    #[test]
    fn an_incident_shows_its_alert_transitions_and_components() {
        let now = Utc.with_ymd_and_hms(2025, 3, 4, 10, 10, 0).unwrap();
        let p = TimelinePage::new(&timeline(EntityKind::Incident), now);
        assert_eq!((p.kind, p.name.as_str()), ("incident", "API down"));
        assert_eq!((p.status.as_str(), p.status_class), ("identified", "bad"));
        assert_eq!(p.alert, "open (high)");
        // Only web links are offered.
        assert_eq!(p.link, None);
        assert_eq!(p.transitions[0].alert, "closed → open:high");
        assert_eq!(p.transitions[0].change, "investigating");
        assert_eq!(p.transitions[1].alert, "open:high");
        assert_eq!(p.transitions[1].change, "investigating → identified");
        assert_eq!(p.links_title, "Components");
        assert_eq!(p.links[0].href, "/components/p1/c%201");
        assert_eq!((p.links[0].name.as_str(), p.links[0].class), ("c 1", "bad"));
        assert!(p.chart.is_some());
        assert_eq!(p.events.len(), 1);
    }

    #[test]
    fn a_component_links_its_incidents_and_a_closed_alert_says_so() {
        let mut t = timeline(EntityKind::Component);
        t.entity.alert_open = false;
        t.entity.link = Some("https://status.example.com/x".into());
        let p = TimelinePage::new(&t, Utc::now());
        assert_eq!(p.alert, "closed");
        assert_eq!(p.links_title, "Incidents");
        assert_eq!(p.links[0].href, "/incidents/p1/c%201");
        assert_eq!(p.link.as_deref(), Some("https://status.example.com/x"));
    }
}
