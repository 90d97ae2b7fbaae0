//! Reconcile: polls each configured page's status API and heals what the
//! webhooks missed (docs/RECONCILE.md). A round fetches the page's truth,
//! compares it with the bridge's view (`rules::heal`, pure) and hands each
//! heal to the pipeline as a webhook the bridge wrote for itself — the same
//! writer, machine, decision table and outbox. A round that fails changes
//! nothing; every round is recorded in `reconcile_rounds`.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{DateTime, Utc};
use serde_json::Value;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

use crate::config::{Page, Settings};
use crate::deliver::USER_AGENT;
use crate::metrics::Metrics;
use crate::pipeline::{Incoming, Origin, Pipeline};
use crate::rules::catalog;
use crate::rules::domain::{EntityKind, GROUPED_NOTE, Outcome, Priority};
use crate::rules::heal::{self, Local, Misses};
use crate::rules::health::{self, Failure};
use crate::rules::page_alert;
use crate::rules::platform::Platform;
use crate::rules::route::Policy;
use crate::rules::time::format_time;
use crate::storage::rounds::RoundRecord;
use crate::storage::{Poller, Reader, Writer};

/// A change older than this when healed means its webhook never came.
const QUARANTINE_AGE: chrono::Duration = chrono::Duration::minutes(2);

/// Running reconcile tasks, one per page.
pub struct Reconciler {
    shutdown: watch::Sender<bool>,
    rounds: watch::Receiver<u64>,
    pokes: Vec<Arc<Notify>>,
    tasks: Vec<JoinHandle<()>>,
}

/// What one page's task needs.
struct PageTask {
    page: Page,
    source: String,
    interval: Duration,
    misses_to_resolve: u32,
    /// Components one round pages one by one before grouping the rest.
    max_triggers_per_round: usize,
    /// When an unhealthy page pages someone.
    health: crate::config::HealthConfig,
    /// Follow the page's scheduled maintenances, and how.
    maintenance: Option<crate::rules::maintenance::Margins>,
    client: StatusClient,
    pipeline: Pipeline,
    read: Reader,
    writer: Writer,
    metrics: Metrics,
    misses: Misses,
    /// For the warning about filters that name nothing a page has.
    policy: Arc<Policy>,
    /// Those warned about already (once each, across pages).
    warned: Arc<Mutex<HashSet<String>>>,
    /// Rounds run only while this replica holds the poller lease.
    poller: Poller,
}

/// A finished comparison: counts for the round's record.
#[derive(Debug, Default)]
struct Counts {
    incidents: usize,
    components: usize,
    heals: usize,
    /// The newest upstream change the summary shows.
    latest_change_at: Option<DateTime<Utc>>,
}

impl Reconciler {
    /// Starts a task per `[[pages]]` entry; `None` when there are none.
    pub fn spawn(
        settings: &Settings,
        pipeline: Pipeline,
        read: Reader,
        writer: Writer,
        metrics: Metrics,
        poller: Poller,
    ) -> anyhow::Result<Option<Reconciler>> {
        if settings.pages.is_empty() {
            return Ok(None);
        }
        let r = &settings.reconcile;
        if r.interval_secs < 60 {
            tracing::warn!(
                interval_secs = r.interval_secs,
                "reconcile.interval_secs is under 60: status APIs publish no rate limit, poll gently"
            );
        }
        let client = client(r)?;
        let (shutdown, shutdown_rx) = watch::channel(false);
        let (rounds_tx, rounds) = watch::channel(0u64);
        let rounds_tx = Arc::new(rounds_tx);
        let mut pokes = Vec::new();
        let mut tasks = Vec::new();
        let policy = Arc::new(settings.policy());
        let warned = Arc::new(Mutex::new(HashSet::new()));
        for page in &settings.pages {
            let poke = Arc::new(Notify::new());
            let task = PageTask {
                source: settings.page_source(page).to_owned(),
                page: page.clone(),
                interval: Duration::from_secs(r.interval_secs),
                misses_to_resolve: r.misses_to_resolve,
                max_triggers_per_round: r.max_triggers_per_round,
                health: settings.health.clone(),
                maintenance: settings
                    .maintenance_notify(&page.id)
                    .then(|| settings.maintenance.margins()),
                client: client.clone(),
                pipeline: pipeline.clone(),
                read: read.clone(),
                writer: writer.clone(),
                metrics: metrics.clone(),
                misses: Misses::new(),
                policy: policy.clone(),
                warned: warned.clone(),
                poller: poller.clone(),
            };
            tracing::info!(page = %page.id, source = %task.source, url = %page.api_base(), private = !page.api_key.is_empty(), webhooks = page.webhooks, "reconcile started");
            tasks.push(tokio::spawn(task.run(
                poke.clone(),
                shutdown_rx.clone(),
                rounds_tx.clone(),
            )));
            pokes.push(poke);
        }
        Ok(Some(Reconciler {
            shutdown,
            rounds,
            pokes,
            tasks,
        }))
    }

