//! Group commit on PostgreSQL: each replica runs its write jobs in a few
//! lanes, each a thread with a transaction at a time. A lane takes every
//! job waiting (up to [`MAX_BATCH`]; while another lane is mid-batch, not
//! before [`FILL`] are waiting or that lane is done), takes the advisory
//! locks of all the entities they name at once, sorted (so two batches, on
//! this replica or another, never wait for each other in a cycle), runs
//! the jobs in order (the webhooks among them stored together:
//! `storage::ingest`) and commits once: one round of locks and one commit
//! for the batch instead of one per webhook.
//!
//! A batch that loses a deadlock or serialisation race is run again whole
//! (up to [`RERUNS`] times). If a job's own statements fail (or it panics),
//! the batch is rolled back and each job run again alone in a transaction
//! of its own, so the failing job fails alone. A failed `BEGIN` or
//! `COMMIT` fails every job of the batch with `NotCommitted`.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use sqlx::Connection as _;
use sqlx::PgConnection;
use sqlx::postgres::PgConnectOptions;
use tokio::runtime::Runtime;
use tokio::sync::{Notify, mpsc, oneshot};

use super::connect::ACQUIRE;
use super::tx::{PgTx, wait};
use crate::storage::sql::{self, Conn};
use crate::storage::writer::{Closed, Job, Ran, Stats, Writer, run_jobs};

/// Jobs per transaction at most.
pub const MAX_BATCH: usize = 64;
/// Lanes (transactions at once) per replica.
pub const LANES: usize = 2;
/// Jobs a lane gathers before it starts a batch while another lane is
/// mid-batch.
pub const FILL: usize = 8;
/// Jobs waiting beyond this many are refused at once (`Busy`).
pub const QUEUE_DEPTH: usize = 1024;
/// Reruns of a batch (or a lone job) that lost a deadlock or serialisation
/// race.
const RERUNS: usize = 3;
/// How long a caller waits for a job, queue to commit.
pub const JOB_DEADLINE: std::time::Duration = std::time::Duration::from_secs(8);

/// What a replica's lanes share: the queue, how many of them are mid-batch,
/// and a signal when one is done.
struct Lanes {
    queue: Mutex<mpsc::Receiver<Box<dyn Job>>>,
    running: AtomicUsize,
    finished: Notify,
}

/// Starts the lanes, each with its own connection to `options`'s server;
/// `Closed` resolves once every handle is gone and the lanes have finished
/// the queue.
pub fn start(options: PgConnectOptions) -> std::io::Result<(Writer, Closed)> {
    start_with(options, LANES)
}

/// The planner settings of a lane's connection. The write path looks rows
/// up by key, joining a table of keys (bound as arrays, whose values the
/// planner does not see) to each table's key: planned as for any keys, it
/// may hash a whole table instead, and for a batch of a few webhooks that
/// costs a scan of every webhook's applied keys. Only index lookups, then,
/// and each statement planned once (planning them for each batch cost
/// more than running them). No JIT compilation either: a plan made for
/// any keys can be costed far above `jit_above_cost` (a component listed by
/// every open incident makes its links look like the whole table), and
/// compiling it again on every run took some 60 ms of a lookup that reads
/// one index leaf.
const LOOK_UP_BY_KEY: [(&str, &str); 5] = [
    ("enable_seqscan", "off"),
    ("enable_hashjoin", "off"),
    ("enable_mergejoin", "off"),
    ("plan_cache_mode", "force_generic_plan"),
    ("jit", "off"),
];

/// `start` with `lanes` lanes.
fn start_with(options: PgConnectOptions, lanes_wanted: usize) -> std::io::Result<(Writer, Closed)> {
    let (tx, rx) = mpsc::channel(QUEUE_DEPTH);
    let shared = Arc::new(Lanes {
        queue: Mutex::new(rx),
        running: AtomicUsize::new(0),
        finished: Notify::new(),
    });
    let stats = Arc::new(Stats::default());
    let mut lanes = Vec::with_capacity(lanes_wanted);
    let options = options.options(LOOK_UP_BY_KEY);
    for i in 0..lanes_wanted {
        let (shared, options, stats) = (shared.clone(), options.clone(), stats.clone());
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        lanes.push(
            std::thread::Builder::new()
                .name(format!("postgres-lane-{i}"))
                .spawn(move || {
                    let mut lane = Lane {
                        rt,
                        options,
                        conn: None,
                    };
                    lane.run(&shared, &stats);
                })?,
        );
    }
    let (closed_tx, closed_rx) = oneshot::channel();
    std::thread::Builder::new()
        .name("postgres-lanes".into())
        .spawn(move || {
            for l in lanes {
                let _ = l.join();
            }
            let _ = closed_tx.send(());
        })?;
    Ok((
        Writer::new(tx, stats, Some(JOB_DEADLINE)),
        Closed::new(closed_rx),
    ))
}

