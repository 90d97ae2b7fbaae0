//! Plain data access for the outbox (decided events for ITOC360) and the
//! record of delivery attempts. Rows are written by the pipeline in the
//! webhook's transaction; the delivery worker claims them with a lease,
//! and records each attempt. Nothing here decides what to send.

use super::sql::{self, Conn, Row, Table, ToArg, Ty, args, int, kept, text};
use chrono::{DateTime, Utc};

use crate::storage::{WriteError, Writer};

use crate::rules::domain::{Action, EntityKind, Priority};
use crate::rules::time::{format_time, parse_time};

/// A decided event, as the pipeline writes it.
#[derive(Debug, Clone)]
pub struct NewEvent<'a> {
    /// `default` or a route's name.
    pub destination: &'a str,
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
    /// Held (a grace period, a silence): due then instead of at once.
    pub held_until: Option<&'a str>,
    pub held_by: Option<&'a str>,
}

/// Where an outbox row stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Pending,
    Delivered,
    Dead,
    Skipped,
    /// A held event no longer wanted (docs/ROUTING.md).
    Cancelled,
}

impl State {
    pub fn parse(s: &str) -> Option<State> {
        [
            State::Pending,
            State::Delivered,
            State::Dead,
            State::Skipped,
            State::Cancelled,
        ]
        .into_iter()
        .find(|st| st.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Delivered => "delivered",
            State::Dead => "dead",
            State::Skipped => "skipped",
            State::Cancelled => "cancelled",
        }
    }
}

/// What one row of `delivery_attempts` records: how a send ended, or a
/// redelivery asked for by hand (nothing sent).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tried {
    Delivered,
    Retry,
    Dead,
    Requeued,
}

impl Tried {
    pub fn as_str(self) -> &'static str {
        match self {
            Tried::Delivered => "delivered",
            Tried::Retry => "retry",
            Tried::Dead => "dead",
            Tried::Requeued => "requeued",
        }
    }

    pub fn parse(s: &str) -> Option<Tried> {
        [Tried::Delivered, Tried::Retry, Tried::Dead, Tried::Requeued]
            .into_iter()
            .find(|t| t.as_str() == s)
    }
}

crate::rules::domain::serialize_as_str!(State, Tried);

/// The columns of a new outbox row, `n` its place among those written
/// together.
const NEW: &[(&str, Ty)] = &[
    ("n", Ty::Int),
    ("webhook_id", Ty::Text),
    ("created_at", Ty::Text),
    ("fingerprint", Ty::Text),
    ("kind", Ty::Text),
    ("page_id", Ty::Text),
    ("entity_id", Ty::Text),
    ("action", Ty::Text),
    ("priority", Ty::Text),
    ("title", Ty::Text),
    ("message", Ty::Text),
    ("status", Ty::Text),
    ("impact", Ty::Text),
    ("link", Ty::Text),
    ("starts_at", Ty::Text),
    ("ends_at", Ty::Text),
    ("state", Ty::Text),
    ("next_attempt_at", Ty::Text),
    ("queued_at", Ty::Text),
    ("finished_at", Ty::Text),
    ("destination", Ty::Text),
    ("held_until", Ty::Text),
    ("held_by", Ty::Text),
];

