//! Prometheus metrics, served at `/metrics`. Counters are updated by the
//! stage that knows the fact; this module only defines and renders them.

use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::rules::domain::Outcome;
use crate::storage::Stats;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct WebhookLabels {
    source: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RefusedLabels {
    reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AttemptLabels {
    result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DecisionLabels {
    decision: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EventLabels {
    destination: String,
    action: String,
}

/// All metrics of one process. Cheap to clone.
#[derive(Clone)]
pub struct Metrics {
    registry: Arc<Registry>,
    webhooks: Family<WebhookLabels, Counter>,
    refused: Family<RefusedLabels, Counter>,
    attempts: Family<AttemptLabels, Counter>,
    events: Family<EventLabels, Counter>,
    routing: Family<DecisionLabels, Counter>,
    attempt_seconds: Histogram,
    commit_to_send_seconds: Histogram,
    rounds: Family<RoundLabels, Counter>,
    healed: Family<HealLabels, Counter>,
    last_webhook: Family<SourceLabels, Gauge>,
    page_health: Family<HealthLabels, Gauge>,
    heartbeats: Family<HeartbeatLabels, Counter>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HeartbeatLabels {
    target: String,
    result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HealthLabels {
    page: String,
    state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RoundLabels {
    page: String,
    result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HealLabels {
    page: String,
    kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SourceLabels {
    source: String,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        Self::build(None)
    }

    /// The metrics, with the database writer's batches among them.
    pub fn with_writer(stats: Arc<Stats>) -> Metrics {
        Self::build(Some(stats))
    }

    fn build(writer: Option<Arc<Stats>>) -> Metrics {
        let mut registry = Registry::with_prefix("statuspage_bridge");
        if let Some(stats) = writer {
            registry.register_collector(Box::new(WriterBatches(stats)));
        }
        let webhooks = Family::<WebhookLabels, Counter>::default();
        registry.register(
            "webhooks",
            "Webhooks stored, by source and outcome",
            webhooks.clone(),
        );
        let refused = Family::<RefusedLabels, Counter>::default();
        registry.register(
            "webhooks_refused",
            "Webhook requests refused before storing (unauthorized, too_large, too_slow, busy, unavailable)",
            refused.clone(),
        );
        let attempts = Family::<AttemptLabels, Counter>::default();
        registry.register(
            "delivery_attempts",
            "Requests to ITOC360, by result (delivered, retry, dead)",
            attempts.clone(),
        );
        let events = Family::<EventLabels, Counter>::default();
        registry.register(
            "events",
            "Events decided for ITOC360, by destination (default or a route) and action",
            events.clone(),
        );
        let routing = Family::<DecisionLabels, Counter>::default();
        registry.register(
            "routing_decisions",
            "Decisions routing kept from ITOC360 or held: filtered, unrouted, silenced, recovered, held",
            routing.clone(),
        );
        let attempt_seconds = Histogram::new(exponential_buckets(0.005, 2.0, 12));
        registry.register(
            "delivery_attempt_seconds",
            "Duration of one request to ITOC360",
            attempt_seconds.clone(),
        );
        let commit_to_send_seconds = Histogram::new(exponential_buckets(0.001, 2.0, 16));
        registry.register(
            "delivery_delay_seconds",
            "Time from a decision's commit to its successful delivery",
            commit_to_send_seconds.clone(),
        );
        let rounds = Family::<RoundLabels, Counter>::default();
        registry.register(
            "reconcile_rounds",
            "Reconcile rounds, by page and result (ok, failed)",
            rounds.clone(),
        );
        let healed = Family::<HealLabels, Counter>::default();
        registry.register(
            "reconcile_healed",
            "Events healed from a page's status API, by page and kind",
            healed.clone(),
        );
        let last_webhook = Family::<SourceLabels, Gauge>::default();
        registry.register(
            "last_webhook_timestamp_seconds",
            "When the last webhook from Statuspage (not a heal) was stored, by source",
            last_webhook.clone(),
        );
        let page_health = Family::<HealthLabels, Gauge>::default();
        registry.register(
            "page_health",
            "A configured page's health: 1 for its state (unknown, ok, stale, unreachable, moved, gone), 0 for the others",
            page_health.clone(),
        );
        let heartbeats = Family::<HeartbeatLabels, Counter>::default();
        registry.register(
            "heartbeats",
            "Heartbeats, by target (url, fail_url, watchdog) and result (sent, withheld, failed)",
            heartbeats.clone(),
        );
        Metrics {
            registry: Arc::new(registry),
            page_health,
            heartbeats,
            rounds,
            healed,
            last_webhook,
            webhooks,
            refused,
            attempts,
            events,
            routing,
            attempt_seconds,
            commit_to_send_seconds,
        }
    }

    pub fn event(&self, destination: &str, action: &str) {
        self.events
            .get_or_create(&EventLabels {
                destination: destination.to_owned(),
                action: action.to_owned(),
            })
            .inc();
    }

    /// A routing decision: `filtered`, `unrouted`, `silenced`,
    /// `recovered`, or `held` (an event held for a grace period or a
    /// silence).
    pub fn routing(&self, decision: &str) {
        self.routing
            .get_or_create(&DecisionLabels {
                decision: decision.to_owned(),
            })
            .inc();
    }

    pub fn webhook(&self, source: &str, outcome: Outcome) {
        self.webhooks
            .get_or_create(&WebhookLabels {
                source: source.to_owned(),
                outcome: outcome.as_str().to_owned(),
            })
            .inc();
    }

    pub fn refused(&self, reason: &str) {
        self.refused
            .get_or_create(&RefusedLabels {
                reason: reason.to_owned(),
            })
            .inc();
    }

    pub fn attempt(&self, result: &str, seconds: f64) {
        self.attempts
            .get_or_create(&AttemptLabels {
                result: result.to_owned(),
            })
            .inc();
        self.attempt_seconds.observe(seconds);
    }

    pub fn delivered_after(&self, seconds: f64) {
        self.commit_to_send_seconds.observe(seconds);
    }

    pub fn reconcile_round(&self, page: &str, result: &str) {
        self.rounds
            .get_or_create(&RoundLabels {
                page: page.to_owned(),
                result: result.to_owned(),
            })
            .inc();
    }

    pub fn heartbeat(&self, target: &str, result: &str) {
        self.heartbeats
            .get_or_create(&HeartbeatLabels {
                target: target.to_owned(),
                result: result.to_owned(),
            })
            .inc();
    }

    /// The page's health: its state 1, every other 0.
    pub fn page_health(&self, page: &str, state: crate::rules::health::HealthState) {
        for s in crate::rules::health::HealthState::ALL {
            self.page_health
                .get_or_create(&HealthLabels {
                    page: page.to_owned(),
                    state: s.as_str().to_owned(),
                })
                .set(i64::from(s == state));
        }
    }

    pub fn reconcile_healed(&self, page: &str, kind: &str) {
        self.healed
            .get_or_create(&HealLabels {
                page: page.to_owned(),
                kind: kind.to_owned(),
            })
            .inc();
    }

    pub fn webhook_arrived(&self, source: &str, at: chrono::DateTime<chrono::Utc>) {
        self.last_webhook
            .get_or_create(&SourceLabels {
                source: source.to_owned(),
            })
            .set(at.timestamp());
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        encode(&mut out, &self.registry).expect("writing to a String cannot fail");
        out
    }
}

/// The database writer's batches, read from its counters at each scrape.
#[derive(Debug)]
struct WriterBatches(Arc<Stats>);

impl Collector for WriterBatches {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let b = self.0.batches();
        encoder
            .encode_descriptor(
                "write_batch_size",
                "Jobs committed together by the database writer (one commit each)",
                None,
                MetricType::Histogram,
            )?
            .encode_histogram::<NoLabelSet>(b.jobs as f64, b.count, &b.sizes, None)?;
        encoder
            .encode_descriptor(
                "write_batch_reruns",
                "Batches run again without a job that failed",
                None,
                MetricType::Counter,
            )?
            .encode_counter::<NoLabelSet, u64, u64>(&b.reruns, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The value of the exposition's line for `series`.
    fn value(text: &str, series: &str) -> u64 {
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
            .unwrap_or_else(|| panic!("no {series} in\n{text}"))
            .parse::<f64>()
            .unwrap() as u64
    }

    #[test]
    fn the_writers_batches_are_a_histogram_in_the_registry() {
        let stats = Arc::new(Stats::default());
        let metrics = Metrics::with_writer(stats.clone());
        for size in [1, 1, 3, 300] {
            stats.committed(size);
        }
        stats
            .reruns
            .fetch_add(2, std::sync::atomic::Ordering::Relaxed);
        let text = metrics.render();
        let bucket = |le: &str| {
            value(
                &text,
                &format!("statuspage_bridge_write_batch_size_bucket{{le=\"{le}\"}}"),
            )
        };
        assert_eq!(bucket("1.0"), 2, "{text}");
        assert_eq!(bucket("3.0"), 3, "cumulative: {text}");
        assert_eq!(bucket("255.0"), 3, "{text}");
        assert_eq!(bucket("+Inf"), 4, "{text}");
        assert_eq!(value(&text, "statuspage_bridge_write_batch_size_count"), 4);
        assert_eq!(value(&text, "statuspage_bridge_write_batch_size_sum"), 305);
        assert_eq!(
            value(&text, "statuspage_bridge_write_batch_reruns_total"),
            2
        );
        assert!(text.trim_end().ends_with("# EOF"), "{text}");
        assert!(!Metrics::new().render().contains("write_batch"));
    }
}
