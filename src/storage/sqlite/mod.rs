//! SQLite, for one node: the file, its migrations (refinery's rusqlite
//! driver), the one writer thread with group commit (`writer`, with the
//! WAL's `sync` and the `checkpoint`er beside it), and the fragments of SQL
//! SQLite writes its own way ([`Sqlite`]).

mod checkpoint;
pub(super) mod read;
mod sync;
pub mod writer;

use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;
use futures_util::future::BoxFuture;

use super::engine::{Engine, Pool};
use super::history::Snapshot;
use super::sql::{self, Arg, Conn, RawRow, Row, Table, Tx, Ty, args};
use super::upkeep::Backup;
use super::{Database, Poller, Reader};
use crate::config;

pub use writer::{CHECKPOINT_PAGES, MAX_BATCH, Opener, QUEUE_DEPTH, RESTART_PAGES};

mod embedded {
    refinery::embed_migrations!("migrations/sqlite");
}

/// SQLite as an [`Engine`].
#[derive(Debug, Clone, Copy)]
pub struct Sqlite;

impl Engine for Sqlite {
    fn name(&self) -> &'static str {
        "SQLite"
    }

    fn claim_skip_locked(&self) -> &'static str {
        // One writer claims at a time.
        ""
    }

    fn like_any_case(&self) -> &'static str {
        "LIKE"
    }

    fn json_text_list(&self) -> &'static str {
        "(SELECT value FROM json_each(?1))"
    }

    fn body_arg<'a>(&self, body: &'a [u8]) -> Arg<'a> {
        match std::str::from_utf8(body) {
            Ok(t) => Arg::Text(Some(t.into())),
            Err(_) => Arg::Bytes(Some(body)),
        }
    }

    fn body_bytes(&self) -> &'static str {
        "CAST(body AS BLOB)"
    }

    fn indexed_by(&self, index: &str) -> String {
        format!(" INDEXED BY {index}")
    }

    fn index_new_name(&self, conn: Conn<'_>, id: i64, name: &str) -> sql::Result<()> {
        conn.execute(
            "INSERT INTO entity_names_trigram (rowid, name) VALUES (?, ?)",
            &args![id, name],
        )?;
        Ok(())
    }

    fn table(&self, columns: &[(&str, Ty)]) -> String {
        // One row per run: the statement runs once per row of the table.
        let values: Vec<String> = columns.iter().map(|(c, _)| format!("? AS {c}")).collect();
        format!("(SELECT {}) AS r", values.join(", "))
    }

    fn insert_rows(&self, columns: &[(&str, Ty)], names: &[&str], _: Option<&str>) -> String {
        // One row per run, so in order; each name its column's argument.
        let values: Vec<String> = names
            .iter()
            .map(|n| {
                let i = columns.iter().position(|(c, _)| c == n);
                format!("?{}", i.expect("a column of the table") + 1)
            })
            .collect();
        format!("VALUES ({})", values.join(", "))
    }

    fn returning_id(&self) -> &'static str {
        ""
    }

    fn row(&self, columns: &[(&str, Ty)]) -> String {
        self.table(columns)
    }

    fn locks_entities(&self) -> bool {
        false
    }

    fn read_ahead(&self) -> usize {
        1
    }

    fn searches_names_by_trigram(&self) -> bool {
        true
    }

    fn open<'a>(
        &'a self,
        db: &'a config::DatabaseConfig,
    ) -> BoxFuture<'a, anyhow::Result<Database>> {
        Box::pin(open(&db.path, Duration::from_millis(db.busy_timeout_ms)))
    }

    fn pool<'a>(
        &'a self,
        db: &'a config::DatabaseConfig,
        connections: u32,
        writes: bool,
    ) -> BoxFuture<'a, anyhow::Result<Box<dyn Pool>>> {
        Box::pin(async move {
            let busy = Duration::from_millis(db.busy_timeout_ms);
            let pool = read::SqliteReads::open(&db.path, busy, connections, writes).await?;
            Ok(Box::new(pool) as Box<dyn Pool>)
        })
    }

    fn describe(&self, db: &config::DatabaseConfig) -> String {
        db.shown()
    }

    fn check_location(&self, db: &config::DatabaseConfig) -> anyhow::Result<()> {
        check_file(&db.path)
    }

    fn ensure_exists(&self, db: &config::DatabaseConfig) -> anyhow::Result<()> {
        anyhow::ensure!(db.path.is_file(), "no database at {}", db.path.display());
        Ok(())
    }

    fn backup(&self, db: &config::DatabaseConfig, to: &Path) -> anyhow::Result<Backup> {
        super::upkeep::backup(&db.path, to).map(Backup::Copied)
    }

    fn snapshot<'a>(
        &'a self,
        db: &'a config::DatabaseConfig,
        _scratch_dir: &'a Path,
    ) -> BoxFuture<'a, anyhow::Result<Snapshot>> {
        Box::pin(async move {
            self.ensure_exists(db)?;
            Ok(Snapshot::live(db.path.clone()))
        })
    }
}

