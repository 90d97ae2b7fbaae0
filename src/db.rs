//! Opening the database: migrations, the single write connection and its
//! owner task, and the read-only pool.
//!
//! SQLite has one writer at a time anyway, so one task owns the write
//! connection and everything that writes hands it a job over a channel.
//! Jobs run one after another, which serialises per-entity decisions
//! without locks. Reads (audit, health) use a separate read-only pool that
//! WAL lets run beside the writer.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{ConnectOptions, SqliteConnection};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

mod embedded {
    refinery::embed_migrations!("migrations");
}

/// A unit of work for the write connection.
type Job = Box<dyn for<'c> FnOnce(&'c mut SqliteConnection) -> BoxFuture<'c, ()> + Send>;

/// The writer task is gone (shut down, or a job panicked).
#[derive(Debug, thiserror::Error)]
#[error("the database writer is not running")]
pub struct WriterGone;

/// A handle to the task that owns the write connection. Cheap to clone.
#[derive(Clone)]
pub struct Writer {
    jobs: mpsc::Sender<Job>,
}

impl Writer {
    /// Starts the task owning `conn` (opened with `options`). It runs until
    /// every `Writer` clone is dropped, finishes the queued jobs, then
    /// closes the connection.
    pub fn spawn(
        conn: SqliteConnection,
        options: SqliteConnectOptions,
    ) -> (Writer, JoinHandle<()>) {
        let (tx, mut rx) = mpsc::channel::<Job>(1024);
        let task = tokio::spawn(async move {
            let mut conn = conn;
            while let Some(job) = rx.recv().await {
                // A panicking job must not take the writer down with it;
                // its caller sees `WriterGone` for that one job.
                if std::panic::AssertUnwindSafe(job(&mut conn))
                    .catch_unwind()
                    .await
                    .is_err()
                {
                    tracing::error!(
                        "a database write job panicked; its transaction was rolled back"
                    );
                }
                if !is_clean(&mut conn).await {
                    conn = reopen(conn, &options).await;
                }
            }
            if let Err(e) = sqlx::Connection::close(conn).await {
                tracing::warn!(error = %e, "closing the write connection failed");
            }
        });
        (Writer { jobs: tx }, task)
    }

    /// Runs `f` on the write connection after the jobs queued before it,
    /// and returns its result.
    pub async fn run<T, F>(&self, f: F) -> Result<T, WriterGone>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut SqliteConnection) -> BoxFuture<'c, T> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move |conn| {
            async move {
                let out = f(conn).await;
                let _ = tx.send(out);
            }
            .boxed()
        });
        self.jobs.send(job).await.map_err(|_| WriterGone)?;
        rx.await.map_err(|_| WriterGone)
    }
}

/// True when the connection is outside any transaction between jobs, as
/// it must be. SQLite rolls a transaction back by itself on some errors
/// (disk full, I/O error); a later ROLLBACK then fails and the driver
/// still counts a transaction open, so the next job's "transaction" would
/// only be a savepoint inside it and never commit. The ping makes any
/// queued rollback run before the check.
async fn is_clean(conn: &mut SqliteConnection) -> bool {
    sqlx::Connection::ping(conn).await.is_ok() && !sqlx::Connection::is_in_transaction(conn)
}

/// Replaces a write connection left in a bad state (dropping it rolls back
/// whatever it still held; nothing of that was reported as stored).
async fn reopen(bad: SqliteConnection, options: &SqliteConnectOptions) -> SqliteConnection {
    tracing::error!(
        "the write connection was left inside a transaction after a failed write; reopening it"
    );
    drop(bad);
    let mut wait = Duration::from_millis(100);
    loop {
        match options.connect().await {
            Ok(conn) => {
                tracing::info!("write connection reopened");
                return conn;
            }
            Err(e) => {
                tracing::error!(error = %e, retry_in_ms = wait.as_millis() as u64, "reopening the write connection failed");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(5));
            }
        }
    }
}

