//! The one thread that writes. It owns SQLite's write connection (rusqlite,
//! cached prepared statements) and runs whole jobs as plain function calls,
//! so a webhook's ten-odd statements cost no thread hand-overs.
//!
//! Group commit: the thread takes every job waiting in its queue (up to
//! `MAX_BATCH`) and runs them in one transaction, then commits once. A job
//! whose own statements fail (or that panics) fails alone: the batch is
//! rolled back and run again without it, each job in a savepoint of its own
//! that second time, so the common case pays for no savepoint. If the commit
//! fails, or SQLite rolls the transaction back by itself, every job of the
//! batch gets `WriteError::NotCommitted` and nothing of it stays.
//!
//! Durability overlaps the next batch's work: the connection runs at
//! `synchronous=NORMAL` (in WAL mode a commit then only writes the WAL), and
//! a second thread, the syncer, `fdatasync`s the WAL file before answering
//! the batch's callers, while the writer already runs the next batch. When
//! nothing else waits and no sync is under way, the writer syncs the batch
//! itself: a lone webhook pays no hand-over between threads. What
//! has been answered is as durable as with `synchronous=FULL`: its WAL
//! frames were on the disk before the answer, and SQLite at NORMAL still
//! syncs the WAL before each checkpoint and the database after it, so no
//! checkpoint or WAL restart can drop a frame the syncer has not covered.
//!
//! Checkpoints are shared between two threads. Whenever
//! `CHECKPOINT_PAGES` frames of the WAL wait to be copied, a third thread,
//! the checkpointer, copies them into the database on a connection of its
//! own (`PASSIVE`: it never blocks the writer, and at `synchronous=NORMAL`
//! it syncs the WAL before and the database after). The frames the writer
//! appends meanwhile are left to the next pass. Once the WAL holds
//! `RESTART_PAGES` frames, the writer copies what the last pass left itself
//! between two batches, and with everything copied its next transaction
//! starts the WAL over. A checkpoint from another connection alone would
//! never let the WAL start over while the writer keeps appending, so it
//! would grow without bound; if the checkpointer falls behind anyway, the
//! writer checkpoints by itself past `2 × RESTART_PAGES`.
//!
//! Jobs run one after another in arrival order, so a job sees the state
//! every earlier job of the same batch left: per-entity decisions stay
//! serialised without locks.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};

use super::checkpoint::Checkpoints;
use super::sync::{Durable, SyncWal, Wal, answer_synced};
use crate::storage::writer::{Closed, Job, Ran, Stats, Writer, run_jobs};

/// Jobs per transaction at most. Larger batches gain little once the fsync
/// is shared, and keep callers of the batch's first job waiting longer.
pub const MAX_BATCH: usize = 256;

/// Jobs waiting beyond this many are refused at once (`WriteError::Busy`)
/// rather than left to pile up.
pub const QUEUE_DEPTH: usize = 4096;

/// WAL frames (pages) not yet copied into the database that start a
/// checkpoint on the checkpointer thread: 4 MB of 4 KB pages, SQLite's own
/// default. 16 MB gave the same throughput under the outage workload and a
/// worse p99 (the database's sync after a larger copy holds the disk
/// longer).
pub const CHECKPOINT_PAGES: i64 = 1000;

/// WAL frames past which the writer copies the rest itself, so that the WAL
/// starts over (16 MB). Each time costs the writer a copy and two syncs
/// between batches; at `CHECKPOINT_PAGES` it did so about every 800 frames
/// under load.
pub const RESTART_PAGES: i64 = 4 * CHECKPOINT_PAGES;

/// How the thread opens (and reopens) its connection.
#[derive(Debug, Clone)]
pub struct Opener {
    pub path: PathBuf,
    pub busy_timeout: Duration,
    /// Frames in the WAL after the last commit of a connection it opened.
    frames: Arc<AtomicI64>,
}

impl Opener {
    pub fn new(path: &Path, busy_timeout: Duration) -> Opener {
        Opener {
            path: path.to_owned(),
            busy_timeout,
            frames: Arc::default(),
        }
    }

