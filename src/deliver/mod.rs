//! The delivery worker: sends decided outbox rows to ITOC360's Events API.
//!
//! It claims rows with a lease (a crashed worker's rows come back when the
//! lease runs out), never sends a row while an earlier row of the same lane
//! (fingerprint and destination) is unfinished, sends different lanes in
//! parallel up to `delivery.concurrency`, each with its destination's token
//! and format, and records every attempt. It is woken when
//! the pipeline commits a row, and otherwise sleeps until the next retry is
//! due. It never decides anything: the row says what to send.

pub mod format;
pub mod retry;
mod send;

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::Utc;
use tokio::sync::{Notify, watch};
use tokio::task::{self, JoinHandle, JoinSet};
use tracing::Instrument;

use crate::config::{Format, Secret, Settings};
use crate::metrics::Metrics;
use crate::storage::Writer;
use crate::storage::outbox::{Event, Finished};
use retry::Schedule;

/// Longest sleep between two looks at the outbox, so rows queued again by
/// `outbox retry` from another process go out soon.
const IDLE_POLL: Duration = Duration::from_secs(2);

/// The `User-Agent` sent to ITOC360.
pub const USER_AGENT: &str = concat!("statuspage-bridge/", env!("CARGO_PKG_VERSION"));

/// What one send needs; shared by the worker's tasks. (`writer` is the
/// worker's own, for recording.)
struct Sender {
    writer: Writer,
    client: reqwest::Client,
    url: String,
    /// By name: `default` (`[itoc360]`) and every route.
    destinations: HashMap<String, Destination>,
    schedule: Schedule,
    metrics: Metrics,
}

/// Where one destination's events go.
struct Destination {
    token: Secret,
    format: Format,
}

/// Every destination by name, with its token and format.
fn destinations(settings: &Settings) -> HashMap<String, Destination> {
    let default = (
        crate::rules::route::DEFAULT.to_owned(),
        Destination {
            token: settings.itoc360.token.clone(),
            format: settings.itoc360.format,
        },
    );
    let routes = settings.routing.routes.iter().map(|r| {
        (
            r.name.clone(),
            Destination {
                token: r.token.clone(),
                format: r.format.unwrap_or(settings.itoc360.format),
            },
        )
    });
    std::iter::once(default).chain(routes).collect()
}

/// A running worker.
pub struct Worker {
    shutdown: watch::Sender<bool>,
    task: JoinHandle<()>,
    progress: watch::Receiver<u64>,
    running: Arc<AtomicBool>,
}

/// Clears the worker's `running` flag when its task ends, however it ends.
struct Running(Arc<AtomicBool>);

impl Drop for Running {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Relaxed);
    }
}

impl Worker {
    /// Starts the worker. Call only when some destination has a token (not
    /// a dry run).
    pub fn spawn(
        settings: &Settings,
        writer: Writer,
        wake: Arc<Notify>,
        metrics: Metrics,
    ) -> anyhow::Result<Worker> {
        let d = &settings.delivery;
        let client = reqwest::Client::builder()
            .timeout(d.timeout())
            .connect_timeout(d.timeout())
            .user_agent(USER_AGENT)
            // A 3xx is a failed attempt (see send.rs), never followed.
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        let sender = Arc::new(Sender {
            writer,
            client,
            url: format!(
                "{}/functions/v1/events",
                settings.itoc360.base_url.trim_end_matches('/')
            ),
            destinations: destinations(settings),
            schedule: Schedule {
                base: Duration::from_millis(d.retry_base_ms),
                cap: Duration::from_secs(d.retry_max_secs),
                give_up_after: Duration::from_secs(d.give_up_after_secs),
            },
            metrics,
        });
        let (shutdown, shutdown_rx) = watch::channel(false);
        let (progress_tx, progress) = watch::channel(0u64);
        let running = Arc::new(AtomicBool::new(true));
        let run = WorkerTask {
            _running: Running(running.clone()),
            sender,
            wake,
            shutdown: shutdown_rx,
            progress: progress_tx,
            concurrency: d.concurrency,
            lease: Duration::from_secs(d.lease_secs),
            grace: Duration::from_secs(d.shutdown_grace_secs),
        };
        tracing::info!(url = %run.sender.url, format = ?settings.itoc360.format, concurrency = d.concurrency, "delivery worker started");
        let task = tokio::spawn(run.run());
        Ok(Worker {
            shutdown,
            task,
            progress,
            running,
        })
    }

