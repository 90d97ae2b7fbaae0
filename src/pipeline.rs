//! From a received body to a committed decision. The writer task runs each
//! webhook as one transaction: store the raw body, `parse`, load the
//! entity, run the `machine`, and write the outcome, the new state, the
//! transition, the incident↔component links and any outbox row — all
//! committed before the caller answers Statuspage.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures_util::FutureExt;
use serde_json::Value;
use sqlx::{Connection, SqliteConnection};
use tokio::sync::Notify;
use tracing::Instrument;

use crate::db::{Writer, WriterGone};
use crate::decide::Emit;
use crate::domain::{Action, Alert, EntityKind, Outcome, fingerprint};
use crate::machine::{self, Rules, Step};
use crate::metrics::Metrics;
use crate::outbox::{self, NewEvent};
use crate::parse::{self, ComponentEvent, IncidentEvent, Parsed, format_time};
use crate::store::{self, ComponentState, EntityKey, IncidentState, NewTransition, NewWebhook};

/// A webhook as received, authenticated and within the size limit.
#[derive(Debug, Clone)]
pub struct Incoming {
    pub source: String,
    pub remote_addr: Option<String>,
    pub body: Vec<u8>,
    pub received_at: DateTime<Utc>,
}

/// What the bridge made of a webhook, once committed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ingested {
    pub id: String,
    pub outcome: Outcome,
    pub reason: String,
    pub emitted: Option<Emit>,
}

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error(transparent)]
    WriterGone(#[from] WriterGone),
    #[error("storing the webhook failed")]
    Database(#[from] sqlx::Error),
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
        let id = uuid::Uuid::new_v4().to_string();
        let span = tracing::info_span!("webhook", id = %id, source = %incoming.source);
        let (rules, dry_run) = (self.rules, self.dry_run);
        let source = incoming.source.clone();
        let result = self
            .writer
            .run(move |conn| ingest_one(conn, id, incoming, rules, dry_run).boxed())
            .instrument(span.clone())
            .await?;
        let ingested = result?;
        self.metrics.webhook(&source, ingested.outcome);
        if ingested.emitted.is_some() && !dry_run {
            self.outbox_ready.notify_one();
        }
        span.in_scope(|| match ingested.emitted {
            Some(e) => tracing::info!(outcome = %ingested.outcome, action = %e.action, priority = %e.priority, reason = %ingested.reason, "webhook stored"),
            None => tracing::info!(outcome = %ingested.outcome, reason = %ingested.reason, "webhook stored"),
        });
        Ok(ingested)
    }
}

/// Runs in the writer task: one webhook, one transaction.
async fn ingest_one(
    conn: &mut SqliteConnection,
    id: String,
    incoming: Incoming,
    rules: Rules,
    dry_run: bool,
) -> Result<Ingested, IngestError> {
    let mut tx = conn.begin().await?;
    let now = format_time(incoming.received_at);
    let ctx = Ctx {
        id: &id,
        source: &incoming.source,
        remote_addr: incoming.remote_addr.as_deref(),
        body: &incoming.body,
        now: &now,
        rules,
        dry_run,
    };
    let step = match serde_json::from_slice::<Value>(&incoming.body) {
        Err(e) => {
            let step = unapplied(Outcome::Rejected, format!("body is not JSON: {e}"));
            store::insert_webhook(&mut tx, &ctx.webhook(&Summary::of_kind("invalid"), &step))
                .await?;
            step
        }
        Ok(json) => match parse::parse(&json) {
            Parsed::Unrecognized { reason } => {
                let step = unapplied(
                    Outcome::Unrecognized,
                    format!("unrecognized payload: {reason}"),
                );
                store::insert_webhook(&mut tx, &ctx.webhook(&Summary::of_kind("unknown"), &step))
                    .await?;
                step
            }
            Parsed::Incident(ev) => apply_incident(&mut tx, &ctx, &ev).await?,
            Parsed::Component(ev) => apply_component(&mut tx, &ctx, &ev).await?,
        },
    };
    tx.commit().await?;
    Ok(Ingested {
        id,
        outcome: step.outcome,
        reason: step.reason,
        emitted: step.emit,
    })
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
            outcome: step.outcome,
            reason: &step.reason,
            action: step.emit.map(|e| e.action),
            priority: step.emit.map(|e| e.priority),
        }
    }

    fn outbox_state(&self) -> outbox::State {
        if self.dry_run {
            outbox::State::Skipped
        } else {
            outbox::State::Pending
        }
    }
}