    /// The write connection: WAL at `synchronous=NORMAL`; the syncer makes
    /// each batch durable before it is answered (see the module's notes),
    /// so a webhook acknowledged to Statuspage survives a power cut, not
    /// only a crash.
    pub fn open(&self) -> rusqlite::Result<Connection> {
        super::configure_sqlite();
        let conn = Connection::open(&self.path)?;
        conn.busy_timeout(self.busy_timeout)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        // A rerun batch's savepoints keep statement journals; in memory.
        conn.pragma_update(None, "temp_store", "MEMORY")?;
        // 16 MB of page cache, so the indexes a webhook touches stay in
        // memory between batches.
        conn.pragma_update(None, "cache_size", -16_000)?;
        conn.set_prepared_statement_cache_capacity(super::STATEMENT_CACHE);
        // Commits report the WAL's length here instead of checkpointing
        // (SQLite's automatic checkpoints use the same hook; this replaces
        // them). SAFETY: the pointer is the `Arc`'s, which this Opener (and
        // the writer thread, which keeps it past the connection's close)
        // holds for as long as the connection lives; the callback only
        // stores an integer in it.
        unsafe {
            rusqlite::ffi::sqlite3_wal_hook(
                conn.handle(),
                Some(wal_committed),
                Arc::as_ptr(&self.frames) as *mut std::ffi::c_void,
            );
        }
        Ok(conn)
    }

    /// Frames in the WAL after the last commit.
    pub(super) fn frames(&self) -> i64 {
        self.frames.load(Ordering::Relaxed)
    }

    /// A connection for the checkpointer: it only checkpoints.
    pub(super) fn open_checkpointer(&self) -> rusqlite::Result<Connection> {
        let conn = Connection::open(&self.path)?;
        conn.busy_timeout(self.busy_timeout)?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        Ok(conn)
    }
}

/// SQLite's WAL hook: a commit left `pages` frames in the WAL.
unsafe extern "C" fn wal_committed(
    frames: *mut std::ffi::c_void,
    _db: *mut rusqlite::ffi::sqlite3,
    _name: *const std::ffi::c_char,
    pages: std::ffi::c_int,
) -> std::ffi::c_int {
    // SAFETY: registered in `Opener::open` with a pointer to a live AtomicI64.
    let frames = unsafe { &*(frames as *const AtomicI64) };
    frames.store(i64::from(pages), Ordering::Relaxed);
    rusqlite::ffi::SQLITE_OK
}

/// Starts the thread with `conn`, opened by `opener` (used again if the
/// connection must be replaced).
pub fn spawn(conn: Connection, opener: Opener) -> std::io::Result<(Writer, Closed)> {
    let mut wal = Wal::new(&opener.path);
    spawn_with(conn, opener, move || wal.sync())
}

/// `spawn`, with `sync` making a committed batch durable (the syncer
/// thread calls it before answering the batch's callers).
fn spawn_with(
    conn: Connection,
    opener: Opener,
    sync: impl FnMut() -> std::io::Result<()> + Send + 'static,
) -> std::io::Result<(Writer, Closed)> {
    let (tx, rx) = mpsc::channel(QUEUE_DEPTH);
    let (closed_tx, closed_rx) = oneshot::channel();
    let (synced_tx, synced_rx) = std::sync::mpsc::channel::<Vec<Box<dyn Job>>>();
    let stats = Arc::new(Stats::default());
    let sync: SyncWal = Arc::new(Mutex::new(Box::new(sync)));
    let syncer_sync = sync.clone();
    let syncer = std::thread::Builder::new()
        .name("sqlite-syncer".into())
        .spawn(move || {
            while let Ok(first) = synced_rx.recv() {
                // Every batch committed meanwhile shares this sync.
                let mut batches = vec![first];
                batches.extend(synced_rx.try_iter());
                let mut sync = syncer_sync.lock().unwrap_or_else(PoisonError::into_inner);
                answer_synced(batches.into_iter().flatten(), &mut sync);
            }
        })?;
    let thread_stats = stats.clone();
    let (checkpoints, checkpointer) = Checkpoints::spawn(&opener)?;
    std::thread::Builder::new()
        .name("sqlite-writer".into())
        .spawn(move || {
            let durable = Durable {
                sync,
                syncer: synced_tx,
            };
            let conn = run(conn, &opener, rx, &durable, &checkpoints, &thread_stats);
            // Every batch answered and the checkpointer's connection
            // closed before this one closes (the last to close
            // checkpoints the WAL and removes it).
            drop(durable);
            let _ = syncer.join();
            drop(checkpoints);
            let _ = checkpointer.join();
            if let Err((_, e)) = conn.close() {
                tracing::warn!(error = %e, "closing the write connection failed");
            }
            let _ = closed_tx.send(());
        })?;
    Ok((Writer::new(tx, stats, None), Closed::new(closed_rx)))
}

