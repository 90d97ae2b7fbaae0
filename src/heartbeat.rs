//! The outgoing heartbeat (docs/OPERATING.md, "Proving it is alive"): while
//! the bridge is healthy — the database takes writes, the delivery worker
//! runs, no dead event has waited too long (`rules::health::withheld`) — it
//! POSTs to `[heartbeat] url` every `interval_secs`, so a dead-man's switch
//! (ITOC360's heartbeat, a Healthchecks-style check) pages someone when the
//! calls stop, whatever stopped them. Unhealthy, it withholds the beat and
//! POSTs the reason to `fail_url` if one is set. With `watchdog = true` each
//! healthy beat also sends ITOC360 an always-firing Alertmanager `Watchdog`
//! alert. Of several replicas only the poller lease holder beats. A target
//! that fails is logged and counted; nothing here touches ingest.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

use crate::config::{Secret, Settings};
use crate::deliver::USER_AGENT;
use crate::metrics::Metrics;
use crate::rules::health::{Vitals, withheld};
use crate::storage::{Poller, Reader, Writer};

/// The running heartbeat.
pub struct Heartbeat {
    shutdown: watch::Sender<bool>,
    task: JoinHandle<()>,
    handle: Beater,
}

/// Lets a caller beat now and wait for it, without sleeping (tests).
#[derive(Clone)]
pub struct Beater {
    poke: Arc<Notify>,
    /// Beats begun, and beats done.
    started: Arc<AtomicU64>,
    /// The latest beat a poke asked for (by the count of beats begun).
    wanted: Arc<AtomicU64>,
    beats: watch::Receiver<u64>,
}

impl Beater {
    /// Beats now and waits until a beat that began after this call is done
    /// (one under way may have looked before the caller's change).
    pub async fn beat(&mut self) {
        let target = self.started.load(Ordering::SeqCst) + 1;
        self.wanted.fetch_max(target, Ordering::SeqCst);
        self.poke.notify_one();
        let _ = self.beats.wait_for(|b| *b >= target).await;
    }
}

/// Where ITOC360 takes events, for the watchdog.
struct Watchdog {
    url: String,
    token: Secret,
}

struct Pinger {
    url: Secret,
    fail_url: Secret,
    watchdog: Option<Watchdog>,
    interval: Duration,
    max_dead_age: chrono::Duration,
    started_at: DateTime<Utc>,
    client: reqwest::Client,
    writer: Writer,
    read: Reader,
    poller: Poller,
    delivering: Option<Arc<AtomicBool>>,
    metrics: Metrics,
}

impl Heartbeat {
    /// Starts beating; `None` when `[heartbeat]` sends nothing.
    /// `delivering`: the delivery worker's running flag (`None`: a dry run).
    pub fn spawn(
        settings: &Settings,
        writer: Writer,
        read: Reader,
        poller: Poller,
        delivering: Option<Arc<AtomicBool>>,
        metrics: Metrics,
    ) -> anyhow::Result<Option<Heartbeat>> {
        let h = &settings.heartbeat;
        if !h.enabled() {
            return Ok(None);
        }
        let watchdog = match (h.watchdog, settings.itoc360.token.is_empty()) {
            (true, false) => Some(Watchdog {
                url: format!(
                    "{}/functions/v1/events",
                    settings.itoc360.base_url.trim_end_matches('/')
                ),
                token: settings.itoc360.token.clone(),
            }),
            (true, true) => {
                tracing::warn!(
                    "heartbeat.watchdog is on but itoc360.token is empty: no Watchdog alert is sent"
                );
                None
            }
            _ => None,
        };
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .user_agent(USER_AGENT)
            .redirect(reqwest::redirect::Policy::limited(3))
            .build()?;
        let (shutdown, shutdown_rx) = watch::channel(false);
        let (beats_tx, beats) = watch::channel(0u64);
        let poke = Arc::new(Notify::new());
        let started = Arc::new(AtomicU64::new(0));
        let wanted = Arc::new(AtomicU64::new(0));
        let task = Pinger {
            url: h.url.clone(),
            fail_url: h.fail_url.clone(),
            watchdog,
            interval: Duration::from_secs(h.interval_secs),
            max_dead_age: chrono::Duration::seconds(h.max_dead_age_secs.min(i64::MAX as u64) as i64),
            started_at: Utc::now(),
            client,
            writer,
            read,
            poller,
            delivering,
            metrics,
        };
        tracing::info!(
            interval_secs = h.interval_secs,
            url = !h.url.is_empty(),
            fail_url = !h.fail_url.is_empty(),
            watchdog = task.watchdog.is_some(),
            "heartbeat started"
        );
        let task = tokio::spawn(task.run(
            poke.clone(),
            started.clone(),
            wanted.clone(),
            shutdown_rx,
            beats_tx,
        ));
        Ok(Some(Heartbeat {
            shutdown,
            task,
            handle: Beater {
                poke,
                started,
                wanted,
                beats,
            },
        }))
    }

