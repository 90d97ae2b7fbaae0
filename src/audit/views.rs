//! What the templates show: rows turned into display strings and links.
//! HTML escaping is left to the templates (askama escapes every `{{ }}`);
//! here only URL path segments are percent-encoded.

use askama::Template;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use super::chart::{self, Chart};
use crate::redact;
use crate::rules::domain::Outcome;
use crate::rules::time::parse_time;
use crate::storage::audit::{
    AttemptRow, Detail, EventRow, Filters, HeldResolveRow, LinkRow, OpenAlertRow, OutboxRow,
    RoundRow, Timeline, TransitionRow,
};

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

fn entity_href(kind: &str, page: Option<&str>, id: Option<&str>) -> Option<String> {
    let (page, id) = (page?, id?);
    match kind {
        "incident" => Some(format!("/incidents/{}/{}", seg(page), seg(id))),
        "component" => Some(format!("/components/{}/{}", seg(page), seg(id))),
        _ => None,
    }
}

pub struct EventView {
    pub href: String,
    pub received: String,
    pub source: String,
    pub kind: String,
    pub page_id: Option<String>,
    /// The page as shown: configured name, else learned, else its id.
    pub page: String,
    pub entity: String,
    pub entity_href: Option<String>,
    pub transition: String,
    pub outcome: String,
    pub outcome_class: &'static str,
    pub reason: String,
    pub emitted: Option<String>,
    /// Each event it decided: what (naming another entity or destination
    /// when it is not the webhook's own or the default), and where its
    /// delivery stands.
    pub deliveries: Vec<(String, DeliveryView)>,
}

/// Where an event for ITOC360 stands, as shown.
pub struct DeliveryView {
    /// pending | delivered | dead | skipped (also the CSS class).
    pub state: String,
    pub label: String,
    pub error: Option<String>,
    /// Where the Redeliver button posts, beside a dead event.
    pub retry: Option<String>,
}

impl DeliveryView {
    fn new(state: &str, attempts: i64, error: Option<String>, outbox_id: Option<i64>) -> Self {
        DeliveryView {
            state: state.to_owned(),
            label: if attempts > 1 {
                format!("{state} after {attempts} attempts")
            } else {
                state.to_owned()
            },
            error,
            retry: outbox_id
                .filter(|_| state == "dead")
                .map(|id| format!("/api/outbox/{id}/retry")),
        }
    }
}

