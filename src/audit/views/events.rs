//! `/events`: the audit log, one line per webhook.

use askama::Template;

use super::{DeliveryView, PageNames, entity_href, seg, when};
use crate::rules::domain::{EntityKind, Outcome};
use crate::rules::plan::BodyKind;
use crate::rules::route::DEFAULT;
use crate::storage::audit::{EventRow, Filters};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventView {
    pub href: String,
    pub received: String,
    pub source: String,
    pub kind: &'static str,
    pub page_id: Option<String>,
    /// The page as shown: configured name, else learned, else its id.
    pub page: String,
    pub entity: String,
    pub entity_href: Option<String>,
    pub transition: String,
    pub outcome: &'static str,
    pub outcome_class: &'static str,
    pub reason: String,
    pub emitted: Option<String>,
    /// Each event it decided: what (naming another entity or destination
    /// when it is not the webhook's own or the default), and where its
    /// delivery stands.
    pub deliveries: Vec<(String, DeliveryView)>,
}

/// A pill's class: paged red, resolved green, a webhook to look at amber.
fn outcome_class(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Triggered | Outcome::Retriggered => "bad",
        Outcome::Resolved => "ok",
        Outcome::Unrecognized | Outcome::Rejected | Outcome::Stale => "warn",
        _ => "quiet",
    }
}

/// The entity a webhook's kind names, if any.
fn entity_kind(kind: BodyKind) -> Option<EntityKind> {
    match kind {
        BodyKind::Incident => Some(EntityKind::Incident),
        BodyKind::Component => Some(EntityKind::Component),
        BodyKind::Page => Some(EntityKind::Page),
        BodyKind::Unknown | BodyKind::Invalid => None,
    }
}

impl From<&EventRow> for EventView {
    fn from(r: &EventRow) -> Self {
        let transition = match (&r.old_status, &r.new_status) {
            (Some(a), Some(b)) if a != b => format!("{a} → {b}"),
            (_, Some(b)) => b.clone(),
            _ => "—".into(),
        };
        EventView {
            href: format!("/events/{}", seg(&r.id)),
            received: when(&r.received_at),
            source: r.source.clone(),
            kind: r.kind.as_str(),
            page_id: r.page_id.clone(),
            page: r.page_id.clone().unwrap_or_else(|| "—".into()),
            entity: r
                .entity_name
                .clone()
                .or_else(|| r.entity_id.clone())
                .unwrap_or_else(|| "—".into()),
            entity_href: match (entity_kind(r.kind), &r.page_id, &r.entity_id) {
                (Some(kind), Some(page), Some(id)) => entity_href(kind, page, id),
                _ => None,
            },
            transition,
            outcome: r.outcome.as_str(),
            outcome_class: outcome_class(r.outcome),
            reason: r.reason.clone(),
            emitted: match (r.action, r.priority) {
                (Some(a), Some(p)) => Some(format!("{a} ({p})")),
                (Some(a), None) => Some(a.to_string()),
                _ => None,
            },
            deliveries: r
                .events
                .iter()
                .map(|e| {
                    let mut what = format!("{} ({})", e.action, e.priority);
                    if r.entity_id.as_deref() != Some(e.entity_id.as_str()) {
                        what.push_str(&format!(" · {} {}", e.kind, e.entity_id));
                    }
                    if e.destination != DEFAULT {
                        what.push_str(&format!(" → {}", e.destination));
                    }
                    let view = DeliveryView::new(
                        e.state,
                        e.attempts,
                        e.last_error.clone(),
                        Some(e.outbox_id),
                    );
                    (what, view)
                })
                .collect(),
        }
    }
}

impl EventView {
    pub(super) fn named(mut self, names: &PageNames) -> Self {
        if let Some(id) = &self.page_id {
            self.page = names.label(id);
        }
        self
    }
}