/// Inserts `events` with one statement; their ids, in the same order
/// (ids rise in the order rows are inserted, which `ORDER BY r.n` fixes).
pub fn insert_all(conn: Conn<'_>, events: &[NewEvent<'_>]) -> sql::Result<Vec<i64>> {
    let mut rows = Table::new(NEW);
    for (n, e) in events.iter().enumerate() {
        rows.push([
            int(n as i64),
            e.webhook_id.to_arg(),
            e.created_at.to_arg(),
            e.fingerprint.to_arg(),
            e.kind.as_str().to_arg(),
            e.page_id.to_arg(),
            e.entity_id.to_arg(),
            e.action.as_str().to_arg(),
            e.priority.as_str().to_arg(),
            e.title.to_arg(),
            e.message.to_arg(),
            e.status.to_arg(),
            e.impact.to_arg(),
            e.link.to_arg(),
            e.starts_at.to_arg(),
            e.ends_at.to_arg(),
            e.state.as_str().to_arg(),
            e.held_until.unwrap_or(e.created_at).to_arg(),
            e.held_until.unwrap_or(e.created_at).to_arg(),
            text((e.state == State::Skipped).then_some(e.created_at)),
            e.destination.to_arg(),
            e.held_until.to_arg(),
            e.held_by.to_arg(),
        ]);
    }
    let sql = kept!(conn.engine(), |e| {
        let names = NEW[1..].iter().map(|(c, _)| *c).collect::<Vec<_>>();
        format!(
            "INSERT INTO outbox ({}) {}{}",
            names.join(", "),
            e.insert_rows(NEW, &names, Some("n")),
            e.returning_id()
        )
    });
    let mut ids = conn.insert_table_ids(sql, &rows)?;
    if ids.len() != events.len() {
        return Err(sql::Error::Decode {
            column: 0,
            message: format!(
                "{} outbox rows inserted, {} returned",
                events.len(),
                ids.len()
            ),
        });
    }
    ids.sort_unstable();
    Ok(ids)
}

/// Cancels a held row that has not gone out: pending (or skipped, in a dry
/// run) and not in a worker's hands. False when it is too late: it was
/// delivered, is being sent, or is finished otherwise.
pub fn cancel(conn: Conn<'_>, id: i64, now: &str) -> sql::Result<bool> {
    let n = conn.execute(
        "UPDATE outbox SET state = 'cancelled', finished_at = ?1, lease_until = NULL
             WHERE id = ?2 AND state IN ('pending', 'skipped')
               AND (lease_until IS NULL OR lease_until <= ?1) AND attempts = 0",
        &args![now, id],
    )?;
    Ok(n == 1)
}

/// An outbox row as the delivery worker, the CLI and the redeliver route
/// read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub id: i64,
    pub webhook_id: String,
    pub created_at: DateTime<Utc>,
    pub fingerprint: String,
    pub kind: EntityKind,
    pub page_id: String,
    pub entity_id: String,
    pub action: Action,
    pub priority: Priority,
    pub title: String,
    pub message: String,
    /// The Statuspage status that caused it.
    pub status: String,
    pub impact: Option<String>,
    pub link: Option<String>,
    pub starts_at: DateTime<Utc>,
    pub ends_at: Option<DateTime<Utc>>,
    pub state: State,
    pub attempts: i64,
    pub next_attempt_at: DateTime<Utc>,
    /// When the row was last queued: decided, or requeued by hand. The
    /// give-up age counts from here.
    pub queued_at: DateTime<Utc>,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    /// `default` or a route's name.
    pub destination: String,
}

impl Event {
    /// Events of one lane go out one at a time, in the order decided: the
    /// same alert at the same destination.
    pub fn lane(&self) -> String {
        format!("{}\u{1f}{}", self.fingerprint, self.destination)
    }
}

const EVENT_COLUMNS: &str =
    "id, webhook_id, created_at, fingerprint, kind, page_id, entity_id, action, priority,
    title, message, status, impact, link, starts_at, ends_at, state, attempts, next_attempt_at,
    queued_at, last_status, last_error, destination";

/// Column `i` read through `parse`; a value it does not know is an error,
/// not a guess.
fn typed<T>(r: &Row<'_>, i: usize, parse: impl Fn(&str) -> Option<T>) -> sql::Result<T> {
    let text: String = r.get(i)?;
    parse(&text).ok_or_else(|| sql::Error::Decode {
        column: i,
        message: format!("unexpected value {text:?}"),
    })
}

fn time(r: &Row<'_>, i: usize) -> sql::Result<DateTime<Utc>> {
    typed(r, i, parse_time)
}

