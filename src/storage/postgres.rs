//! PostgreSQL, for several replicas on one database (docs/ENGINES.md).
//!
//! - Migrations: refinery's tokio-postgres driver, under a session advisory
//!   lock, so that of replicas starting together one applies them and the
//!   others wait, then find nothing left to do.
//! - Writes: each job is one transaction on a blocking thread, driving
//!   sqlx's PostgreSQL driver through [`sql::Conn`], the same statements as
//!   on SQLite. Jobs that touch an entity take its advisory lock first
//!   (`Conn::lock`), so two replicas apply one entity's events one after
//!   the other. A deadlock or serialisation failure reruns the job.
//! - Every wait is bounded: a pool that cannot get a connection gives up
//!   after [`ACQUIRE`], a job after [`JOB_DEADLINE`], so a webhook is
//!   answered 503 in seconds while the database is gone, and the next one
//!   succeeds once it is back.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use tokio::runtime::Handle;
use tokio::sync::Semaphore;

use super::WriteError;
use super::sql::{self, Conn, PgTx};

mod embedded {
    refinery::embed_migrations!("migrations/postgres");
}

/// How long a job waits for a pooled connection.
pub const ACQUIRE: Duration = Duration::from_secs(3);
/// How long a caller waits for a job, start to commit.
pub const JOB_DEADLINE: Duration = Duration::from_secs(8);
/// Connections per replica: the writes and the reads share them.
const CONNECTIONS: u32 = 16;
/// Jobs running at once; more wait (`run`) or are refused (`try_run`).
const JOBS: usize = 64;
/// Reruns of a job that lost a deadlock or serialisation race.
const RERUNS: usize = 3;
/// The advisory lock migrations run under (any fixed number).
const MIGRATION_LOCK: i64 = 0x5350_4252_4D49_4752; // "SPBRMIGR"

fn options(url: &str) -> anyhow::Result<PgConnectOptions> {
    PgConnectOptions::from_str(url)
        .context("database.url is not a PostgreSQL URL")
        .map(|o| o.application_name("statuspage-bridge"))
}

/// A pool of connections that gives up on an unreachable database within
/// seconds; no connection is made until one is needed.
pub fn pool(url: &str) -> anyhow::Result<PgPool> {
    Ok(PgPoolOptions::new()
        .max_connections(CONNECTIONS)
        .min_connections(0)
        .acquire_timeout(ACQUIRE)
        .idle_timeout(Duration::from_secs(300))
        .connect_lazy_with(options(url)?))
}

/// Applies the embedded PostgreSQL migrations; several replicas may call
/// it at once.
pub async fn migrate(url: &str, log: bool) -> anyhow::Result<()> {
    let (mut client, connection) = tokio::time::timeout(
        Duration::from_secs(10),
        tokio_postgres::connect(url, tokio_postgres::NoTls),
    )
    .await
    .map_err(|_| anyhow::anyhow!("PostgreSQL did not answer within 10 s"))?
    .context("connecting to PostgreSQL")?;
    let driver = tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::warn!(error = %e, "the migration connection ended");
        }
    });
    client
        .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])
        .await
        .context("waiting for the migration lock")?;
    let report = embedded::migrations::runner()
        .run_async(&mut client)
        .await
        .context("migrating the PostgreSQL database");
    let _ = client
        .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK])
        .await;
    drop(client);
    let _ = driver.await;
    for m in report?.applied_migrations().iter().filter(|_| log) {
        tracing::info!(migration = %m, "applied migration");
    }
    Ok(())
}

/// Runs write jobs, each in a transaction of its own.
#[derive(Clone)]
pub struct Jobs {
    pool: PgPool,
    slots: Arc<Semaphore>,
}

impl Jobs {
    pub fn new(pool: PgPool) -> Jobs {
        Jobs {
            pool,
            slots: Arc::new(Semaphore::new(JOBS)),
        }
    }

    /// Jobs running now.
    pub fn running(&self) -> usize {
        JOBS - self.slots.available_permits()
    }

    /// Runs `f` in a transaction and commits; `wait` false refuses at once
    /// (`Busy`) when every slot is taken.
    pub async fn run<T, F>(&self, f: F, wait: bool) -> Result<T, WriteError>
    where
        T: Send + 'static,
        F: FnMut(Conn<'_>) -> sql::Result<T> + Send + 'static,
    {
        let permit = if wait {
            self.slots
                .clone()
                .acquire_owned()
                .await
                .map_err(|_| WriteError::Gone)?
        } else {
            self.slots
                .clone()
                .try_acquire_owned()
                .map_err(|_| WriteError::Busy)?
        };
        let pool = self.pool.clone();
        let handle = Handle::current();
        let job = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let mut f = f;
            let mut reruns = 0;
            loop {
                match run_once(&handle, &pool, &mut f) {
                    Err(WriteError::Failed(e)) if reruns < RERUNS && is_race(&e) => {
                        reruns += 1;
                        tracing::debug!(error = %e, reruns, "a write lost a race; running it again");
                    }
                    done => return done,
                }
            }
        });
        match tokio::time::timeout(JOB_DEADLINE, job).await {
            Ok(Ok(done)) => done,
            Ok(Err(_)) => Err(WriteError::Panicked),
            Err(_) => Err(WriteError::NotCommitted(format!(
                "PostgreSQL did not finish the write within {} s",
                JOB_DEADLINE.as_secs()
            ))),
        }
    }
}

/// A deadlock or a serialisation failure: running the job again succeeds.
fn is_race(e: &sql::Error) -> bool {
    match e {
        sql::Error::Postgres(sqlx::Error::Database(d)) => {
            matches!(d.code().as_deref(), Some("40P01" | "40001"))
        }
        _ => false,
    }
}

fn run_once<T>(
    handle: &Handle,
    pool: &PgPool,
    f: &mut impl FnMut(Conn<'_>) -> sql::Result<T>,
) -> Result<T, WriteError> {
    let tx = handle
        .block_on(pool.begin())
        .map_err(|e| WriteError::NotCommitted(format!("PostgreSQL: {e}")))?;
    let pg = PgTx::new(handle.clone(), tx);
    let out = catch_unwind(AssertUnwindSafe(|| f(Conn::Postgres(&pg))));
    let tx = pg.into_inner();
    match out {
        Ok(Ok(v)) => handle
            .block_on(tx.commit())
            .map(|()| v)
            .map_err(|e| WriteError::NotCommitted(format!("COMMIT: {e}"))),
        Ok(Err(e)) => {
            let _ = handle.block_on(tx.rollback());
            Err(WriteError::Failed(e))
        }
        Err(_) => {
            tracing::error!("a database write job panicked; nothing of it is kept");
            let _ = handle.block_on(tx.rollback());
            Err(WriteError::Panicked)
        }
    }
}