async fn apply_incident(
    conn: &mut SqliteConnection,
    ctx: &Ctx<'_>,
    ev: &IncidentEvent,
) -> Result<Step, IngestError> {
    let key = EntityKey {
        source: ctx.source,
        kind: EntityKind::Incident,
        page_id: &ev.page_id,
        entity_id: &ev.incident_id,
    };
    let stored = store::load_entity(conn, key).await?;
    let keys = machine::incident_keys(ev, ctx.body);
    let duplicate_of = store::find_applied(conn, key, &keys).await?;
    let step = machine::incident_step(&stored.prior, ev, duplicate_of.as_deref(), ctx.rules);

    let status = ev.status.as_ref().map(|s| s.as_str().to_owned());
    let impact = ev.effective_impact().map(|i| i.as_str().to_owned());
    let event_at = ev.event_time().map(format_time);
    let summary = Summary {
        kind: "incident",
        page_id: Some(ev.page_id.clone()),
        entity_id: Some(ev.incident_id.clone()),
        entity_name: ev.name.clone(),
        event_id: ev.latest_update.as_ref().and_then(|u| u.id.clone()),
        old_status: stored.prior.status.clone(),
        new_status: status.clone(),
        impact: impact.clone(),
        event_at: event_at.clone(),
    };
    store::insert_webhook(conn, &ctx.webhook(&summary, &step)).await?;
    let Some(status) = status.filter(|_| step.applied) else {
        return Ok(step);
    };

    let at = event_at.as_deref().unwrap_or(ctx.now);
    let started_at = ev.start_time().map(format_time);
    let resolved_at = ev.resolved_at.map(format_time);
    store::save_incident(
        conn,
        key,
        &IncidentState {
            name: ev.name.as_deref(),
            status: &status,
            impact: impact.as_deref(),
            shortlink: ev.shortlink.as_deref(),
            started_at: started_at.as_deref(),
            resolved_at: resolved_at.as_deref(),
            backfilled: ev.backfilled,
            alert: step.after,
            last_event_at: event_at.as_deref(),
            webhook_id: ctx.id,
            now: ctx.now,
        },
    )
    .await?;
    record(conn, ctx, key, &keys, &stored.prior, &status, at, &step).await?;
    let components: Vec<(String, Option<String>)> = ev
        .components
        .iter()
        .map(|c| (c.id.clone(), c.name.clone()))
        .collect();
    store::link_components(conn, key, &components, ctx.now).await?;

    if let Some(emit) = step.emit {
        let name = ev.name.as_deref().unwrap_or(&ev.incident_id);
        let impact_text = impact.as_deref().unwrap_or("unknown impact");
        let title = format!("Statuspage incident \"{name}\": {status} ({impact_text})");
        let mut message = ev
            .latest_update
            .as_ref()
            .and_then(|u| u.body.clone())
            .unwrap_or_else(|| format!("Incident is {status}."));
        if let Some(link) = &ev.shortlink {
            message = format!("{message}\n\n{link}");
        }
        let draft = Draft {
            title,
            message,
            status: &status,
            impact: impact.as_deref(),
            link: ev.shortlink.as_deref(),
            starts_at: started_at
                .clone()
                .or_else(|| stored.alert_opened_at.clone())
                .unwrap_or_else(|| at.to_owned()),
            ends_at: (emit.action == Action::Resolve)
                .then(|| resolved_at.clone().unwrap_or_else(|| at.to_owned())),
        };
        enqueue(conn, ctx, key, emit, draft).await?;
    }
    Ok(step)
}