impl Event {
    /// Reads a row selected with `EVENT_COLUMNS`, in that order.
    fn from_row(r: &Row<'_>) -> sql::Result<Event> {
        let ends_at: Option<String> = r.get(15)?;
        Ok(Event {
            id: r.get(0)?,
            webhook_id: r.get(1)?,
            created_at: time(r, 2)?,
            fingerprint: r.get(3)?,
            kind: typed(r, 4, EntityKind::parse)?,
            page_id: r.get(5)?,
            entity_id: r.get(6)?,
            action: typed(r, 7, Action::parse)?,
            priority: typed(r, 8, Priority::parse)?,
            title: r.get(9)?,
            message: r.get(10)?,
            status: r.get(11)?,
            impact: r.get(12)?,
            link: r.get(13)?,
            starts_at: time(r, 14)?,
            ends_at: ends_at.as_deref().and_then(parse_time),
            state: typed(r, 16, State::parse)?,
            attempts: r.get(17)?,
            next_attempt_at: time(r, 18)?,
            queued_at: time(r, 19)?,
            last_status: r.get(20)?,
            last_error: r.get(21)?,
            destination: r.get(22)?,
        })
    }
}

/// Claims up to `limit` rows that are due, each the oldest unfinished row of
/// its lane (fingerprint and destination), not held by a live lease, and not
/// in `busy` (the lanes this worker is sending now). Claimed rows are leased
/// until `lease_until`; a crashed worker's rows come back when the lease
/// ends.
pub fn claim(
    conn: Conn<'_>,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
    limit: usize,
    busy: &[String],
) -> sql::Result<Vec<Event>> {
    let now_s = format_time(now);
    // The head of each fingerprint's queue: nothing after it goes out until
    // it is delivered, dead or skipped.
    let sql = format!(
        "SELECT {EVENT_COLUMNS} FROM outbox o
         WHERE o.state = 'pending'
           AND o.next_attempt_at <= ?1
           AND (o.lease_until IS NULL OR o.lease_until <= ?1)
           AND NOT EXISTS (SELECT 1 FROM outbox e
                           WHERE e.fingerprint = o.fingerprint AND e.destination = o.destination
                             AND e.id < o.id AND e.state = 'pending')
         ORDER BY o.next_attempt_at, o.id
         LIMIT ?2{}",
        conn.engine().claim_skip_locked()
    );
    let candidates = conn.query(
        &sql,
        &args![now_s, (limit + busy.len()) as i64],
        Event::from_row,
    )?;
    let lease = format_time(lease_until);
    let mut claimed = Vec::new();
    for e in candidates {
        if claimed.len() == limit {
            break;
        }
        if busy.contains(&e.lane()) {
            continue;
        }
        conn.execute(
            "UPDATE outbox SET lease_until = ? WHERE id = ?",
            &args![&lease, e.id],
        )?;
        claimed.push(e);
    }
    Ok(claimed)
}

/// A time after `now` by which a pending row may become due (the next
/// retry time, or the end of a lease), so the worker knows how long it may
/// sleep. Both halves use an index; waking a little early is harmless.
/// Rows due already are not counted: they are either claimed or waiting
/// behind a row in flight.
pub fn next_due_after(conn: Conn<'_>, now: DateTime<Utc>) -> sql::Result<Option<String>> {
    Ok(conn
        .query_value(
            "SELECT min(t) FROM (
                 SELECT min(next_attempt_at) AS t FROM outbox WHERE state = 'pending' AND next_attempt_at > ?1
                 UNION ALL
                 SELECT min(lease_until) FROM outbox WHERE lease_until > ?1 AND state = 'pending') due",
            &args![format_time(now)],
        )?
        .flatten())
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
pub fn finish_attempt(
    conn: Conn<'_>,
    id: i64,
    attempt: &Attempt,
    after: After,
    now: DateTime<Utc>,
) -> sql::Result<()> {
    let (result, state, next, finished) = match after {
        After::Delivered => (
            Tried::Delivered,
            State::Delivered,
            None,
            Some(format_time(now)),
        ),
        After::RetryAt(t) => (Tried::Retry, State::Pending, Some(format_time(t)), None),
        After::Dead => (Tried::Dead, State::Dead, None, Some(format_time(now))),
    };
    conn.execute(
        "INSERT INTO delivery_attempts (outbox_id, started_at, latency_ms, http_status, result, error)
         VALUES (?, ?, ?, ?, ?, ?)",
        &args![
        id,
        format_time(attempt.started_at),
        attempt.latency_ms,
        attempt.http_status.map(i64::from),
        result.as_str(),
        attempt.error,
    ])?;
    conn.execute(
        "UPDATE outbox SET state = ?, attempts = attempts + 1,
            next_attempt_at = coalesce(?, next_attempt_at), lease_until = NULL,
            last_status = ?, last_error = ?, finished_at = ?
         WHERE id = ?",
        &args![
            state.as_str(),
            next,
            attempt.http_status.map(i64::from),
            attempt.error,
            finished,
            id,
        ],
    )?;
    Ok(())
}

