//! `/alerts`: what the bridge believes is open in ITOC360 now, where, and
//! the resolves it holds.

use askama::Template;

use super::{DeliveryView, PageNames, entity_href, when};
use crate::rules::domain::{Action, EntityKind, Priority};
use crate::storage::audit::{AlertDestination, HeldResolveRow, OpenAlertRow};
use crate::storage::outbox::State;

#[derive(Template)]
#[template(path = "alerts.html", config = "src/audit/askama.toml")]
pub struct AlertsPage {
    pub alerts: Vec<AlertView>,
    pub banners: Vec<String>,
    /// Reloads itself every 15 s, like `/events`.
    pub refresh: bool,
    pub refresh_toggle: String,
    /// Resolves held for `resolve_after_secs`.
    pub closing: Vec<ClosingView>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClosingView {
    pub kind: &'static str,
    pub name: String,
    pub href: String,
    pub destination: String,
    pub until: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertView {
    pub kind: &'static str,
    /// The page's name, else its id.
    pub page: String,
    pub name: String,
    pub href: String,
    pub status: String,
    pub priority: &'static str,
    /// The priority pill's class: `bad` for high and critical.
    pub priority_class: &'static str,
    pub since: String,
    /// The latest event sent (or to be sent) for it.
    pub delivery: Option<DeliveryView>,
    pub last_action: &'static str,
    /// Where ITOC360 has it open; a destination no longer configured is
    /// marked orphaned (its next events cannot be sent); what is held
    /// there says until when.
    pub at: String,
    /// The add form of `/silences`, prefilled for this alert.
    pub silence_href: String,
}

/// The destinations that have an alert, as one line.
fn at(destinations: &[AlertDestination], configured: &[String]) -> String {
    if destinations.is_empty() {
        return "— (filtered: not open in ITOC360)".to_owned();
    }
    destinations
        .iter()
        .map(|d| {
            let orphaned = if configured.contains(&d.destination) {
                ""
            } else {
                " (orphaned)"
            };
            let held = match (d.held_action, &d.held_until) {
                (Some(Action::Trigger), Some(u)) => format!(" (held until {})", when(u)),
                (Some(Action::Resolve), Some(u)) => format!(" (resolve held until {})", when(u)),
                _ => String::new(),
            };
            format!("{}{orphaned}{held}", d.destination)
        })
        .collect::<Vec<_>>()
        .join(", ")
}

impl AlertsPage {
    pub fn new(
        rows: &[OpenAlertRow],
        closing: &[HeldResolveRow],
        banners: Vec<String>,
        refresh: bool,
        configured: &[String],
        names: &PageNames,
    ) -> Self {
        AlertsPage {
            refresh,
            refresh_toggle: if refresh {
                "/alerts".into()
            } else {
                "/alerts?refresh=1".into()
            },
            alerts: rows
                .iter()
                .map(|r| AlertView {
                    kind: r.kind.as_str(),
                    page: names.label(&r.page_id),
                    name: r.name.clone().unwrap_or_else(|| r.entity_id.clone()),
                    href: entity_href(r.kind, &r.page_id, &r.entity_id).unwrap_or_default(),
                    status: r.status.clone().unwrap_or_default(),
                    priority: r.priority.map_or("", Priority::as_str),
                    priority_class: match r.priority {
                        Some(Priority::High | Priority::Critical) => "bad",
                        _ => "warn",
                    },
                    since: r.open_since.as_deref().map(when).unwrap_or_default(),
                    delivery: r.state.map(|state| {
                        let error = match (r.last_status, &r.last_error) {
                            _ if state == State::Delivered => None,
                            (_, Some(e)) => Some(e.clone()),
                            (Some(code), None) => Some(format!("HTTP {code}")),
                            (None, None) => None,
                        };
                        DeliveryView::new(state, r.attempts.unwrap_or(0), error, r.outbox_id)
                    }),
                    last_action: r.action.map_or("", Action::as_str),
                    at: at(&r.destinations, configured),
                    silence_href: silence_href(r),
                })
                .collect(),
            closing: closing
                .iter()
                .map(|c| ClosingView {
                    kind: c.kind.as_str(),
                    name: c.name.clone().unwrap_or_else(|| c.entity_id.clone()),
                    href: entity_href(c.kind, &c.page_id, &c.entity_id).unwrap_or_default(),
                    destination: c.destination.clone(),
                    until: when(&c.held_until),
                })
                .collect(),
            banners,
        }
    }
}

/// `/silences?page=…&component=…` (or `incident=…`) for an open alert.
fn silence_href(r: &OpenAlertRow) -> String {
    let key = match r.kind {
        EntityKind::Incident => "incident",
        _ => "component",
    };
    let q =
        serde_urlencoded::to_string([("page", r.page_id.as_str()), (key, r.entity_id.as_str())])
            .unwrap_or_default();
    format!("/silences?{q}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn destination(name: &str, held: Option<(Action, &str)>) -> AlertDestination {
        AlertDestination {
            page_id: "p1".into(),
            kind: EntityKind::Component,
            entity_id: "c1".into(),
            destination: name.into(),
            held_action: held.map(|h| h.0),
            held_until: held.map(|h| h.1.into()),
        }
    }

    fn alert(kind: EntityKind, priority: Option<Priority>, state: Option<State>) -> OpenAlertRow {
        OpenAlertRow {
            kind,
            page_id: "p1".into(),
            entity_id: "c1".into(),
            name: Some("API".into()),
            status: Some("major_outage".into()),
            priority,
            open_since: Some("2025-03-04T10:00:00.000Z".into()),
            action: Some(Action::Trigger),
            state,
            attempts: Some(3),
            last_status: Some(503),
            last_error: None,
            outbox_id: Some(4),
            destinations: vec![
                destination("default", None),
                destination("db", Some((Action::Trigger, "2025-03-04T10:02:00.000Z"))),
                destination("gone", Some((Action::Resolve, "2025-03-04T10:05:00.000Z"))),
            ],
        }
    }

    fn page(rows: &[OpenAlertRow], closing: &[HeldResolveRow]) -> AlertsPage {
        let configured = ["default".to_owned(), "db".to_owned()];
        let names = PageNames(vec![("p1".into(), "GitHub".into())]);
        AlertsPage::new(rows, closing, vec![], false, &configured, &names)
    }

    #[test]
    fn an_alert_names_its_destinations_what_is_held_and_what_is_orphaned() {
        let p = page(
            &[alert(
                EntityKind::Component,
                Some(Priority::High),
                Some(State::Pending),
            )],
            &[],
        );
        let a = &p.alerts[0];
        assert_eq!(
            a.at,
            "default, db (held until 2025-03-04 10:02:00 UTC), \
             gone (orphaned) (resolve held until 2025-03-04 10:05:00 UTC)"
        );
        assert_eq!(
            (a.kind, a.page.as_str(), a.priority, a.priority_class),
            ("component", "GitHub", "high", "bad")
        );
        assert_eq!(a.href, "/components/p1/c1");
        assert_eq!(a.silence_href, "/silences?page=p1&component=c1");
        let d = a.delivery.as_ref().unwrap();
        assert_eq!(
            (d.label.as_str(), d.error.as_deref()),
            ("pending after 3 attempts", Some("HTTP 503"))
        );
        assert_eq!(a.last_action, "trigger");
        assert_eq!(p.refresh_toggle, "/alerts?refresh=1");
    }

    #[test]
    fn a_filtered_alert_is_open_nowhere_and_a_delivered_one_shows_no_error() {
        let mut r = alert(
            EntityKind::Incident,
            Some(Priority::Low),
            Some(State::Delivered),
        );
        r.destinations.clear();
        let p = page(&[r], &[]);
        let a = &p.alerts[0];
        assert_eq!(a.at, "— (filtered: not open in ITOC360)");
        assert_eq!(a.priority_class, "warn");
        assert_eq!(a.delivery.as_ref().unwrap().error, None);
        assert_eq!(a.silence_href, "/silences?page=p1&incident=c1");
        let mut r = alert(EntityKind::Page, None, None);
        r.action = None;
        let a = &page(&[r], &[]).alerts[0];
        assert_eq!(
            (
                a.href.as_str(),
                a.priority,
                a.last_action,
                a.delivery.is_none()
            ),
            ("", "", "", true)
        );
    }

    #[test]
    fn held_resolves_say_when_they_go() {
        let held = HeldResolveRow {
            kind: EntityKind::Incident,
            page_id: "p1".into(),
            entity_id: "i1".into(),
            name: None,
            destination: "default".into(),
            held_until: "2025-03-04T10:05:00.000Z".into(),
        };
        let p = page(&[], &[held]);
        let c = &p.closing[0];
        assert_eq!(
            (c.kind, c.name.as_str(), c.href.as_str(), c.until.as_str()),
            (
                "incident",
                "i1",
                "/incidents/p1/i1",
                "2025-03-04 10:05:00 UTC"
            )
        );
    }
}
