//! From a received body to a committed decision, in two halves:
//!
//! - `prepare`, in the request handler (in parallel across requests):
//!   parse the JSON, read the event, compute its duplicate keys and a
//!   summary for the log;
//! - `apply`, on the writer thread, inside the batch's transaction: load
//!   the entity, run the `machine`, and write the webhook row, the new
//!   state, the transition, the incident↔component links and any outbox
//!   row — all committed before the caller answers Statuspage.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use rusqlite::Connection;
use serde_json::Value;
use tokio::sync::Notify;
use tracing::Instrument;

use crate::metrics::Metrics;
use crate::rules::decide::Emit;
use crate::rules::domain::{Alert, Outcome};
use crate::rules::machine::{self, Rules, Step};
use crate::rules::parse::{self, ComponentEvent, IncidentEvent, Parsed};
use crate::rules::time::format_time;
use crate::storage::outbox;
use crate::storage::store::{self, NewWebhook};
use crate::storage::{WriteError, Writer};

mod apply;
use apply::{apply_component, apply_incident};

/// A webhook as received, authenticated and within the size limit.
#[derive(Debug, Clone)]
pub struct Incoming {
    pub source: String,
    pub remote_addr: Option<String>,
    pub body: Vec<u8>,
    pub received_at: DateTime<Utc>,
    pub origin: Origin,
}

/// Who wrote a webhook: Statuspage, or the bridge itself healing from a
/// page's status API. A heal takes exactly the webhook's path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Webhook,
    /// `why` says what the round found (it starts the stored reason).
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
}

/// What the bridge made of a webhook, once committed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ingested {
    pub id: String,
    /// What it was about, in words, for the log.
    pub subject: String,
    pub outcome: Outcome,
    pub reason: String,
    pub emitted: Option<Emit>,
}

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("storing the webhook failed: {0}")]
    Write(#[from] WriteError),
}

/// The handle receive uses: hands webhooks to the writer and wakes the
/// delivery worker when an event was queued.
#[derive(Clone)]
pub struct Pipeline {
    writer: Writer,
    rules: Rules,
    dry_run: bool,
    outbox_ready: Arc<Notify>,
    metrics: Metrics,
}

/// What the body turned out to be, worked out before the writer sees it.
enum Body {
    NotJson(String),
    Unrecognized(String),
    Incident(IncidentEvent, Vec<String>),
    Component(ComponentEvent, Vec<String>),
}

/// A webhook ready for the writer: everything that needs no stored state.
struct Prepared {
    id: String,
    incoming: Incoming,
    now: String,
    body: Body,
}

impl Prepared {
    fn new(id: String, incoming: Incoming) -> Prepared {
        let body = match serde_json::from_slice::<Value>(&incoming.body) {
            Err(e) => Body::NotJson(e.to_string()),
            Ok(json) => match parse::parse(&json) {
                Parsed::Unrecognized { reason } => Body::Unrecognized(reason),
                Parsed::Incident(ev) => {
                    let keys = machine::incident_keys(&ev, &incoming.body);
                    Body::Incident(ev, keys)
                }
                Parsed::Component(ev) => {
                    let keys = machine::component_keys(&ev, &incoming.body);
                    Body::Component(ev, keys)
                }
            },
        };
        Prepared {
            id,
            now: format_time(incoming.received_at),
            incoming,
            body,
        }
    }

    fn subject(&self) -> String {
        match &self.body {
            Body::NotJson(_) => "a body that is not JSON".to_owned(),
            Body::Unrecognized(_) => "a payload of unknown shape".to_owned(),
            Body::Incident(ev, _) => {
                subject("incident", ev.name.as_deref(), &ev.page_id, &ev.incident_id)
            }
            Body::Component(ev, _) => subject(
                "component",
                ev.name.as_deref(),
                &ev.page_id,
                &ev.component_id,
            ),
        }
    }
}

impl Pipeline {
    pub fn new(
        writer: Writer,
        rules: Rules,
        dry_run: bool,
        outbox_ready: Arc<Notify>,
        metrics: Metrics,
    ) -> Self {
        Pipeline {
            writer,
            rules,
            dry_run,
            outbox_ready,
            metrics,
        }
    }

