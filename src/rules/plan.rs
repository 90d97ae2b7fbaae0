//! The plan of one event: read → **plan** → write (docs/ARCHITECTURE.md).
//!
//! Storage reads a [`Context`] for the event's entity (its state, whether
//! the event was applied before, the open incidents of a component, the open
//! components an incident lists); [`plan`] turns the event and the context
//! into a [`Plan`] — the webhook row, the entity's new state, every
//! transition, the components an incident raises, the links to record, and
//! the events for ITOC360 with their final wording — and storage writes the
//! plan in one transaction. Pure: no I/O, no clock; the time comes in.

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::rules::alert::{AlertFacts, ComponentFacts};
use crate::rules::decide::Emit;
use crate::rules::domain::{Action, Alert, EntityKind, Origin, Outcome, Priority, fingerprint};
use crate::rules::machine::{self, Prior, Rules, Step};
use crate::rules::page_alert::PageAlertEvent;
use crate::rules::parse::{self, ComponentEvent, IncidentEvent, Parsed};
use crate::rules::platform::{self, Platform};
use crate::rules::route::{self, Hold, Policy, Quiet, View};
use crate::rules::silence::Silence;

/// What a body turned out to be, with the keys that identify its event.
#[derive(Debug, Clone, PartialEq)]
pub enum Reading {
    NotJson(String),
    Unrecognized(String),
    Incident {
        event: IncidentEvent,
        keys: Vec<String>,
    },
    Component {
        event: ComponentEvent,
        keys: Vec<String>,
    },
    /// An alert the bridge raises about a page (`rules::page_alert`).
    PageAlert(PageAlertEvent),
}

/// The webhook row's `kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    Incident,
    Component,
    /// An alert the bridge raised about a page.
    Page,
    /// JSON of a shape nobody has seen.
    Unknown,
    /// Not JSON.
    Invalid,
}

impl BodyKind {
    pub fn as_str(self) -> &'static str {
        match self {
            BodyKind::Incident => "incident",
            BodyKind::Component => "component",
            BodyKind::Page => "page",
            BodyKind::Unknown => "unknown",
            BodyKind::Invalid => "invalid",
        }
    }

    pub const ALL: [BodyKind; 5] = [
        BodyKind::Incident,
        BodyKind::Component,
        BodyKind::Page,
        BodyKind::Unknown,
        BodyKind::Invalid,
    ];

    pub fn parse(s: &str) -> Option<BodyKind> {
        BodyKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

crate::rules::domain::serialize_as_str!(BodyKind);

/// What storage must read for an event: the entity, the keys that would
/// make it a duplicate, and (for an incident) the components it lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lookup<'a> {
    pub kind: EntityKind,
    pub page_id: &'a str,
    pub entity_id: &'a str,
    pub keys: &'a [String],
    /// Distinct, sorted.
    pub components: Vec<&'a str>,
}

impl Reading {
    /// Parses a body that came from `origin`: JSON, then the Statuspage
    /// shape, then the keys. A page alert's shape is the bridge's own: only
    /// a reconcile round makes one, and a webhook of that shape is not
    /// understood.
    /// `shape` is the platform whose webhook the body is; the bridge's own
    /// bodies (heals, page alerts) are in Statuspage's.
    pub fn of(shape: Platform, body: &[u8], origin: &Origin) -> Reading {
        match serde_json::from_slice::<Value>(body) {
            Err(e) => Reading::NotJson(e.to_string()),
            Ok(json) if shape != Platform::Statuspage => match platform::webhook(shape, json) {
                Ok(canonical) => Reading::statuspage(&canonical, body),
                Err(why) => {
                    Reading::Unrecognized(format!("not {} webhook: {why}", shape.article()))
                }
            },
            Ok(json) => match PageAlertEvent::read(&json) {
                Some(alert) if origin.is_reconcile() => Reading::PageAlert(alert),
                Some(_) => Reading::Unrecognized(
                    "a page alert's shape, which only the bridge's own reconcile makes".into(),
                ),
                None => Reading::statuspage(&json, body),
            },
        }
    }

