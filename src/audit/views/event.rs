//! `/events/{id}`: one webhook, its fields, its body (redacted) and every
//! event it decided with each delivery attempt.

use askama::Template;
use chrono::{DateTime, Utc};

use super::{EventView, OutboxView, PageNames, when};
use crate::redact;
use crate::storage::audit::{AttemptRow, Detail};
use crate::storage::outbox::Tried;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptView {
    pub outbox_id: i64,
    pub started: String,
    pub latency: String,
    pub status: String,
    pub result: &'static str,
    pub error: String,
}

impl From<&AttemptRow> for AttemptView {
    fn from(a: &AttemptRow) -> Self {
        // A redelivery asked for by hand is no attempt: nothing was sent.
        let by_hand = a.result == Tried::Requeued;
        AttemptView {
            outbox_id: a.outbox_id,
            started: when(&a.started_at),
            latency: if by_hand {
                "—".into()
            } else {
                format!("{} ms", a.latency_ms)
            },
            status: match a.http_status {
                _ if by_hand => "—".into(),
                Some(s) => s.to_string(),
                None => "no answer".into(),
            },
            result: a.result.as_str(),
            error: match &a.requested_by {
                Some(by) if by_hand => format!("redelivered by {by}"),
                _ => a.error.clone().unwrap_or_default(),
            },
        }
    }
}

#[derive(Template)]
#[template(path = "event.html", config = "src/audit/askama.toml")]
pub struct EventPage {
    pub id: String,
    pub event: EventView,
    pub fields: Vec<(&'static str, String)>,
    pub body: String,
    pub outbox: Vec<OutboxView>,
    pub attempts: Vec<AttemptView>,
}

impl EventPage {
    pub fn new(d: &Detail, names: &PageNames, now: DateTime<Utc>) -> Self {
        let e = &d.event;
        let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "—".into());
        let fields = vec![
            ("Received", when(&e.received_at)),
            ("Source", e.source.clone()),
            ("Kind", e.kind.as_str().to_owned()),
            (
                "Page",
                e.page_id
                    .as_deref()
                    .map_or_else(|| "—".into(), |p| names.label(p)),
            ),
            ("Page id", opt(&e.page_id)),
            ("Entity id", opt(&e.entity_id)),
            ("Name", opt(&e.entity_name)),
            ("Event id", opt(&d.event_id)),
            ("Status before", opt(&e.old_status)),
            ("Status", opt(&e.new_status)),
            ("Impact", opt(&e.impact)),
            (
                "Event time",
                e.event_at.as_deref().map_or_else(|| "—".into(), when),
            ),
            ("From", opt(&d.remote_addr)),
            ("Size", format!("{} bytes", d.body_bytes)),
        ];
        EventPage {
            id: e.id.clone(),
            event: EventView::from(e).named(names),
            fields,
            body: redact::body_for_display(&d.body),
            outbox: d.outbox.iter().map(|o| OutboxView::new(o, now)).collect(),
            attempts: d.attempts.iter().map(AttemptView::from).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{outbox, row};
    use super::*;
    use crate::rules::domain::Action;
    use crate::storage::outbox::State;
    use chrono::TimeZone;

    fn attempt(result: Tried, http_status: Option<i64>) -> AttemptRow {
        AttemptRow {
            outbox_id: 1,
            started_at: "2025-03-04T10:00:01.000Z".into(),
            latency_ms: 42,
            http_status,
            result,
            error: Some("connection refused".into()),
            requested_by: Some("alice".into()),
        }
    }

    #[test]
    fn attempts_show_what_was_sent_and_a_redelivery_by_hand_sends_nothing() {
        let a = AttemptView::from(&attempt(Tried::Retry, None));
        assert_eq!(
            (
                a.latency.as_str(),
                a.status.as_str(),
                a.result,
                a.error.as_str()
            ),
            ("42 ms", "no answer", "retry", "connection refused")
        );
        let a = AttemptView::from(&attempt(Tried::Delivered, Some(202)));
        assert_eq!(a.status, "202");
        let a = AttemptView::from(&attempt(Tried::Requeued, None));
        assert_eq!(
            (a.latency.as_str(), a.status.as_str(), a.error.as_str()),
            ("—", "—", "redelivered by alice")
        );
    }

    #[test]
    fn the_page_lists_fields_masks_the_body_and_names_the_page() {
        let d = Detail {
            event: row(),
            event_id: None,
            remote_addr: Some("10.0.0.1".into()),
            body_bytes: 64,
            body: r#"{"meta":{"unsubscribe":"https://x/secret"},"page":{"id":"p1"}}"#.into(),
            outbox: vec![outbox(1, Action::Trigger, State::Delivered)],
            attempts: vec![attempt(Tried::Delivered, Some(202))],
        };
        let now = Utc.with_ymd_and_hms(2025, 3, 4, 11, 0, 0).unwrap();
        let names = PageNames(vec![("p1".into(), "GitHub".into())]);
        let p = EventPage::new(&d, &names, now);
        let field = |k: &str| p.fields.iter().find(|(n, _)| *n == k).unwrap().1.clone();
        assert_eq!(field("Kind"), "incident");
        assert_eq!(field("Page"), "GitHub");
        assert_eq!(field("Event id"), "—");
        assert_eq!(field("Size"), "64 bytes");
        assert!(!p.body.contains("secret"), "{}", p.body);
        assert_eq!(p.event.page, "GitHub");
        assert_eq!((p.outbox.len(), p.attempts.len()), (1, 1));
    }
}
