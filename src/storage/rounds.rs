//! The record of reconcile rounds (`reconcile_rounds`), one row a round.

use super::sql::args;
use chrono::{DateTime, Utc};

use crate::rules::health::{Evidence, Failed, Failure};
use crate::rules::time::{format_time, parse_time};
use crate::storage::{ReadResult, Reader, WriteError, Writer};

/// One finished round of one page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoundRecord {
    pub page_id: String,
    pub source: String,
    pub started_at: DateTime<Utc>,
    pub duration_ms: i64,
    /// `None` when the round succeeded; else what failed, masked.
    pub error: Option<String>,
    /// How it failed, when the page's API is to blame (not the bridge's
    /// own database).
    pub failure: Option<Failure>,
    /// A good round's newest upstream change.
    pub latest_change_at: Option<DateTime<Utc>>,
    pub incidents: i64,
    pub components: i64,
    pub heals: i64,
}

/// How a round ended, as `reconcile_rounds.result` stores it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoundResult {
    Ok,
    Failed,
}

impl RoundResult {
    pub fn as_str(self) -> &'static str {
        match self {
            RoundResult::Ok => "ok",
            RoundResult::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<RoundResult> {
        match s {
            "ok" => Some(RoundResult::Ok),
            "failed" => Some(RoundResult::Failed),
            _ => None,
        }
    }
}

crate::rules::domain::serialize_as_str!(RoundResult);

impl Writer {
    /// Commits an empty write transaction: the database takes writes (the
    /// heartbeat's check).
    pub async fn probe(&self) -> Result<(), WriteError> {
        self.run(|_| Ok(())).await
    }

    pub async fn record_round(&self, r: RoundRecord) -> Result<(), WriteError> {
        self.run(move |conn| {
            conn.execute(
                "INSERT INTO reconcile_rounds (page_id, source, started_at, duration_ms,
                    result, error, incidents, components, heals, failure, latest_change_at)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                &args![
                    r.page_id,
                    r.source,
                    format_time(r.started_at),
                    r.duration_ms,
                    if r.error.is_none() {
                        RoundResult::Ok
                    } else {
                        RoundResult::Failed
                    }
                    .as_str(),
                    r.error,
                    r.incidents,
                    r.components,
                    r.heals,
                    r.failure.map(Failure::as_str),
                    r.latest_change_at.map(format_time)
                ],
            )
            .map(|_| ())
        })
        .await
    }
}

/// The most failed rounds read for a page's health: far more than any
/// threshold needs; the first of them dates the failure.
const FAILED_READ: i64 = 1000;

impl Reader {
    /// What the rounds and the webhooks say of a page (`rules::health`).
    pub async fn page_evidence(&self, page_id: &str, webhooks: bool) -> ReadResult<Evidence> {
        let time = |t: Option<String>| t.as_deref().and_then(parse_time);
        let first_ok: Option<String> = self
            .value(
                "SELECT min(started_at) FROM reconcile_rounds WHERE page_id = ? AND result = 'ok'",
                &args![page_id],
            )
            .await?;
        let last_ok: Option<(i64, String, Option<String>)> = self
            .optional(
                "SELECT id, started_at, latest_change_at FROM reconcile_rounds
                 WHERE page_id = ? AND result = 'ok' ORDER BY id DESC LIMIT 1",
                &args![page_id],
            )
            .await?;
        let after = last_ok.as_ref().map_or(0, |r| r.0);
        let failed: Vec<(String, String, Option<String>)> = self
            .all(
                "SELECT started_at, failure, error FROM reconcile_rounds
                 WHERE page_id = ? AND id > ? AND failure IS NOT NULL ORDER BY id LIMIT ?",
                &args![page_id, after, FAILED_READ],
            )
            .await?;
        Ok(Evidence {
            webhooks,
            first_ok_at: time(first_ok),
            last_ok_at: last_ok.as_ref().and_then(|r| parse_time(&r.1)),
            latest_change_at: last_ok.and_then(|r| time(r.2)),
            last_webhook_at: self.last_webhook_at(page_id).await?,
            failed: failed
                .into_iter()
                .filter_map(|(at, failure, error)| {
                    Some(Failed {
                        at: parse_time(&at)?,
                        failure: Failure::parse(&failure)?,
                        error: error.unwrap_or_default(),
                    })
                })
                .collect(),
        })
    }
}