    pub async fn ingest(&self, incoming: Incoming) -> Result<Ingested, IngestError> {
        // Time-ordered ids (v7): the primary key and the indexes on
        // webhook_id grow at their end instead of at a random page.
        let id = uuid::Uuid::now_v7().to_string();
        let span = tracing::info_span!("webhook", id = %id, source = %incoming.source);
        let (rules, dry_run) = (self.rules, self.dry_run);
        let source = incoming.source.clone();
        let from_statuspage = (incoming.origin == Origin::Webhook).then_some(incoming.received_at);
        let prepared = Prepared::new(id.clone(), incoming);
        let subject = prepared.subject();
        let step = self
            .writer
            .try_run(move |conn| apply(conn, &prepared, rules, dry_run))
            .instrument(span.clone())
            .await?;
        let ingested = Ingested {
            id,
            subject,
            outcome: step.outcome,
            reason: step.reason,
            emitted: step.emit,
        };
        self.metrics.webhook(&source, ingested.outcome);
        if let Some(at) = from_statuspage {
            self.metrics.webhook_arrived(&source, at);
        }
        if ingested.emitted.is_some() && !dry_run {
            self.outbox_ready.notify_one();
        }
        span.in_scope(|| match ingested.emitted {
            Some(e) => tracing::info!(subject = ?ingested.subject, outcome = %ingested.outcome, action = %e.action, priority = %e.priority, reason = ?ingested.reason, "webhook stored"),
            None => tracing::info!(subject = ?ingested.subject, outcome = %ingested.outcome, reason = ?ingested.reason, "webhook stored"),
        });
        Ok(ingested)
    }
}

/// Runs on the writer thread, inside the batch's transaction: one webhook.
fn apply(conn: &Connection, p: &Prepared, rules: Rules, dry_run: bool) -> rusqlite::Result<Step> {
    let ctx = Ctx {
        id: &p.id,
        source: &p.incoming.source,
        remote_addr: p.incoming.remote_addr.as_deref(),
        body: &p.incoming.body,
        now: &p.now,
        origin: &p.incoming.origin,
        rules,
        dry_run,
    };
    match &p.body {
        Body::NotJson(e) => {
            let step = unapplied(Outcome::Rejected, format!("body is not JSON: {e}"));
            store::insert_webhook(conn, &ctx.webhook(&Summary::of_kind("invalid"), &step))?;
            Ok(step)
        }
        Body::Unrecognized(reason) => {
            let step = unapplied(
                Outcome::Unrecognized,
                format!("unrecognized payload: {reason}"),
            );
            store::insert_webhook(conn, &ctx.webhook(&Summary::of_kind("unknown"), &step))?;
            Ok(step)
        }
        Body::Incident(ev, keys) => apply_incident(conn, &ctx, ev, keys),
        Body::Component(ev, keys) => apply_component(conn, &ctx, ev, keys),
    }
}

/// What a webhook was about, for the log: `incident "API down" (page/id)`.
fn subject(kind: &str, name: Option<&str>, page_id: &str, id: &str) -> String {
    match name {
        Some(name) => format!("{kind} {name:?} ({page_id}/{id})"),
        None => format!("{kind} {page_id}/{id}"),
    }
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

/// What every stage of one webhook shares.
struct Ctx<'a> {
    id: &'a str,
    source: &'a str,
    remote_addr: Option<&'a str>,
    body: &'a [u8],
    now: &'a str,
    origin: &'a Origin,
    rules: Rules,
    dry_run: bool,
}

/// Fields of the webhook row that depend on what was parsed.
#[derive(Default)]
struct Summary {
    kind: &'static str,
    page_id: Option<String>,
    entity_id: Option<String>,
    entity_name: Option<String>,
    event_id: Option<String>,
    old_status: Option<String>,
    new_status: Option<String>,
    impact: Option<String>,
    event_at: Option<String>,
}

impl Summary {
    fn of_kind(kind: &'static str) -> Summary {
        Summary {
            kind,
            ..Summary::default()
        }
    }
}

impl Ctx<'_> {
    fn webhook<'s>(&'s self, s: &'s Summary, step: &'s Step) -> NewWebhook<'s> {
        NewWebhook {
            id: self.id,
            received_at: self.now,
            source: self.source,
            remote_addr: self.remote_addr,
            body: self.body,
            kind: s.kind,
            page_id: s.page_id.as_deref(),
            entity_id: s.entity_id.as_deref(),
            entity_name: s.entity_name.as_deref(),
            event_id: s.event_id.as_deref(),
            old_status: s.old_status.as_deref(),
            new_status: s.new_status.as_deref(),
            impact: s.impact.as_deref(),
            event_at: s.event_at.as_deref(),
            origin: self.origin.as_str(),
            outcome: step.outcome,
            reason: &step.reason,
            action: step.emit.map(|e| e.action),
            priority: step.emit.map(|e| e.priority),
        }
    }

    /// The machine's step, its reason led by what reconcile found for a heal.
    fn mark(&self, mut step: Step) -> Step {
        if let Origin::Reconcile { why } = self.origin {
            step.reason = format!("reconcile: {why}; {}", step.reason);
        }
        step
    }

    fn outbox_state(&self) -> outbox::State {
        if self.dry_run {
            outbox::State::Skipped
        } else {
            outbox::State::Pending
        }
    }
}

/// Applies a stored webhook again, as `ingest` would have, on a scratch
/// database (`replay`): same parse, same keys, same machine, same writes;
/// events are recorded as skipped, never queued for ITOC360.
pub fn reapply(
    conn: &Connection,
    id: String,
    incoming: Incoming,
    rules: Rules,
) -> rusqlite::Result<Step> {
    apply(conn, &Prepared::new(id, incoming), rules, true)
}
