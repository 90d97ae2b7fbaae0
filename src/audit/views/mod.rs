//! What the templates show: each page's rows turned into display strings,
//! classes and links, one module per page. HTML escaping is left to the
//! templates (askama escapes every `{{ }}`); here only URL path segments
//! are percent-encoded. Nothing here reads the clock: a page that shows
//! what is held "now" is given `now`.

mod alerts;
mod event;
mod events;
mod reconcile;
mod silences;
mod timeline;

pub use alerts::AlertsPage;
pub use event::EventPage;
pub use events::{EventView, EventsPage};
pub use reconcile::{HealthView, ReconcilePage};
pub use silences::{SilenceForm, SilencesPage};
pub use timeline::TimelinePage;

use askama::Template;
use chrono::{DateTime, Utc};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use crate::rules::domain::EntityKind;
use crate::rules::time::parse_time;
use crate::storage::audit::OutboxRow;
use crate::storage::outbox::State;

/// Everything but RFC 3986's unreserved characters is encoded.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// A path segment, percent-encoded (ids come from payloads).
pub fn seg(s: &str) -> String {
    utf8_percent_encode(s, SEGMENT).to_string()
}

/// `2025-03-04 10:15:02 UTC` for a stored time.
pub fn when(t: &str) -> String {
    parse_time(t).map_or_else(
        || t.to_owned(),
        |t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
    )
}

/// An entity's timeline page; a page alert has none.
fn entity_href(kind: EntityKind, page: &str, id: &str) -> Option<String> {
    match kind {
        EntityKind::Incident => Some(format!("/incidents/{}/{}", seg(page), seg(id))),
        EntityKind::Component => Some(format!("/components/{}/{}", seg(page), seg(id))),
        EntityKind::Page => None,
    }
}

/// Where an event for ITOC360 stands, as shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryView {
    /// pending | delivered | dead | skipped | cancelled (also the CSS class).
    pub state: &'static str,
    pub label: String,
    pub error: Option<String>,
    /// Where the Redeliver button posts, beside a dead event.
    pub retry: Option<String>,
}

impl DeliveryView {
    fn new(state: State, attempts: i64, error: Option<String>, outbox_id: Option<i64>) -> Self {
        DeliveryView {
            state: state.as_str(),
            label: if attempts > 1 {
                format!("{} after {attempts} attempts", state.as_str())
            } else {
                state.as_str().to_owned()
            },
            error,
            retry: outbox_id
                .filter(|_| state == State::Dead)
                .map(|id| format!("/api/outbox/{id}/retry")),
        }
    }
}

/// Page ids and the names shown for them (docs/ROUTING.md, "Page names").
#[derive(Debug, Clone, Default)]
pub struct PageNames(pub Vec<(String, String)>);

impl PageNames {
    /// `page_id`'s name, else the id itself.
    pub fn label(&self, page_id: &str) -> String {
        self.0
            .iter()
            .find(|(id, _)| id == page_id)
            .map_or_else(|| page_id.to_owned(), |(_, name)| name.clone())
    }
}

/// An outbox row, on an event's page and an entity's timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxView {
    pub id: i64,
    pub created: String,
    pub action: &'static str,
    pub priority: &'static str,
    pub title: String,
    pub delivery: DeliveryView,
    pub attempts: i64,
    pub webhook_href: String,
    /// `default` or a route's name.
    pub destination: String,
}

impl OutboxView {
    /// The row as shown at `now`: a hold still running says until when.
    pub fn new(o: &OutboxRow, now: DateTime<Utc>) -> Self {
        let mut delivery = DeliveryView::new(o.state, o.attempts, o.last_error.clone(), Some(o.id));
        if let (Some(until), Some(by)) = (&o.held_until, &o.held_by) {
            let running = parse_time(until).is_some_and(|u| u > now);
            match o.state {
                State::Pending if running => {
                    delivery.label = format!("held until {} ({by})", when(until));
                }
                State::Cancelled => {
                    delivery.label = format!("cancelled while held ({by})");
                }
                _ => {}
            }
        }
        OutboxView {
            id: o.id,
            created: when(&o.created_at),
            action: o.action.as_str(),
            priority: o.priority.as_str(),
            title: o.title.clone(),
            delivery,
            attempts: o.attempts,
            webhook_href: format!("/events/{}", seg(&o.webhook_id)),
            destination: o.destination.clone(),
        }
    }
}

#[derive(Template)]
#[template(path = "error.html", config = "src/audit/askama.toml")]
pub struct ErrorPage {
    pub title: String,
    pub message: String,
}

