//! The read side: a pool of read-only connections that WAL lets run beside
//! the writer, for the audit pages, health checks and reconcile's view of a
//! page. Callers see typed answers and [`ReadError`], never the driver.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};

use crate::rules::heal::{Local, LocalComponent, LocalIncident};
use crate::rules::time::parse_time;

/// Reads the database; cheap to clone.
#[derive(Clone, Debug)]
pub struct Reader {
    pub(super) pool: SqlitePool,
}

/// A read that failed (the database is locked, gone, or corrupt).
#[derive(Debug, thiserror::Error)]
#[error("database: {0}")]
pub struct ReadError(#[from] sqlx::Error);

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
        Ok(Reader { pool })
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Answers when the database does (`/healthz`).
    pub async fn ping(&self) -> ReadResult<()> {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM refinery_schema_history")
            .fetch_one(&self.pool)
            .await?;
        Ok(())
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
        let incidents: Vec<IncidentRow> = sqlx::query_as(
            "SELECT incident_id, name, status, impact, last_event_at FROM incidents
                 WHERE source = ? AND page_id = ?",
        )
        .bind(source)
        .bind(page_id)
        .fetch_all(&self.pool)
        .await?;
        let components: Vec<(String, Option<String>, bool, Option<String>)> = sqlx::query_as(
            "SELECT component_id, status, alert_open, last_event_at FROM components
             WHERE source = ? AND page_id = ?",
        )
        .bind(source)
        .bind(page_id)
        .fetch_all(&self.pool)
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
        Ok(sqlx::query_as(
            "SELECT destination, kind, page_id, entity_id FROM destination_alerts
             WHERE coalesce(held_action, '') <> 'resolve' OR held_until > ?
             ORDER BY destination, kind, page_id, entity_id",
        )
        .bind(crate::rules::time::format_time(Utc::now()))
        .fetch_all(&self.pool)
        .await?)
    }

    /// When the last webhook from Statuspage (not a heal) for a page came.
    pub async fn last_webhook_at(&self, page_id: &str) -> ReadResult<Option<DateTime<Utc>>> {
        let last: Option<String> = sqlx::query_scalar(
            "SELECT max(received_at) FROM webhooks WHERE page_id = ? AND origin = 'webhook'",
        )
        .bind(page_id)
        .fetch_one(&self.pool)
        .await?;
        Ok(last.as_deref().and_then(parse_time))
    }
}