/// Gives back rows this worker claimed but did not send (shutdown).
pub fn release(conn: Conn<'_>, ids: &[i64]) -> sql::Result<()> {
    for id in ids {
        conn.execute(
            "UPDATE outbox SET lease_until = NULL WHERE id = ? AND state = 'pending'",
            &args![*id],
        )?;
    }
    Ok(())
}

/// Rows that are pending or dead, oldest first, for `outbox list`.
pub fn list_unfinished(conn: Conn<'_>) -> sql::Result<Vec<Event>> {
    let sql = format!(
        "SELECT {EVENT_COLUMNS} FROM outbox WHERE state IN ('pending', 'dead') ORDER BY id"
    );
    conn.query(&sql, &[], Event::from_row)
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
pub fn requeue(conn: Conn<'_>, id: Option<i64>, now: DateTime<Utc>) -> sql::Result<Requeued> {
    let now = format_time(now);
    let superseded = "EXISTS (SELECT 1 FROM outbox l WHERE l.fingerprint = outbox.fingerprint
                               AND l.destination = outbox.destination
                               AND l.id > outbox.id AND l.state = 'delivered')";
    // ?2 is the row id, or NULL for "every dead row". A pending row keeps
    // its lease: if a worker is sending it right now, nobody else may take it.
    // A row held by a grace period or a silence is not released early: its
    // hold ends by itself (or with the silence).
    let not_held = NOT_HELD;
    let queue = format!(
        "UPDATE outbox SET state = 'pending', next_attempt_at = ?1, queued_at = ?1,
                lease_until = CASE state WHEN 'dead' THEN NULL ELSE lease_until END,
                finished_at = NULL
             WHERE ((?2 IS NULL AND state = 'dead')
                    OR (id = ?2 AND (state = 'dead' OR (state = 'pending' AND {not_held}))))
               AND NOT {superseded}"
    );
    let skip = format!(
        "SELECT count(*) FROM outbox
         WHERE (?2 IS NULL OR id = ?2) AND state = 'dead' AND {superseded}"
    );
    let args = args![now, id];
    let superseded: i64 = conn.query_value(&skip, &args)?.unwrap_or(0);
    let queued = conn.execute(&queue, &args)?;
    Ok(Requeued {
        queued: queued as u64,
        superseded: superseded as u64,
    })
}

/// A pending row not waiting on a hold (a grace period, a silence), with
/// `?1` now.
const NOT_HELD: &str = "(held_until IS NULL OR held_until <= ?1)";

/// What [`redeliver`] did with one row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Redelivery {
    /// No outbox row has this id.
    Unknown,
    /// Back to pending, due now; the row as it stands.
    Queued(Event),
    /// Left alone: held until then by this (`page_after_secs`,
    /// `resolve_after_secs`, `silence <id>`); the hold ends by itself.
    Held {
        event: Event,
        by: String,
        until: String,
    },
    /// Left alone: queued again already, and not yet tried since.
    AlreadyQueued(Event),
    /// Left alone: delivered, skipped (dry run), or dead with a later event
    /// of the same alert already delivered (sending it would undo that).
    Refused(Event),
}