    fn statuspage(json: &Value, body: &[u8]) -> Reading {
        {
            match parse::parse(json) {
                Parsed::Unrecognized { reason } => Reading::Unrecognized(reason),
                Parsed::Incident(event) => Reading::Incident {
                    keys: machine::incident_keys(&event, body),
                    event,
                },
                Parsed::Component(event) => Reading::Component {
                    keys: machine::component_keys(&event, body),
                    event,
                },
            }
        }
    }

    /// What storage reads before planning; nothing for a body that is not
    /// about an entity.
    pub fn lookup(&self) -> Option<Lookup<'_>> {
        match self {
            Reading::NotJson(_) | Reading::Unrecognized(_) => None,
            Reading::Incident { event, keys } => {
                let mut components: Vec<&str> =
                    event.components.iter().map(|c| c.id.as_str()).collect();
                components.sort_unstable();
                components.dedup();
                Some(Lookup {
                    kind: EntityKind::Incident,
                    page_id: &event.page_id,
                    entity_id: &event.incident_id,
                    keys,
                    components,
                })
            }
            Reading::Component { event, keys } => Some(Lookup {
                kind: EntityKind::Component,
                page_id: &event.page_id,
                entity_id: &event.component_id,
                keys,
                components: Vec::new(),
            }),
            Reading::PageAlert(alert) => Some(Lookup {
                kind: EntityKind::Page,
                page_id: &alert.page_id,
                entity_id: &alert.topic,
                keys: &[],
                components: Vec::new(),
            }),
        }
    }

    /// What it is about, in words, for the log: `incident "API down"
    /// (page/id)`.
    pub fn subject(&self) -> String {
        let named = |kind: &str, name: Option<&str>, page: &str, id: &str| match name {
            Some(name) => format!("{kind} {name:?} ({page}/{id})"),
            None => format!("{kind} {page}/{id}"),
        };
        match self {
            Reading::NotJson(_) => "a body that is not JSON".to_owned(),
            Reading::Unrecognized(_) => "a payload of unknown shape".to_owned(),
            Reading::Incident { event: e, .. } => {
                named("incident", e.name.as_deref(), &e.page_id, &e.incident_id)
            }
            Reading::Component { event: e, .. } => {
                named("component", e.name.as_deref(), &e.page_id, &e.component_id)
            }
            Reading::PageAlert(a) => named("page alert", None, &a.page_id, &a.topic),
        }
    }
}

/// An entity as stored: what the machine needs, and when its trouble
/// started (an incident's `started_at`, a component's `alert_opened_at`),
/// for `startsAt`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stored {
    pub prior: Prior,
    pub started_at: Option<DateTime<Utc>>,
}

/// A component whose alert is open, listed by the incident being planned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenComponent {
    pub component_id: String,
    pub name: Option<String>,
    pub stored: Stored,
    /// The destinations that have its alert open, at what priority.
    pub views: Vec<View>,
}

/// What storage read for one event.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Context {
    pub stored: Stored,
    /// The webhook that already applied one of the event's keys.
    pub duplicate_of: Option<String>,
    /// A component's: the highest priority of its associated open incidents.
    pub incident_priority: Option<Priority>,
    /// An incident's: the components it lists whose alerts are open, by id.
    pub open_components: Vec<OpenComponent>,
    /// The destinations that have the entity's alert open, at what priority
    /// (docs/ROUTING.md: each destination keeps its own view).
    pub views: Vec<View>,
    /// The silences in force when the event was received.
    pub silences: Vec<Silence>,
    /// What reconcile learned of the page and of the components involved.
    pub learned: Learned,
}

/// What reconcile learned from the page's `summary.json` (docs/ROUTING.md):
/// its name, and the components involved with their groups.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Learned {
    pub page_name: Option<String>,
    pub components: Vec<ComponentFacts>,
}

