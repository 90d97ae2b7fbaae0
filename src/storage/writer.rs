//! The one thread that writes. It owns SQLite's write connection (rusqlite,
//! cached prepared statements) and runs whole jobs as plain function calls,
//! so a webhook's ten-odd statements cost no thread hand-overs.
//!
//! Group commit: the thread takes every job waiting in its queue (up to
//! `MAX_BATCH`) and runs them in one transaction, each inside a savepoint of
//! its own, then commits once — one fsync for the batch. Every caller is
//! answered only after that commit. A job whose own statements fail is
//! rolled back to its savepoint and answered with its error while the rest
//! of the batch commits; if the commit fails, or SQLite rolls the
//! transaction back by itself, every job of the batch gets
//! `WriteError::NotCommitted` and nothing of it stays.
//!
//! Jobs run one after another in arrival order, so a job sees the state
//! every earlier job of the same batch left: per-entity decisions stay
//! serialised without locks.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};

/// Jobs per transaction at most. Larger batches gain little once the fsync
/// is shared, and keep callers of the batch's first job waiting longer.
pub const MAX_BATCH: usize = 256;

/// Jobs waiting beyond this many are refused at once (`WriteError::Busy`)
/// rather than left to pile up.
pub const QUEUE_DEPTH: usize = 4096;

/// Why a write did not happen.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The queue is full: the writer is behind. Retry shortly.
    #[error("the database writer is busy")]
    Busy,
    /// The writer thread has stopped (shutdown).
    #[error("the database writer is not running")]
    Gone,
    /// The job's own statements failed; its savepoint was rolled back.
    #[error("the write failed")]
    Failed(#[source] rusqlite::Error),
    /// The batch's transaction did not commit; nothing of the job stays.
    #[error("the transaction was not committed: {0}")]
    NotCommitted(String),
    /// The job panicked; its savepoint was rolled back.
    #[error("the write job panicked")]
    Panicked,
}

/// A job as the thread sees it: run it inside the open transaction, later
/// tell its caller how the commit went.
trait Job: Send {
    /// Runs the job; false when it failed (its result is kept for `answer`).
    fn run(&mut self, conn: &Connection) -> bool;
    fn answer(self: Box<Self>, committed: Result<(), &str>);
}

struct Task<F, T> {
    f: Option<F>,
    result: Option<rusqlite::Result<T>>,
    reply: oneshot::Sender<Result<T, WriteError>>,
}

impl<F, T> Job for Task<F, T>
where
    F: FnOnce(&Connection) -> rusqlite::Result<T> + Send,
    T: Send,
{
    fn run(&mut self, conn: &Connection) -> bool {
        let f = self.f.take().expect("a job runs once");
        let result = f(conn);
        let ok = result.is_ok();
        self.result = Some(result);
        ok
    }

    fn answer(self: Box<Self>, committed: Result<(), &str>) {
        let out = match (self.result, committed) {
            // Not run: the batch was given up before its turn.
            (None, Err(why)) => Err(WriteError::NotCommitted(why.to_owned())),
            (None, Ok(())) => Err(WriteError::Panicked),
            (Some(Err(e)), _) => Err(WriteError::Failed(e)),
            (Some(Ok(_)), Err(why)) => Err(WriteError::NotCommitted(why.to_owned())),
            (Some(Ok(v)), Ok(())) => Ok(v),
        };
        // A caller that stopped waiting (a dropped request) is no error.
        let _ = self.reply.send(out);
    }
}

/// How the thread opens (and reopens) its connection.
#[derive(Debug, Clone)]
pub struct Opener {
    pub path: PathBuf,
    pub busy_timeout: Duration,
}

impl Opener {
    /// The write connection: WAL, FULL sync so a webhook acknowledged to
    /// Statuspage survives a power cut, not only a crash.
    pub fn open(&self) -> rusqlite::Result<Connection> {
        let conn = Connection::open(&self.path)?;
        conn.busy_timeout(self.busy_timeout)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        // Each job's savepoint keeps a statement journal of the pages it
        // changes; in a temporary file, writing it cost a quarter of the
        // writer's time.
        conn.pragma_update(None, "temp_store", "MEMORY")?;
        // 16 MB of page cache, so the indexes a webhook touches stay in
        // memory between batches.
        conn.pragma_update(None, "cache_size", -16_000)?;
        conn.set_prepared_statement_cache_capacity(64);
        Ok(conn)
    }
}