fn outcome_class(outcome: &str) -> &'static str {
    match Outcome::parse(outcome) {
        Some(Outcome::Triggered | Outcome::Retriggered) => "bad",
        Some(Outcome::Resolved) => "ok",
        Some(Outcome::Unrecognized | Outcome::Rejected | Outcome::Stale) => "warn",
        _ => "quiet",
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
            kind: r.kind.clone(),
            page_id: r.page_id.clone(),
            page: r.page_id.clone().unwrap_or_else(|| "—".into()),
            entity: r
                .entity_name
                .clone()
                .or_else(|| r.entity_id.clone())
                .unwrap_or_else(|| "—".into()),
            entity_href: entity_href(&r.kind, r.page_id.as_deref(), r.entity_id.as_deref()),
            transition,
            outcome: r.outcome.clone(),
            outcome_class: outcome_class(&r.outcome),
            reason: r.reason.clone(),
            emitted: match (&r.action, &r.priority) {
                (Some(a), Some(p)) => Some(format!("{a} ({p})")),
                (Some(a), None) => Some(a.clone()),
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
                    if e.destination != "default" {
                        what.push_str(&format!(" → {}", e.destination));
                    }
                    let view = DeliveryView::new(
                        &e.state,
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

impl EventView {
    fn named(mut self, names: &PageNames) -> Self {
        if let Some(id) = &self.page_id {
            self.page = names.label(id);
        }
        self
    }
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
        let kinds = ["incident", "component", "page", "unknown", "invalid"]
            .into_iter()
            .map(|k| (k, chosen(&filters.kind, k)))
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

pub struct OutboxView {
    pub id: i64,
    pub created: String,
    pub action: String,
    pub priority: String,
    pub title: String,
    pub delivery: DeliveryView,
    pub attempts: i64,
    pub webhook_href: String,
    /// `default` or a route's name.
    pub destination: String,
}

impl From<&OutboxRow> for OutboxView {
    fn from(o: &OutboxRow) -> Self {
        OutboxView {
            id: o.id,
            created: when(&o.created_at),
            action: o.action.clone(),
            priority: o.priority.clone(),
            title: o.title.clone(),
            delivery: {
                let mut d =
                    DeliveryView::new(&o.state, o.attempts, o.last_error.clone(), Some(o.id));
                let now = crate::rules::time::format_time(chrono::Utc::now());
                if let (Some(until), Some(by)) = (&o.held_until, &o.held_by) {
                    if o.state == "pending" && until.as_str() > now.as_str() {
                        d.label = format!("held until {} ({by})", when(until));
                    } else if o.state == "cancelled" {
                        d.label = format!("cancelled while held ({by})");
                    }
                }
                d
            },
            attempts: o.attempts,
            webhook_href: format!("/events/{}", seg(&o.webhook_id)),
            destination: o.destination.clone(),
        }
    }
}

pub struct AttemptView {
    pub outbox_id: i64,
    pub started: String,
    pub latency: String,
    pub status: String,
    pub result: String,
    pub error: String,
}

impl From<&AttemptRow> for AttemptView {
    fn from(a: &AttemptRow) -> Self {
        // A redelivery asked for by hand is no attempt: nothing was sent.
        let by_hand = a.result == "requeued";
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
            result: a.result.clone(),
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
    pub fn new(d: &Detail, names: &PageNames) -> Self {
        let e = &d.event;
        let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "—".into());
        let fields = vec![
            ("Received", when(&e.received_at)),
            ("Source", e.source.clone()),
            ("Kind", e.kind.clone()),
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
            outbox: d.outbox.iter().map(OutboxView::from).collect(),
            attempts: d.attempts.iter().map(AttemptView::from).collect(),
        }
    }
}

pub struct TransitionView {
    pub at: String,
    pub change: String,
    pub class: &'static str,
    pub alert: String,
    pub outcome: String,
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
                t.alert_after.clone()
            } else {
                format!("{} → {}", t.alert_before, t.alert_after)
            },
            outcome: t.outcome.clone(),
            reason: t.reason.clone(),
            webhook_href: format!("/events/{}", seg(&t.webhook_id)),
        }
    }
}

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
    pub fn new(t: &Timeline, now: chrono::DateTime<chrono::Utc>) -> Self {
        let other = if t.kind == "incident" {
            "component"
        } else {
            "incident"
        };
        let links = t
            .links
            .iter()
            .map(|l: &LinkRow| LinkView {
                href: entity_href(other, Some(&t.page_id), Some(&l.id)).unwrap_or_default(),
                name: l.name.clone().unwrap_or_else(|| l.id.clone()),
                status: l.status.clone().unwrap_or_else(|| "—".into()),
                class: chart::status_class(l.status.as_deref().unwrap_or("")),
                current: l.current,
            })
            .collect();
        let status = t.entity.status.clone().unwrap_or_else(|| "—".into());
        TimelinePage {
            kind: t.kind,
            name: t.entity.name.clone().unwrap_or_else(|| t.entity_id.clone()),
            entity_id: t.entity_id.clone(),
            page_id: t.page_id.clone(),
            source: t.entity.source.clone(),
            status_class: chart::status_class(&status),
            status,
            alert: match (t.entity.alert_open, &t.entity.alert_priority) {
                (true, Some(p)) => format!("open ({p})"),
                (true, None) => "open".into(),
                (false, _) => "closed".into(),
            },
            link: t
                .entity
                .link
                .clone()
                .filter(|l| l.starts_with("https://") || l.starts_with("http://")),
            chart: chart::build(&t.transitions, &t.events, now),
            transitions: t.transitions.iter().map(TransitionView::from).collect(),
            events: t.events.iter().map(OutboxView::from).collect(),
            links_title: if t.kind == "incident" {
                "Components"
            } else {
                "Incidents"
            },
            links,
        }
    }
}