    /// True while the worker's task runs (the heartbeat's check).
    pub fn running(&self) -> Arc<AtomicBool> {
        self.running.clone()
    }

    /// A counter bumped after every pass over the outbox and every finished
    /// attempt: lets a caller wait for progress without sleeping.
    pub fn progress(&self) -> watch::Receiver<u64> {
        self.progress.clone()
    }

    /// Lets in-flight sends finish (up to `delivery.shutdown_grace_secs`),
    /// gives back the rest, and returns.
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        if let Err(e) = self.task.await {
            tracing::error!(error = %e, "delivery worker ended abnormally");
        }
    }
}

struct WorkerTask {
    /// Dropped with the task, clearing the flag.
    _running: Running,
    sender: Arc<Sender>,
    wake: Arc<Notify>,
    shutdown: watch::Receiver<bool>,
    progress: watch::Sender<u64>,
    concurrency: usize,
    lease: Duration,
    grace: Duration,
}

/// The rows being sent now: task → (outbox id, lane).
type Busy = HashMap<task::Id, (i64, String)>;

/// What a database pass returns: rows claimed, and how long until the next
/// row becomes due.
type ClaimResult = anyhow::Result<(Vec<Event>, Option<Duration>)>;

/// Everything the worker holds between passes.
#[derive(Default)]
struct RowsInHand {
    inflight: JoinSet<Finished>,
    busy: Busy,
    /// Claimed (leased) ahead of a free slot, so a slot that frees up is
    /// filled at once rather than after the next commit.
    ready: VecDeque<Event>,
    /// Sent, waiting to be recorded with the next pass.
    finished: Vec<Finished>,
}

impl RowsInHand {
    /// Lanes this worker holds: none of them may be claimed again.
    fn lanes(&self) -> Vec<String> {
        let sending = self.busy.values().map(|(_, fp)| fp.clone());
        sending.chain(self.ready.iter().map(|e| e.lane())).collect()
    }
}

impl WorkerTask {
    async fn run(mut self) {
        let mut h = RowsInHand::default();
        // At most one database pass runs at a time, beside the sends.
        // With the number of rows it may claim.
        let mut pass: Option<(usize, JoinHandle<ClaimResult>)> = None;
        let mut look = true;
        let mut wait = IDLE_POLL;
        // Claimed ahead: a few rounds of slots, so sends do not wait for a
        // commit, even while webhooks keep the writer busy.
        let hold_at_most = 4 * self.concurrency;
        while !*self.shutdown.borrow() {
            collect_ready(&mut h.inflight, &mut h.busy, &mut h.finished);
            self.start_sends(&mut h);
            let room = hold_at_most.saturating_sub(h.inflight.len() + h.ready.len());
            if pass.is_none() && (!h.finished.is_empty() || (look && room > 0)) {
                // Attempts that ended are recorded in the same transaction
                // as the next claim: under load, one commit covers many
                // sends, and it shares the writer's batch with webhooks.
                let finished = std::mem::take(&mut h.finished);
                let busy = h.lanes();
                let sender = self.sender.clone();
                let task = sender.record_and_claim(finished, room, busy, self.lease);
                pass = Some((room, tokio::spawn(task)));
                look = false;
            }
            tokio::select! {
                Some(done) = h.inflight.join_next_with_id(), if !h.inflight.is_empty() => {
                    take_done(done, &mut h.busy, &mut h.finished);
                }
                done = async { (&mut pass.as_mut().expect("guarded").1).await }, if pass.is_some() => {
                    let (limit, _) = pass.take().expect("guarded");
                    match done {
                        Ok(Ok((rows, next))) => {
                            // A full claim may have left more behind.
                            look = limit > 0 && rows.len() == limit;
                            h.ready.extend(rows);
                            wait = next.map_or(IDLE_POLL, |n| n.min(IDLE_POLL));
                        }
                        Ok(Err(e)) => {
                            tracing::error!(error = %e, "updating the outbox failed; rows held are sent again when their lease ends");
                            wait = IDLE_POLL;
                        }
                        Err(e) => tracing::error!(error = %e, "an outbox pass ended abnormally"),
                    }
                    self.progress.send_modify(|n| *n += 1);
                }
                _ = self.wake.notified() => look = true,
                _ = tokio::time::sleep(wait), if pass.is_none() => look = true,
                _ = self.shutdown.changed() => {}
            }
        }
        if let Some((_, pass)) = pass {
            // Rows it claimed are ours to give back.
            if let Ok(Ok((rows, _))) = pass.await {
                h.ready.extend(rows);
            }
        }
        self.finish(h).await;
    }