/// A handle to the writer thread. Cheap to clone; the thread finishes the
/// queued jobs and closes the connection once every clone is dropped.
#[derive(Clone)]
pub struct Writer {
    jobs: mpsc::Sender<Box<dyn Job>>,
}

/// Resolves when the writer thread has closed its connection.
pub struct Closed(oneshot::Receiver<()>);

impl Closed {
    pub async fn wait(self) {
        let _ = self.0.await;
    }
}

impl Writer {
    /// Starts the thread with `conn`, opened by `opener` (used again if the
    /// connection must be replaced).
    pub fn spawn(conn: Connection, opener: Opener) -> std::io::Result<(Writer, Closed)> {
        let (tx, rx) = mpsc::channel(QUEUE_DEPTH);
        let (closed_tx, closed_rx) = oneshot::channel();
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || {
                run(conn, &opener, rx);
                let _ = closed_tx.send(());
            })?;
        Ok((Writer { jobs: tx }, Closed(closed_rx)))
    }

    /// Queues `f` if there is room, else refuses at once with `Busy`; the
    /// webhook path uses it so a full queue answers 503 instead of waiting.
    pub(in crate::storage) async fn try_run<T, F>(&self, f: F) -> Result<T, WriteError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        let (job, answer) = task(f);
        self.jobs.try_send(job).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => WriteError::Busy,
            mpsc::error::TrySendError::Closed(_) => WriteError::Gone,
        })?;
        answer.await.map_err(|_| WriteError::Gone)?
    }

    /// Jobs waiting in the queue now.
    pub fn queued(&self) -> usize {
        QUEUE_DEPTH - self.jobs.capacity()
    }

    /// Queues `f` (waiting for room) and returns its result once committed.
    pub(in crate::storage) async fn run<T, F>(&self, f: F) -> Result<T, WriteError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        let (job, answer) = task(f);
        self.jobs.send(job).await.map_err(|_| WriteError::Gone)?;
        answer.await.map_err(|_| WriteError::Gone)?
    }
}

type Answer<T> = oneshot::Receiver<Result<T, WriteError>>;

fn task<T, F>(f: F) -> (Box<dyn Job>, Answer<T>)
where
    T: Send + 'static,
    F: FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
{
    let (reply, answer) = oneshot::channel();
    let job = Box::new(Task {
        f: Some(f),
        result: None,
        reply,
    });
    (job, answer)
}

/// The thread's loop: a batch per wake-up, until every handle is gone.
fn run(mut conn: Connection, opener: &Opener, mut rx: mpsc::Receiver<Box<dyn Job>>) {
    let mut batch: Vec<Box<dyn Job>> = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = rx.blocking_recv() {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let committed = run_batch(&conn, &mut batch);
        if let Err(e) = &committed {
            tracing::error!(error = %e, jobs = batch.len(), "a write batch did not commit; its callers are told to retry");
        }
        // The commit is durable (or failed) before anyone hears of it.
        for job in batch.drain(..) {
            job.answer(committed.as_ref().map(|_| ()).map_err(String::as_str));
        }
        if !conn.is_autocommit() {
            conn = reopen(conn, opener);
        }
    }
    if let Err((_, e)) = conn.close() {
        tracing::warn!(error = %e, "closing the write connection failed");
    }
}

/// One transaction for the whole batch, a savepoint per job.
fn run_batch(conn: &Connection, batch: &mut [Box<dyn Job>]) -> Result<(), String> {
    exec(conn, "BEGIN IMMEDIATE").map_err(|e| format!("BEGIN: {e}"))?;
    for job in batch.iter_mut() {
        exec(conn, "SAVEPOINT job").map_err(|e| abort(conn, format!("SAVEPOINT: {e}")))?;
        let ok = catch_unwind(AssertUnwindSafe(|| job.run(conn))).unwrap_or_else(|_| {
            tracing::error!("a database write job panicked; its savepoint is rolled back");
            false
        });
        // SQLite rolls the whole transaction back by itself on some errors
        // (disk full, I/O error); then nothing of the batch is left to keep.
        if conn.is_autocommit() {
            return Err("SQLite rolled the transaction back".into());
        }
        let end = if ok {
            exec(conn, "RELEASE job")
        } else {
            exec(conn, "ROLLBACK TO job").and_then(|_| exec(conn, "RELEASE job"))
        };
        end.map_err(|e| abort(conn, format!("ending a savepoint: {e}")))?;
    }
    exec(conn, "COMMIT").map_err(|e| abort(conn, format!("COMMIT: {e}")))
}