/// One lane: its runtime (driven by the lane's thread alone) and its
/// connection, made when first needed and again after it broke.
struct Lane {
    rt: Runtime,
    options: PgConnectOptions,
    conn: Option<PgConnection>,
}

impl Lane {
    /// A batch per turn, until every handle is gone.
    fn run(&mut self, lanes: &Lanes, stats: &Stats) {
        loop {
            let Some(mut batch) = self.take(lanes) else {
                return;
            };
            let ran = catch_unwind(AssertUnwindSafe(|| self.batch(&mut batch, stats)));
            lanes.running.fetch_sub(1, Ordering::SeqCst);
            lanes.finished.notify_one();
            if ran.is_err() {
                // Jobs not answered yet are dropped: their callers hear the
                // writer is gone, and retry.
                self.conn = None;
                tracing::error!(
                    jobs = batch.len(),
                    "a PostgreSQL lane panicked running a batch; it goes on with the next"
                );
            }
        }
    }

    /// The next batch: the jobs waiting, up to [`MAX_BATCH`]; none once
    /// every handle is gone and the queue is empty. While another lane is
    /// mid-batch the jobs go on gathering until there are [`FILL`] of them
    /// or that lane is done: a batch started at once would only halve the
    /// one after it, each paying its own round trips and commit.
    fn take(&self, lanes: &Lanes) -> Option<Vec<Box<dyn Job>>> {
        let mut rx = lanes.queue.lock().unwrap_or_else(PoisonError::into_inner);
        let mut batch = Vec::with_capacity(MAX_BATCH);
        batch.push(rx.blocking_recv()?);
        drain(&mut rx, &mut batch);
        while batch.len() < FILL && lanes.running.load(Ordering::SeqCst) > 0 {
            let next = self.rt.block_on(async {
                tokio::select! {
                    job = rx.recv() => Some(job),
                    () = lanes.finished.notified() => None,
                }
            });
            match next {
                Some(Some(job)) => {
                    batch.push(job);
                    drain(&mut rx, &mut batch);
                }
                // Every handle is gone: what is here runs now.
                Some(None) => break,
                // A lane is done (or was, before this lane waited): look again.
                None => {}
            }
        }
        lanes.running.fetch_add(1, Ordering::SeqCst);
        Some(batch)
    }

    /// The lane's connection, made if there is none.
    fn connection(&mut self) -> Result<&mut PgConnection, BatchFailed> {
        if self.conn.is_none() {
            let connect = PgConnection::connect_with(&self.options);
            let conn = self
                .rt
                .block_on(async { tokio::time::timeout(ACQUIRE, connect).await })
                .map_err(|_| {
                    BatchFailed::NotCommitted(format!(
                        "PostgreSQL: no connection within {} s",
                        ACQUIRE.as_secs()
                    ))
                })?
                .map_err(|e| BatchFailed::NotCommitted(format!("PostgreSQL: {e}")))?;
            self.conn = Some(conn);
        }
        Ok(self.conn.as_mut().expect("made above"))
    }