#[derive(Template)]
#[template(path = "reconcile.html", config = "src/audit/askama.toml")]
pub struct ReconcilePage {
    /// Filters naming a component or group their page does not have.
    pub unknown: Vec<String>,
    /// Each configured page's health.
    pub health: Vec<HealthView>,
    pub rounds: Vec<RoundView>,
    /// Configured pages with no round recorded yet.
    pub waiting: Vec<String>,
    pub banners: Vec<String>,
}

/// One page's health, as shown.
pub struct HealthView {
    pub page_id: String,
    pub state: &'static str,
    /// `ok`, `bad` or `warn` (unknown): the pill's class.
    pub class: &'static str,
    pub since: String,
    pub last_webhook: String,
    pub last_good: String,
    pub why: String,
}

impl HealthView {
    pub fn new(
        page_id: &str,
        e: &crate::rules::health::Evidence,
        h: &crate::rules::health::Health,
    ) -> HealthView {
        use crate::rules::health::HealthState;
        let shown = |t: Option<chrono::DateTime<chrono::Utc>>| {
            t.map_or_else(
                || "never".to_owned(),
                |t| when(&crate::rules::time::format_time(t)),
            )
        };
        HealthView {
            page_id: page_id.to_owned(),
            state: h.state.as_str(),
            class: match h.state {
                HealthState::Ok => "ok",
                HealthState::Unknown => "warn",
                _ => "bad",
            },
            since: h.since.map(|t| shown(Some(t))).unwrap_or_default(),
            last_webhook: if e.webhooks {
                shown(e.last_webhook_at)
            } else {
                "not expected (polling only)".to_owned()
            },
            last_good: shown(e.last_ok_at),
            why: h.why.clone(),
        }
    }
}

pub struct RoundView {
    pub page_id: String,
    pub source: String,
    pub started: String,
    pub duration_ms: i64,
    pub ok: bool,
    pub result: String,
    pub error: String,
    pub incidents: i64,
    pub components: i64,
    pub heals: i64,
}

impl ReconcilePage {
    pub fn new(rounds: &[RoundRow], pages: &[String], banners: Vec<String>) -> Self {
        ReconcilePage {
            unknown: Vec::new(),
            health: Vec::new(),
            waiting: pages
                .iter()
                .filter(|p| !rounds.iter().any(|r| &r.page_id == *p))
                .cloned()
                .collect(),
            rounds: rounds
                .iter()
                .map(|r| RoundView {
                    page_id: r.page_id.clone(),
                    source: r.source.clone(),
                    started: when(&r.started_at),
                    duration_ms: r.duration_ms,
                    ok: r.result == "ok",
                    result: r.result.clone(),
                    error: r.error.clone().unwrap_or_default(),
                    incidents: r.incidents,
                    components: r.components,
                    heals: r.heals,
                })
                .collect(),
            banners,
        }
    }
}

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

pub struct ClosingView {
    pub kind: String,
    pub name: String,
    pub href: String,
    pub destination: String,
    pub until: String,
}

