//! Every SQL string and driver type of the bridge: the seam between the
//! rules and the database (docs/ARCHITECTURE.md).
//!
//! - `writer` — the thread that owns SQLite's one write connection and
//!   commits jobs in groups;
//! - `ingest` — read → plan → write for one webhook or heal;
//! - `outbox` — the events for ITOC360: claims, attempts, requeues;
//! - `upkeep` — backup, prune and daily retention;
//! - `history` — the stored history read back for `replay`;
//! - `catalog` — what reconcile learned of each page (name, components);
//! - `silences` and `rounds` — silences, and reconcile's rounds;
//! - `reader` and `audit` — the read-only pool and the audit queries.

pub mod audit;
pub mod catalog;
pub mod history;
pub mod ingest;
pub mod outbox;
pub mod postgres;
mod reader;
pub mod rounds;
pub mod silences;
pub mod sql;
pub mod upkeep;
pub mod writer;

use std::path::Path;
use std::time::Duration;

use anyhow::Context;

pub use reader::{ReadError, ReadResult, Reader, Rows, Scalar};
pub use writer::{Closed, WriteError, Writer};

mod embedded {
    refinery::embed_migrations!("migrations/sqlite");
}

/// Everything a process needs to use the database.
pub struct Database {
    pub writer: Writer,
    /// Resolves once the writer thread has finished its queue and closed
    /// the connection (after every `Writer` clone is dropped).
    pub writer_closed: Closed,
    pub read: Reader,
    /// Whether this process runs the pollers (reconcile, retention).
    pub poller: Poller,
}

/// Whether this process is the one that runs reconcile rounds and
/// retention: always on SQLite (one node); on PostgreSQL the replica
/// holding the poller lease (docs/ARCHITECTURE.md). Cheap to clone.
#[derive(Clone, Debug)]
pub struct Poller {
    held: tokio::sync::watch::Receiver<bool>,
    /// One node's lease, which never changes, keeps its own sender.
    _fixed: Option<std::sync::Arc<tokio::sync::watch::Sender<bool>>>,
}

impl Poller {
    /// A poller that always holds the lease (one node).
    pub fn always() -> Poller {
        let (tx, held) = tokio::sync::watch::channel(true);
        Poller {
            held,
            _fixed: Some(std::sync::Arc::new(tx)),
        }
    }

    /// Whether the lease is held now (a change seen here is not reported
    /// again by `changed`).
    pub fn held(&mut self) -> bool {
        *self.held.borrow_and_update()
    }

    /// Resolves when the lease is held (at once if it is).
    pub async fn wait_held(&mut self) {
        if self.held.wait_for(|h| *h).await.is_err() {
            std::future::pending::<()>().await;
        }
    }

    /// Resolves when the lease is taken or lost.
    pub async fn changed(&mut self) {
        if self.held.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

impl Database {
    /// Lets the writer finish its queue, then closes both connections
    /// (every other `Writer` clone must be gone for this to end).
    pub async fn close(self) {
        let Database {
            writer,
            writer_closed,
            read,
            poller,
        } = self;
        // The lease's task ends once no receiver is left: the lease goes
        // with its session.
        drop(poller);
        drop(writer);
        writer_closed.wait().await;
        read.close().await;
    }
}

/// Creates the file and its folder if needed, applies migrations, and opens
/// the write connection (owned by a new writer thread) and the read pool.
pub async fn open(path: &Path, busy_timeout: Duration) -> anyhow::Result<Database> {
    migrate(path)?;
    let (writer, writer_closed) = writer::start(path, busy_timeout)?;
    let read = Reader::open(path, busy_timeout).await?;
    Ok(Database {
        writer,
        writer_closed,
        read,
        poller: Poller::always(),
    })
}

/// Opens the configured database: PostgreSQL when `database.url` is set
/// (migrated under a lock, several replicas at once), else the SQLite file.
pub async fn open_configured(db: &crate::config::Database) -> anyhow::Result<Database> {
    if !db.is_postgres() {
        return open(&db.path, Duration::from_millis(db.busy_timeout_ms)).await;
    }
    let url = db.url.expose();
    postgres::migrate(url, true)
        .await
        .with_context(|| format!("opening PostgreSQL at {}", db.shown()))?;
    let pool = postgres::pool(url)?;
    let (writer, writer_closed) = Writer::postgres(pool.clone());
    let (held, poller) = tokio::sync::watch::channel(false);
    postgres::hold_poller_lease(url, held).await?;
    Ok(Database {
        writer,
        writer_closed,
        read: Reader::postgres(pool),
        poller: Poller {
            held: poller,
            _fixed: None,
        },
    })
}

/// Where the configured database lives, fit to print (no password).
pub fn describe(db: &crate::config::Database) -> String {
    if db.is_postgres() {
        format!("{} (PostgreSQL; database.path is not used)", db.shown())
    } else {
        db.shown()
    }
}

/// For `check-config`: the SQLite file, or the folder that will hold it,
/// must be usable (PostgreSQL is only reached when serving).
pub fn check_location(db: &crate::config::Database) -> anyhow::Result<()> {
    if db.is_postgres() {
        return Ok(());
    }
    check_file(&db.path)
}

/// The database file, or the folder that will hold it, must be usable:
/// an existing file must be a file, and the nearest existing folder on the
/// way to it must be a folder (it is created on start).
fn check_file(path: &std::path::Path) -> anyhow::Result<()> {
    if path.exists() {
        anyhow::ensure!(
            path.is_file(),
            "database.path: {} exists and is not a file",
            path.display()
        );
        std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map_err(|e| {
                anyhow::anyhow!(
                    "database.path: {} cannot be opened for writing: {e}",
                    path.display()
                )
            })?;
        return Ok(());
    }
    let mut dir = path.parent();
    while let Some(d) = dir {
        if d.as_os_str().is_empty() || d.exists() {
            let d = if d.as_os_str().is_empty() {
                std::path::Path::new(".")
            } else {
                d
            };
            anyhow::ensure!(
                d.is_dir(),
                "database.path: {} is not a folder, so {} cannot be created",
                d.display(),
                path.display()
            );
            return Ok(());
        }
        dir = d.parent();
    }
    Ok(())
}

/// Fails with "no database at …" when the SQLite file does not exist yet
/// (commands that only read or prune must not create one).
pub fn ensure_exists(db: &crate::config::Database) -> anyhow::Result<()> {
    anyhow::ensure!(
        db.is_postgres() || db.path.is_file(),
        "no database at {}",
        db.path.display()
    );
    Ok(())
}

/// Applies the embedded migrations with refinery's rusqlite driver.
pub fn migrate(path: &Path) -> anyhow::Result<()> {
    migrate_logged(path, true)
}

/// `migrate`, saying nothing (a scratch database).
pub fn migrate_quietly(path: &Path) -> anyhow::Result<()> {
    migrate_logged(path, false)
}

/// Prepared statements each write connection keeps: the write path uses
/// some forty; rusqlite's default of 16 would prepare most of them again
/// for every webhook.
pub const STATEMENT_CACHE: usize = 64;

/// Process-wide SQLite settings, before SQLite starts (later calls are
/// refused by SQLite and change nothing): no memory statistics, which would
/// take a global mutex on every allocation of every connection.
pub(crate) fn configure_sqlite() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: sqlite3_config is called with an int as MEMSTATUS expects;
        // before sqlite3_initialize it takes effect, after it SQLite
        // answers SQLITE_MISUSE and nothing changes.
        unsafe {
            rusqlite::ffi::sqlite3_config(rusqlite::ffi::SQLITE_CONFIG_MEMSTATUS, 0i32);
        }
    });
}