impl Learned {
    /// A component as selectors see it: what the event says, completed by
    /// what was learned (a group's name only while the groups agree).
    pub fn facts(&self, id: &str, name: Option<&str>, group_id: Option<&str>) -> ComponentFacts {
        let known = self.components.iter().find(|c| c.id == id);
        let group_id = group_id
            .map(str::to_owned)
            .or_else(|| known.and_then(|k| k.group_id.clone()));
        ComponentFacts {
            id: id.to_owned(),
            name: name
                .map(str::to_owned)
                .or_else(|| known.and_then(|k| k.name.clone())),
            group_name: known
                .filter(|k| k.group_id == group_id)
                .and_then(|k| k.group_name.clone()),
            group_id,
        }
    }
}

/// What the plan does not read from the event or the database.
#[derive(Debug, Clone, Copy)]
pub struct Setting<'a> {
    /// When the webhook was received: the time of an event without one.
    pub now: DateTime<Utc>,
    pub origin: &'a Origin,
    pub rules: Rules,
    /// The default destination's: `DryRun` without an `[itoc360]` token.
    pub delivery: Delivery,
    /// Page names, filters and routes.
    pub policy: &'a Policy,
    /// The platform whose webhook the body is (the bridge's own bodies are
    /// Statuspage's).
    pub shape: Platform,
}

impl Setting<'_> {
    /// The platform named in the titles of `page_id`'s alerts: the page's
    /// configured `kind`, else the body's platform.
    fn platform_of(&self, page_id: &str) -> &'static str {
        self.policy.platform(page_id).unwrap_or(self.shape).label()
    }

    /// Whether events for `destination` are queued or recorded as skipped.
    fn delivery_to(&self, destination: &str) -> Delivery {
        if destination == route::DEFAULT {
            return self.delivery;
        }
        match self.policy.routes.iter().find(|r| r.name == destination) {
            Some(r) if !r.has_token => Delivery::DryRun,
            // A destination no longer configured is queued all the same:
            // the worker marks it dead with the reason, and it can be sent
            // again once the route is back.
            _ => Delivery::Queue,
        }
    }
}

/// What becomes of the events decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Queued for ITOC360.
    Queue,
    /// Recorded as skipped: no token, or a replay.
    DryRun,
}

/// The parsed fields of the webhook row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookFields {
    pub kind: BodyKind,
    pub page_id: Option<String>,
    pub entity_id: Option<String>,
    pub entity_name: Option<String>,
    pub event_id: Option<String>,
    pub old_status: Option<String>,
    pub new_status: Option<String>,
    pub impact: Option<String>,
    pub event_at: Option<DateTime<Utc>>,
}

impl WebhookFields {
    fn of_kind(kind: BodyKind) -> WebhookFields {
        WebhookFields {
            kind,
            page_id: None,
            entity_id: None,
            entity_name: None,
            event_id: None,
            old_status: None,
            new_status: None,
            impact: None,
            event_at: None,
        }
    }
}

/// An incident's columns after an applied event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncidentState {
    pub name: Option<String>,
    pub status: String,
    pub impact: Option<String>,
    pub shortlink: Option<String>,
    pub started_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub backfilled: bool,
    pub alert: Alert,
    pub last_event_at: Option<DateTime<Utc>>,
}

/// A component's columns after an applied event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComponentState {
    pub name: Option<String>,
    pub status: String,
    pub alert: Alert,
    /// When it left operational, while its alert is open.
    pub alert_opened_at: Option<DateTime<Utc>>,
    pub last_event_at: Option<DateTime<Utc>>,
}

/// The entity's new state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NewState {
    Incident(IncidentState),
    Component(ComponentState),
    Page(PageAlertState),
}

/// A page alert's columns after an applied event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageAlertState {
    pub title: String,
    pub status: String,
    pub alert: Alert,
    /// When it opened, while open.
    pub opened_at: Option<DateTime<Utc>>,
    pub last_event_at: DateTime<Utc>,
    /// What it is about (ids), for the next round.
    pub detail: Vec<String>,
}

