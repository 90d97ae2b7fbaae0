//! The writer as the rest of the bridge sees it: a queue of jobs, each a
//! function run inside a transaction of the engine's runner, answered once
//! its batch has committed (group commit on both engines: SQLite's one
//! writer thread in `storage::sqlite::writer`, PostgreSQL's lanes in
//! `storage::postgres::jobs`; docs/ARCHITECTURE.md).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use super::ingest::{Queued, run_queued};
use super::sql::{self, Conn};

/// Why a write did not happen.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The queue is full: the writer is behind. Retry shortly.
    #[error("the database writer is busy")]
    Busy,
    /// The writer thread has stopped (shutdown).
    #[error("the database writer is not running")]
    Gone,
    /// The job's own statements failed; nothing of it stays.
    #[error("the write failed")]
    Failed(#[source] super::sql::Error),
    /// The batch's transaction did not commit; nothing of the job stays.
    #[error("the transaction was not committed: {0}")]
    NotCommitted(String),
    /// The job panicked; nothing of it stays.
    #[error("the write job panicked")]
    Panicked,
}

/// A job as a runner sees it: run it inside the open transaction (again,
/// if the batch is rerun), later tell its caller how the commit went.
pub(in crate::storage) trait Job: Send {
    /// The entities it writes, or may (lock keys; empty for most jobs).
    fn keys(&self) -> &[String];
    /// The entities it only reads (locked shared: such jobs run beside
    /// each other, and one that writes waits for them).
    fn shared_keys(&self) -> &[String] {
        &[]
    }
    /// Runs the job; false when it failed (its result is kept for `answer`).
    fn run(&mut self, conn: Conn<'_>) -> bool;
    /// A webhook to store, which runs with the webhooks queued beside it
    /// ([`run_jobs`]).
    fn queued(&mut self) -> Option<&mut Queued> {
        None
    }
    fn is_queued(&self) -> bool {
        false
    }
    fn answer(self: Box<Self>, committed: Result<(), &str>);
}

/// How running a batch's jobs ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::storage) enum Ran {
    Done,
    /// A job failed (or panicked): the runner rolls back and runs each job
    /// alone.
    Failed,
    /// A webhook would write an entity the batch holds only for reading:
    /// the runner rolls back and runs the batch again, its keys now
    /// asking for that entity exclusively.
    Exclusive,
}

/// Runs `jobs` in order in the open transaction, the webhooks queued side
/// by side together; stops at the first that fails (or panics). `between`
/// is asked after each step whether the transaction is still open (SQLite
/// rolls it back by itself on some errors); false stops there.
pub(in crate::storage) fn run_jobs(
    conn: Conn<'_>,
    jobs: &mut [Box<dyn Job>],
    between: &dyn Fn() -> bool,
) -> Ran {
    let mut rest = jobs;
    while !rest.is_empty() {
        let together = rest.iter().take_while(|j| j.is_queued()).count();
        let (now, later) = rest.split_at_mut(together.max(1));
        let ran = catch_unwind(AssertUnwindSafe(|| {
            if together == 0 {
                if now[0].run(conn) {
                    Ran::Done
                } else {
                    Ran::Failed
                }
            } else {
                let mut queued: Vec<&mut Queued> =
                    now.iter_mut().filter_map(|j| j.queued()).collect();
                run_queued(conn, &mut queued)
            }
        }))
        .unwrap_or_else(|_| {
            tracing::error!("a database write job panicked; nothing of it is kept");
            Ran::Failed
        });
        if ran != Ran::Done {
            return ran;
        }
        if !between() {
            return Ran::Failed;
        }
        rest = later;
    }
    Ran::Done
}

/// What a job's caller hears: its result once its batch committed.
pub(in crate::storage) fn answer_with<T>(
    result: Option<sql::Result<T>>,
    committed: Result<(), &str>,
) -> Result<T, WriteError> {
    match (result, committed) {
        // Not run: the batch was given up before its turn.
        (None, Err(why)) => Err(WriteError::NotCommitted(why.to_owned())),
        (None, Ok(())) => Err(WriteError::Panicked),
        (Some(Err(e)), _) => Err(WriteError::Failed(e)),
        (Some(Ok(_)), Err(why)) => Err(WriteError::NotCommitted(why.to_owned())),
        (Some(Ok(v)), Ok(())) => Ok(v),
    }
}

