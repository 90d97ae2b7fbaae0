//! Silences as stored (docs/ROUTING.md, "Silences"): added and expired by
//! the writer, read by ingest (those in force) and by the audit page and
//! the CLI (all of them). Expiring one by hand makes the triggers it held
//! due at once, so the delivery worker sends them on its next look.

use super::sql::{self, Conn, FromRow, Row, args};
use chrono::{DateTime, Utc};

use crate::rules::silence::Silence;
use crate::rules::time::{format_time, parse_time};
use crate::storage::{ReadResult, Reader, WriteError, Writer};

/// A silence with who made it and when, for lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SilenceRecord {
    pub silence: Silence,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    pub expired_by: Option<String>,
}

/// What became of `expire`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expired {
    /// Expired now; this many held triggers are due at once.
    Now {
        released: usize,
    },
    /// It had ended already.
    AlreadyEnded,
    NotFound,
}

const COLUMNS: &str = "id, page, component, incident, route, starts_at, ends_at, expired_at, \
                       reason, created_at, created_by, expired_by";

fn time(s: &str) -> DateTime<Utc> {
    parse_time(s).unwrap_or_default()
}

/// One way to read a silence's row, for the write path and the read side.
impl FromRow for SilenceRecord {
    fn from_row(r: &Row<'_>) -> sql::Result<SilenceRecord> {
        let starts: String = r.get(5)?;
        let ends: String = r.get(6)?;
        let expired: Option<String> = r.get(7)?;
        let created: String = r.get(9)?;
        Ok(SilenceRecord {
            silence: Silence {
                id: r.get(0)?,
                page: r.get(1)?,
                component: r.get(2)?,
                incident: r.get(3)?,
                route: r.get(4)?,
                starts_at: time(&starts),
                ends_at: time(&ends),
                expired_at: expired.as_deref().and_then(parse_time),
                reason: r.get(8)?,
            },
            created_at: time(&created),
            created_by: r.get(10)?,
            expired_by: r.get(11)?,
        })
    }
}

/// The silences in force at some time from `from` to `to` (as they were
/// then, for a replay too): `Silence::is_active` tells which at each
/// time, to the millisecond the times are stored at.
pub fn in_force_during(
    conn: Conn<'_>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> sql::Result<Vec<Silence>> {
    let sql = sql::kept!(conn.engine(), |_| format!(
        "SELECT {COLUMNS} FROM silences
         WHERE ends_at > ?1 AND starts_at <= ?2 AND (expired_at IS NULL OR expired_at > ?1)"
    ));
    conn.query(sql, &args![format_time(from), format_time(to)], |r| {
        SilenceRecord::from_row(r).map(|l| l.silence)
    })
}

fn insert(conn: Conn<'_>, s: &Silence, by: &str, now: DateTime<Utc>) -> sql::Result<()> {
    conn.execute(
        "INSERT INTO silences (id, page, component, incident, route, starts_at, ends_at, reason,
            created_at, created_by)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        &args![
            s.id,
            s.page,
            s.component,
            s.incident,
            s.route,
            format_time(s.starts_at),
            format_time(s.ends_at),
            s.reason,
            format_time(now),
            by
        ],
    )?;
    Ok(())
}

fn expire(conn: Conn<'_>, id: &str, by: &str, now: DateTime<Utc>) -> sql::Result<Expired> {
    let now_s = format_time(now);
    let sql = format!("SELECT {COLUMNS} FROM silences WHERE id = ?");
    let Some(found) = conn.query_row(&sql, &args![id], SilenceRecord::from_row)? else {
        return Ok(Expired::NotFound);
    };
    if found.silence.end() <= now {
        return Ok(Expired::AlreadyEnded);
    }
    conn.execute(
        "UPDATE silences SET expired_at = ?, expired_by = ? WHERE id = ?",
        &args![now_s, by, id],
    )?;
    let held_by = format!("silence {id}");
    conn.execute(
        "UPDATE destination_alerts SET held_until = ?1
         WHERE held_action = 'trigger' AND held_until > ?1
           AND held_outbox IN (SELECT id FROM outbox WHERE held_by = ?2)",
        &args![now_s, held_by],
    )?;
    let released = conn.execute(
        "UPDATE outbox SET held_until = ?1, next_attempt_at = ?1, queued_at = ?1
             WHERE held_by = ?2 AND held_until > ?1 AND state IN ('pending', 'skipped')",
        &args![now_s, held_by],
    )?;
    Ok(Expired::Now { released })
}

impl Writer {
    /// Stores a new silence; `by` says who asked (`cli:<user>`, `api:<user>`).
    pub async fn add_silence(
        &self,
        silence: Silence,
        by: String,
        now: DateTime<Utc>,
    ) -> Result<Silence, WriteError> {
        self.run(move |conn| insert(conn, &silence, &by, now).map(|()| silence.clone()))
            .await
    }

    /// Ends a silence now; the triggers it held go out on the worker's next
    /// look (within a few seconds).
    pub async fn expire_silence(
        &self,
        id: String,
        by: String,
        now: DateTime<Utc>,
    ) -> Result<Expired, WriteError> {
        self.run(move |conn| expire(conn, &id, &by, now)).await
    }
}

impl Reader {
    /// Every silence, latest end first (`/silences`, `silence list`).
    pub async fn silences(&self) -> ReadResult<Vec<SilenceRecord>> {
        self.all(
            &format!("SELECT {COLUMNS} FROM silences ORDER BY ends_at DESC, id"),
            &args![],
        )
        .await
    }
}
