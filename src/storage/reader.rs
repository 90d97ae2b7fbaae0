//! The read side: a pool of read-only connections that WAL lets run beside
//! the writer (on PostgreSQL, the replica's pool), for the audit pages,
//! health checks and reconcile's view of a page. Each query is written
//! once and compiled for either engine's pool; callers see typed answers
//! and [`ReadError`], never the driver.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::engine::{Engine, Pool, Rows};
use super::sql::{self, Arg, Col, FromRow, Row, args};

use crate::rules::domain::EntityKind;
use crate::rules::heal::{Local, LocalComponent, LocalIncident};
use crate::rules::time::parse_time;

/// Reads the database; cheap to clone.
#[derive(Clone, Debug)]
pub struct Reader {
    pool: Arc<dyn Pool>,
}

impl Reader {
    /// A reader on an engine's pool.
    pub(super) fn new(pool: impl Pool + 'static) -> Reader {
        Reader {
            pool: Arc::new(pool),
        }
    }

    /// The engine: the fragments of SQL it writes its own way.
    pub(super) fn engine(&self) -> &'static dyn Engine {
        self.pool.engine()
    }

    /// Every row of `sql` (`?` placeholders, `args` bound in order).
    pub(super) async fn all<T: FromRow>(&self, sql: &str, args: &[Arg<'_>]) -> ReadResult<Vec<T>> {
        decoded(&self.fetch(sql, args, false).await?)
    }

    /// The first row of `sql`, if any.
    pub(super) async fn optional<T: FromRow>(
        &self,
        sql: &str,
        args: &[Arg<'_>],
    ) -> ReadResult<Option<T>> {
        Ok(decoded(&self.fetch(sql, args, true).await?)?
            .into_iter()
            .next())
    }

    /// The first column of the one row `sql` returns.
    pub(super) async fn value<T: Col>(&self, sql: &str, args: &[Arg<'_>]) -> ReadResult<T> {
        let rows = self.fetch(sql, args, true).await?;
        let row = rows
            .first()
            .ok_or(ReadError::Driver(sqlx::Error::RowNotFound))?;
        Ok(Row(row.as_ref()).get(0)?)
    }

    /// Runs a statement on a pool that may write ([`Console`]).
    async fn execute(&self, sql: &str, args: &[Arg<'_>]) -> ReadResult<u64> {
        self.bounded(self.pool.execute(sql, args)).await
    }

    async fn fetch(&self, sql: &str, args: &[Arg<'_>], first: bool) -> ReadResult<Rows> {
        self.bounded(self.pool.fetch(sql, args, first)).await
    }

    /// `read`, given at most the pool's deadline, if it has one.
    async fn bounded<T>(
        &self,
        read: impl std::future::Future<Output = Result<T, sqlx::Error>>,
    ) -> ReadResult<T> {
        match self.pool.deadline() {
            None => Ok(read.await?),
            Some(deadline) => match tokio::time::timeout(deadline, read).await {
                Ok(done) => Ok(done?),
                Err(_) => Err(ReadError::NoAnswer),
            },
        }
    }

    pub async fn close(&self) {
        self.pool.close().await
    }
}

/// Each row through `T::from_row`.
fn decoded<T: FromRow>(rows: &Rows) -> ReadResult<Vec<T>> {
    Ok(rows
        .iter()
        .map(|r| T::from_row(&Row(r.as_ref())))
        .collect::<sql::Result<_>>()?)
}

/// A read that failed (the database is locked, gone, or corrupt).
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("database: {0}")]
    Driver(#[from] sqlx::Error),
    /// A row held what its reader did not expect.
    #[error("database: {0}")]
    Decode(#[from] sql::Error),
    /// PostgreSQL did not answer in time (a network cut, a stalled server).
    #[error("database: no answer within {} s", READ_DEADLINE.as_secs())]
    NoAnswer,
}

/// How long a read on PostgreSQL may take: `/healthz` must answer within
/// 5 s, so that a load balancer stops sending to a replica that lost its
/// database.
pub const READ_DEADLINE: Duration = Duration::from_secs(4);

pub type ReadResult<T> = Result<T, ReadError>;

/// A connection pool of one's own to the database, for SQL written by
/// hand with `?` placeholders on either engine: what an analyst runs, and
/// what the black-box tests check the stored history with. Unlike the
/// bridge's own [`Reader`], it may write.
#[derive(Clone, Debug)]
pub struct Console(Reader);

impl Console {
    /// Two connections to the configured database.
    pub async fn open(db: &crate::config::DatabaseConfig) -> anyhow::Result<Console> {
        let pool = super::engine::configured(db).pool(db, 2, true).await?;
        Ok(Console(Reader {
            pool: Arc::from(pool),
        }))
    }

    /// Every row of `sql`.
    pub async fn all<T: FromRow>(&self, sql: &str, args: &[Arg<'_>]) -> ReadResult<Vec<T>> {
        self.0.all(sql, args).await
    }

    /// The first row of `sql`, if any.
    pub async fn optional<T: FromRow>(&self, sql: &str, args: &[Arg<'_>]) -> ReadResult<Option<T>> {
        self.0.optional(sql, args).await
    }

    /// The first column of the one row `sql` returns.
    pub async fn value<T: Col>(&self, sql: &str, args: &[Arg<'_>]) -> ReadResult<T> {
        self.0.value(sql, args).await
    }

    /// Runs a statement; the rows it changed.
    pub async fn execute(&self, sql: &str, args: &[Arg<'_>]) -> ReadResult<u64> {
        self.0.execute(sql, args).await
    }

    /// How many rows `sql` answers, whatever their columns.
    pub async fn count_rows(&self, sql: &str) -> ReadResult<usize> {
        Ok(self.0.fetch(sql, &[], false).await?.len())
    }

    /// `SQLite` or `PostgreSQL` (for the few statements written per engine).
    pub fn engine_name(&self) -> &'static str {
        self.0.engine().name()
    }

    pub async fn close(&self) {
        self.0.close().await
    }
}

impl Reader {
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

    /// Every alert open at a destination at `now`: (destination, kind,
    /// page id, entity id), by destination.
    pub async fn open_at_destinations(
        &self,
        now: DateTime<Utc>,
    ) -> ReadResult<Vec<(String, EntityKind, String, String)>> {
        // A resolve held past its time has closed the view.
        self.all(
            "SELECT destination, kind, page_id, entity_id FROM destination_alerts
             WHERE coalesce(held_action, '') <> 'resolve' OR held_until > ?
             ORDER BY destination, kind, page_id, entity_id",
            &args![crate::rules::time::format_time(now)],
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
