//! PostgreSQL, for several replicas on one database (docs/ENGINES.md).
//!
//! - `connect`: the pool, and migrations under a lock (replicas starting
//!   together apply them once).
//! - `tx`: a transaction driven from a blocking thread through
//!   [`sql::Conn`](crate::storage::sql::Conn): the same statements as on
//!   SQLite.
//! - `jobs`: group commit — each replica's lanes batch the waiting jobs
//!   into one transaction, taking the batch's entity locks at once.
//! - `lease`: which replica runs reconcile and retention.
//! - `export`: the history copied into a SQLite file for `replay`.
//!
//! Every wait is bounded: a pool that cannot get a connection gives up
//! after [`ACQUIRE`], a statement after [`tx::STATEMENT_DEADLINE`], a job
//! after [`jobs::JOB_DEADLINE`], so a webhook is answered 503 in seconds
//! while the database is gone, and the next one succeeds once it is back.

mod connect;
mod export;
pub mod jobs;
mod lease;
pub(super) mod read;
pub mod tx;

use std::path::Path;

use anyhow::Context as _;
use futures_util::future::BoxFuture;

use super::engine::{Engine, Pool};
use super::history::Snapshot;
use super::sql::{self, Arg, Conn, Ty};
use super::upkeep::Backup;
use super::{Database, Poller, Reader};
use crate::config;

pub use connect::{ACQUIRE, migrate, pool};
pub use export::export_history;
pub use lease::{POLLER_RETRY, hold_poller_lease};
pub use tx::numbered;

/// PostgreSQL as an [`Engine`].
#[derive(Debug, Clone, Copy)]
pub struct Postgres;

impl Engine for Postgres {
    fn name(&self) -> &'static str {
        "PostgreSQL"
    }

    fn claim_skip_locked(&self) -> &'static str {
        // Replicas claim at once: a row another one is claiming is skipped,
        // not waited for (its lease keeps it theirs once they commit).
        " FOR UPDATE OF o SKIP LOCKED"
    }

    fn like_any_case(&self) -> &'static str {
        "ILIKE"
    }

    fn json_text_list(&self) -> &'static str {
        "(SELECT json_array_elements_text(?1::json))"
    }

    fn body_arg<'a>(&self, body: &'a [u8]) -> Arg<'a> {
        // The bytes as they came, in a BYTEA.
        Arg::Bytes(Some(body))
    }

    fn body_bytes(&self) -> &'static str {
        "body"
    }

    fn indexed_by(&self, _index: &str) -> String {
        // PostgreSQL's planner picks the index by itself.
        String::new()
    }

    fn index_new_name(&self, _conn: Conn<'_>, _id: i64, _name: &str) -> sql::Result<()> {
        // Names are searched with ILIKE over `entity_names` itself.
        Ok(())
    }

    fn table(&self, columns: &[(&str, Ty)]) -> String {
        // One array per column, bound by `PgTx::each_table_row`.
        let arrays: Vec<&str> = columns
            .iter()
            .map(|(_, t)| match t {
                Ty::Int => "?::bigint[]",
                Ty::Real => "?::float8[]",
                Ty::Text => "?::text[]",
                Ty::Bytes => "?::bytea[]",
            })
            .collect();
        let names: Vec<&str> = columns.iter().map(|(c, _)| *c).collect();
        format!("unnest({}) AS r({})", arrays.join(", "), names.join(", "))
    }

    fn insert_rows(
        &self,
        columns: &[(&str, Ty)],
        names: &[&str],
        order_by: Option<&str>,
    ) -> String {
        let order = order_by.map(|c| format!(" ORDER BY r.{c}"));
        format!(
            "SELECT {} FROM {}{}",
            names.join(", "),
            self.table(columns),
            order.unwrap_or_default()
        )
    }

    fn returning_id(&self) -> &'static str {
        " RETURNING id"
    }

    fn row(&self, columns: &[(&str, Ty)]) -> String {
        let values: Vec<String> = columns
            .iter()
            .map(|(c, t)| {
                let ty = match t {
                    Ty::Int => "bigint",
                    Ty::Real => "float8",
                    Ty::Text => "text",
                    Ty::Bytes => "bytea",
                };
                format!("?::{ty} AS {c}")
            })
            .collect();
        format!("(SELECT {}) AS r", values.join(", "))
    }

    fn locks_entities(&self) -> bool {
        true
    }

    fn read_ahead(&self) -> usize {
        jobs::MAX_BATCH
    }

    fn searches_names_by_trigram(&self) -> bool {
        false
    }

    fn open<'a>(
        &'a self,
        db: &'a config::DatabaseConfig,
    ) -> BoxFuture<'a, anyhow::Result<Database>> {
        Box::pin(async move {
            let url = db.url.expose();
            migrate(url, true)
                .await
                .with_context(|| format!("opening PostgreSQL at {}", db.shown()))?;
            let pool = pool(url)?;
            let (writer, writer_closed) = jobs::start(connect::options(url)?)?;
            let (held, poller) = tokio::sync::watch::channel(false);
            hold_poller_lease(url, held).await?;
            Ok(Database {
                writer,
                writer_closed,
                read: Reader::new(read::PgReads(pool)),
                poller: Poller::leased(poller),
            })
        })
    }

    fn pool<'a>(
        &'a self,
        db: &'a config::DatabaseConfig,
        _connections: u32,
        _writes: bool,
    ) -> BoxFuture<'a, anyhow::Result<Box<dyn Pool>>> {
        Box::pin(
            async move { Ok(Box::new(read::PgReads(pool(db.url.expose())?)) as Box<dyn Pool>) },
        )
    }

    fn describe(&self, db: &config::DatabaseConfig) -> String {
        format!("{} (PostgreSQL; database.path is not used)", db.shown())
    }

    fn check_location(&self, _db: &config::DatabaseConfig) -> anyhow::Result<()> {
        // PostgreSQL is only reached when serving.
        Ok(())
    }

    fn ensure_exists(&self, _db: &config::DatabaseConfig) -> anyhow::Result<()> {
        Ok(())
    }

    fn backup(&self, db: &config::DatabaseConfig, to: &Path) -> anyhow::Result<Backup> {
        Ok(Backup::UseTheEngine(format!(
            "backup copies the SQLite file; this bridge keeps its data in PostgreSQL ({}). \
             Back it up with PostgreSQL's own tools, e.g. `pg_dump --format=custom --file {} <database URL>`, \
             or your provider's snapshots",
            db.shown(),
            to.display()
        )))
    }

    fn snapshot<'a>(
        &'a self,
        db: &'a config::DatabaseConfig,
        scratch_dir: &'a Path,
    ) -> BoxFuture<'a, anyhow::Result<Snapshot>> {
        Box::pin(async move {
            let dir = tempfile::Builder::new()
                .prefix("statuspage-bridge-history-")
                .tempdir_in(scratch_dir)
                .with_context(|| format!("making a scratch folder in {}", scratch_dir.display()))?;
            let file = dir.path().join("history.db");
            export_history(db.url.expose(), &file)
                .await
                .with_context(|| format!("reading the history from {}", db.shown()))?;
            Ok(Snapshot::scratch(file, dir))
        })
    }
}
