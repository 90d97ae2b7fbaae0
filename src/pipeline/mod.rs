//! From a received body to a committed decision: read → plan → write
//! (docs/ARCHITECTURE.md).
//!
//! In the request handler (in parallel across requests) the body is parsed
//! into a `Reading` with its duplicate keys; on the writer thread, inside
//! the batch's transaction, storage reads the entity's context, the pure
//! `rules::plan` decides, and storage writes the plan — the webhook row, the
//! new state, the transitions, the links and raises, the events for ITOC360 —
//! all committed before the caller answers Statuspage.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio::sync::Notify;
use tracing::Instrument;

use crate::metrics::Metrics;
use crate::rules::decide::Emit;
pub use crate::rules::domain::Origin;
use crate::rules::domain::Outcome;
use crate::rules::machine::Rules;
use crate::rules::plan::{self, Context, Delivery, Plan, Reading, Setting};
use crate::rules::platform::Platform;
use crate::rules::route::Policy;
use crate::storage::ingest::Job;
use crate::storage::{WriteError, Writer};

/// A webhook as received, authenticated and within the size limit.
#[derive(Debug, Clone)]
pub struct Incoming {
    pub source: String,
    pub remote_addr: Option<String>,
    pub body: Vec<u8>,
    pub received_at: DateTime<Utc>,
    pub origin: Origin,
    /// The platform whose webhook the body is; the bridge's own bodies are
    /// in Statuspage's shape.
    pub shape: Platform,
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

/// The handle receive and reconcile use: hands webhooks to the writer and
/// wakes the delivery worker when an event was queued.
#[derive(Clone)]
pub struct Pipeline {
    writer: Writer,
    rules: Rules,
    delivery: Delivery,
    policy: Arc<Policy>,
    outbox_ready: Arc<Notify>,
    metrics: Metrics,
}

/// The rules' decision for one event, as the writer runs it between reading
/// the context and writing the plan.
pub fn decide(
    rules: Rules,
    delivery: Delivery,
    policy: Arc<Policy>,
    now: DateTime<Utc>,
    origin: Origin,
    shape: Platform,
) -> impl Fn(&Reading, &Context) -> Plan + Send + 'static {
    move |reading, ctx| {
        plan::plan(
            reading,
            ctx,
            &Setting {
                now,
                origin: &origin,
                rules,
                delivery,
                policy: &policy,
                shape,
            },
        )
    }
}

impl Pipeline {
    pub fn new(
        writer: Writer,
        rules: Rules,
        delivery: Delivery,
        policy: Arc<Policy>,
        outbox_ready: Arc<Notify>,
        metrics: Metrics,
    ) -> Self {
        Pipeline {
            writer,
            rules,
            delivery,
            policy,
            outbox_ready,
            metrics,
        }
    }

    pub async fn ingest(&self, incoming: Incoming) -> Result<Ingested, IngestError> {
        // Time-ordered ids (v7): the primary key and the indexes on
        // webhook_id grow at their end instead of at a random page.
        let id = uuid::Uuid::now_v7().to_string();
        let span = tracing::info_span!("webhook", id = %id, source = %incoming.source);
        let source = incoming.source.clone();
        let from_statuspage = (incoming.origin == Origin::Webhook).then_some(incoming.received_at);
        let reading = Reading::of(incoming.shape, &incoming.body, &incoming.origin);
        let subject = reading.subject();
        let decide = decide(
            self.rules,
            self.delivery,
            self.policy.clone(),
            incoming.received_at,
            incoming.origin.clone(),
            incoming.shape,
        );
        let job = Job {
            id: id.clone(),
            source: incoming.source,
            remote_addr: incoming.remote_addr,
            body: incoming.body,
            received_at: incoming.received_at,
            origin: incoming.origin,
            shape: incoming.shape,
        };
        let plan = self
            .writer
            .ingest(job, reading, decide)
            .instrument(span.clone())
            .await?;
        let step = plan.step;
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
        for d in &plan.drafts {
            self.metrics.event(&d.destination, d.action.as_str());
            if d.hold.is_some() {
                self.metrics.routing("held");
            }
        }
        if matches!(
            ingested.outcome,
            Outcome::Filtered | Outcome::Unrouted | Outcome::Silenced | Outcome::Recovered
        ) {
            self.metrics.routing(ingested.outcome.as_str());
        }
        if plan.drafts.iter().any(|d| d.delivery == Delivery::Queue) {
            self.outbox_ready.notify_one();
        }
        span.in_scope(|| match ingested.emitted {
            Some(e) => tracing::info!(subject = ?ingested.subject, outcome = %ingested.outcome, action = %e.action, priority = %e.priority, reason = ?ingested.reason, "webhook stored"),
            None => tracing::info!(subject = ?ingested.subject, outcome = %ingested.outcome, reason = ?ingested.reason, "webhook stored"),
        });
        Ok(ingested)
    }
}