#[cfg(test)]
pub(crate) mod fixtures {
    //! Rows as storage hands them over, for the views' tests.

    use crate::rules::domain::{Action, Outcome, Priority};
    use crate::rules::plan::BodyKind;
    use crate::storage::audit::{EventRow, OutboxRow};
    use crate::storage::outbox::State;

    pub fn row() -> EventRow {
        EventRow {
            id: "w 1".into(),
            received_at: "2025-03-04T10:00:00.000Z".into(),
            source: "statuspage".into(),
            origin: "webhook".into(),
            kind: BodyKind::Incident,
            page_id: Some("p1".into()),
            entity_id: Some("i1".into()),
            entity_name: Some("API down".into()),
            old_status: Some("investigating".into()),
            new_status: Some("identified".into()),
            impact: Some("major".into()),
            event_at: None,
            outcome: Outcome::Triggered,
            reason: "opened".into(),
            action: Some(Action::Trigger),
            priority: Some(Priority::High),
            events: Vec::new(),
        }
    }

    pub fn outbox(id: i64, action: Action, state: State) -> OutboxRow {
        OutboxRow {
            id,
            webhook_id: format!("w{id}"),
            created_at: "2025-03-04T10:00:00.000Z".into(),
            fingerprint: "statuspage:p:incident:i".into(),
            action,
            priority: Priority::High,
            title: "API down".into(),
            state,
            attempts: 1,
            last_status: Some(202),
            last_error: None,
            finished_at: None,
            destination: "default".into(),
            held_until: None,
            held_by: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::domain::Action;
    use crate::rules::route::HeldBy;
    use chrono::TimeZone;

    #[test]
    fn segments_and_times() {
        assert_eq!(seg("a b/c?d"), "a%20b%2Fc%3Fd");
        assert_eq!(seg("x-1_2.3~"), "x-1_2.3~");
        assert_eq!(when("2025-03-04T10:15:02.000Z"), "2025-03-04 10:15:02 UTC");
        assert_eq!(when("not a time"), "not a time");
        assert_eq!(
            entity_href(EntityKind::Incident, "p 1", "i/2").as_deref(),
            Some("/incidents/p%201/i%2F2")
        );
        assert_eq!(
            entity_href(EntityKind::Component, "p", "c").as_deref(),
            Some("/components/p/c")
        );
        assert_eq!(entity_href(EntityKind::Page, "p", "x"), None);
    }

    #[test]
    fn a_dead_event_offers_redelivery_and_counts_attempts() {
        let d = DeliveryView::new(State::Dead, 3, Some("HTTP 500".into()), Some(7));
        assert_eq!(d.state, "dead");
        assert_eq!(d.label, "dead after 3 attempts");
        assert_eq!(d.retry.as_deref(), Some("/api/outbox/7/retry"));
        let d = DeliveryView::new(State::Delivered, 1, None, Some(7));
        assert_eq!((d.label.as_str(), d.retry), ("delivered", None));
    }

    #[test]
    fn a_hold_is_shown_while_it_runs_and_a_cancelled_one_says_why() {
        let now = Utc.with_ymd_and_hms(2025, 3, 4, 10, 1, 0).unwrap();
        let mut o = fixtures::outbox(1, Action::Trigger, State::Pending);
        o.held_until = Some("2025-03-04T10:02:00.000Z".into());
        o.held_by = Some(HeldBy::PageAfter);
        let v = OutboxView::new(&o, now);
        assert_eq!(
            v.delivery.label,
            "held until 2025-03-04 10:02:00 UTC (page_after_secs)"
        );
        assert_eq!((v.action, v.priority), ("trigger", "high"));
        assert_eq!(v.webhook_href, "/events/w1");
        // Its time has come: no longer "held".
        let later = Utc.with_ymd_and_hms(2025, 3, 4, 10, 3, 0).unwrap();
        assert_eq!(OutboxView::new(&o, later).delivery.label, "pending");
        o.state = State::Cancelled;
        o.held_by = Some(HeldBy::Silence("s1".into()));
        assert_eq!(
            OutboxView::new(&o, now).delivery.label,
            "cancelled while held (silence s1)"
        );
    }

    #[test]
    fn page_names_fall_back_to_the_id() {
        let n = PageNames(vec![("p1".into(), "GitHub".into())]);
        assert_eq!(n.label("p1"), "GitHub");
        assert_eq!(n.label("p2"), "p2");
    }
}
