//! The record of reconcile rounds (`reconcile_rounds`), one row a round.

use super::sql::args;
use chrono::{DateTime, Utc};

use crate::rules::time::format_time;
use crate::storage::{WriteError, Writer};

/// One finished round of one page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Round {
    pub page_id: String,
    pub source: String,
    pub started_at: DateTime<Utc>,
    pub duration_ms: i64,
    /// `None` when the round succeeded; else what failed, masked.
    pub error: Option<String>,
    pub incidents: i64,
    pub components: i64,
    pub heals: i64,
}

impl Writer {
    pub async fn record_round(&self, r: Round) -> Result<(), WriteError> {
        self.run(move |conn| {
            conn.execute(
                "INSERT INTO reconcile_rounds (page_id, source, started_at, duration_ms,
                    result, error, incidents, components, heals)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                &args![
                    r.page_id,
                    r.source,
                    format_time(r.started_at),
                    r.duration_ms,
                    if r.error.is_none() { "ok" } else { "failed" },
                    r.error,
                    r.incidents,
                    r.components,
                    r.heals
                ],
            )
            .map(|_| ())
        })
        .await
    }
}