/// One row of `transitions`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub kind: EntityKind,
    pub entity_id: String,
    pub at: DateTime<Utc>,
    pub from_status: Option<String>,
    pub to_status: String,
    pub before: Alert,
    pub after: Alert,
    pub outcome: Outcome,
    /// Set when another entity's event caused it (a raise).
    pub reason: Option<String>,
}

/// An event for ITOC360, worded, for one destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Draft {
    /// `default` (`[itoc360]`) or a route's name.
    pub destination: String,
    pub kind: EntityKind,
    pub entity_id: String,
    pub fingerprint: String,
    pub action: Action,
    pub priority: Priority,
    pub title: String,
    pub message: String,
    pub status: String,
    pub impact: Option<String>,
    pub link: Option<String>,
    pub starts_at: DateTime<Utc>,
    pub ends_at: Option<DateTime<Utc>>,
    pub delivery: Delivery,
    /// Held until a time (a grace period or a silence), else sent when due.
    pub hold: Option<Hold>,
}

/// What a draft says, as its entity's kind words it.
pub struct Wording {
    pub title: String,
    pub message: String,
    pub status: String,
    pub impact: Option<String>,
    pub link: Option<String>,
}

impl Draft {
    /// The one way a draft is made: `emit` for `alert`, worded, with the
    /// alert's start and, for a resolve, `ended_at` as its end. Routing
    /// addresses it to each destination afterwards (and may hold it).
    fn of(
        alert: &AlertFacts,
        emit: Emit,
        wording: Wording,
        starts_at: DateTime<Utc>,
        ended_at: DateTime<Utc>,
        delivery: Delivery,
    ) -> Draft {
        Draft {
            destination: String::new(),
            kind: alert.kind,
            entity_id: alert.entity_id.clone(),
            fingerprint: fingerprint(alert.kind, &alert.page_id, &alert.entity_id),
            action: emit.action,
            priority: emit.priority,
            title: wording.title,
            message: wording.message,
            status: wording.status,
            impact: wording.impact,
            link: wording.link,
            starts_at,
            ends_at: (emit.action == Action::Resolve).then_some(ended_at),
            delivery,
            hold: None,
        }
    }
}

/// A held outbox row that is no longer wanted, and what to queue instead
/// if it went out meanwhile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cancel {
    pub outbox_id: i64,
    pub fallback: Option<Draft>,
}

/// Everything one event writes, in the order it is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The machine's verdict on the event itself: the webhook's outcome,
    /// reason and emitted event.
    pub step: Step,
    pub summary: WebhookFields,
    /// The entity's new state; `None` when the event is not applied.
    pub state: Option<NewState>,
    /// The keys to record as applied (empty when not applied).
    pub applied_keys: Vec<String>,
    /// An applied incident's components, now its current set.
    pub links: Option<Vec<(String, Option<String>)>>,
    /// Open components an incident raises to a higher priority.
    pub raises: Vec<(String, Priority)>,
    pub transitions: Vec<Transition>,
    pub drafts: Vec<Draft>,
    /// Held events cancelled (a recovery within the grace period, a reopen
    /// while a resolve is held).
    pub cancels: Vec<Cancel>,
    /// Destinations' views that change: open at a priority, or closed.
    pub views: Vec<ViewChange>,
}

/// One destination's view of one alert after the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViewChange {
    pub kind: EntityKind,
    pub entity_id: String,
    pub destination: String,
    /// `None`: closed.
    pub open: Option<Priority>,
    /// The event held for it: its outbox row is this plan's draft for the
    /// same alert and destination.
    pub held: Option<(Action, Hold)>,
}

