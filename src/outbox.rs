//! Plain data access for the outbox (decided events for ITOC360) and the
//! record of delivery attempts. Rows are written by the pipeline in the
//! webhook's transaction; the delivery worker claims them with a lease,
//! and records each attempt. Nothing here decides what to send.

use chrono::{DateTime, Utc};
use sqlx::{FromRow, SqliteConnection};

use crate::domain::{Action, EntityKind, Priority};
use crate::parse::format_time;

/// A decided event, as the pipeline writes it.
#[derive(Debug, Clone)]
pub struct NewEvent<'a> {
    pub webhook_id: &'a str,
    pub created_at: &'a str,
    pub fingerprint: &'a str,
    pub kind: EntityKind,
    pub page_id: &'a str,
    pub entity_id: &'a str,
    pub action: Action,
    pub priority: Priority,
    pub title: &'a str,
    pub message: &'a str,
    pub status: &'a str,
    pub impact: Option<&'a str>,
    pub link: Option<&'a str>,
    pub starts_at: &'a str,
    pub ends_at: Option<&'a str>,
    /// `skipped` in a dry run, else `pending`.
    pub state: State,
}

/// Where an outbox row stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Pending,
    Delivered,
    Dead,
    Skipped,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Delivered => "delivered",
            State::Dead => "dead",
            State::Skipped => "skipped",
        }
    }
}

pub async fn insert(conn: &mut SqliteConnection, e: &NewEvent<'_>) -> sqlx::Result<i64> {
    let id = sqlx::query(
        "INSERT INTO outbox (webhook_id, created_at, fingerprint, kind, page_id, entity_id, action,
            priority, title, message, status, impact, link, starts_at, ends_at, state,
            next_attempt_at, queued_at, finished_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(e.webhook_id)
    .bind(e.created_at)
    .bind(e.fingerprint)
    .bind(e.kind.as_str())
    .bind(e.page_id)
    .bind(e.entity_id)
    .bind(e.action.as_str())
    .bind(e.priority.as_str())
    .bind(e.title)
    .bind(e.message)
    .bind(e.status)
    .bind(e.impact)
    .bind(e.link)
    .bind(e.starts_at)
    .bind(e.ends_at)
    .bind(e.state.as_str())
    .bind(e.created_at)
    .bind(e.created_at)
    .bind((e.state == State::Skipped).then_some(e.created_at))
    .execute(&mut *conn)
    .await?
    .last_insert_rowid();
    Ok(id)
}

/// An outbox row as the delivery worker and the CLI read it.
#[derive(Debug, Clone, FromRow, PartialEq, Eq)]
pub struct Event {
    pub id: i64,
    pub webhook_id: String,
    pub created_at: String,
    pub fingerprint: String,
    pub kind: String,
    pub page_id: String,
    pub entity_id: String,
    pub action: String,
    pub priority: String,
    pub title: String,
    pub message: String,
    pub status: String,
    pub impact: Option<String>,
    pub link: Option<String>,
    pub starts_at: String,
    pub ends_at: Option<String>,
    pub state: String,
    pub attempts: i64,
    pub next_attempt_at: String,
    /// When the row was last queued: decided, or requeued by hand. The
    /// give-up age counts from here.
    pub queued_at: String,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
}

const EVENT_COLUMNS: &str =
    "id, webhook_id, created_at, fingerprint, kind, page_id, entity_id, action, priority,
    title, message, status, impact, link, starts_at, ends_at, state, attempts, next_attempt_at,
    queued_at, last_status, last_error";

/// Claims up to `limit` rows that are due, each the oldest unfinished row of
/// its fingerprint, not held by a live lease, and not in `busy` (the
/// fingerprints this worker is sending now). Claimed rows are leased until
/// `lease_until`; a crashed worker's rows come back when the lease ends.
pub async fn claim(
    conn: &mut SqliteConnection,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
    limit: usize,
    busy: &[String],
) -> sqlx::Result<Vec<Event>> {
    let now_s = format_time(now);
    // The head of each fingerprint's queue: nothing after it goes out until
    // it is delivered, dead or skipped.
    let sql = format!(
        "SELECT {EVENT_COLUMNS} FROM outbox o
         WHERE o.state = 'pending'
           AND o.next_attempt_at <= ?1
           AND (o.lease_until IS NULL OR o.lease_until <= ?1)
           AND NOT EXISTS (SELECT 1 FROM outbox e
                           WHERE e.fingerprint = o.fingerprint AND e.id < o.id AND e.state = 'pending')
         ORDER BY o.next_attempt_at, o.id
         LIMIT ?2"
    );
    let candidates: Vec<Event> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(&now_s)
        .bind((limit + busy.len()) as i64)
        .fetch_all(&mut *conn)
        .await?;
    let lease = format_time(lease_until);
    let mut claimed = Vec::new();
    for e in candidates {
        if claimed.len() == limit {
            break;
        }
        if busy.contains(&e.fingerprint) {
            continue;
        }
        sqlx::query("UPDATE outbox SET lease_until = ? WHERE id = ?")
            .bind(&lease)
            .bind(e.id)
            .execute(&mut *conn)
            .await?;
        claimed.push(e);
    }
    Ok(claimed)
}

/// A time after `now` by which a pending row may become due (the next
/// retry time, or the end of a lease), so the worker knows how long it may
/// sleep. Both halves use an index; waking a little early is harmless.
/// Rows due already are not counted: they are either claimed or waiting
/// behind a row in flight.
pub async fn next_due_after(
    conn: &mut SqliteConnection,
    now: DateTime<Utc>,
) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar(
        "SELECT min(t) FROM (
             SELECT min(next_attempt_at) AS t FROM outbox WHERE state = 'pending' AND next_attempt_at > ?1
             UNION ALL
             SELECT min(lease_until) FROM outbox WHERE lease_until > ?1 AND state = 'pending')",
    )
    .bind(format_time(now))
    .fetch_one(&mut *conn)
    .await
}

