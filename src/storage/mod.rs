//! Every SQL string and driver type of the bridge: the seam between the
//! rules and the database (docs/ARCHITECTURE.md).
//!
//! - `engine` — the [`Engine`](engine::Engine) trait: every difference
//!   between the engines, implemented in `sqlite/` and `postgres/`;
//! - `sql` — one way to run a statement and decode a row on either;
//! - `writer` — the queue of write jobs, committed in groups by the
//!   engine's runner (SQLite's writer thread, PostgreSQL's lanes);
//! - `ingest` — read → plan → write for one webhook or heal;
//! - `outbox` — the events for ITOC360: claims, attempts, requeues;
//! - `upkeep` — backup, prune and daily retention;
//! - `history` — the stored history read back for `replay`;
//! - `catalog` — what reconcile learned of each page (name, components);
//! - `silences` and `rounds` — silences, and reconcile's rounds;
//! - `reader` and `audit` — the read-only pool and the audit queries.

pub mod audit;
pub mod catalog;
pub mod engine;
pub mod history;
pub mod ingest;
pub mod outbox;
pub mod postgres;
mod reader;
pub mod rounds;
pub mod silences;
pub mod sql;
pub mod sqlite;
pub mod upkeep;
pub mod writer;

pub use reader::{Console, ReadError, ReadResult, Reader};
pub use sqlite::{migrate, migrate_quietly, open};
pub use writer::{Batches, Closed, Stats, WriteError, Writer};

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

    /// A lease held while `held` says so (PostgreSQL's, taken and lost
    /// with a database session).
    pub fn leased(held: tokio::sync::watch::Receiver<bool>) -> Poller {
        Poller { held, _fixed: None }
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

/// Opens the configured database: PostgreSQL when `database.url` is set
/// (migrated under a lock, several replicas at once), else the SQLite file.
pub async fn open_configured(db: &crate::config::DatabaseConfig) -> anyhow::Result<Database> {
    engine::configured(db).open(db).await
}

/// Where the configured database lives, fit to print (no password).
pub fn describe(db: &crate::config::DatabaseConfig) -> String {
    engine::configured(db).describe(db)
}

/// For `check-config`: the SQLite file, or the folder that will hold it,
/// must be usable (PostgreSQL is only reached when serving).
pub fn check_location(db: &crate::config::DatabaseConfig) -> anyhow::Result<()> {
    engine::configured(db).check_location(db)
}

/// Fails with "no database at …" when the SQLite file does not exist yet
/// (commands that only read or prune must not create one).
pub fn ensure_exists(db: &crate::config::DatabaseConfig) -> anyhow::Result<()> {
    engine::configured(db).ensure_exists(db)
}