impl Plan {
    fn recorded_only(step: Step, summary: WebhookFields) -> Plan {
        Plan {
            step,
            summary,
            state: None,
            applied_keys: Vec::new(),
            links: None,
            raises: Vec::new(),
            transitions: Vec::new(),
            drafts: Vec::new(),
            cancels: Vec::new(),
            views: Vec::new(),
        }
    }

    /// The entity's own transition, and its keys recorded as applied.
    fn applied(
        &mut self,
        kind: EntityKind,
        entity_id: &str,
        at: DateTime<Utc>,
        prior: &Prior,
        status: &str,
        keys: &[String],
    ) {
        self.transitions.push(Transition {
            kind,
            entity_id: entity_id.to_owned(),
            at,
            from_status: prior.status.clone(),
            to_status: status.to_owned(),
            before: prior.alert,
            after: self.step.after,
            outcome: self.step.outcome,
            reason: None,
        });
        self.applied_keys = keys.to_vec();
    }

    /// Routes one decision of the machine (`draft`, worded, for no
    /// destination yet) to the destinations that are told, recording each
    /// one's new view. `own`: the decision is the webhook's own, so when
    /// nobody is told, the webhook's outcome says why.
    fn route(
        &mut self,
        draft: Draft,
        alert: &AlertFacts,
        views: &[View],
        own: bool,
        s: &Setting<'_>,
        silences: &[Silence],
    ) {
        let quiet = Quiet {
            now: s.now,
            silences,
        };
        let mut routed = s
            .policy
            .route(alert, draft.action, draft.priority, views, &quiet);
        if s.origin.grouped() && draft.action == Action::Trigger {
            // One of many changes a reconcile round found at once: followed,
            // but opened nowhere new; the page's grouped alert names it.
            let open_at = |d: &str| views.iter().any(|v| v.destination == d);
            let told = routed.sends.len();
            routed.sends.retain(|send| open_at(&send.destination));
            routed.views.retain(|v| open_at(&v.destination));
            if routed.sends.is_empty() && told > 0 && routed.unsent.is_none() {
                routed.unsent = Some((
                    Outcome::Filtered,
                    "grouped: not paged one by one, the page's grouped alert names it".to_owned(),
                ));
            }
        }
        // A page alert's title names its page already.
        let title = match s.policy.page_name_of(alert) {
            Some(name) if alert.kind != EntityKind::Page => format!("[{name}] {}", draft.title),
            _ => draft.title.clone(),
        };
        let worded = |destination: &str, action: Action, priority: Priority, hold| Draft {
            delivery: s.delivery_to(destination),
            destination: destination.to_owned(),
            action,
            priority,
            title: title.clone(),
            hold,
            ..draft.clone()
        };
        for c in &routed.cancels {
            self.cancels.push(Cancel {
                outbox_id: c.outbox_id,
                fallback: c
                    .fallback
                    .map(|(action, priority)| worded(&c.destination, action, priority, None)),
            });
        }
        for send in routed.sends {
            self.drafts.push(worded(
                &send.destination,
                send.action,
                send.priority,
                send.hold,
            ));
        }
        for v in routed.views {
            self.views.push(ViewChange {
                kind: draft.kind,
                entity_id: draft.entity_id.clone(),
                destination: v.destination,
                open: v.open,
                held: v.held,
            });
        }
        if !own {
            return;
        }
        if let Some((outcome, why)) = routed.unsent {
            self.step.outcome = outcome;
            self.step.reason = format!("{why}; {}", self.step.reason);
            self.step.emit = None;
        } else if !routed.notes.is_empty() {
            self.step.reason = format!("{}; {}", self.step.reason, routed.notes.join("; "));
        }
    }
}