/// The thread's loop: a batch per wake-up, until every handle is gone. A
/// committed batch is answered once durable (`Durable`); a failed one at
/// once. Returns the connection, still open.
fn run(
    mut conn: Connection,
    opener: &Opener,
    mut rx: mpsc::Receiver<Box<dyn Job>>,
    durable: &Durable,
    checkpoints: &Checkpoints,
    stats: &Stats,
) -> Connection {
    let mut batch: Vec<Box<dyn Job>> = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = rx.blocking_recv() {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        match run_batch(&conn, &mut batch, stats) {
            Ok(()) => {
                stats.committed(batch.len());
                let jobs = std::mem::replace(&mut batch, Vec::with_capacity(MAX_BATCH));
                durable.answer(jobs, rx.is_empty());
                checkpoints.after_commit(&conn, opener.frames());
            }
            Err(e) => {
                tracing::error!(error = %e, jobs = batch.len(), "a write batch did not commit; its callers are told to retry");
                for job in batch.drain(..) {
                    job.answer(Err(&e));
                }
            }
        }
        if !conn.is_autocommit() {
            conn = reopen(conn, opener);
        }
    }
    conn
}

/// One transaction for the whole batch. If a job fails, the batch is rolled
/// back and run once more, each job in a savepoint of its own, so that the
/// failing job (and any other) fails alone.
fn run_batch(conn: &Connection, batch: &mut [Box<dyn Job>], stats: &Stats) -> Result<(), String> {
    exec(conn, "BEGIN IMMEDIATE").map_err(|e| format!("BEGIN: {e}"))?;
    // SQLite rolls the whole transaction back by itself on some errors
    // (disk full, I/O error); then nothing of the batch is left to keep.
    let ok = run_jobs(super::conn(conn), batch, &|| !conn.is_autocommit()) == Ran::Done;
    if conn.is_autocommit() {
        return Err("SQLite rolled the transaction back".into());
    }
    if !ok {
        stats.reruns.fetch_add(1, Ordering::Relaxed);
        exec(conn, "ROLLBACK").map_err(|e| abort(conn, format!("ROLLBACK: {e}")))?;
        return run_batch_in_savepoints(conn, batch);
    }
    exec(conn, "COMMIT").map_err(|e| abort(conn, format!("COMMIT: {e}")))
}

/// Runs one job, a panic counting as a failure.
fn run_job(conn: &Connection, job: &mut Box<dyn Job>) -> bool {
    catch_unwind(AssertUnwindSafe(|| job.run(super::conn(conn)))).unwrap_or_else(|_| {
        tracing::error!("a database write job panicked; nothing of it is kept");
        false
    })
}

