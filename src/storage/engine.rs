//! The engine as a type: every difference between SQLite and PostgreSQL is
//! a method of [`Engine`], implemented once in `storage/sqlite/` and once in
//! `storage/postgres/`. The statement files (`ingest`, `outbox`, `audit`,
//! `upkeep`, …) are written once and ask the engine for the few fragments
//! the two write differently; they never ask which engine it is.

use std::path::Path;

use futures_util::future::BoxFuture;

use super::sql::{self, Arg, Conn, RawRow, Ty};
use super::{Database, history::Snapshot, upkeep::Backup};
use crate::config;

/// One database engine: the SQL it writes its own way, and how a store of
/// it is opened, checked, described and copied.
pub trait Engine: Send + Sync + 'static {
    /// `SQLite` or `PostgreSQL`.
    fn name(&self) -> &'static str;

    // --- statements ---

    /// Appended to the outbox claim's `SELECT`: rows another replica is
    /// claiming are skipped rather than waited for (nothing where one
    /// writer claims alone).
    fn claim_skip_locked(&self) -> &'static str;

    /// The operator matching a name whatever its case (`LIKE` on SQLite,
    /// whose `LIKE` already ignores ASCII case; `ILIKE` on PostgreSQL).
    fn like_any_case(&self) -> &'static str;

    /// A subquery listing the strings of the JSON array bound as `?1`.
    fn json_text_list(&self) -> &'static str;

    /// The raw body as the engine stores it: SQLite keeps text as text, so
    /// analysts can `json_extract()` it directly; PostgreSQL a `BYTEA`.
    fn body_arg<'a>(&self, body: &'a [u8]) -> Arg<'a>;

    /// The expression reading the stored body back as bytes.
    fn body_bytes(&self) -> &'static str;

    /// ` INDEXED BY <index>` where the planner must be told which index
    /// to use, else nothing.
    fn indexed_by(&self, index: &str) -> String;

    /// Adds a name newly inserted into `entity_names` (as row `id`) to the
    /// engine's name search index, if it keeps one beside the table.
    fn index_new_name(&self, conn: Conn<'_>, id: i64, name: &str) -> sql::Result<()>;

    /// The table `r` a statement reads the rows of a [`sql::Table`] from,
    /// its columns named and typed as `columns`.
    fn table(&self, columns: &[(&str, Ty)]) -> String;

    /// What follows `INSERT INTO t (names)` to insert the rows of a
    /// [`sql::Table`] of `columns` (`names` among them), in the order of
    /// column `order_by` where the ids handed out must follow it. SQLite
    /// runs the statement once per row, its values as `VALUES`: an
    /// `INSERT … SELECT` keeps a statement journal, a copy of each page it
    /// touches. PostgreSQL selects them from the table's arrays.
    fn insert_rows(&self, columns: &[(&str, Ty)], names: &[&str], order_by: Option<&str>)
    -> String;

    /// What ends an `INSERT` whose new ids are read back
    /// ([`Conn::insert_table_ids`](sql::Conn::insert_table_ids)):
    /// PostgreSQL returns them from the statement; SQLite, a row per run,
    /// gives each by `last_insert_rowid()` (`RETURNING` would make it keep
    /// a statement journal).
    fn returning_id(&self) -> &'static str;

    /// The one-row table `r` a statement run once per row of a
    /// [`sql::Table`] reads ([`Conn::query_by_row`]): plain values, which
    /// the planner sees (PostgreSQL plans a statement over a table of
    /// arrays without looking into them).
    fn row(&self, columns: &[(&str, Ty)]) -> String;

    /// Whether transactions lock the entities they read and write
    /// (PostgreSQL, whose replicas write at once): a webhook must then hold
    /// every entity it writes exclusively. SQLite's one writer needs none.
    fn locks_entities(&self) -> bool;

    /// How many webhooks of a batch the write path reads ahead, their
    /// contexts in one statement per table: one at a time where a
    /// statement costs no round trip (SQLite, in process: nothing read
    /// ahead can go stale), a whole batch where it does (PostgreSQL).
    fn read_ahead(&self) -> usize;

    /// Whether name searches can use a trigram index
    /// (`entity_names_trigram`).
    fn searches_names_by_trigram(&self) -> bool;

    // --- the store ---

    /// Migrates and opens the configured store: the writer and the reader.
    fn open<'a>(
        &'a self,
        db: &'a config::DatabaseConfig,
    ) -> BoxFuture<'a, anyhow::Result<Database>>;

    /// A pool of `connections` of one's own on the configured store,
    /// read-only unless `writes`.
    fn pool<'a>(
        &'a self,
        db: &'a config::DatabaseConfig,
        connections: u32,
        writes: bool,
    ) -> BoxFuture<'a, anyhow::Result<Box<dyn Pool>>>;

    /// Where the store lives, fit to print (no password).
    fn describe(&self, db: &config::DatabaseConfig) -> String;

    /// For `check-config`: whatever can be checked without serving.
    fn check_location(&self, db: &config::DatabaseConfig) -> anyhow::Result<()>;

    /// Fails when there is no store yet (commands that only read or prune
    /// must not create one).
    fn ensure_exists(&self, db: &config::DatabaseConfig) -> anyhow::Result<()>;

    /// `backup`: a consistent copy at `to`, or how to back it up instead.
    fn backup(&self, db: &config::DatabaseConfig, to: &Path) -> anyhow::Result<Backup>;

    /// The stored history as a SQLite file `replay` reads; a scratch copy
    /// goes in `scratch_dir`.
    fn snapshot<'a>(
        &'a self,
        db: &'a config::DatabaseConfig,
        scratch_dir: &'a Path,
    ) -> BoxFuture<'a, anyhow::Result<Snapshot>>;
}

/// The engine the configuration names: PostgreSQL when `database.url` is
/// set, else the SQLite file at `database.path`.
pub fn configured(db: &config::DatabaseConfig) -> &'static dyn Engine {
    if db.url.is_empty() {
        &super::sqlite::Sqlite
    } else {
        &super::postgres::Postgres
    }
}

/// Rows as a read pool hands them over.
pub type Rows = Vec<Box<dyn RawRow + Send>>;

/// A pool of connections of one engine running SQL written once (`?`
/// placeholders): the read side (audit pages, health checks, reconcile's
/// view) and a [`Console`](super::Console) of one's own.
pub trait Pool: Send + Sync + std::fmt::Debug {
    fn engine(&self) -> &'static dyn Engine;

    /// Every row of `sql`, or only the first when `first`.
    fn fetch<'a, 'b: 'a>(
        &'a self,
        sql: &'a str,
        args: &'a [Arg<'b>],
        first: bool,
    ) -> BoxFuture<'a, Result<Rows, sqlx::Error>>;

    /// Runs a statement; the rows it changed.
    fn execute<'a, 'b: 'a>(
        &'a self,
        sql: &'a str,
        args: &'a [Arg<'b>],
    ) -> BoxFuture<'a, Result<u64, sqlx::Error>>;

    fn close(&self) -> BoxFuture<'_, ()>;

    /// How long one read may take before it is given up, where the engine's
    /// own timeouts do not bound it (a PostgreSQL server that stopped
    /// answering).
    fn deadline(&self) -> Option<std::time::Duration>;
}