/// Puts one dead or failing row back to pending, due now, and records in
/// its attempt history who asked. Old attempts stay.
pub fn redeliver(
    conn: Conn<'_>,
    id: i64,
    requested_by: &str,
    now: DateTime<Utc>,
) -> sql::Result<Redelivery> {
    let read = |conn: Conn<'_>| -> sql::Result<Option<Event>> {
        let sql = format!("SELECT {EVENT_COLUMNS} FROM outbox WHERE id = ?");
        conn.query_row(&sql, &args![id], Event::from_row)
    };
    let Some(before) = read(conn)? else {
        return Ok(Redelivery::Unknown);
    };
    if before.state == State::Pending {
        let held: Option<(Option<String>, Option<String>)> = conn.query_row(
            &format!("SELECT held_by, held_until FROM outbox WHERE id = ?2 AND NOT {NOT_HELD}"),
            &args![format_time(now), id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        if let Some((by, until)) = held {
            return Ok(Redelivery::Held {
                event: before,
                by: by.unwrap_or_default(),
                until: until.unwrap_or_default(),
            });
        }
        // One queued retry at a time: a second before the worker has tried
        // the first adds nothing but load.
        let last: Option<Tried> = conn.query_value(
            "SELECT result FROM delivery_attempts WHERE outbox_id = ? ORDER BY id DESC LIMIT 1",
            &args![id],
        )?;
        if last == Some(Tried::Requeued) {
            return Ok(Redelivery::AlreadyQueued(before));
        }
    }
    if requeue(conn, Some(id), now)?.queued == 0 {
        return Ok(Redelivery::Refused(before));
    }
    conn.execute(
        "INSERT INTO delivery_attempts (outbox_id, started_at, latency_ms, result, requested_by)
         VALUES (?, ?, 0, 'requeued', ?)",
        &args![id, format_time(now), requested_by],
    )?;
    Ok(read(conn)?.map_or(Redelivery::Unknown, Redelivery::Queued))
}

/// An attempt the delivery worker finished, to be recorded.
#[derive(Debug, Clone)]
pub struct Finished {
    pub id: i64,
    pub attempt: Attempt,
    pub after: After,
    pub at: DateTime<Utc>,
}

/// What a delivery pass claimed, and when the next row becomes due.
#[derive(Debug, Clone, Default)]
pub struct Claimed {
    pub rows: Vec<Event>,
    pub next_due: Option<DateTime<Utc>>,
}

/// The outbox operations, each one job of the writer (one transaction).
impl Writer {
    /// Records finished attempts, claims up to `limit` due rows (leased for
    /// `lease`, none of the fingerprints in `busy`), and says when the next
    /// row becomes due.
    pub async fn record_and_claim(
        &self,
        finished: Vec<Finished>,
        limit: usize,
        busy: Vec<String>,
        lease: chrono::Duration,
    ) -> Result<Claimed, WriteError> {
        self.run(move |conn| {
            let now = Utc::now();
            for f in &finished {
                finish_attempt(conn, f.id, &f.attempt, f.after, f.at)?;
            }
            let rows = if limit > 0 {
                claim(conn, now, now + lease, limit, &busy)?
            } else {
                Vec::new()
            };
            let next_due = next_due_after(conn, now)?
                .as_deref()
                .and_then(crate::rules::time::parse_time);
            Ok(Claimed { rows, next_due })
        })
        .await
    }

    /// Records the last finished attempts and gives back rows claimed but
    /// never sent (shutdown).
    pub async fn record_and_release(
        &self,
        finished: Vec<Finished>,
        unsent: Vec<i64>,
    ) -> Result<(), WriteError> {
        self.run(move |conn| {
            for f in &finished {
                finish_attempt(conn, f.id, &f.attempt, f.after, f.at)?;
            }
            release(conn, &unsent)
        })
        .await
    }

    /// Rows that are pending or dead, oldest first (`outbox list`).
    pub async fn unfinished(&self) -> Result<Vec<Event>, WriteError> {
        self.run(list_unfinished).await
    }

    /// Queues dead rows again, or the one with `id` (`outbox retry`).
    pub async fn requeue(
        &self,
        id: Option<i64>,
        now: DateTime<Utc>,
    ) -> Result<Requeued, WriteError> {
        self.run(move |conn| requeue(conn, id, now)).await
    }

    /// One row back to pending at a person's request, recorded as theirs.
    pub async fn redeliver(
        &self,
        id: i64,
        requested_by: String,
        now: DateTime<Utc>,
    ) -> Result<Redelivery, WriteError> {
        self.run(move |conn| redeliver(conn, id, &requested_by, now))
            .await
    }
}