    pub fn handle(&self) -> Beater {
        self.handle.clone()
    }

    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        let _ = self.task.await;
    }
}

impl Pinger {
    async fn run(
        mut self,
        poke: Arc<Notify>,
        started: Arc<AtomicU64>,
        wanted: Arc<AtomicU64>,
        mut shutdown: watch::Receiver<bool>,
        beats: watch::Sender<u64>,
    ) {
        while !*shutdown.borrow() {
            let begun = started.fetch_add(1, Ordering::SeqCst) + 1;
            if self.poller.held() {
                self.beat().await;
            }
            beats.send_modify(|b| *b += 1);
            let due = tokio::time::Instant::now() + self.interval;
            loop {
                tokio::select! {
                    _ = tokio::time::sleep_until(due) => break,
                    _ = poke.notified() => {
                        // A poke this beat already answered (it came
                        // before the beat began) asks for nothing more.
                        if wanted.load(Ordering::SeqCst) > begun {
                            break;
                        }
                    }
                    _ = shutdown.changed() => break,
                }
            }
        }
    }

    /// What the bridge's own state says now.
    async fn vitals(&self) -> Vitals {
        let now = Utc::now();
        Vitals {
            database: self.writer.probe().await.map_err(|e| e.to_string()),
            delivering: self.delivering.as_ref().map(|r| r.load(Ordering::Relaxed)),
            old_dead: self
                .read
                .dead_before(now - self.max_dead_age)
                .await
                .unwrap_or_else(|e| {
                    tracing::warn!(error = %e, "heartbeat: reading dead events failed");
                    0
                }),
            max_dead_age: self.max_dead_age,
        }
    }

    async fn beat(&self) {
        match withheld(&self.vitals().await) {
            None => {
                if !self.url.is_empty() {
                    self.send("url", self.url.expose(), "ok".to_owned()).await;
                }
                if let Some(w) = &self.watchdog {
                    self.watchdog(w).await;
                }
            }
            Some(why) => {
                tracing::warn!(reason = %why, "heartbeat withheld: the bridge is not healthy");
                self.metrics.heartbeat("url", "withheld");
                if !self.fail_url.is_empty() {
                    self.send("fail_url", self.fail_url.expose(), why).await;
                }
            }
        }
    }

    /// POSTs `body` to `url`; logs and counts the result.
    async fn send(&self, target: &'static str, url: &str, body: String) {
        let sent = self
            .client
            .post(url)
            .header("Content-Type", "text/plain; charset=utf-8")
            .body(body)
            .send()
            .await;
        self.record(target, sent);
    }

    fn record(&self, target: &'static str, sent: reqwest::Result<reqwest::Response>) {
        match sent {
            Ok(r) if r.status().is_success() => self.metrics.heartbeat(target, "sent"),
            Ok(r) => {
                tracing::warn!(target, status = r.status().as_u16(), "heartbeat refused");
                self.metrics.heartbeat(target, "failed");
            }
            Err(e) => {
                tracing::warn!(target, error = %crate::redact::mask(&e.without_url().to_string()), "heartbeat failed");
                self.metrics.heartbeat(target, "failed");
            }
        }
    }

    /// An always-firing Alertmanager alert: ITOC360 (or what reads its
    /// events) pages when it stops arriving.
    async fn watchdog(&self, w: &Watchdog) {
        let body = crate::deliver::format::watchdog(self.started_at);
        let sent = self
            .client
            .post(&w.url)
            .bearer_auth(w.token.expose())
            .json(&body)
            .send()
            .await;
        self.record("watchdog", sent);
    }
}