    /// A handle to start rounds and wait for them.
    pub fn handle(&self) -> Rounds {
        Rounds {
            rounds: self.rounds.clone(),
            pokes: self.pokes.clone(),
        }
    }

    /// Stops after the rounds in progress.
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

/// Starts rounds and counts them; cheap to clone.
#[derive(Clone)]
pub struct Rounds {
    rounds: watch::Receiver<u64>,
    pokes: Vec<Arc<Notify>>,
}

impl Rounds {
    /// Rounds finished so far, of every page.
    pub fn rounds(&self) -> u64 {
        *self.rounds.borrow()
    }

    /// Runs a round of every page now (or as soon as the current one ends).
    pub fn poke(&self) {
        for p in &self.pokes {
            p.notify_one();
        }
    }

    /// Waits, without sleeping, until `n` rounds have finished in all.
    pub async fn wait_for(&mut self, n: u64) {
        let _ = self.rounds.wait_for(|r| *r >= n).await;
    }

    /// Runs a round of every page and waits until it has finished.
    pub async fn round(&mut self) {
        let target = self.rounds() + self.pokes.len() as u64;
        self.poke();
        self.wait_for(target).await;
    }
}

/// A client for status APIs: the bridge's user agent, `timeout_ms` for
/// connecting and for the whole answer, answers cut off past
/// `max_body_bytes`, and redirects followed only within the host asked
/// (a page that moved to another host is reported, not followed).
#[derive(Debug, Clone)]
pub struct StatusClient {
    http: reqwest::Client,
    max_body_bytes: u64,
}

pub fn client(r: &crate::config::ReconcileConfig) -> anyhow::Result<StatusClient> {
    let same_host = reqwest::redirect::Policy::custom(|attempt| {
        let first = attempt.previous().first().and_then(|u| u.host_str());
        if attempt.previous().len() > 5 {
            attempt.error("more than 5 redirects")
        } else if first.is_some() && first == attempt.url().host_str() {
            attempt.follow()
        } else {
            attempt.stop()
        }
    });
    let http = reqwest::Client::builder()
        .timeout(Duration::from_millis(r.timeout_ms))
        .connect_timeout(Duration::from_millis(r.timeout_ms))
        .user_agent(USER_AGENT)
        .redirect(same_host)
        .build()
        .context("building the status API client")?;
    Ok(StatusClient {
        http,
        max_body_bytes: r.max_body_bytes,
    })
}

/// The page's summary in Statuspage's shape: its platform's documents,
/// fetched one after the other, through its adapter
/// (`rules::platform`). Documents that are not the platform's answers fail
/// the round as an answer that is not this page's (health: moved).
pub async fn fetch_summary(
    client: &StatusClient,
    page: &Page,
    now: DateTime<Utc>,
) -> anyhow::Result<crate::rules::platform::Polled> {
    use crate::rules::platform::{self, Doc};
    let default_words = platform::FeedWords::default();
    let mut docs = Vec::new();
    for path in page.kind.documents() {
        docs.push(if page.kind.raw() {
            Doc::Raw(fetch_bytes(client, page, path).await?)
        } else {
            Doc::Json(fetch(client, page, path).await?)
        });
    }
    let round = platform::Round {
        page_id: &page.id,
        now,
        feed: page.feed.as_ref().unwrap_or(&default_words),
    };
    platform::summary(page.kind, &round, docs)
        .map_err(|why| {
            heal::Unusable::Shape(format!(
                "{} ({}): {why}",
                page.api_base(),
                page.kind.as_str()
            ))
        })
        .map_err(Into::into)
}

/// Fetches one document of the page's status API (`path` below the page's
/// address, such as `/api/v2/summary.json`) as JSON; a private page's key
/// goes in the `Authorization` header. The answer is read as it streams in
/// and given up once it passes the client's `max_body_bytes`.
pub async fn fetch(client: &StatusClient, page: &Page, path: &str) -> anyhow::Result<Value> {
    let bytes = fetch_bytes(client, page, path).await?;
    serde_json::from_slice(&bytes).map_err(|e| {
        FetchFailed {
            failure: Failure::Moved,
            message: format!("GET {}{path}: not JSON: {e}", page.api_base()),
        }
        .into()
    })
}

/// [`fetch`], the answer's bytes as they came.
async fn fetch_bytes(client: &StatusClient, page: &Page, path: &str) -> anyhow::Result<Vec<u8>> {
    let url = format!("{}{path}", page.api_base());
    let failed = |failure: Failure, why: String| FetchFailed {
        failure,
        message: format!("GET {url}: {why}"),
    };
    let mut req = client.http.get(&url);
    if !page.api_key.is_empty() {
        req = req.header(
            reqwest::header::AUTHORIZATION,
            format!("OAuth {}", page.api_key.expose()),
        );
    }
    let mut res = req
        .send()
        .await
        .map_err(|e| failed(Failure::Unreachable, e.without_url().to_string()))?;
    let status = res.status();
    if status.is_redirection() {
        let to = res
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("?");
        return Err(failed(
            Failure::Moved,
            format!(
                "HTTP {}: redirected to another host ({}), not followed",
                status.as_u16(),
                crate::redact::printable(to)
            ),
        )
        .into());
    }
    if status != reqwest::StatusCode::OK {
        return Err(failed(
            Failure::of(Some(status.as_u16()), false),
            format!("HTTP {}", status.as_u16()),
        )
        .into());
    }
    let limit = client.max_body_bytes;
    let too_long = || {
        failed(
            Failure::Unreachable,
            format!("answer larger than {limit} bytes, cut off"),
        )
    };
    if res.content_length().is_some_and(|n| n > limit) {
        return Err(too_long().into());
    }
    let mut bytes = Vec::new();
    while let Some(chunk) = res
        .chunk()
        .await
        .map_err(|e| failed(Failure::Unreachable, e.without_url().to_string()))?
    {
        if bytes.len() as u64 + chunk.len() as u64 > limit {
            return Err(too_long().into());
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

/// A fetch that failed, and how (`rules::health::Failure`).
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct FetchFailed {
    pub failure: Failure,
    message: String,
}

/// How a failed round failed, when the page's API is to blame: a fetch
/// that failed, or an answer that is not this page's summary.
fn failure_of(e: &anyhow::Error) -> Option<Failure> {
    e.chain().find_map(|c| {
        c.downcast_ref::<FetchFailed>()
            .map(|f| f.failure)
            .or_else(|| c.downcast_ref::<heal::Unusable>().map(|_| Failure::Moved))
    })
}

impl PageTask {
    async fn run(
        mut self,
        poke: Arc<Notify>,
        mut shutdown: watch::Receiver<bool>,
        rounds: Arc<watch::Sender<u64>>,
    ) {
        let mut poller = self.poller.clone();
        while !*shutdown.borrow() {
            // Of several replicas, the one holding the poller lease polls;
            // the others wait to take over.
            if !poller.held() {
                tokio::select! {
                    _ = poller.wait_held() => {}
                    _ = shutdown.changed() => {}
                }
                continue;
            }
            self.round().await;
            rounds.send_modify(|n| *n += 1);
            // ±10 % so pages (and bridges) do not poll in step.
            let jitter = 0.9 + fastrand::f64() * 0.2;
            tokio::select! {
                _ = tokio::time::sleep(self.interval.mul_f64(jitter)) => {}
                _ = poke.notified() => {}
                _ = shutdown.changed() => {}
                _ = poller.changed() => {}
            }
        }
    }

    async fn round(&mut self) {
        let started = Utc::now();
        let clock = Instant::now();
        let result = self.compare_and_heal(started).await;
        let duration_ms = clock.elapsed().as_millis() as i64;
        let (label, error, counts) = match &result {
            Ok(c) => ("ok", None, c),
            // Masked: a status API (or a proxy) may echo the API key.
            Err(e) => (
                "failed",
                Some(crate::redact::mask_cut(&format!("{e:#}"), 2000)),
                &Counts::default(),
            ),
        };
        let failure = result.as_ref().err().and_then(failure_of);
        match &error {
            None => {
                tracing::info!(page = %self.page.id, incidents = counts.incidents, components = counts.components, heals = counts.heals, duration_ms, "reconcile round")
            }
            Some(e) => {
                tracing::warn!(page = %self.page.id, error = %e, "reconcile round failed: nothing changed; the next round comes at the usual time")
            }
        }
        self.metrics.reconcile_round(&self.page.id, label);
        let recorded = self
            .writer
            .record_round(RoundRecord {
                page_id: self.page.id.clone(),
                source: self.source.clone(),
                started_at: started,
                duration_ms,
                error,
                incidents: counts.incidents as i64,
                components: counts.components as i64,
                heals: counts.heals as i64,
                failure,
                latest_change_at: counts.latest_change_at,
            })
            .await;
        if let Err(e) = recorded {
            tracing::warn!(page = %self.page.id, error = %e, "recording the reconcile round failed");
        }
        if let Err(e) = self.follow_health(Utc::now()).await {
            tracing::warn!(page = %self.page.id, error = %format!("{e:#}"), "following the page's health failed");
        }
    }

    /// Decides the page's health from its rounds and webhooks, shows it in
    /// the metrics, and opens or resolves the page's `source` alert.
    async fn follow_health(&self, now: DateTime<Utc>) -> anyhow::Result<()> {
        let evidence = self
            .read
            .page_evidence(&self.page.id, self.page.webhooks)
            .await
            .context("reading the page's rounds")?;
        let h = health::health(&evidence, self.health.thresholds(), now);
        self.metrics.page_health(&self.page.id, h.state);
        let open = self
            .read
            .open_page_alert(&self.source, &self.page.id, page_alert::SOURCE)
            .await
            .context("reading the page's source alert")?
            .is_some();
        let learned = self.read.page_name(&self.page.id).await.unwrap_or(None);
        let shown = self.policy.page_shown(&self.page.id, learned.as_deref());
        let Some(alert) = page_alert::source_alert(
            page_alert::SourceRound {
                page_id: &self.page.id,
                page_shown: shown,
                page_url: &self.page.api_base(),
                priority: self.health.priority,
                page_after: chrono::Duration::seconds(self.health.page_after_secs as i64),
                at: now,
            },
            open,
            &h,
        ) else {
            return Ok(());
        };
        if alert.open {
            tracing::warn!(page = %self.page.id, health = h.state.as_str(), why = %h.why, "page unhealthy: alert opened");
        } else {
            tracing::info!(page = %self.page.id, "page healthy again: alert resolved");
        }
        let why = format!("page health {}: {}", h.state.as_str(), h.why);
        self.raise(alert, why)
            .await
            .context("storing the page's source alert")
    }

    /// Feeds a page alert through the pipeline like a heal, `why` its note.
    async fn raise(
        &self,
        alert: page_alert::PageAlertEvent,
        why: String,
    ) -> Result<(), crate::pipeline::IngestError> {
        self.pipeline
            .ingest(Incoming {
                source: self.source.clone(),
                remote_addr: None,
                body: alert.body(),
                received_at: Utc::now(),
                origin: Origin::Reconcile { why },
                shape: Platform::Statuspage,
            })
            .await
            .map(|_| ())
    }

    /// Opens, updates or resolves the page's alert naming the components
    /// this round (and earlier ones) grouped.
    async fn follow_grouped(
        &self,
        grouped: &[page_alert::Grouped],
        troubled: &[String],
        learned_name: Option<&str>,
        now: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        let named = self
            .read
            .open_page_alert(&self.source, &self.page.id, page_alert::GROUPED)
            .await
            .context("reading the page's grouped alert")?;
        let round = page_alert::Round {
            page_id: &self.page.id,
            page_shown: self.policy.page_shown(&self.page.id, learned_name),
            priority: Priority::High,
            limit: self.max_triggers_per_round,
            at: now,
        };
        let Some(alert) = page_alert::grouped_alert(round, named.as_deref(), grouped, troubled)
        else {
            return Ok(());
        };
        let why = if alert.open {
            format!("{} component(s) grouped", alert.detail.len())
        } else {
            "every grouped component is operational again".to_owned()
        };
        self.raise(alert, why)
            .await
            .context("storing the page's grouped alert")
    }

    /// Follows the page's scheduled maintenances: heads-ups, start and end,
    /// their components held while they run, overruns
    /// (`rules::maintenance`).
    async fn follow_maintenance(
        &self,
        settings: crate::rules::maintenance::Margins,
        summary_json: &Value,
        troubled: &[String],
        learned_name: Option<&str>,
        now: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        use crate::rules::maintenance;
        let upstream = maintenance::read(summary_json);
        let open: Vec<maintenance::Open> = self
            .read
            .open_page_alerts(&self.source, &self.page.id, "maintenance:")
            .await
            .context("reading the page's maintenance alerts")?
            .into_iter()
            .map(|(topic, detail)| maintenance::Open { topic, detail })
            .collect();
        let shown = self.policy.page_shown(&self.page.id, learned_name);
        let decided = maintenance::follow(
            &self.page.id,
            shown,
            settings,
            &upstream,
            &open,
            |c| !troubled.iter().any(|t| t == c),
            now,
        );
        for hold in decided.holds {
            let silence = crate::rules::silence::Silence {
                id: crate::silences::new_id(),
                page: Some(self.page.id.clone()),
                component: Some(hold.component_id),
                incident: None,
                route: None,
                starts_at: now,
                ends_at: hold.until,
                expired_at: None,
                reason: hold.reason,
            };
            self.writer
                .add_silence(silence, hold.by, now)
                .await
                .context("holding a maintenance's components")?;
        }
        for alert in decided.alerts {
            let why = format!("maintenance {}", alert.topic);
            self.raise(alert, why)
                .await
                .context("storing a maintenance alert")?;
        }
        Ok(())
    }

    async fn compare_and_heal(&mut self, now: DateTime<Utc>) -> anyhow::Result<Counts> {
        let polled = fetch_summary(&self.client, &self.page, now).await?;
        let summary_json = polled.summary;
        let summary = heal::read_summary(&summary_json, &self.page.id)?;
        let learned = catalog::read_catalog(&summary_json, &self.page.id)?;
        let local = self.local().await?;
        // Counting misses only counts once the round succeeds.
        let mut misses = self.misses.clone();
        let n = self.misses_to_resolve;
        let mut plan = heal::plan_summary(&self.page.id, &summary, &local, &mut misses, n, now);
        if !plan.missing_incidents.is_empty() {
            // A platform without a list of recent incidents: an incident
            // that left the summary counts a miss each round.
            let recent_json = match polled.recent {
                Some(ended) => {
                    serde_json::json!({"page": {"id": self.page.id}, "incidents": ended})
                }
                None if self.page.kind.lists_recent() => {
                    let doc = fetch(&self.client, &self.page, "/api/v2/incidents.json").await?;
                    crate::rules::platform::recent(self.page.kind, &self.page.id, doc)
                        .map_err(|why| heal::Unusable::Shape(format!("incidents.json: {why}")))?
                }
                None => serde_json::json!({"page": {"id": self.page.id}, "incidents": []}),
            };
            let recent = heal::read_recent(&recent_json, &self.page.id)?;
            let more = heal::plan_missing(
                &self.page.id,
                &plan.missing_incidents,
                &recent,
                &local,
                &mut misses,
                n,
                now,
            );
            plan.heals.extend(more);
        }
        self.misses = misses;
        let mut counts = Counts {
            incidents: summary.incidents.len(),
            components: summary.components.len(),
            heals: 0,
            latest_change_at: heal::latest_change(&summary),
        };
        let mut unannounced = Vec::new();
        // Components this round opened one by one, and those grouped past
        // the limit (docs/RECONCILE.md, "Many changes at once").
        let limit = self.max_triggers_per_round;
        let mut triggered = 0;
        let mut grouped: Vec<page_alert::Grouped> = Vec::new();
        for h in plan.heals {
            let kind = h.kind;
            let grouping = limit > 0 && kind == EntityKind::Component && triggered >= limit;
            let why = if grouping {
                format!(
                    "{GROUPED_NOTE} ({limit} components paged one by one this round); {}",
                    h.why
                )
            } else {
                h.why
            };
            let incoming = Incoming {
                source: self.source.clone(),
                remote_addr: None,
                body: serde_json::to_vec(&h.body).expect("JSON values serialise"),
                received_at: Utc::now(),
                origin: Origin::Reconcile { why },
                shape: Platform::Statuspage,
            };
            let ingested = self
                .pipeline
                .ingest(incoming)
                .await
                .with_context(|| format!("storing a heal of {kind} {}", h.entity_id))?;
            if matches!(ingested.outcome, Outcome::Duplicate | Outcome::Stale) {
                continue;
            }
            if kind == EntityKind::Component && ingested.outcome == Outcome::Triggered {
                triggered += 1;
            }
            if grouping
                && ingested.outcome == Outcome::Filtered
                && ingested.reason.contains("grouped: ")
            {
                grouped.push(page_alert::Grouped {
                    name: h.body["component"]["name"].as_str().map(str::to_owned),
                    id: h.entity_id.clone(),
                });
            }
            counts.heals += 1;
            self.metrics.reconcile_healed(&self.page.id, kind.as_str());
            if let Some(at) = h.changed_at.filter(|at| now - *at > QUARANTINE_AGE) {
                unannounced.push(at);
            }
        }
        let troubled: Vec<String> = summary
            .components
            .iter()
            .filter(|c| c.get("status").and_then(Value::as_str) != Some("operational"))
            .filter_map(|c| c.get("id").and_then(Value::as_str).map(str::to_owned))
            .collect();
        self.follow_grouped(&grouped, &troubled, learned.name.as_deref(), now)
            .await?;
        if let Some(settings) = self.maintenance {
            self.follow_maintenance(
                settings,
                &summary_json,
                &troubled,
                learned.name.as_deref(),
                now,
            )
            .await?;
        }
        if self.page.webhooks && !unannounced.is_empty() {
            self.warn_if_quarantined(&unannounced).await;
        }
        self.writer
            .learn_page(learned, now)
            .await
            .context("storing the page's name and components")?;
        self.warn_of_unknown_selectors().await;
        Ok(counts)
    }

    /// Warns once of each filter that names a component or group its page
    /// does not have: a typo must not silently mute (also on `/reconcile`).
    async fn warn_of_unknown_selectors(&self) {
        let catalogs = match self.read.catalogs().await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(page = %self.page.id, error = %e, "reading the learned pages failed");
                return;
            }
        };
        for unknown in catalog::unknown_selectors(&self.policy, &catalogs) {
            let text = unknown.to_string();
            let new = self
                .warned
                .lock()
                .map(|mut w| w.insert(text.clone()))
                .unwrap_or(false);
            if new {
                tracing::warn!(key = %unknown.key, selector = %unknown.selector, "{text}");
            }
        }
    }

    /// Heals of changes older than two minutes mean their webhooks never
    /// came; with no webhook from the page since, the subscription has
    /// probably been quarantined.
    async fn warn_if_quarantined(&self, changes: &[DateTime<Utc>]) {
        let last_at = self
            .read
            .last_webhook_at(&self.page.id)
            .await
            .unwrap_or(None);
        let last = last_at.map(format_time);
        let oldest = changes.iter().min().copied();
        if last_at.is_none() || last_at < oldest {
            tracing::warn!(
                page = %self.page.id,
                changes = changes.len(),
                last_webhook = last.as_deref().unwrap_or("never"),
                "{} change(s) on page {} reached the bridge only by polling; the last webhook came at {}. If Statuspage quarantined the subscription, it sends nothing more: subscribe the webhook URL again",
                changes.len(),
                self.page.id,
                last.as_deref().unwrap_or("never"),
            );
        }
    }

    /// The bridge's view of this page.
    async fn local(&self) -> anyhow::Result<Local> {
        self.read
            .page_view(&self.source, &self.page.id)
            .await
            .context("reading the bridge's view of the page")
    }
}