fn exec(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(|_| ())
}

/// Rolls back what is left of a failed batch; returns `why`.
fn abort(conn: &Connection, why: String) -> String {
    if !conn.is_autocommit() {
        let _ = conn.execute_batch("ROLLBACK");
    }
    why
}

/// Replaces a connection left inside a transaction (dropping it rolls back
/// whatever it still held; nothing of that was reported as stored).
fn reopen(bad: Connection, opener: &Opener) -> Connection {
    tracing::error!("the write connection was left inside a transaction; reopening it");
    drop(bad);
    let mut wait = Duration::from_millis(100);
    loop {
        match opener.open() {
            Ok(conn) => {
                tracing::info!("write connection reopened");
                return conn;
            }
            Err(e) => {
                tracing::error!(error = %e, retry_in_ms = wait.as_millis() as u64, "reopening the write connection failed");
                std::thread::sleep(wait);
                wait = (wait * 2).min(Duration::from_secs(5));
            }
        }
    }
}

/// Opens the write connection for `path` and starts its thread.
pub fn start(path: &Path, busy_timeout: Duration) -> anyhow::Result<(Writer, Closed)> {
    use anyhow::Context;
    let opener = Opener {
        path: path.to_owned(),
        busy_timeout,
    };
    let conn = opener
        .open()
        .with_context(|| format!("opening {} for writing", path.display()))?;
    Ok(Writer::spawn(conn, opener)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc as std_mpsc;

    type TestJob<T = ()> = Box<dyn FnOnce(&Connection) -> rusqlite::Result<T> + Send>;

    async fn writer() -> (tempfile::TempDir, Writer, Closed) {
        let dir = tempfile::tempdir().unwrap();
        let (w, closed) = start(&dir.path().join("w.db"), Duration::from_secs(1)).unwrap();
        w.run(|c| {
            c.execute_batch(
                "CREATE TABLE t (id TEXT PRIMARY KEY);
                 CREATE TABLE p (id TEXT PRIMARY KEY);
                 CREATE TABLE c (pid TEXT REFERENCES p (id) DEFERRABLE INITIALLY DEFERRED);",
            )
        })
        .await
        .unwrap();
        (dir, w, closed)
    }

    fn insert(id: &'static str) -> impl FnOnce(&Connection) -> rusqlite::Result<()> + Send {
        move |c| c.execute("INSERT INTO t (id) VALUES (?)", [id]).map(|_| ())
    }

    async fn rows(w: &Writer) -> Vec<String> {
        w.run(|c| {
            c.prepare("SELECT id FROM t ORDER BY id")?
                .query_map([], |r| r.get(0))?
                .collect()
        })
        .await
        .unwrap()
    }

    /// Holds the writer thread inside a job until the returned sender is
    /// used, so that the jobs queued meanwhile form one batch. Returns once
    /// the holding job runs. (It is the batch's first and shares its fate.)
    async fn hold(w: &Writer) -> (std_mpsc::Sender<()>, tokio::task::JoinHandle<()>) {
        let (go, wait) = std_mpsc::channel::<()>();
        let (running_tx, running) = oneshot::channel::<()>();
        let w = w.clone();
        let held = tokio::spawn(async move {
            let _ = w
                .run(move |_| {
                    let _ = running_tx.send(());
                    let _ = wait.recv();
                    Ok(())
                })
                .await;
        });
        running.await.unwrap();
        (go, held)
    }

    /// Queues each job, in order, in a task of its own and returns once all
    /// are waiting in the writer's queue.
    async fn queue<T: Send + 'static>(
        w: &Writer,
        jobs: Vec<TestJob<T>>,
    ) -> Vec<tokio::task::JoinHandle<Result<T, WriteError>>> {
        let mut handles = Vec::new();
        for job in jobs {
            let before = w.queued();
            let w2 = w.clone();
            handles.push(tokio::spawn(async move { w2.run(job).await }));
            while w.queued() == before {
                tokio::task::yield_now().await;
            }
        }
        handles
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failing_job_is_rolled_back_alone() {
        let (_dir, w, _) = writer().await;
        let (go, held) = hold(&w).await;
        let jobs: Vec<TestJob> = vec![
            Box::new(insert("a")),
            Box::new(|c| {
                insert("b")(c)?;
                insert("a")(c) // primary key: fails after writing "b"
            }),
            Box::new(|_| panic!("a bug in a job")),
            Box::new(insert("c")),
        ];
        let handles = queue(&w, jobs).await;
        go.send(()).unwrap();
        held.await.unwrap();
        let mut results = Vec::new();
        for h in handles {
            results.push(h.await.unwrap());
        }
        assert!(results[0].is_ok());
        assert!(
            matches!(results[1], Err(WriteError::Failed(_))),
            "{:?}",
            results[1]
        );
        assert!(
            matches!(results[2], Err(WriteError::Panicked)),
            "{:?}",
            results[2]
        );
        assert!(results[3].is_ok());
        assert_eq!(
            rows(&w).await,
            ["a", "c"],
            "the failed job's own write is gone"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_commit_fails_every_job_of_the_batch() {
        let (_dir, w, _) = writer().await;
        let (go, held) = hold(&w).await;
        let jobs: Vec<TestJob> = vec![
            Box::new(insert("a")),
            // A deferred foreign key: the statement passes, COMMIT fails.
            Box::new(|c| {
                c.execute("INSERT INTO c (pid) VALUES ('nobody')", [])
                    .map(|_| ())
            }),
            Box::new(insert("b")),
        ];
        let handles = queue(&w, jobs).await;
        go.send(()).unwrap();
        held.await.unwrap();
        for h in handles {
            let r = h.await.unwrap();
            assert!(matches!(r, Err(WriteError::NotCommitted(_))), "{r:?}");
        }
        assert!(rows(&w).await.is_empty(), "nothing of the batch stays");
        // The writer goes on: the next batch commits.
        w.run(insert("z")).await.unwrap();
        assert_eq!(rows(&w).await, ["z"]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_transaction_ended_under_the_batch_fails_it_whole() {
        // What SQLite does by itself on a full disk or an I/O error.
        let (_dir, w, _) = writer().await;
        let (go, held) = hold(&w).await;
        let jobs: Vec<TestJob> = vec![
            Box::new(insert("a")),
            Box::new(|c| c.execute_batch("ROLLBACK")),
            Box::new(insert("b")),
        ];
        let handles = queue(&w, jobs).await;
        go.send(()).unwrap();
        held.await.unwrap();
        let results: Vec<_> = futures_util::future::join_all(handles).await;
        assert!(
            results
                .iter()
                .all(|r| matches!(r, Ok(Err(WriteError::NotCommitted(_))))),
            "{results:?}"
        );
        assert!(
            rows(&w).await.is_empty(),
            "no job ran outside the transaction"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_full_queue_refuses_at_once() {
        let (_dir, w, _) = writer().await;
        let (go, held) = hold(&w).await;
        let jobs: Vec<TestJob> = (0..QUEUE_DEPTH)
            .map(|_| Box::new(|_: &Connection| Ok(())) as Box<_>)
            .collect();
        let handles = queue(&w, jobs).await;
        let refused = w.try_run(insert("late")).await;
        assert!(matches!(refused, Err(WriteError::Busy)), "{refused:?}");
        go.send(()).unwrap();
        held.await.unwrap();
        for h in handles {
            h.await.unwrap().unwrap();
        }
        // Room again.
        w.try_run(insert("later")).await.unwrap();
        assert_eq!(rows(&w).await, ["later"]);
    }

    #[tokio::test]
    async fn the_thread_finishes_its_queue_and_closes_when_handles_drop() {
        let (dir, w, closed) = writer().await;
        w.run(insert("kept")).await.unwrap();
        drop(w);
        closed.wait().await;
        let conn = Connection::open(dir.path().join("w.db")).unwrap();
        let n: i64 = conn
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 1);
    }
}