struct Task<F, T> {
    keys: Vec<String>,
    f: Option<F>,
    result: Option<sql::Result<T>>,
    reply: oneshot::Sender<Result<T, WriteError>>,
}

impl<F, T> Job for Task<F, T>
where
    F: FnMut(Conn<'_>) -> sql::Result<T> + Send,
    T: Send,
{
    fn keys(&self) -> &[String] {
        &self.keys
    }

    fn run(&mut self, conn: Conn<'_>) -> bool {
        let f = self.f.as_mut().expect("a job is kept until answered");
        // A panic leaves no result: answered `Panicked`.
        self.result = None;
        let result = f(conn);
        let ok = result.is_ok();
        self.result = Some(result);
        ok
    }

    fn answer(self: Box<Self>, committed: Result<(), &str>) {
        // A caller that stopped waiting (a dropped request) is no error.
        let _ = self.reply.send(answer_with(self.result, committed));
    }
}

/// A handle to the writer: a queue of jobs that the engine's runner takes
/// in batches (SQLite's writer thread; PostgreSQL's lanes). Cheap to
/// clone; the runner finishes the queued jobs and closes its connections
/// once every clone is dropped.
#[derive(Clone)]
pub struct Writer {
    jobs: mpsc::Sender<Box<dyn Job>>,
    stats: Arc<Stats>,
    /// How long a caller waits for its job, queue to commit, if the engine
    /// bounds it (PostgreSQL, whose server may stop answering).
    deadline: Option<Duration>,
}

/// Batch sizes and the writer thread's work, for `/metrics` and the bench.
#[derive(Debug, Default)]
pub struct Stats {
    /// Committed batches by size: bucket i holds sizes in [2^i, 2^(i+1)).
    sizes: [AtomicU64; BUCKETS],
    pub(in crate::storage) batches: AtomicU64,
    jobs: AtomicU64,
    /// Batches run a second time because a job failed.
    pub(crate) reruns: AtomicU64,
}

/// Buckets of `Stats::sizes`: 1, 2–3, 4–7, … 256 and more.
const BUCKETS: usize = 10;

impl Stats {
    pub(crate) fn committed(&self, size: usize) {
        let bucket = (usize::BITS - 1 - size.max(1).leading_zeros()) as usize;
        self.sizes[bucket.min(BUCKETS - 1)].fetch_add(1, Ordering::Relaxed);
        self.batches.fetch_add(1, Ordering::Relaxed);
        self.jobs.fetch_add(size as u64, Ordering::Relaxed);
    }

    /// The batch-size histogram and the reruns, read at once for
    /// `/metrics` (`metrics.rs` encodes them).
    pub fn batches(&self) -> Batches {
        let last = BUCKETS - 1;
        Batches {
            sizes: self
                .sizes
                .iter()
                .enumerate()
                .map(|(i, n)| {
                    let le = if i == last {
                        f64::MAX
                    } else {
                        ((1u64 << (i + 1)) - 1) as f64
                    };
                    (le, n.load(Ordering::Relaxed))
                })
                .collect(),
            jobs: self.jobs.load(Ordering::Relaxed),
            count: self.batches.load(Ordering::Relaxed),
            reruns: self.reruns.load(Ordering::Relaxed),
        }
    }
}

/// Committed batches, as `Stats` counted them.
#[derive(Debug, Clone, PartialEq)]
pub struct Batches {
    /// (the largest size a bucket holds, `f64::MAX` for the last; how many
    /// batches it holds), not cumulative.
    pub sizes: Vec<(f64, u64)>,
    /// Jobs in all batches (the histogram's sum).
    pub jobs: u64,
    pub count: u64,
    pub reruns: u64,
}

/// Resolves when the writer thread has closed its connection.
pub struct Closed(oneshot::Receiver<()>);

impl Closed {
    pub(in crate::storage) fn new(closed: oneshot::Receiver<()>) -> Closed {
        Closed(closed)
    }

    pub async fn wait(self) {
        let _ = self.0.await;
    }
}

impl Writer {
    /// A handle on `jobs`, whose runner counts its batches in `stats`.
    pub(in crate::storage) fn new(
        jobs: mpsc::Sender<Box<dyn Job>>,
        stats: Arc<Stats>,
        deadline: Option<Duration>,
    ) -> Writer {
        Writer {
            jobs,
            stats,
            deadline,
        }
    }

    /// Batch sizes so far.
    pub fn stats(&self) -> Arc<Stats> {
        self.stats.clone()
    }

    /// Jobs waiting in the queue now.
    pub fn queued(&self) -> usize {
        self.jobs.max_capacity() - self.jobs.capacity()
    }

    /// Queues `f` if there is room, else refuses at once with `Busy` (the
    /// webhook path: a full queue answers 503 instead of waiting). `f`
    /// reads and writes the entities named by `keys`: no other job naming
    /// one of them runs at the same time (on PostgreSQL, on any replica).
    #[cfg(test)]
    pub(in crate::storage) async fn try_run_locked<T, F>(
        &self,
        keys: Vec<String>,
        f: F,
    ) -> Result<T, WriteError>
    where
        T: Send + 'static,
        F: FnMut(Conn<'_>) -> sql::Result<T> + Send + 'static,
    {
        let (job, answer) = task(keys, f);
        self.try_queue(job, answer).await
    }

    /// Queues `job` if there is room, else refuses at once with `Busy`;
    /// its answer once committed.
    pub(in crate::storage) async fn try_queue<T>(
        &self,
        job: Box<dyn Job>,
        answer: Awaited<T>,
    ) -> Result<T, WriteError> {
        self.jobs.try_send(job).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => WriteError::Busy,
            mpsc::error::TrySendError::Closed(_) => WriteError::Gone,
        })?;
        self.answer(answer).await
    }

    /// Queues `f` (waiting for room) and returns its result once committed.
    /// `f` may run more than once (a batch is rerun without a job that
    /// failed); only its last run's writes are kept.
    pub(in crate::storage) async fn run<T, F>(&self, f: F) -> Result<T, WriteError>
    where
        T: Send + 'static,
        F: FnMut(Conn<'_>) -> sql::Result<T> + Send + 'static,
    {
        let (job, answer) = task(Vec::new(), f);
        let queued = self.jobs.send(job);
        match self.deadline {
            Some(d) => tokio::time::timeout(d, queued)
                .await
                .map_err(|_| WriteError::Busy)?
                .map_err(|_| WriteError::Gone)?,
            None => queued.await.map_err(|_| WriteError::Gone)?,
        }
        self.answer(answer).await
    }

    /// The job's answer, within the deadline if there is one.
    async fn answer<T>(&self, answer: Awaited<T>) -> Result<T, WriteError> {
        let Some(deadline) = self.deadline else {
            return answer.await.map_err(|_| WriteError::Gone)?;
        };
        match tokio::time::timeout(deadline, answer).await {
            Ok(done) => done.map_err(|_| WriteError::Gone)?,
            Err(_) => Err(WriteError::NotCommitted(format!(
                "the database did not finish the write within {} s",
                deadline.as_secs()
            ))),
        }
    }
}

pub(in crate::storage) type Awaited<T> = oneshot::Receiver<Result<T, WriteError>>;

fn task<T, F>(keys: Vec<String>, f: F) -> (Box<dyn Job>, Awaited<T>)
where
    T: Send + 'static,
    F: FnMut(Conn<'_>) -> sql::Result<T> + Send + 'static,
{
    let (reply, answer) = oneshot::channel();
    let job = Box::new(Task {
        keys,
        f: Some(f),
        result: None,
        reply,
    });
    (job, answer)
}
