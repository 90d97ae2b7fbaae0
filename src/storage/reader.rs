//! The read side: a pool of read-only connections that WAL lets run beside
//! the writer (on PostgreSQL, the replica's pool), for the audit pages,
//! health checks and reconcile's view of a page. Each query is written
//! once and compiled for either engine's pool; callers see typed answers
//! and [`ReadError`], never the driver.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
};
use sqlx::{Decode, FromRow, PgPool, Postgres, Sqlite, Type};

use super::engine::Engine;
use super::postgres::numbered;
use super::sql::{Arg, args, bind_all};

use crate::rules::heal::{Local, LocalComponent, LocalIncident};
use crate::rules::time::parse_time;

/// Reads the database; cheap to clone.
#[derive(Clone, Debug)]
pub struct Reader {
    pool: Pool,
}

/// The engine's read pool.
#[derive(Clone, Debug)]
enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// A row type both engines can produce.
pub trait Rows: Send + Unpin + for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> {}
impl<T> Rows for T where
    T: Send + Unpin + for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow>
{
}

/// A single value both engines can decode.
pub trait Scalar:
    Send
    + Unpin
    + for<'r> Decode<'r, Sqlite>
    + Type<Sqlite>
    + for<'r> Decode<'r, Postgres>
    + Type<Postgres>
{
}
impl<T> Scalar for T where
    T: Send
        + Unpin
        + for<'r> Decode<'r, Sqlite>
        + Type<Sqlite>
        + for<'r> Decode<'r, Postgres>
        + Type<Postgres>
{
}

/// Runs `$body` with `$q` the query `sqlx::$f(sql)` with `args` bound, on
/// the engine's pool `$p` (placeholders as the engine writes them).
macro_rules! on_engine {
    ($self:expr, $sql:expr, $args:expr, |$q:ident = $f:ident, $p:ident| $body:expr) => {
        match &$self.pool {
            Pool::Sqlite($p) => {
                let $q = bind_all!(sqlx::$f(sqlx::AssertSqlSafe($sql.to_owned())), $args);
                $body
            }
            Pool::Postgres($p) => {
                let $q = bind_all!(sqlx::$f(sqlx::AssertSqlSafe(numbered($sql))), $args);
                $body
            }
        }
    };
}