/// Creates the file and its folder if needed, applies migrations, and opens
/// the write connection (owned by a new writer thread) and the read pool.
pub async fn open(path: &Path, busy_timeout: Duration) -> anyhow::Result<Database> {
    migrate(path)?;
    let (writer, writer_closed) = writer::start(path, busy_timeout)?;
    let read = Reader::new(read::SqliteReads::open(path, busy_timeout, 4, false).await?);
    Ok(Database {
        writer,
        writer_closed,
        read,
        poller: Poller::always(),
    })
}

/// The database file, or the folder that will hold it, must be usable:
/// an existing file must be a file, and the nearest existing folder on the
/// way to it must be a folder (it is created on start).
fn check_file(path: &Path) -> anyhow::Result<()> {
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
                Path::new(".")
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

impl rusqlite::ToSql for Arg<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, Value, ValueRef};
        Ok(match self {
            Arg::Int(Some(v)) => ToSqlOutput::Owned(Value::Integer(*v)),
            Arg::Real(Some(v)) => ToSqlOutput::Owned(Value::Real(*v)),
            Arg::Text(Some(v)) => ToSqlOutput::Borrowed(ValueRef::Text(v.as_bytes())),
            Arg::Bytes(Some(v)) => ToSqlOutput::Borrowed(ValueRef::Blob(v)),
            Arg::Int(None) | Arg::Real(None) | Arg::Text(None) | Arg::Bytes(None) => {
                ToSqlOutput::Owned(Value::Null)
            }
        })
    }
}

impl RawRow for rusqlite::Row<'_> {
    fn int(&self, i: usize) -> sql::Result<Option<i64>> {
        Ok(self.get(i)?)
    }
    fn real(&self, i: usize) -> sql::Result<Option<f64>> {
        Ok(self.get(i)?)
    }
    fn text(&self, i: usize) -> sql::Result<Option<String>> {
        Ok(self.get(i)?)
    }
    fn bytes(&self, i: usize) -> sql::Result<Option<Vec<u8>>> {
        use rusqlite::types::ValueRef;
        match self.get_ref(i)? {
            ValueRef::Text(b) | ValueRef::Blob(b) => Ok(Some(b.to_vec())),
            ValueRef::Null => Ok(None),
            other => {
                Err(rusqlite::Error::InvalidColumnType(i, "body".into(), other.data_type()).into())
            }
        }
    }
}

/// SQLite's write connection, inside the transaction the writer opened.
impl Tx for rusqlite::Connection {
    fn engine(&self) -> &'static dyn Engine {
        &Sqlite
    }

    fn execute(&self, sql: &str, args: &[Arg<'_>]) -> sql::Result<usize> {
        Ok(self
            .prepare_cached(sql)?
            .execute(rusqlite::params_from_iter(args.iter()))?)
    }

    fn execute_batch(&self, sql: &str) -> sql::Result<()> {
        Ok(rusqlite::Connection::execute_batch(self, sql)?)
    }

    fn each_row(
        &self,
        sql: &str,
        args: &[Arg<'_>],
        f: &mut dyn FnMut(Row<'_>) -> sql::Result<bool>,
    ) -> sql::Result<()> {
        let mut st = self.prepare_cached(sql)?;
        let mut rows = st.query(rusqlite::params_from_iter(args.iter()))?;
        while let Some(r) = rows.next()? {
            if !f(Row(r))? {
                break;
            }
        }
        Ok(())
    }

    fn each_table_row(
        &self,
        sql: &str,
        table: &Table<'_>,
        mut f: Option<sql::EachRow<'_>>,
    ) -> sql::Result<usize> {
        let mut st = self.prepare_cached(sql)?;
        let mut n = 0;
        for args in &table.rows {
            let params = rusqlite::params_from_iter(args.iter());
            let Some(f) = f.as_mut() else {
                n += st.execute(params)?;
                continue;
            };
            let mut rows = st.query(params)?;
            while let Some(r) = rows.next()? {
                f(Row(r))?;
                n += 1;
            }
        }
        Ok(n)
    }

    fn insert_table_ids(&self, sql: &str, table: &Table<'_>) -> sql::Result<Vec<i64>> {
        // One row per run, its id as SQLite gave it (no `RETURNING`:
        // `Engine::returning_id`).
        let mut st = self.prepare_cached(sql)?;
        let mut ids = Vec::with_capacity(table.rows.len());
        for args in &table.rows {
            st.execute(rusqlite::params_from_iter(args.iter()))?;
            ids.push(self.last_insert_rowid());
        }
        Ok(ids)
    }

    fn lock(&self, _keys: &[String], _shared: &[String]) -> sql::Result<()> {
        // The one writer already runs one job at a time.
        Ok(())
    }
}

/// The write transaction on SQLite's connection `c`.
pub fn conn(c: &rusqlite::Connection) -> Conn<'_> {
    Conn::new(c)
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
            crate::storage::ingest::index_names(super::conn(&conn), ["Checkout"]).unwrap();
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