    /// Runs `batch` in one transaction (again if it lost a race); if a job
    /// fails, each job alone. Answers every job.
    fn batch(&mut self, batch: &mut Vec<Box<dyn Job>>, stats: &Stats) {
        let mut races = 0;
        let mut exclusive = 0;
        loop {
            match self.transaction(batch) {
                Ok(()) => {
                    stats.committed(batch.len());
                    for job in batch.drain(..) {
                        job.answer(Ok(()));
                    }
                    return;
                }
                Err(BatchFailed::Race) if races < RERUNS => {
                    races += 1;
                    tracing::debug!(
                        races,
                        jobs = batch.len(),
                        "a write batch lost a race; running it again"
                    );
                }
                // Each rerun holds one more webhook's entities exclusively.
                Err(BatchFailed::Exclusive) if exclusive < batch.len() => exclusive += 1,
                Err(BatchFailed::NotCommitted(why) | BatchFailed::NoBegin(why)) => {
                    tracing::error!(error = %why, jobs = batch.len(), "a write batch did not commit; its callers are told to retry");
                    for job in batch.drain(..) {
                        job.answer(Err(&why));
                    }
                    return;
                }
                Err(BatchFailed::Job | BatchFailed::Race | BatchFailed::Exclusive) => break,
            }
        }
        if batch.len() > 1 {
            stats
                .reruns
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        for mut job in batch.drain(..) {
            let (mut races, mut exclusive) = (0, false);
            let ended = loop {
                match self.transaction(std::slice::from_mut(&mut job)) {
                    Err(BatchFailed::Race) if races < RERUNS => races += 1,
                    Err(BatchFailed::Exclusive) if !exclusive => exclusive = true,
                    ended => break ended,
                }
            };
            match ended {
                Ok(()) => {
                    stats.committed(1);
                    job.answer(Ok(()));
                }
                // The job's own error (or its panic) tells its caller why.
                Err(BatchFailed::Job | BatchFailed::Exclusive) => job.answer(Ok(())),
                Err(BatchFailed::Race) => job.answer(Err(
                    "PostgreSQL: the write lost a deadlock or serialisation race again and again",
                )),
                Err(BatchFailed::NotCommitted(why) | BatchFailed::NoBegin(why)) => {
                    job.answer(Err(&why))
                }
            }
        }
    }

    /// One transaction: `keys` locked, `jobs` run in order, committed. A
    /// connection left in doubt is dropped, to be made anew.
    fn transaction(&mut self, jobs: &mut [Box<dyn Job>]) -> Result<(), BatchFailed> {
        let reused = self.conn.is_some();
        let ended = self.transaction_once(jobs);
        match ended {
            // A connection kept from before that the server (or the
            // network) dropped meanwhile: nothing ran, so once more on a
            // new one.
            Err(BatchFailed::NoBegin(_)) if reused => match self.transaction_once(jobs) {
                Err(BatchFailed::NoBegin(why)) => Err(BatchFailed::NotCommitted(why)),
                ended => ended,
            },
            Err(BatchFailed::NoBegin(why)) => Err(BatchFailed::NotCommitted(why)),
            ended => ended,
        }
    }

    fn transaction_once(&mut self, jobs: &mut [Box<dyn Job>]) -> Result<(), BatchFailed> {
        self.connection()?;
        let conn = self.conn.as_mut().expect("made above");
        let (ended, broken) = transaction_on(&self.rt, conn, jobs);
        if broken {
            self.conn = None;
        }
        ended
    }
}

/// Adds the jobs already waiting to `batch`, up to [`MAX_BATCH`].
fn drain(rx: &mut mpsc::Receiver<Box<dyn Job>>, batch: &mut Vec<Box<dyn Job>>) {
    while batch.len() < MAX_BATCH {
        match rx.try_recv() {
            Ok(job) => batch.push(job),
            Err(_) => break,
        }
    }
}

/// How a transaction ended when it did not commit.
enum BatchFailed {
    /// A job's own statements failed (or it panicked).
    Job,
    /// A deadlock or serialisation failure: running it again succeeds.
    Race,
    /// A webhook would write an entity held only for reading: run again,
    /// its keys now say so.
    Exclusive,
    /// BEGIN, a lock or COMMIT failed: nothing of it stays.
    NotCommitted(String),
    /// BEGIN failed: nothing ran.
    NoBegin(String),
}

/// One transaction on `conn`: the jobs' entities locked, `jobs` run in
/// order, committed; and whether the connection is left in doubt.
fn transaction_on(
    rt: &Runtime,
    conn: &mut PgConnection,
    jobs: &mut [Box<dyn Job>],
) -> (Result<(), BatchFailed>, bool) {
    let mut keys: Vec<String> = jobs.iter().flat_map(|j| j.keys().to_vec()).collect();
    let mut shared: Vec<String> = jobs.iter().flat_map(|j| j.shared_keys().to_vec()).collect();
    let tx = match wait(rt, conn.begin()) {
        Ok(tx) => tx,
        Err(e) => return (Err(BatchFailed::NoBegin(format!("PostgreSQL: {e}"))), true),
    };
    let pg = PgTx::new(rt, tx);
    let conn = Conn::new(&pg);
    let mut failed = match conn.lock(&mut keys, &mut shared) {
        Ok(()) => None,
        Err(e) if is_race(&e) => Some(BatchFailed::Race),
        Err(e) => Some(BatchFailed::NotCommitted(format!(
            "taking the entities' locks: {e}"
        ))),
    };
    if failed.is_none() {
        failed = match run_jobs(conn, jobs, &|| true) {
            Ran::Done => None,
            _ if pg.raced() => Some(BatchFailed::Race),
            Ran::Exclusive => Some(BatchFailed::Exclusive),
            Ran::Failed => Some(BatchFailed::Job),
        };
    }
    let mut broken = pg.broken();
    let tx = pg.into_inner();
    let ended = match failed {
        None => wait(rt, tx.commit()).map_err(|e| {
            let e = sql::Error::Postgres(e);
            if is_race(&e) {
                BatchFailed::Race
            } else {
                broken = true;
                BatchFailed::NotCommitted(format!("COMMIT: {e}"))
            }
        }),
        Some(f) => {
            if wait(rt, tx.rollback()).is_err() {
                broken = true;
            }
            Err(f)
        }
    };
    (ended, broken)
}

/// A deadlock or a serialisation failure: running the job again succeeds.
pub(super) fn is_race(e: &sql::Error) -> bool {
    match e {
        sql::Error::Postgres(sqlx::Error::Database(d)) => {
            matches!(d.code().as_deref(), Some("40P01" | "40001"))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    //! On the cluster named by `BRIDGE_TEST_DATABASE_URL` (`.ci/run` starts
    //! one); skipped without it.

    use std::str::FromStr as _;
    use std::sync::atomic::Ordering;

    use super::*;
    use crate::storage::WriteError;
    use crate::storage::sql::args;

    fn cluster() -> Option<PgConnectOptions> {
        let url = std::env::var("BRIDGE_TEST_DATABASE_URL")
            .ok()
            .filter(|u| !u.is_empty());
        if url.is_none() {
            eprintln!("skipped: BRIDGE_TEST_DATABASE_URL is not set");
        }
        url.map(|u| PgConnectOptions::from_str(&u).expect("a PostgreSQL URL"))
    }

    /// A table of this test's own.
    async fn table(w: &Writer) -> String {
        let name = format!("t_{}", uuid::Uuid::new_v4().simple());
        let create = format!("CREATE TABLE {name} (id TEXT PRIMARY KEY)");
        w.run(move |c| c.execute_batch(&create)).await.unwrap();
        name
    }

    type BatchJob = Box<dyn FnMut(Conn<'_>) -> sql::Result<()> + Send>;

    fn insert(table: &str, id: &'static str) -> BatchJob {
        let sql = format!("INSERT INTO {table} (id) VALUES (?)");
        Box::new(move |c| c.execute(&sql, &args![id]).map(|_| ()))
    }

    /// Holds a lane of `w` inside a job locking `keys` until the returned
    /// sender is used; returns once the job runs.
    async fn hold(
        w: &Writer,
        keys: Vec<String>,
    ) -> (std::sync::mpsc::Sender<()>, tokio::task::JoinHandle<()>) {
        let (go, wait) = std::sync::mpsc::channel::<()>();
        let (running_tx, running) = oneshot::channel::<()>();
        let w = w.clone();
        let mut running_tx = Some(running_tx);
        let held = tokio::spawn(async move {
            w.try_run_locked(keys, move |_| {
                if let Some(tx) = running_tx.take() {
                    let _ = tx.send(());
                    let _ = wait.recv();
                }
                Ok(())
            })
            .await
            .unwrap();
        });
        running.await.unwrap();
        (go, held)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_batch_commits_once_and_a_failing_job_fails_alone() {
        let Some(options) = cluster() else { return };
        let (w, closed) = start_with(options, 1).unwrap();
        let t = table(&w).await;
        let (go, held) = hold(&w, Vec::new()).await;
        let (before, reruns) = (
            w.stats().batches.load(Ordering::Relaxed),
            w.stats().reruns.load(Ordering::Relaxed),
        );
        let t2 = t.clone();
        let jobs: Vec<BatchJob> = vec![
            insert(&t, "a"),
            Box::new(move |c| {
                insert(&t2, "b")(c)?;
                insert(&t2, "a")(c) // primary key: fails after writing "b"
            }),
            Box::new(|_| panic!("a bug in a job")),
            insert(&t, "c"),
        ];
        let mut handles = Vec::new();
        for job in jobs {
            let queued = w.queued();
            let w2 = w.clone();
            handles.push(tokio::spawn(async move {
                w2.try_run_locked(vec!["k".into()], job).await
            }));
            while w.queued() == queued {
                tokio::task::yield_now().await;
            }
        }
        go.send(()).unwrap();
        held.await.unwrap();
        let mut results = Vec::new();
        for h in handles {
            results.push(h.await.unwrap());
        }
        assert!(results[0].is_ok(), "{:?}", results[0]);
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
        assert!(results[3].is_ok(), "{:?}", results[3]);
        let select = format!("SELECT id FROM {t} ORDER BY id");
        let rows = w
            .run(move |c| c.query(&select, &[], |r| r.get::<String>(0)))
            .await
            .unwrap();
        assert_eq!(rows, ["a", "c"], "the failed job's own write is gone");
        // The held job, the four together (rolled back), then "a" and "c"
        // alone, then the read above.
        assert_eq!(w.stats().reruns.load(Ordering::Relaxed), reruns + 1);
        assert_eq!(w.stats().batches.load(Ordering::Relaxed), before + 4);
        drop(w);
        closed.wait().await;
    }

    /// While one lane is mid-batch, the jobs that come meanwhile make one
    /// batch of [`FILL`] on the other lane, not a batch each; a job alone
    /// starts once the busy lane is done.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn while_a_lane_is_mid_batch_the_next_gathers_its_jobs() {
        let Some(options) = cluster() else { return };
        let (w, closed) = start_with(options, 2).unwrap();
        let t = table(&w).await;
        let (go, held) = hold(&w, Vec::new()).await;
        let before = w.stats().batches.load(Ordering::Relaxed);
        let run = |id: String| {
            let (w, sql) = (w.clone(), format!("INSERT INTO {t} (id) VALUES (?)"));
            tokio::spawn(async move {
                w.try_run_locked(Vec::new(), move |c| {
                    c.execute(&sql, &args![id.as_str()]).map(|_| ())
                })
                .await
            })
        };
        let gathered: Vec<_> = (0..FILL).map(|i| run(format!("gathered-{i}"))).collect();
        for job in gathered {
            job.await.unwrap().unwrap();
        }
        assert_eq!(
            w.stats().batches.load(Ordering::Relaxed),
            before + 1,
            "the jobs that came while a lane was held ran as one batch"
        );
        let lone = run("lone".into());
        go.send(()).unwrap();
        held.await.unwrap();
        tokio::time::timeout(std::time::Duration::from_secs(30), lone)
            .await
            .expect("a job alone runs once the busy lane is done")
            .unwrap()
            .unwrap();
        assert_eq!(w.stats().batches.load(Ordering::Relaxed), before + 3);
        let count = format!("SELECT count(*) FROM {t}");
        let n = w
            .run(move |c| c.query(&count, &[], |r| r.get::<i64>(0)))
            .await
            .unwrap();
        assert_eq!(n, [FILL as i64 + 1]);
        drop(w);
        closed.wait().await;
    }

    /// A plan costed far above `jit_above_cost` (here a sequential scan the
    /// lane's settings refuse) runs without compiling anything.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_lane_never_compiles_a_plan() {
        let Some(options) = cluster() else { return };
        let (w, closed) = start_with(options, 1).unwrap();
        let name = format!("t_{}", uuid::Uuid::new_v4().simple());
        let create = format!("CREATE TABLE {name} (x BIGINT)");
        w.run(move |c| c.execute_batch(&create)).await.unwrap();
        let explain = format!("EXPLAIN ANALYZE SELECT x FROM {name} WHERE x + 1 > 0");
        let plan = w
            .run(move |c| c.query(&explain, &[], |r| r.get::<String>(0)))
            .await
            .unwrap();
        assert!(
            plan[0].contains("Seq Scan") && plan[0].contains("cost=10000000000"),
            "a plan the settings refuse: {plan:#?}"
        );
        assert!(
            plan.iter()
                .all(|line| !line.trim_start().starts_with("JIT")),
            "compiled: {plan:#?}"
        );
        drop(w);
        closed.wait().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_batch_waits_for_another_replica_holding_one_of_its_entities() {
        let Some(options) = cluster() else { return };
        let (one, _) = start_with(options.clone(), 1).unwrap();
        let (two, _) = start_with(options.clone(), 1).unwrap();
        let t = table(&one).await;
        let key = format!("{t}-entity");
        let (go, held) = hold(&one, vec![key.clone(), "other".into()]).await;
        let waiting = {
            let job = insert(&t, "second");
            let two = two.clone();
            let keys = vec![key.clone()];
            tokio::spawn(async move { two.try_run_locked(keys, job).await })
        };
        // The second replica's batch waits on the lock (seen from a third
        // session), and has written nothing.
        let mut probe = PgConnection::connect_with(&options).await.unwrap();
        // Until it waits, or (were it not held back) finishes.
        while !waiting.is_finished() {
            let blocked: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted",
            )
            .fetch_one(&mut probe)
            .await
            .unwrap();
            if blocked > 0 {
                break;
            }
            tokio::task::yield_now().await;
        }
        assert!(
            !waiting.is_finished(),
            "the second replica wrote while the first held the entity"
        );
        go.send(()).unwrap();
        held.await.unwrap();
        waiting.await.unwrap().unwrap();
        let count = format!("SELECT count(*) FROM {t}");
        let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(count))
            .fetch_one(&mut probe)
            .await
            .unwrap();
        assert_eq!(n, 1);
    }
}