/// The whole decision for one event.
pub fn plan(reading: &Reading, ctx: &Context, s: &Setting<'_>) -> Plan {
    match reading {
        Reading::NotJson(e) => Plan::recorded_only(
            unapplied(Outcome::Rejected, format!("body is not JSON: {e}")),
            WebhookFields::of_kind(BodyKind::Invalid),
        ),
        Reading::Unrecognized(reason) => Plan::recorded_only(
            unapplied(
                Outcome::Unrecognized,
                format!("unrecognized payload: {reason}"),
            ),
            WebhookFields::of_kind(BodyKind::Unknown),
        ),
        Reading::Incident { event, keys } => plan_incident(event, keys, ctx, s),
        Reading::Component { event, keys } => plan_component(event, keys, ctx, s),
        Reading::PageAlert(alert) => plan_page_alert(alert, ctx, s),
    }
}

fn plan_incident(ev: &IncidentEvent, keys: &[String], ctx: &Context, s: &Setting<'_>) -> Plan {
    let prior = &ctx.stored.prior;
    let step = marked(
        s.origin,
        machine::incident_step(prior, ev, ctx.duplicate_of.as_deref(), s.rules),
    );
    let status = ev.status.as_ref().map(|st| st.as_str().to_owned());
    let impact = ev.effective_impact().map(|i| i.as_str().to_owned());
    let event_at = ev.event_time();
    let summary = WebhookFields {
        kind: BodyKind::Incident,
        page_id: Some(ev.page_id.clone()),
        entity_id: Some(ev.incident_id.clone()),
        entity_name: ev.name.clone(),
        event_id: ev.latest_update.as_ref().and_then(|u| u.id.clone()),
        old_status: prior.status.clone(),
        new_status: status.clone(),
        impact: impact.clone(),
        event_at,
    };
    let Some(status) = status.filter(|_| step.applied) else {
        return Plan::recorded_only(step, summary);
    };
    let at = event_at.unwrap_or(s.now);
    let started_at = ev.start_time();
    let mut plan = Plan::recorded_only(step.clone(), summary);
    plan.state = Some(NewState::Incident(IncidentState {
        name: ev.name.clone(),
        status: status.clone(),
        impact: impact.clone(),
        shortlink: ev.shortlink.clone(),
        started_at,
        resolved_at: ev.resolved_at,
        backfilled: ev.backfilled,
        alert: step.after,
        last_event_at: event_at,
    }));
    plan.applied(
        EntityKind::Incident,
        &ev.incident_id,
        at,
        prior,
        &status,
        keys,
    );
    plan.links = Some(
        ev.components
            .iter()
            .map(|c| (c.id.clone(), c.name.clone()))
            .collect(),
    );
    let label = match &ev.name {
        Some(name) => format!("{name:?} ({})", ev.incident_id),
        None => ev.incident_id.clone(),
    };
    raise_components(&mut plan, &ev.page_id, ctx, &label, at, s);
    if let Some(emit) = step.emit {
        let name = ev.name.as_deref().unwrap_or(&ev.incident_id);
        let impact_text = impact.as_deref().unwrap_or("unknown impact");
        let mut message = ev
            .latest_update
            .as_ref()
            .and_then(|u| u.body.clone())
            .unwrap_or_else(|| format!("Incident is {status}."));
        if let Some(link) = &ev.shortlink {
            message = format!("{message}\n\n{link}");
        }
        let alert = AlertFacts {
            kind: EntityKind::Incident,
            page_id: ev.page_id.clone(),
            page_name: ctx.learned.page_name.clone(),
            entity_id: ev.incident_id.clone(),
            components: ev
                .components
                .iter()
                .map(|c| ctx.learned.facts(&c.id, c.name.as_deref(), None))
                .collect(),
        };
        let wording = Wording {
            title: format!(
                "{} incident \"{name}\": {status} ({impact_text})",
                s.platform_of(&ev.page_id)
            ),
            message,
            status,
            impact,
            link: ev.shortlink.clone(),
        };
        let draft = Draft::of(
            &alert,
            emit,
            wording,
            started_at.or(ctx.stored.started_at).unwrap_or(at),
            ev.resolved_at.unwrap_or(at),
            s.delivery,
        );
        plan.route(draft, &alert, &ctx.views, true, s, &ctx.silences);
    }
    plan
}