fn migrate_logged(path: &Path, log: bool) -> anyhow::Result<()> {
    configure_sqlite();
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
    for m in report.applied_migrations().iter().filter(|_| log) {
        tracing::info!(migration = %m, "applied migration");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_heals_note_moves_out_of_its_reason() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        let mut conn = rusqlite::Connection::open(&path).unwrap();
        embedded::migrations::runner()
            .set_target(refinery::Target::Version(6))
            .run(&mut conn)
            .unwrap();
        for (id, origin, reason) in [
            (
                "h1",
                "reconcile",
                "reconcile: missed webhook; investigating: alert opens",
            ),
            ("w1", "webhook", "reconcile: looks like one; but is not"),
            ("h2", "reconcile", "reconcile: ; odd"),
        ] {
            conn.execute(
                "INSERT INTO webhooks (id, received_at, source, body, body_bytes, kind,
                    outcome, reason, origin)
                 VALUES (?, '2025-01-01T00:00:00.000Z', 's', '{}', 2, 'incident', 'triggered', ?, ?)",
                [id, reason, origin],
            )
            .unwrap();
        }
        drop(conn);
        migrate(&path).unwrap();
        let conn = rusqlite::Connection::open(&path).unwrap();
        let notes: Vec<(String, Option<String>)> = conn
            .prepare("SELECT id, reconcile_note FROM webhooks ORDER BY id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            notes,
            [
                ("h1".to_owned(), Some("missed webhook".to_owned())),
                ("h2".to_owned(), None),
                ("w1".to_owned(), None),
            ]
        );
    }

    #[test]
    fn an_existing_database_upgrades_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        let mut conn = rusqlite::Connection::open(&path).unwrap();
        embedded::migrations::runner()
            .set_target(refinery::Target::Version(1))
            .run(&mut conn)
            .unwrap();
        conn.execute(
            "INSERT INTO webhooks (id, received_at, source, body, body_bytes, kind, entity_name,
                outcome, reason)
             VALUES ('w1', '2025-01-01T00:00:00.000Z', 's', '{}', 2, 'incident', 'Payments API',
                'triggered', 'r')",
            [],
        )
        .unwrap();
        drop(conn);
        migrate(&path).unwrap();
        let conn = rusqlite::Connection::open(&path).unwrap();
        let found: String = conn
            .query_row(
                "SELECT n.name FROM entity_names n WHERE n.id IN
                   (SELECT rowid FROM entity_names_trigram WHERE name LIKE '%ments%')",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(found, "Payments API", "names already stored are indexed");
        let origin: String = conn
            .query_row("SELECT origin FROM webhooks WHERE id = 'w1'", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(
            origin, "webhook",
            "rows stored before reconcile came from Statuspage"
        );
        // The write path adds a new name once, to both.
        for _ in 0..2 {
            ingest::index_name(sql::Conn::Sqlite(&conn), "Checkout").unwrap();
        }
        let found: String = conn
            .query_row(
                "SELECT n.name FROM entity_names n WHERE n.id IN
                   (SELECT rowid FROM entity_names_trigram WHERE name LIKE '%heck%')",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(found, "Checkout");
        let names: i64 = conn
            .query_row("SELECT count(*) FROM entity_names", [], |r| r.get(0))
            .unwrap();
        assert_eq!(names, 2);
    }
}