impl Reader {
    /// The engine: the fragments of SQL it writes its own way.
    pub(super) fn engine(&self) -> &'static dyn Engine {
        match self.pool {
            Pool::Sqlite(_) => &super::sqlite::Sqlite,
            Pool::Postgres(_) => &super::postgres::Postgres,
        }
    }

    /// Every row of `sql` (`?` placeholders, `args` bound in order).
    pub(super) async fn all<T: Rows>(&self, sql: &str, args: &[Arg<'_>]) -> ReadResult<Vec<T>> {
        self.bounded(async { on_engine!(self, sql, args, |q = query_as, p| q.fetch_all(p).await) })
            .await
    }

    /// The first row of `sql`, if any.
    pub(super) async fn optional<T: Rows>(
        &self,
        sql: &str,
        args: &[Arg<'_>],
    ) -> ReadResult<Option<T>> {
        self.bounded(async {
            on_engine!(self, sql, args, |q = query_as, p| q.fetch_optional(p).await)
        })
        .await
    }

    /// The first column of the one row `sql` returns.
    pub(super) async fn value<T: Scalar>(&self, sql: &str, args: &[Arg<'_>]) -> ReadResult<T> {
        self.bounded(async {
            on_engine!(self, sql, args, |q = query_scalar, p| q.fetch_one(p).await)
        })
        .await
    }

    /// `read`, given at most `READ_DEADLINE` on PostgreSQL (SQLite's reads
    /// are bounded by its busy timeout already).
    async fn bounded<T>(
        &self,
        read: impl std::future::Future<Output = Result<T, sqlx::Error>>,
    ) -> ReadResult<T> {
        match self.pool {
            Pool::Sqlite(_) => Ok(read.await?),
            Pool::Postgres(_) => match tokio::time::timeout(READ_DEADLINE, read).await {
                Ok(done) => Ok(done?),
                Err(_) => Err(ReadError::NoAnswer),
            },
        }
    }

    /// A PostgreSQL reader on `pool`.
    pub(super) fn postgres(pool: PgPool) -> Reader {
        Reader {
            pool: Pool::Postgres(pool),
        }
    }
}

/// A read that failed (the database is locked, gone, or corrupt).
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("database: {0}")]
    Driver(#[from] sqlx::Error),
    /// PostgreSQL did not answer in time (a network cut, a stalled server).
    #[error("database: no answer within {} s", READ_DEADLINE.as_secs())]
    NoAnswer,
}

/// How long a read on PostgreSQL may take: `/healthz` must answer within
/// 5 s, so that a load balancer stops sending to a replica that lost its
/// database.
pub const READ_DEADLINE: Duration = Duration::from_secs(4);

pub type ReadResult<T> = Result<T, ReadError>;

pub(super) fn options(path: &Path, busy_timeout: Duration) -> SqliteConnectOptions {
    SqliteConnectOptions::from_str("sqlite:")
        .expect("static options")
        .filename(path)
        .journal_mode(SqliteJournalMode::Wal)
        .busy_timeout(busy_timeout)
        .foreign_keys(true)
}

impl Reader {
    /// A read-only pool on the database at `path`.
    pub async fn open(path: &Path, busy_timeout: Duration) -> anyhow::Result<Reader> {
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options(path, busy_timeout).read_only(true))
            .await
            .with_context(|| format!("opening {} for reading", path.display()))?;
        Ok(Reader {
            pool: Pool::Sqlite(pool),
        })
    }

    pub async fn close(&self) {
        match &self.pool {
            Pool::Sqlite(p) => p.close().await,
            Pool::Postgres(p) => p.close().await,
        }
    }

    /// Answers when the database does (`/healthz`).
    pub async fn ping(&self) -> ReadResult<()> {
        self.value::<i64>("SELECT count(*) FROM refinery_schema_history", &[])
            .await?;
        Ok(())
    }

    /// Dead events that died before `cutoff` (the heartbeat's check).
    pub async fn dead_before(&self, cutoff: DateTime<Utc>) -> ReadResult<i64> {
        self.value(
            "SELECT count(*) FROM outbox WHERE state = 'dead' AND finished_at < ?",
            &args![crate::rules::time::format_time(cutoff)],
        )
        .await
    }

    /// The bridge's view of one page of one source, for reconcile.
    pub async fn page_view(&self, source: &str, page_id: &str) -> ReadResult<Local> {
        // (id, name, status, impact, last event time)
        type IncidentRow = (
            String,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
        );
        let incidents: Vec<IncidentRow> = self
            .all(
                "SELECT incident_id, name, status, impact, last_event_at FROM incidents
                 WHERE source = ? AND page_id = ?",
                &args![source, page_id],
            )
            .await?;
        let components: Vec<(String, Option<String>, bool, Option<String>)> = self
            .all(
                "SELECT component_id, status, alert_open <> 0, last_event_at FROM components
                 WHERE source = ? AND page_id = ?",
                &args![source, page_id],
            )
            .await?;
        Ok(Local {
            incidents: incidents
                .into_iter()
                .map(|(id, name, status, impact, last)| {
                    let last_event_at = last.as_deref().and_then(parse_time);
                    let incident = LocalIncident {
                        name,
                        status,
                        impact,
                        last_event_at,
                    };
                    (id, incident)
                })
                .collect(),
            components: components
                .into_iter()
                .map(|(id, status, alert_open, last)| {
                    let last_event_at = last.as_deref().and_then(parse_time);
                    let component = LocalComponent {
                        status,
                        alert_open,
                        last_event_at,
                    };
                    (id, component)
                })
                .collect(),
        })
    }

    /// Every alert open at a destination: (destination, kind, page id,
    /// entity id), by destination.
    pub async fn open_at_destinations(&self) -> ReadResult<Vec<(String, String, String, String)>> {
        // A resolve held past its time has closed the view.
        self.all(
            "SELECT destination, kind, page_id, entity_id FROM destination_alerts
             WHERE coalesce(held_action, '') <> 'resolve' OR held_until > ?
             ORDER BY destination, kind, page_id, entity_id",
            &args![crate::rules::time::format_time(Utc::now())],
        )
        .await
    }

    /// When the last webhook from Statuspage (not a heal) for a page came.
    /// A page's open alerts whose topic starts with `prefix`: (topic, the
    /// ids it names).
    pub async fn open_page_alerts(
        &self,
        source: &str,
        page_id: &str,
        prefix: &str,
    ) -> ReadResult<Vec<(String, Vec<String>)>> {
        let rows: Vec<(String, String)> = self
            .all(
                "SELECT topic, detail FROM page_alerts
                 WHERE source = ? AND page_id = ? AND alert_open = 1 AND topic LIKE ? ESCAPE '\\'
                 ORDER BY topic",
                &args![
                    source,
                    page_id,
                    format!(
                        "{}%",
                        prefix
                            .replace('\\', "\\\\")
                            .replace('%', "\\%")
                            .replace('_', "\\_")
                    )
                ],
            )
            .await?;
        Ok(rows
            .into_iter()
            .map(|(t, d)| (t, serde_json::from_str(&d).unwrap_or_default()))
            .collect())
    }

    /// The ids a page alert names while it is open; `None` while closed.
    pub async fn open_page_alert(
        &self,
        source: &str,
        page_id: &str,
        topic: &str,
    ) -> ReadResult<Option<Vec<String>>> {
        let detail: Option<String> = self
            .value(
                "SELECT max(detail) FROM page_alerts
                 WHERE source = ? AND page_id = ? AND topic = ? AND alert_open = 1",
                &args![source, page_id, topic],
            )
            .await?;
        Ok(detail.map(|d| serde_json::from_str(&d).unwrap_or_default()))
    }

    pub async fn last_webhook_at(&self, page_id: &str) -> ReadResult<Option<DateTime<Utc>>> {
        let last: Option<String> = self
            .value(
                "SELECT max(received_at) FROM webhooks WHERE page_id = ? AND origin = 'webhook'",
                &args![page_id],
            )
            .await?;
        Ok(last.as_deref().and_then(parse_time))
    }
}