/// Re-triggers the incident's open components at its priority while its
/// alert is open above theirs (`machine::component_lift`): when it opens or
/// rises, and when it newly lists a component, so the order in which
/// Statuspage delivers an action's incident and component webhooks does not
/// change the outcome.
fn raise_components(
    plan: &mut Plan,
    page_id: &str,
    ctx: &Context,
    label: &str,
    at: DateTime<Utc>,
    s: &Setting<'_>,
) {
    let incident_after = plan.step.after;
    for c in &ctx.open_components {
        let Some(lift) = machine::component_lift(&c.stored.prior, incident_after, label) else {
            continue;
        };
        let (Some(emit), Alert::Open(priority)) = (lift.emit, lift.after) else {
            continue;
        };
        let status = c.stored.prior.status.as_deref().unwrap_or("unknown");
        plan.raises.push((c.component_id.clone(), priority));
        plan.transitions.push(Transition {
            kind: EntityKind::Component,
            entity_id: c.component_id.clone(),
            at,
            from_status: Some(status.to_owned()),
            to_status: status.to_owned(),
            before: c.stored.prior.alert,
            after: lift.after,
            outcome: lift.outcome,
            reason: Some(lift.reason),
        });
        let name = c.name.as_deref().unwrap_or(&c.component_id);
        let alert = AlertFacts {
            kind: EntityKind::Component,
            page_id: page_id.to_owned(),
            page_name: ctx.learned.page_name.clone(),
            entity_id: c.component_id.clone(),
            components: vec![ctx.learned.facts(&c.component_id, c.name.as_deref(), None)],
        };
        let wording = Wording {
            title: format!("{} component \"{name}\": {status}", s.platform_of(page_id)),
            message: format!(
                "Component \"{name}\" is {status}; priority raised to {priority} by incident {label}."
            ),
            status: status.to_owned(),
            impact: None,
            link: None,
        };
        let draft = Draft::of(
            &alert,
            emit,
            wording,
            c.stored.started_at.unwrap_or(at),
            at,
            s.delivery,
        );
        plan.route(draft, &alert, &c.views, false, s, &ctx.silences);
    }
}

fn plan_component(ev: &ComponentEvent, keys: &[String], ctx: &Context, s: &Setting<'_>) -> Plan {
    let prior = &ctx.stored.prior;
    let step = marked(
        s.origin,
        machine::component_step(
            prior,
            ev,
            ctx.duplicate_of.as_deref(),
            ctx.incident_priority,
            s.rules,
        ),
    );
    let status = ev.new_status.as_ref().map(|st| st.as_str().to_owned());
    let event_at = ev.created_at;
    let old_status = ev
        .old_status
        .as_ref()
        .map(|st| st.as_str().to_owned())
        .or_else(|| prior.status.clone());
    let summary = WebhookFields {
        kind: BodyKind::Component,
        page_id: Some(ev.page_id.clone()),
        entity_id: Some(ev.component_id.clone()),
        entity_name: ev.name.clone(),
        event_id: ev.update_id.clone(),
        old_status: old_status.clone(),
        new_status: status.clone(),
        impact: None,
        event_at,
    };
    let Some(status) = status.filter(|_| step.applied) else {
        return Plan::recorded_only(step, summary);
    };
    let at = event_at.unwrap_or(s.now);
    // The alert's start is when the component left operational; it stays
    // while the alert is open.
    let opened_at = match (prior.alert, step.after) {
        (Alert::Open(_), Alert::Open(_)) => ctx.stored.started_at,
        (_, Alert::Open(_)) => Some(at),
        _ => None,
    };
    let mut plan = Plan::recorded_only(step.clone(), summary);
    plan.state = Some(NewState::Component(ComponentState {
        name: ev.name.clone(),
        status: status.clone(),
        alert: step.after,
        alert_opened_at: opened_at,
        last_event_at: event_at,
    }));
    plan.applied(
        EntityKind::Component,
        &ev.component_id,
        at,
        prior,
        &status,
        keys,
    );
    if let Some(emit) = step.emit {
        let name = ev.name.as_deref().unwrap_or(&ev.component_id);
        let from = old_status.as_deref().unwrap_or("unknown");
        let alert = AlertFacts {
            kind: EntityKind::Component,
            page_id: ev.page_id.clone(),
            page_name: ctx.learned.page_name.clone(),
            entity_id: ev.component_id.clone(),
            components: vec![ctx.learned.facts(
                &ev.component_id,
                ev.name.as_deref(),
                ev.group_id.as_deref(),
            )],
        };
        let wording = Wording {
            title: format!(
                "{} component \"{name}\": {status}",
                s.platform_of(&ev.page_id)
            ),
            message: format!("Component \"{name}\" changed from {from} to {status}."),
            status,
            impact: None,
            link: None,
        };
        let draft = Draft::of(
            &alert,
            emit,
            wording,
            opened_at.or(ctx.stored.started_at).unwrap_or(at),
            at,
            s.delivery,
        );
        plan.route(draft, &alert, &ctx.views, true, s, &ctx.silences);
    }
    plan
}