/// The batch again, a savepoint per job: a job that fails is rolled back
/// to its savepoint while the rest commits.
fn run_batch_in_savepoints(conn: &Connection, batch: &mut [Box<dyn Job>]) -> Result<(), String> {
    exec(conn, "BEGIN IMMEDIATE").map_err(|e| format!("BEGIN: {e}"))?;
    for job in batch.iter_mut() {
        exec(conn, "SAVEPOINT job").map_err(|e| abort(conn, format!("SAVEPOINT: {e}")))?;
        let ok = run_job(conn, job);
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
    let opener = Opener::new(path, busy_timeout);
    let conn = opener
        .open()
        .with_context(|| format!("opening {} for writing", path.display()))?;
    Ok(spawn(conn, opener)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::WriteError;
    use crate::storage::sql::{self, Conn};
    use std::sync::mpsc as std_mpsc;

    type TestJob<T = ()> = Box<dyn FnMut(Conn<'_>) -> sql::Result<T> + Send>;

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

    fn insert(id: &'static str) -> impl FnMut(Conn<'_>) -> sql::Result<()> + Send {
        move |c| {
            c.execute("INSERT INTO t (id) VALUES (?)", &sql::args![id])
                .map(|_| ())
        }
    }

    async fn rows(w: &Writer) -> Vec<String> {
        w.run(|c| c.query("SELECT id FROM t ORDER BY id", &[], |r| r.get(0)))
            .await
            .unwrap()
    }

    /// Holds the writer thread inside a job until the returned sender is
    /// used, so that the jobs queued meanwhile form one batch. Returns once
    /// the holding job runs. (It is a batch of its own: the queue was empty
    /// when the writer took it.)
    async fn hold(w: &Writer) -> (std_mpsc::Sender<()>, tokio::task::JoinHandle<()>) {
        let (go, wait) = std_mpsc::channel::<()>();
        let (running_tx, running) = oneshot::channel::<()>();
        let w = w.clone();
        let mut running_tx = Some(running_tx);
        let held = tokio::spawn(async move {
            let _ = w
                .run(move |_| {
                    if let Some(tx) = running_tx.take() {
                        let _ = tx.send(());
                        let _ = wait.recv();
                    }
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
                c.execute("INSERT INTO c (pid) VALUES ('nobody')", &[])
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
            .map(|_| Box::new(|_: Conn<'_>| Ok(())) as Box<_>)
            .collect();
        let handles = queue(&w, jobs).await;
        let refused = w.try_run_locked(Vec::new(), insert("late")).await;
        assert!(matches!(refused, Err(WriteError::Busy)), "{refused:?}");
        go.send(()).unwrap();
        held.await.unwrap();
        for h in handles {
            h.await.unwrap().unwrap();
        }
        // Room again.
        w.try_run_locked(Vec::new(), insert("later")).await.unwrap();
        assert_eq!(rows(&w).await, ["later"]);
    }

    /// A fresh database with table `t`, its opener and write connection,
    /// for `Writer::spawn_with`.
    fn opened() -> (tempfile::TempDir, Opener, Connection) {
        let dir = tempfile::tempdir().unwrap();
        let opener = Opener::new(&dir.path().join("w.db"), Duration::from_secs(1));
        let conn = opener.open().unwrap();
        conn.execute_batch("CREATE TABLE t (id TEXT PRIMARY KEY)")
            .unwrap();
        (dir, opener, conn)
    }

    /// A writer whose syncer waits for a go (one per sync) and fails when
    /// told to.
    async fn writer_with_gated_sync() -> (
        tempfile::TempDir,
        Writer,
        std_mpsc::Sender<bool>,
        std_mpsc::Receiver<()>,
    ) {
        let (dir, opener, conn) = opened();
        let (go_tx, go) = std_mpsc::channel::<bool>();
        let (started_tx, started) = std_mpsc::channel::<()>();
        let (w, _closed) = spawn_with(conn, opener, move || {
            let _ = started_tx.send(());
            match go.recv() {
                Ok(true) => Ok(()),
                _ => Err(std::io::Error::other("the disk said no")),
            }
        })
        .unwrap();
        (dir, w, go_tx, started)
    }

    fn count_on_disk(dir: &Path) -> i64 {
        Connection::open(dir.join("w.db"))
            .unwrap()
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_batch_is_answered_only_once_synced_while_the_next_one_runs() {
        let (dir, w, go, started) = writer_with_gated_sync().await;
        // "a" waits in the queue while the writer is held in a batch of its
        // own, so that batch is handed to the syncer when it commits.
        let (release, held) = hold(&w).await;
        let first = {
            let before = w.queued();
            let w2 = w.clone();
            let h = tokio::spawn(async move { w2.run(insert("a")).await });
            while w.queued() == before {
                tokio::task::yield_now().await;
            }
            h
        };
        release.send(()).unwrap();
        // The held batch's sync has begun, not ended.
        let started = tokio::task::spawn_blocking(move || {
            started.recv().unwrap();
            started
        })
        .await
        .unwrap();
        // "a" commits meanwhile: the writer is not waiting for that sync.
        let path = dir.path().to_owned();
        while tokio::task::spawn_blocking({
            let path = path.clone();
            move || count_on_disk(&path)
        })
        .await
        .unwrap()
            < 1
        {
            tokio::task::yield_now().await;
        }
        assert!(!held.is_finished(), "answered before its sync ended");
        assert!(!first.is_finished(), "answered before any sync of it");
        // One sync each.
        go.send(true).unwrap();
        go.send(true).unwrap();
        held.await.unwrap();
        first.await.unwrap().unwrap();
        drop(started);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_lone_batch_is_synced_by_the_writer_itself() {
        let (dir, opener, conn) = opened();
        let threads = Arc::new(Mutex::new(Vec::<String>::new()));
        let seen = threads.clone();
        let (w, _closed) = spawn_with(conn, opener, move || {
            let name = std::thread::current().name().unwrap_or("").to_owned();
            seen.lock().unwrap().push(name);
            Ok(())
        })
        .unwrap();
        w.run(insert("a")).await.unwrap();
        w.run(insert("b")).await.unwrap();
        assert_eq!(
            *threads.lock().unwrap(),
            ["sqlite-writer", "sqlite-writer"],
            "nothing else waited: no hand-over to the syncer"
        );
        assert_eq!(count_on_disk(dir.path()), 2);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_sync_tells_the_callers_it_was_not_committed() {
        let (_dir, w, go, _started) = writer_with_gated_sync().await;
        go.send(false).unwrap();
        let r = w.run(insert("a")).await;
        assert!(
            matches!(&r, Err(WriteError::NotCommitted(why)) if why.contains("the disk said no")),
            "{r:?}"
        );
        go.send(true).unwrap();
        w.run(insert("b")).await.unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn batches_are_counted_by_size_and_a_rerun_is_counted() {
        let (_dir, w, _) = writer().await;
        let before = w.stats().batches.load(Ordering::Relaxed);
        let (go, held) = hold(&w).await;
        let jobs: Vec<TestJob> = vec![
            Box::new(insert("a")),
            Box::new(insert("b")),
            Box::new(insert("c")),
        ];
        let handles = queue(&w, jobs).await;
        go.send(()).unwrap();
        held.await.unwrap();
        for h in handles {
            h.await.unwrap().unwrap();
        }
        let stats = w.stats();
        assert_eq!(stats.reruns.load(Ordering::Relaxed), 0, "nothing failed");
        let counted = stats.batches();
        // The held job alone, then the three queued behind it together.
        let batches = stats.batches.load(Ordering::Relaxed);
        assert_eq!(batches, before + 2, "{counted:?}");
        let bucket = |le: f64| counted.sizes.iter().find(|(b, _)| *b == le).unwrap().1;
        assert!(bucket(1.0) >= 1, "{counted:?}");
        assert_eq!(bucket(3.0), 1, "the three together: {counted:?}");
        assert_eq!(bucket(7.0), 0, "{counted:?}");
        assert_eq!(counted.sizes.iter().map(|(_, n)| n).sum::<u64>(), batches);
        assert_eq!(counted.count, batches);
        w.run(|c| {
            c.execute("INSERT INTO t (id) VALUES ('a')", &[])
                .map(|_| ())
        })
        .await
        .unwrap_err();
        assert_eq!(stats.reruns.load(Ordering::Relaxed), 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_wal_starts_over_under_steady_writes() {
        // Six checkpoints' worth of pages (about 100 MB) through the WAL
        // from 16 callers at once, batches following each other without a
        // pause: the checkpointer must copy them and the writer let the WAL
        // start over, so it stays near one checkpoint's worth. (Checkpoints
        // from the other connection alone would let it grow with all that
        // was written, and the writer's own fallback only past four.)
        let dir = tempfile::tempdir().unwrap();
        let (w, _closed) = start(&dir.path().join("w.db"), Duration::from_secs(1)).unwrap();
        w.run(|c| c.execute_batch("CREATE TABLE b (x BLOB)"))
            .await
            .unwrap();
        let per_caller = (5 * RESTART_PAGES / 2 / 16) as usize;
        let callers: Vec<_> = (0..16)
            .map(|_| {
                let w = w.clone();
                tokio::spawn(async move {
                    for _ in 0..per_caller {
                        w.run(|c| {
                            c.execute("INSERT INTO b (x) VALUES (zeroblob(4000))", &[])
                                .map(|_| ())
                        })
                        .await
                        .unwrap();
                    }
                })
            })
            .collect();
        for c in callers {
            c.await.unwrap();
        }
        let wal = std::fs::metadata(dir.path().join("w.db-wal"))
            .unwrap()
            .len();
        // Without the writer's part it would reach twice RESTART_PAGES.
        let bound = (RESTART_PAGES + 2 * CHECKPOINT_PAGES) as u64 * 4096;
        assert!(wal < bound, "the WAL grew to {wal} bytes (bound {bound})");
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
