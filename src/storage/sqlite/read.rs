//! SQLite's read pool: read-only connections beside the writer (WAL lets
//! them read while it writes), and the rows they hand over.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use anyhow::Context as _;
use futures_util::future::BoxFuture;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
};
use sqlx::{Row as _, ValueRef as _};

use super::Sqlite;
use crate::storage::engine::{Engine, Pool, Rows};
use crate::storage::sql::{self, Arg, RawRow, bind_all};

/// A pool on the database file.
#[derive(Debug)]
pub struct SqliteReads(SqlitePool);

fn options(path: &Path, busy_timeout: Duration) -> SqliteConnectOptions {
    SqliteConnectOptions::from_str("sqlite:")
        .expect("static options")
        .filename(path)
        .journal_mode(SqliteJournalMode::Wal)
        .busy_timeout(busy_timeout)
        .foreign_keys(true)
}

impl SqliteReads {
    /// `connections` connections to the file at `path`, read-only unless
    /// `writes`.
    pub async fn open(
        path: &Path,
        busy_timeout: Duration,
        connections: u32,
        writes: bool,
    ) -> anyhow::Result<SqliteReads> {
        let pool = SqlitePoolOptions::new()
            .max_connections(connections)
            .connect_with(options(path, busy_timeout).read_only(!writes))
            .await
            .with_context(|| format!("opening {} for reading", path.display()))?;
        Ok(SqliteReads(pool))
    }
}

impl Pool for SqliteReads {
    fn engine(&self) -> &'static dyn Engine {
        &Sqlite
    }

    fn fetch<'a, 'b: 'a>(
        &'a self,
        sql: &'a str,
        args: &'a [Arg<'b>],
        first: bool,
    ) -> BoxFuture<'a, Result<Rows, sqlx::Error>> {
        Box::pin(async move {
            let q = bind_all!(sqlx::query(sqlx::AssertSqlSafe(sql.to_owned())), args);
            let rows = if first {
                q.fetch_optional(&self.0).await?.into_iter().collect()
            } else {
                q.fetch_all(&self.0).await?
            };
            Ok(rows
                .into_iter()
                .map(|r| Box::new(r) as Box<dyn RawRow + Send>)
                .collect())
        })
    }

    fn execute<'a, 'b: 'a>(
        &'a self,
        sql: &'a str,
        args: &'a [Arg<'b>],
    ) -> BoxFuture<'a, Result<u64, sqlx::Error>> {
        Box::pin(async move {
            let q = bind_all!(sqlx::query(sqlx::AssertSqlSafe(sql.to_owned())), args);
            Ok(q.execute(&self.0).await?.rows_affected())
        })
    }

    fn close(&self) -> BoxFuture<'_, ()> {
        Box::pin(self.0.close())
    }

    fn deadline(&self) -> Option<Duration> {
        // Bounded by the busy timeout already.
        None
    }
}

/// A column read as SQLite converts it (as rusqlite's rows on the write
/// side are read).
impl RawRow for SqliteRow {
    fn int(&self, i: usize) -> sql::Result<Option<i64>> {
        Ok(self.try_get_unchecked::<Option<i64>, _>(i)?)
    }
    fn real(&self, i: usize) -> sql::Result<Option<f64>> {
        Ok(self.try_get_unchecked::<Option<f64>, _>(i)?)
    }
    fn text(&self, i: usize) -> sql::Result<Option<String>> {
        Ok(self.try_get_unchecked::<Option<String>, _>(i)?)
    }
    fn bytes(&self, i: usize) -> sql::Result<Option<Vec<u8>>> {
        if self.try_get_raw(i)?.is_null() {
            return Ok(None);
        }
        Ok(Some(self.try_get_unchecked::<Vec<u8>, _>(i)?))
    }
}