/// The machine's step, its reason led by what reconcile found for a heal.
/// A page alert the bridge raised: open at its priority or closed, worded
/// as the round said, routed like any alert.
fn plan_page_alert(ev: &PageAlertEvent, ctx: &Context, s: &Setting<'_>) -> Plan {
    let prior = &ctx.stored.prior;
    let status = ev.status();
    let step = marked(
        s.origin,
        machine::page_step(prior, status, ev.open.then(|| ev.priority())),
    );
    let summary = WebhookFields {
        kind: BodyKind::Page,
        page_id: Some(ev.page_id.clone()),
        entity_id: Some(ev.topic.clone()),
        entity_name: None,
        event_id: None,
        old_status: prior.status.clone(),
        new_status: Some(status.to_owned()),
        impact: None,
        event_at: Some(ev.at),
    };
    let mut plan = Plan::recorded_only(step.clone(), summary);
    let opened_at = match (prior.alert, step.after) {
        (_, Alert::Closed) => None,
        (Alert::Open(_), Alert::Open(_)) => ctx.stored.started_at.or(Some(ev.at)),
        (Alert::Closed, Alert::Open(_)) => Some(ev.at),
    };
    plan.state = Some(NewState::Page(PageAlertState {
        title: ev.title.clone(),
        status: status.to_owned(),
        alert: step.after,
        opened_at,
        last_event_at: ev.at,
        detail: ev.detail.clone(),
    }));
    plan.applied(EntityKind::Page, &ev.topic, ev.at, prior, status, &[]);
    if let Some(emit) = step.emit {
        let alert = AlertFacts {
            kind: EntityKind::Page,
            page_id: ev.page_id.clone(),
            page_name: ctx.learned.page_name.clone(),
            entity_id: ev.topic.clone(),
            components: Vec::new(),
        };
        let wording = Wording {
            title: ev.title.clone(),
            message: ev.message.clone(),
            status: status.to_owned(),
            impact: None,
            link: None,
        };
        let draft = Draft::of(
            &alert,
            emit,
            wording,
            ctx.stored.started_at.unwrap_or(ev.at),
            ev.at,
            s.delivery,
        );
        plan.route(draft, &alert, &ctx.views, true, s, &ctx.silences);
    }
    plan
}

fn marked(origin: &Origin, mut step: Step) -> Step {
    if let Origin::Reconcile { why } = origin {
        step.reason = format!("reconcile: {why}; {}", step.reason);
    }
    step
}

fn unapplied(outcome: Outcome, reason: String) -> Step {
    Step {
        outcome,
        reason,
        applied: false,
        after: Alert::Closed,
        emit: None,
    }
}

#[cfg(test)]
#[path = "plan_table.rs"]
mod plan_table;