#[derive(Template)]
#[template(path = "events.html", config = "src/audit/askama.toml")]
pub struct EventsPage {
    pub events: Vec<EventView>,
    pub filters: Filters,
    /// The page filter's choices: id, name shown, chosen.
    pub pages: Vec<(String, String, bool)>,
    pub kinds: Vec<(&'static str, bool)>,
    pub outcomes: Vec<(&'static str, bool)>,
    pub older: Option<String>,
    pub newest: String,
    pub refresh: bool,
    pub refresh_toggle: String,
    pub error: Option<String>,
    /// Likely-quarantine warnings.
    pub banners: Vec<String>,
}

impl EventsPage {
    /// Shows page names, and offers every known page in the filter.
    pub fn with_pages(mut self, names: &PageNames) -> Self {
        self.events = std::mem::take(&mut self.events)
            .into_iter()
            .map(|e| e.named(names))
            .collect();
        let chosen = self.filters.page.as_deref().map(str::trim);
        self.pages = names
            .0
            .iter()
            .map(|(id, name)| {
                let shown = if name == id {
                    id.clone()
                } else {
                    format!("{name} ({id})")
                };
                (id.clone(), shown, chosen == Some(id.as_str()))
            })
            .collect();
        self
    }

    pub fn new(
        events: &[EventRow],
        filters: Filters,
        next: Option<String>,
        refresh: bool,
        error: Option<String>,
    ) -> Self {
        let chosen = |v: &Option<String>, x: &str| v.as_deref() == Some(x);
        let kinds = BodyKind::ALL
            .into_iter()
            .map(|k| (k.as_str(), chosen(&filters.kind, k.as_str())))
            .collect();
        let outcomes = Outcome::ALL
            .into_iter()
            .map(|o| (o.as_str(), chosen(&filters.outcome, o.as_str())))
            .collect();
        let base = filters.without_cursor();
        let older = next.map(|cursor| {
            query_href(
                &Filters {
                    before: Some(cursor),
                    ..base.clone()
                },
                refresh,
            )
        });
        let newest = query_href(&base, refresh);
        let refresh_toggle = query_href(&filters, !refresh);
        EventsPage {
            events: events.iter().map(EventView::from).collect(),
            pages: Vec::new(),
            filters,
            kinds,
            outcomes,
            older,
            newest,
            refresh,
            refresh_toggle,
            error,
            banners: Vec::new(),
        }
    }

    pub fn text(v: &Option<String>) -> &str {
        v.as_deref().unwrap_or("")
    }
}

/// `/events?…` for these filters (empty values dropped).
pub fn query_href(f: &Filters, refresh: bool) -> String {
    let mut pairs: Vec<(&str, String)> = Vec::new();
    for (k, v) in [
        ("page", &f.page),
        ("kind", &f.kind),
        ("outcome", &f.outcome),
        ("q", &f.q),
        ("from", &f.from),
        ("to", &f.to),
        ("before", &f.before),
    ] {
        if let Some(v) = v.as_deref().filter(|v| !v.trim().is_empty()) {
            pairs.push((k, v.to_owned()));
        }
    }
    if let Some(l) = f.limit {
        pairs.push(("limit", l.to_string()));
    }
    if refresh {
        pairs.push(("refresh", "1".into()));
    }
    let q = serde_urlencoded::to_string(&pairs).unwrap_or_default();
    if q.is_empty() {
        "/events".into()
    } else {
        format!("/events?{q}")
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::row;
    use super::*;
    use crate::rules::domain::{Action, Priority};
    use crate::storage::audit::DecidedEvent;
    use crate::storage::outbox::State;

    fn decided(entity: &str, destination: &str, state: State) -> DecidedEvent {
        DecidedEvent {
            webhook_id: "w 1".into(),
            outbox_id: 9,
            kind: EntityKind::Component,
            entity_id: entity.into(),
            destination: destination.into(),
            action: Action::Trigger,
            priority: Priority::Medium,
            state,
            attempts: 2,
            last_error: Some("HTTP 503".into()),
        }
    }

    #[test]
    fn a_line_names_its_entity_transition_and_what_it_sent() {
        let v = EventView::from(&row());
        assert_eq!(v.href, "/events/w%201");
        assert_eq!(v.kind, "incident");
        assert_eq!(v.entity, "API down");
        assert_eq!(v.entity_href.as_deref(), Some("/incidents/p1/i1"));
        assert_eq!(v.transition, "investigating → identified");
        assert_eq!((v.outcome, v.outcome_class), ("triggered", "bad"));
        assert_eq!(v.emitted.as_deref(), Some("trigger (high)"));
        let names = PageNames(vec![("p1".into(), "GitHub".into())]);
        assert_eq!(v.named(&names).page, "GitHub");
    }

    #[test]
    fn each_decided_event_says_what_differs_from_the_webhook() {
        let mut r = row();
        r.events = vec![
            decided("i1", "default", State::Delivered),
            decided("c7", "db-team", State::Dead),
        ];
        let v = EventView::from(&r);
        assert_eq!(v.deliveries[0].0, "trigger (medium)");
        assert_eq!(v.deliveries[0].1.label, "delivered after 2 attempts");
        assert_eq!(
            v.deliveries[1].0,
            "trigger (medium) · component c7 → db-team"
        );
        assert_eq!(
            v.deliveries[1].1.retry.as_deref(),
            Some("/api/outbox/9/retry")
        );
    }

    #[test]
    fn outcomes_are_coloured_and_unknown_bodies_link_nowhere() {
        let mut r = row();
        for (o, class) in [
            (Outcome::Resolved, "ok"),
            (Outcome::Stale, "warn"),
            (Outcome::Unrecognized, "warn"),
            (Outcome::Duplicate, "quiet"),
        ] {
            r.outcome = o;
            assert_eq!(EventView::from(&r).outcome_class, class, "{o}");
        }
        r.kind = BodyKind::Unknown;
        r.new_status = None;
        r.action = None;
        let v = EventView::from(&r);
        assert_eq!(
            (v.entity_href, v.transition.as_str(), v.emitted),
            (None, "—", None)
        );
    }

    #[test]
    fn the_page_offers_every_kind_and_outcome_and_keeps_filters_in_links() {
        let filters = Filters {
            kind: Some("component".into()),
            q: Some("api".into()),
            ..Filters::default()
        };
        let p = EventsPage::new(&[row()], filters, Some("c1".into()), true, None);
        assert_eq!(p.kinds.len(), BodyKind::ALL.len());
        assert_eq!(p.kinds.iter().filter(|(_, sel)| *sel).count(), 1);
        assert!(p.kinds.contains(&("component", true)));
        assert_eq!(p.outcomes.len(), Outcome::ALL.len());
        assert_eq!(
            p.older.as_deref(),
            Some("/events?kind=component&q=api&before=c1&refresh=1")
        );
        assert_eq!(p.newest, "/events?kind=component&q=api&refresh=1");
        assert_eq!(p.refresh_toggle, "/events?kind=component&q=api");
        assert_eq!(query_href(&Filters::default(), false), "/events");
    }
}