    /// Starts sends from the rows claimed ahead while slots are free.
    fn start_sends(&self, h: &mut RowsInHand) {
        while h.inflight.len() < self.concurrency {
            let Some(e) = h.ready.pop_front() else { break };
            let span = tracing::info_span!("deliver", outbox_id = e.id, fingerprint = %e.fingerprint, destination = %e.destination, action = %e.action);
            let row = (e.id, e.lane());
            let handle = h
                .inflight
                .spawn(self.sender.clone().send(e).instrument(span));
            h.busy.insert(handle.id(), row);
        }
    }

    async fn finish(self, mut h: RowsInHand) {
        if !h.inflight.is_empty() {
            tracing::info!(
                in_flight = h.inflight.len(),
                grace_secs = self.grace.as_secs(),
                "delivery worker stopping: letting in-flight sends finish"
            );
        }
        let deadline = tokio::time::sleep(self.grace);
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                done = h.inflight.join_next_with_id() => match done {
                    Some(done) => take_done(done, &mut h.busy, &mut h.finished),
                    None => break,
                },
                _ = &mut deadline => break,
            }
        }
        h.inflight.abort_all();
        while h.inflight.join_next().await.is_some() {}
        let cut_off: Vec<i64> = h.busy.values().map(|(id, _)| *id).collect();
        if !cut_off.is_empty() {
            tracing::warn!(rows = ?cut_off, "sends still running at shutdown were cut off; their rows stay queued and are sent again on restart");
        }
        // Rows claimed ahead and never sent go back at once.
        let release: Vec<i64> = cut_off
            .into_iter()
            .chain(h.ready.iter().map(|e| e.id))
            .collect();
        let saved = self
            .sender
            .writer
            .record_and_release(h.finished, release)
            .await;
        if saved.is_err() {
            tracing::warn!(
                "could not record the last attempts; those rows are sent again after their lease ends"
            );
        }
        tracing::info!("delivery worker stopped");
    }
}

impl Sender {
    /// Records finished attempts, claims up to `limit` due rows, and
    /// returns them with the time until the next row becomes due — all in
    /// one transaction.
    async fn record_and_claim(
        self: Arc<Self>,
        finished: Vec<Finished>,
        limit: usize,
        busy: Vec<String>,
        lease: Duration,
    ) -> ClaimResult {
        let lease = chrono::Duration::from_std(lease).unwrap_or_default();
        let claimed = self
            .writer
            .record_and_claim(finished, limit, busy, lease)
            .await?;
        let rows = claimed.rows;
        let next = claimed
            .next_due
            .map(|t| (t - Utc::now()).to_std().unwrap_or(Duration::ZERO));
        Ok((rows, next))
    }
}

/// Moves a joined send into `finished`. A panicked send leaves its row
/// leased; it is sent again when the lease ends.
fn take_done(
    done: Result<(task::Id, Finished), task::JoinError>,
    busy: &mut Busy,
    finished: &mut Vec<Finished>,
) {
    match done {
        Ok((id, f)) => {
            busy.remove(&id);
            finished.push(f);
        }
        Err(e) => {
            busy.remove(&e.id());
        }
    }
}

/// Takes every send that has already ended, without waiting.
fn collect_ready(inflight: &mut JoinSet<Finished>, busy: &mut Busy, finished: &mut Vec<Finished>) {
    while let Some(done) = inflight.try_join_next_with_id() {
        take_done(done, busy, finished);
    }
}