async fn apply_component(
    conn: &mut SqliteConnection,
    ctx: &Ctx<'_>,
    ev: &ComponentEvent,
) -> Result<Step, IngestError> {
    let key = EntityKey {
        source: ctx.source,
        kind: EntityKind::Component,
        page_id: &ev.page_id,
        entity_id: &ev.component_id,
    };
    let stored = store::load_entity(conn, key).await?;
    let keys = machine::component_keys(ev, ctx.body);
    let duplicate_of = store::find_applied(conn, key, &keys).await?;
    let incident_priority = store::open_incident_priority(conn, key).await?;
    let step = machine::component_step(
        &stored.prior,
        ev,
        duplicate_of.as_deref(),
        incident_priority,
        ctx.rules,
    );

    let status = ev.new_status.as_ref().map(|s| s.as_str().to_owned());
    let event_at = ev.created_at.map(format_time);
    let old_status = ev
        .old_status
        .as_ref()
        .map(|s| s.as_str().to_owned())
        .or_else(|| stored.prior.status.clone());
    let summary = Summary {
        kind: "component",
        page_id: Some(ev.page_id.clone()),
        entity_id: Some(ev.component_id.clone()),
        entity_name: ev.name.clone(),
        event_id: ev.update_id.clone(),
        old_status: old_status.clone(),
        new_status: status.clone(),
        impact: None,
        event_at: event_at.clone(),
    };
    store::insert_webhook(conn, &ctx.webhook(&summary, &step)).await?;
    let Some(status) = status.filter(|_| step.applied) else {
        return Ok(step);
    };

    let at = event_at.as_deref().unwrap_or(ctx.now);
    // The alert's start is when the component left operational; it stays
    // while the alert is open.
    let opened_at = match (stored.prior.alert, step.after) {
        (Alert::Open(_), Alert::Open(_)) => stored.alert_opened_at.clone(),
        (_, Alert::Open(_)) => Some(at.to_owned()),
        _ => None,
    };
    store::save_component(
        conn,
        key,
        &ComponentState {
            name: ev.name.as_deref(),
            status: &status,
            alert: step.after,
            alert_opened_at: opened_at.as_deref(),
            last_event_at: event_at.as_deref(),
            webhook_id: ctx.id,
            now: ctx.now,
        },
    )
    .await?;
    record(conn, ctx, key, &keys, &stored.prior, &status, at, &step).await?;

    if let Some(emit) = step.emit {
        let name = ev.name.as_deref().unwrap_or(&ev.component_id);
        let title = format!("Statuspage component \"{name}\": {status}");
        let from = old_status.as_deref().unwrap_or("unknown");
        let draft = Draft {
            title,
            message: format!("Component \"{name}\" changed from {from} to {status}."),
            status: &status,
            impact: None,
            link: None,
            starts_at: opened_at
                .or(stored.alert_opened_at)
                .unwrap_or_else(|| at.to_owned()),
            ends_at: (emit.action == Action::Resolve).then(|| at.to_owned()),
        };
        enqueue(conn, ctx, key, emit, draft).await?;
    }
    Ok(step)
}

/// The transition row and the applied-event keys of an applied event.
#[allow(clippy::too_many_arguments)]
async fn record(
    conn: &mut SqliteConnection,
    ctx: &Ctx<'_>,
    key: EntityKey<'_>,
    keys: &[String],
    prior: &machine::Prior,
    status: &str,
    at: &str,
    step: &Step,
) -> sqlx::Result<()> {
    store::insert_transition(
        conn,
        key,
        &NewTransition {
            webhook_id: ctx.id,
            at,
            from_status: prior.status.as_deref(),
            to_status: status,
            before: prior.alert,
            after: step.after,
            outcome: step.outcome,
        },
    )
    .await?;
    store::record_applied(conn, key, keys, ctx.id).await
}

/// The text and times of an event for ITOC360, before it is keyed.
struct Draft<'a> {
    title: String,
    message: String,
    status: &'a str,
    impact: Option<&'a str>,
    link: Option<&'a str>,
    starts_at: String,
    ends_at: Option<String>,
}

async fn enqueue(
    conn: &mut SqliteConnection,
    ctx: &Ctx<'_>,
    key: EntityKey<'_>,
    emit: Emit,
    d: Draft<'_>,
) -> sqlx::Result<()> {
    let fp = fingerprint(key.kind, key.page_id, key.entity_id);
    outbox::insert(
        conn,
        &NewEvent {
            webhook_id: ctx.id,
            created_at: ctx.now,
            fingerprint: &fp,
            kind: key.kind,
            page_id: key.page_id,
            entity_id: key.entity_id,
            action: emit.action,
            priority: emit.priority,
            title: &d.title,
            message: &d.message,
            status: d.status,
            impact: d.impact,
            link: d.link,
            starts_at: &d.starts_at,
            ends_at: d.ends_at.as_deref(),
            state: ctx.outbox_state(),
        },
    )
    .await?;
    Ok(())
}