pub struct AlertView {
    pub kind: String,
    /// The page's name, else its id.
    pub page: String,
    pub name: String,
    pub href: String,
    pub status: String,
    pub priority: String,
    pub since: String,
    /// The latest event sent (or to be sent) for it.
    pub delivery: Option<DeliveryView>,
    pub last_action: String,
    /// Where ITOC360 has it open; a destination no longer configured is
    /// marked orphaned (its next events cannot be sent); what is held
    /// there says until when.
    pub at: String,
    /// The add form of `/silences`, prefilled for this alert.
    pub silence_href: String,
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
        let at = |list: &Option<String>| match list.as_deref() {
            None | Some("") => "— (filtered: not open in ITOC360)".to_owned(),
            Some(list) => list
                .split(", ")
                .map(|label| {
                    let (d, held) = match label.split_once(" (") {
                        Some((d, rest)) => (d, format!(" ({}", shown_times(rest))),
                        None => (label, String::new()),
                    };
                    if configured.iter().any(|c| c == d) {
                        format!("{d}{held}")
                    } else {
                        format!("{d} (orphaned){held}")
                    }
                })
                .collect::<Vec<_>>()
                .join(", "),
        };
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
                    kind: r.kind.clone(),
                    page: names.label(&r.page_id),
                    name: r.name.clone().unwrap_or_else(|| r.entity_id.clone()),
                    href: entity_href(&r.kind, Some(&r.page_id), Some(&r.entity_id))
                        .unwrap_or_default(),
                    status: r.status.clone().unwrap_or_default(),
                    priority: r.priority.clone().unwrap_or_default(),
                    since: r.open_since.as_deref().map(when).unwrap_or_default(),
                    delivery: r.state.as_deref().map(|state| {
                        let error = match (r.last_status, &r.last_error) {
                            (_, Some(e)) if state != "delivered" => Some(e.clone()),
                            (Some(code), None) if state != "delivered" => {
                                Some(format!("HTTP {code}"))
                            }
                            _ => None,
                        };
                        DeliveryView::new(state, r.attempts.unwrap_or(0), error, r.outbox_id)
                    }),
                    last_action: r.action.clone().unwrap_or_default(),
                    at: at(&r.destinations),
                    silence_href: silence_href(r),
                })
                .collect(),
            closing: closing
                .iter()
                .map(|c| ClosingView {
                    kind: c.kind.clone(),
                    name: c.name.clone().unwrap_or_else(|| c.entity_id.clone()),
                    href: entity_href(&c.kind, Some(&c.page_id), Some(&c.entity_id))
                        .unwrap_or_default(),
                    destination: c.destination.clone(),
                    until: when(&c.held_until),
                })
                .collect(),
            banners,
        }
    }
}

#[derive(Template)]
#[template(path = "error.html", config = "src/audit/askama.toml")]
pub struct ErrorPage {
    pub title: String,
    pub message: String,
}

#[derive(Template)]
#[template(path = "silences.html", config = "src/audit/askama.toml")]
pub struct SilencesPage {
    pub silences: Vec<SilenceView>,
    /// The add form, prefilled from the query (the Silence links on
    /// `/alerts`).
    pub form: SilenceForm,
}

#[derive(Debug, Default, serde::Deserialize)]
pub struct SilenceForm {
    #[serde(default)]
    pub page: String,
    #[serde(default)]
    pub component: String,
    #[serde(default)]
    pub incident: String,
    #[serde(default)]
    pub route: String,
}

pub struct SilenceView {
    pub id: String,
    /// active | pending | ended | expired
    pub state: &'static str,
    pub matchers: String,
    pub from: String,
    pub until: String,
    pub reason: String,
    pub by: String,
    pub can_expire: bool,
}

impl SilencesPage {
    pub fn new(
        all: &[crate::storage::silences::SilenceRecord],
        form: SilenceForm,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Self {
        let t = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%d %H:%M:%SZ").to_string();
        SilencesPage {
            silences: all
                .iter()
                .map(|l| {
                    let s = &l.silence;
                    let state = s.state(now);
                    SilenceView {
                        id: s.id.clone(),
                        state,
                        matchers: s.matchers(),
                        from: t(s.starts_at),
                        until: t(s.end()),
                        reason: s.reason.clone(),
                        by: match &l.expired_by {
                            Some(e) => {
                                format!("{} at {}; expired by {e}", l.created_by, t(l.created_at))
                            }
                            None => format!("{} at {}", l.created_by, t(l.created_at)),
                        },
                        can_expire: s.end() > now,
                    }
                })
                .collect(),
            form,
        }
    }
}

/// Stored times inside a held label, shown like every other time.
fn shown_times(rest: &str) -> String {
    match rest.rsplit_once(' ') {
        Some((words, t)) => {
            let t = t.trim_end_matches(')');
            format!("{words} {})", when(t))
        }
        None => rest.to_owned(),
    }
}

/// `/silences?page=…&component=…` (or `incident=…`) for an open alert.
fn silence_href(r: &OpenAlertRow) -> String {
    let key = if r.kind == "incident" {
        "incident"
    } else {
        "component"
    };
    let q =
        serde_urlencoded::to_string([("page", r.page_id.as_str()), (key, r.entity_id.as_str())])
            .unwrap_or_default();
    format!("/silences?{q}")
}