/// Everything a process needs to use the database.
pub struct Database {
    pub writer: Writer,
    pub writer_task: JoinHandle<()>,
    pub read: SqlitePool,
}

/// Creates the file and its folder if needed, applies migrations, and opens
/// the write connection (owned by a new writer task) and the read pool.
pub async fn open(path: &Path, busy_timeout: Duration) -> anyhow::Result<Database> {
    migrate(path)?;
    let options = write_options(path, busy_timeout);
    let conn = options
        .connect()
        .await
        .with_context(|| format!("opening {} for writing", path.display()))?;
    let (writer, writer_task) = Writer::spawn(conn, options);
    let read = read_pool(path, busy_timeout).await?;
    Ok(Database {
        writer,
        writer_task,
        read,
    })
}

/// Applies the embedded migrations with refinery's rusqlite driver.
pub fn migrate(path: &Path) -> anyhow::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating the database folder {}", dir.display()))?;
    }
    let mut conn = rusqlite::Connection::open(path)
        .with_context(|| format!("opening database {}", path.display()))?;
    conn.busy_timeout(Duration::from_secs(30))?;
    let report = embedded::migrations::runner()
        .run(&mut conn)
        .with_context(|| format!("migrating database {}", path.display()))?;
    for m in report.applied_migrations() {
        tracing::info!(migration = %m, "applied migration");
    }
    Ok(())
}

fn base_options(path: &Path, busy_timeout: Duration) -> SqliteConnectOptions {
    SqliteConnectOptions::from_str("sqlite:")
        .expect("static options")
        .filename(path)
        .journal_mode(SqliteJournalMode::Wal)
        .busy_timeout(busy_timeout)
        .foreign_keys(true)
}

/// The write connection: FULL sync so a webhook acknowledged to Statuspage
/// survives a power cut, not only a crash.
pub fn write_options(path: &Path, busy_timeout: Duration) -> SqliteConnectOptions {
    base_options(path, busy_timeout)
        .create_if_missing(true)
        .synchronous(SqliteSynchronous::Full)
}

/// A read-only pool for pages, APIs and health checks.
pub async fn read_pool(path: &Path, busy_timeout: Duration) -> anyhow::Result<SqlitePool> {
    SqlitePoolOptions::new()
        .max_connections(4)
        .connect_with(base_options(path, busy_timeout).read_only(true))
        .await
        .with_context(|| format!("opening {} for reading", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::FutureExt;

    #[tokio::test]
    async fn a_connection_left_in_a_transaction_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.db");
        let db = open(&path, Duration::from_secs(1)).await.unwrap();
        // A job that leaves a transaction open, as a failed ROLLBACK does.
        db.writer
            .run(|conn| {
                async move {
                    let tx = sqlx::Connection::begin(&mut *conn).await.unwrap();
                    std::mem::forget(tx);
                    sqlx::query("INSERT INTO refinery_schema_history (version, name, applied_on, checksum) VALUES (999, 'lost', 'x', 'x')")
                        .execute(&mut *conn)
                        .await
                        .unwrap();
                }
                .boxed()
            })
            .await
            .unwrap();
        // The next job commits for real: another connection sees it.
        db.writer
            .run(|conn| {
                async move {
                    let mut tx = sqlx::Connection::begin(&mut *conn).await.unwrap();
                    sqlx::query("INSERT INTO refinery_schema_history (version, name, applied_on, checksum) VALUES (1000, 'kept', 'x', 'x')")
                        .execute(&mut *tx)
                        .await
                        .unwrap();
                    tx.commit().await.unwrap();
                }
                .boxed()
            })
            .await
            .unwrap();
        let names: Vec<String> =
            sqlx::query_scalar("SELECT name FROM refinery_schema_history WHERE version >= 999")
                .fetch_all(&db.read)
                .await
                .unwrap();
        assert_eq!(
            names,
            ["kept"],
            "the abandoned write is rolled back, the next one committed"
        );
    }
}