/// One attempt's record.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub started_at: DateTime<Utc>,
    pub latency_ms: i64,
    pub http_status: Option<u16>,
    pub error: Option<String>,
}

/// What became of a row after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum After {
    Delivered,
    RetryAt(DateTime<Utc>),
    Dead,
}

/// Records an attempt and moves the row on, releasing its lease.
pub async fn finish_attempt(
    conn: &mut SqliteConnection,
    id: i64,
    attempt: &Attempt,
    after: After,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    let (result, state, next, finished) = match after {
        After::Delivered => ("delivered", State::Delivered, None, Some(format_time(now))),
        After::RetryAt(t) => ("retry", State::Pending, Some(format_time(t)), None),
        After::Dead => ("dead", State::Dead, None, Some(format_time(now))),
    };
    sqlx::query(
        "INSERT INTO delivery_attempts (outbox_id, started_at, latency_ms, http_status, result, error)
         VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(id)
    .bind(format_time(attempt.started_at))
    .bind(attempt.latency_ms)
    .bind(attempt.http_status.map(i64::from))
    .bind(result)
    .bind(&attempt.error)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "UPDATE outbox SET state = ?, attempts = attempts + 1,
            next_attempt_at = coalesce(?, next_attempt_at), lease_until = NULL,
            last_status = ?, last_error = ?, finished_at = ?
         WHERE id = ?",
    )
    .bind(state.as_str())
    .bind(next)
    .bind(attempt.http_status.map(i64::from))
    .bind(&attempt.error)
    .bind(finished)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Gives back rows this worker claimed but did not send (shutdown).
pub async fn release(conn: &mut SqliteConnection, ids: &[i64]) -> sqlx::Result<()> {
    for id in ids {
        sqlx::query("UPDATE outbox SET lease_until = NULL WHERE id = ? AND state = 'pending'")
            .bind(id)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Rows that are pending or dead, oldest first, for `outbox list`.
pub async fn list_unfinished(conn: &mut SqliteConnection) -> sqlx::Result<Vec<Event>> {
    let sql = format!(
        "SELECT {EVENT_COLUMNS} FROM outbox WHERE state IN ('pending', 'dead') ORDER BY id"
    );
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .fetch_all(&mut *conn)
        .await
}

/// What `requeue` did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Requeued {
    pub queued: u64,
    /// Dead rows left alone because a later event of the same fingerprint
    /// was already delivered: sending them now would undo it.
    pub superseded: u64,
}

/// Queues dead rows again (all of them, or the one with `id`, which may also
/// be a pending row waiting for its next attempt: it becomes due now).
pub async fn requeue(
    conn: &mut SqliteConnection,
    id: Option<i64>,
    now: DateTime<Utc>,
) -> sqlx::Result<Requeued> {
    let now = format_time(now);
    let superseded = "EXISTS (SELECT 1 FROM outbox l WHERE l.fingerprint = outbox.fingerprint
                               AND l.id > outbox.id AND l.state = 'delivered')";
    let (queue, skip) = match id {
        Some(_) => (
            format!(
                // A pending row keeps its lease: if a worker is sending it
                // right now, nobody else may take it.
                "UPDATE outbox SET state = 'pending', next_attempt_at = ?1, queued_at = ?1,
                        lease_until = CASE state WHEN 'dead' THEN NULL ELSE lease_until END,
                        finished_at = NULL
                     WHERE id = ?2 AND state IN ('dead', 'pending') AND NOT {superseded}"
            ),
            format!(
                "SELECT count(*) FROM outbox WHERE id = ?2 AND state = 'dead' AND {superseded}"
            ),
        ),
        None => (
            format!(
                "UPDATE outbox SET state = 'pending', next_attempt_at = ?1, queued_at = ?1,
                        lease_until = NULL, finished_at = NULL
                     WHERE state = 'dead' AND NOT {superseded}"
            ),
            format!("SELECT count(*) FROM outbox WHERE state = 'dead' AND {superseded}"),
        ),
    };
    let superseded: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(skip))
        .bind(&now)
        .bind(id.unwrap_or(0))
        .fetch_one(&mut *conn)
        .await?;
    let queued = sqlx::query(sqlx::AssertSqlSafe(queue))
        .bind(&now)
        .bind(id.unwrap_or(0))
        .execute(&mut *conn)
        .await?
        .rows_affected();
    Ok(Requeued {
        queued,
        superseded: superseded as u64,
    })
}
