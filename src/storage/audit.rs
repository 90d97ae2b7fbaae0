//! Read-only queries behind the audit pages and API. Every query runs on
//! the read pool; nothing here writes.

use serde::{Deserialize, Serialize};

use super::sql::{Arg, args};

use super::reader::{ReadResult, Reader};
use super::sql::struct_from_row;

use crate::rules::domain::{Action, Alert, EntityKind, Outcome, Priority};
use crate::rules::plan::BodyKind;
use crate::rules::route::HeldBy;
use crate::rules::time::{format_time, parse_moment};
use crate::storage::outbox::{State, Tried};
use crate::storage::rounds::RoundResult;

/// Page size when none (or nonsense) is asked for, and the most allowed.
pub const DEFAULT_LIMIT: u32 = 50;
pub const MAX_LIMIT: u32 = 500;

/// Filters of the list, from the query string. Unknown values simply
/// match nothing; bad times are reported back.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(default)]
pub struct Filters {
    /// incident | component | unknown | invalid
    pub kind: Option<String>,
    pub outcome: Option<String>,
    /// A page id.
    pub page: Option<String>,
    /// Text searched in the entity name.
    pub q: Option<String>,
    /// Received at or after (ISO 8601, `datetime-local` or a date).
    pub from: Option<String>,
    /// Received before.
    pub to: Option<String>,
    /// Cursor: rows older than this (from `next_cursor`).
    pub before: Option<String>,
    pub limit: Option<u32>,
}

impl Filters {
    fn clean(v: &Option<String>) -> Option<&str> {
        v.as_deref().map(str::trim).filter(|s| !s.is_empty())
    }

    pub fn limit(&self) -> u32 {
        self.limit
            .filter(|l| *l > 0)
            .unwrap_or(DEFAULT_LIMIT)
            .min(MAX_LIMIT)
    }

    /// The same filters without the cursor: the link back to the newest.
    pub fn without_cursor(&self) -> Filters {
        Filters {
            before: None,
            ..self.clone()
        }
    }
}

/// A filter value the bridge cannot read.
#[derive(Debug, thiserror::Error)]
pub enum BadFilter {
    #[error("{field}: cannot read \"{value}\" (use e.g. 2025-03-04T10:15 or 2025-03-04)")]
    Unreadable { field: &'static str, value: String },
    /// Fewer characters than the name index serves: a search would read
    /// every webhook.
    #[error("q: type at least {MIN_SEARCH} characters to search names (\"{0}\" is too short)")]
    TooShort(String),
}

/// The shortest name search the trigram index serves.
pub const MIN_SEARCH: usize = 3;

/// Reads a filter time: RFC 3339, `2025-03-04T10:15`, or `2025-03-04`.
pub fn filter_time(field: &'static str, v: &str) -> Result<String, BadFilter> {
    let t = parse_moment(v);
    t.map(format_time).ok_or_else(|| BadFilter::Unreadable {
        field,
        value: v.to_owned(),
    })
}

/// One line of the audit log: a webhook, what it did, and where the events
/// it decided for ITOC360 stand — one line per webhook, however many events
/// it decided (an incident and the components it raised, several
/// destinations).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct EventRow {
    pub id: String,
    pub received_at: String,
    pub source: String,
    /// webhook (from Statuspage) | reconcile (healed from the status API)
    pub origin: String,
    pub kind: BodyKind,
    pub page_id: Option<String>,
    pub entity_id: Option<String>,
    pub entity_name: Option<String>,
    pub old_status: Option<String>,
    pub new_status: Option<String>,
    pub impact: Option<String>,
    pub event_at: Option<String>,
    pub outcome: Outcome,
    pub reason: String,
    pub action: Option<Action>,
    pub priority: Option<Priority>,
    /// The events it decided, in the order decided (filled after the
    /// webhooks are read).
    pub events: Vec<DecidedEvent>,
}
struct_from_row!(EventRow { id, received_at, source, origin, kind, page_id, entity_id, entity_name, old_status, new_status, impact, event_at, outcome, reason, action, priority }; events: Vec::new());

/// An event a webhook decided for ITOC360, as the log line shows it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct DecidedEvent {
    #[serde(skip)]
    pub webhook_id: String,
    /// The outbox row.
    pub outbox_id: i64,
    pub kind: EntityKind,
    pub entity_id: String,
    /// `default` or a route's name.
    pub destination: String,
    pub action: Action,
    pub priority: Priority,
    /// pending | delivered | dead | skipped | cancelled
    pub state: State,
    pub attempts: i64,
    pub last_error: Option<String>,
}
struct_from_row!(DecidedEvent {
    webhook_id,
    outbox_id,
    kind,
    entity_id,
    destination,
    action,
    priority,
    state,
    attempts,
    last_error
});

const ROW_SELECT: &str =
    "SELECT w.id, w.received_at, w.source, w.origin, w.kind, w.page_id, w.entity_id,
        w.entity_name, w.old_status, w.new_status, w.impact, w.event_at, w.outcome, w.reason,
        w.action, w.priority
    FROM webhooks w";

/// Fills each row's `events` with one more read: the outbox rows of the
/// page's webhooks.
async fn with_events(r: &Reader, rows: &mut [EventRow]) -> ReadResult<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let marks = vec!["?"; rows.len()].join(", ");
    let sql = format!(
        "SELECT webhook_id, id AS outbox_id, kind, entity_id, destination, action, priority,
            state, attempts, last_error
         FROM outbox WHERE webhook_id IN ({marks}) ORDER BY id"
    );
    let ids: Vec<Arg<'_>> = rows
        .iter()
        .map(|row| super::sql::ToArg::to_arg(&row.id))
        .collect();
    let events: Vec<DecidedEvent> = r.all(&sql, &ids).await?;
    for e in events {
        if let Some(row) = rows.iter_mut().find(|row| row.id == e.webhook_id) {
            row.events.push(e);
        }
    }
    Ok(())
}

/// A page of the log, newest first.
#[derive(Debug, Clone, Serialize)]
pub struct LogPage {
    pub events: Vec<EventRow>,
    /// Pass as `before` for the next (older) page; absent on the last.
    pub next_cursor: Option<String>,
}

fn cursor_of(row: &EventRow) -> String {
    format!("{}_{}", row.received_at, row.id)
}

/// Above this many matching webhooks a name search walks the time index
/// with a plain LIKE instead (matches are then dense enough to fill a page
/// quickly, and the name index would hand back every one of them first).
const SELECTIVE_MATCHES: i64 = 5000;

/// The names (indexed once each, in `entity_names`) that are `LIKE` the
/// pattern bound after this text; close it with `)`.
const MATCHING_NAMES: &str = "SELECT n.name FROM entity_names n
     WHERE n.id IN (SELECT rowid FROM entity_names_trigram WHERE name LIKE ";

/// Whether the name index should answer a name search: the trigram index
/// serves substrings of 3+ characters without LIKE wildcards, and the
/// detour pays off when the matching webhooks are rare.
async fn use_name_index(r: &Reader, text: &str) -> ReadResult<bool> {
    // Without a trigram index a plain ILIKE it is.
    if text.contains(['%', '_', '\\']) || !r.engine().searches_names_by_trigram() {
        return Ok(false);
    }
    let sql = format!(
        "SELECT count(*) FROM (SELECT 1 FROM webhooks WHERE entity_name IN ({MATCHING_NAMES}?)) LIMIT ?)"
    );
    let matches: i64 = r
        .value(&sql, &args![format!("%{text}%"), SELECTIVE_MATCHES])
        .await?;
    Ok(matches < SELECTIVE_MATCHES)
}

pub async fn list(r: &Reader, f: &Filters) -> Result<LogPage, ListError> {
    let limit = f.limit();
    let mut sql = format!("{ROW_SELECT} WHERE 1 = 1");
    let mut binds: Vec<Arg<'static>> = Vec::new();
    let text = |v: &str| Arg::Text(Some(v.to_owned().into()));
    if let Some(kind) = Filters::clean(&f.kind) {
        sql.push_str(" AND w.kind = ?");
        binds.push(text(kind));
    }
    if let Some(outcome) = Filters::clean(&f.outcome) {
        sql.push_str(" AND w.outcome = ?");
        binds.push(text(outcome));
    }
    if let Some(page) = Filters::clean(&f.page) {
        sql.push_str(" AND w.page_id = ?");
        binds.push(text(page));
    }
    if let Some(q) = Filters::clean(&f.q) {
        if q.chars().count() < MIN_SEARCH {
            return Err(BadFilter::TooShort(q.to_owned()).into());
        }
        if use_name_index(r, q).await? {
            sql.push_str(&format!(" AND w.entity_name IN ({MATCHING_NAMES}?))"));
            binds.push(text(&format!("%{q}%")));
        } else {
            let escaped = q
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_");
            // Names match whatever their case, as SQLite's LIKE does.
            sql.push_str(&format!(
                " AND w.entity_name {} ? ESCAPE '\\'",
                r.engine().like_any_case()
            ));
            binds.push(text(&format!("%{escaped}%")));
        }
    }
    if let Some(from) = Filters::clean(&f.from) {
        sql.push_str(" AND w.received_at >= ?");
        binds.push(text(&filter_time("from", from)?));
    }
    if let Some(to) = Filters::clean(&f.to) {
        sql.push_str(" AND w.received_at < ?");
        binds.push(text(&filter_time("to", to)?));
    }
    if let Some(cursor) = Filters::clean(&f.before) {
        let (at, id) = cursor
            .rsplit_once('_')
            .ok_or_else(|| BadFilter::Unreadable {
                field: "before",
                value: cursor.to_owned(),
            })?;
        sql.push_str(" AND (w.received_at, w.id) < (?, ?)");
        binds.push(text(at));
        binds.push(text(id));
    }
    sql.push_str(" ORDER BY w.received_at DESC, w.id DESC LIMIT ?");
    binds.push(Arg::Int(Some(i64::from(limit) + 1)));
    let mut events: Vec<EventRow> = r.all(&sql, &binds).await?;
    let next_cursor = if events.len() > limit as usize {
        events.truncate(limit as usize);
        events.last().map(cursor_of)
    } else {
        None
    };
    with_events(r, &mut events).await?;
    Ok(LogPage {
        events,
        next_cursor,
    })
}

#[derive(Debug, thiserror::Error)]
pub enum ListError {
    #[error(transparent)]
    BadFilter(#[from] BadFilter),
    #[error("database: {0}")]
    Database(#[from] super::reader::ReadError),
}

impl From<sqlx::Error> for ListError {
    fn from(e: sqlx::Error) -> Self {
        ListError::Database(e.into())
    }
}

/// One webhook with everything known about it.
#[derive(Debug, Clone, Serialize)]
pub struct Detail {
    pub event: EventRow,
    pub event_id: Option<String>,
    pub remote_addr: Option<String>,
    pub body_bytes: i64,
    /// The raw body as text (lossy for non-UTF-8), not yet redacted.
    #[serde(skip)]
    pub body: String,
    pub outbox: Vec<OutboxRow>,
    pub attempts: Vec<AttemptRow>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct OutboxRow {
    pub id: i64,
    pub webhook_id: String,
    pub created_at: String,
    pub fingerprint: String,
    pub action: Action,
    pub priority: Priority,
    pub title: String,
    pub state: State,
    pub attempts: i64,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    pub finished_at: Option<String>,
    /// `default` or a route's name.
    pub destination: String,
    /// Held (a grace period, a silence) until then.
    pub held_until: Option<String>,
    /// `page_after_secs`, `resolve_after_secs` or `silence <id>`.
    pub held_by: Option<HeldBy>,
}
struct_from_row!(OutboxRow {
    id,
    webhook_id,
    created_at,
    fingerprint,
    action,
    priority,
    title,
    state,
    attempts,
    last_status,
    last_error,
    finished_at,
    destination,
    held_until,
    held_by
});

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct AttemptRow {
    pub outbox_id: i64,
    pub started_at: String,
    pub latency_ms: i64,
    pub http_status: Option<i64>,
    pub result: Tried,
    pub error: Option<String>,
    /// Who queued the event again (result `requeued`).
    pub requested_by: Option<String>,
}
struct_from_row!(AttemptRow {
    outbox_id,
    started_at,
    latency_ms,
    http_status,
    result,
    error,
    requested_by
});

const OUTBOX_SELECT: &str =
    "SELECT id, webhook_id, created_at, fingerprint, action, priority, title, state,
    attempts, last_status, last_error, finished_at, destination, held_until, held_by FROM outbox";

pub async fn detail(r: &Reader, id: &str) -> ReadResult<Option<Detail>> {
    let sql = format!("{ROW_SELECT} WHERE w.id = ?");
    let Some(mut event) = r.optional::<EventRow>(&sql, &args![id]).await? else {
        return Ok(None);
    };
    with_events(r, std::slice::from_mut(&mut event)).await?;
    let (event_id, remote_addr, body_bytes, body): (Option<String>, Option<String>, i64, Vec<u8>) =
        r.optional(
            &format!(
                "SELECT event_id, remote_addr, body_bytes, {} FROM webhooks WHERE id = ?",
                r.engine().body_bytes()
            ),
            &args![id],
        )
        .await?
        .unwrap_or_default();
    let outbox: Vec<OutboxRow> = r
        .all(
            &format!("{OUTBOX_SELECT} WHERE webhook_id = ? ORDER BY id"),
            &args![id],
        )
        .await?;
    let attempts: Vec<AttemptRow> = r
        .all(
            "SELECT a.outbox_id, a.started_at, a.latency_ms, a.http_status, a.result, a.error,
                a.requested_by
         FROM delivery_attempts a JOIN outbox o ON o.id = a.outbox_id
         WHERE o.webhook_id = ? ORDER BY a.id",
            &args![id],
        )
        .await?;
    Ok(Some(Detail {
        event,
        event_id,
        remote_addr,
        body_bytes,
        body: String::from_utf8_lossy(&body).into_owned(),
        outbox,
        attempts,
    }))
}

/// An applied event of one entity.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct TransitionRow {
    pub webhook_id: String,
    pub at: String,
    pub from_status: Option<String>,
    pub to_status: String,
    pub alert_before: Alert,
    pub alert_after: Alert,
    pub outcome: Outcome,
    /// Set when another entity's event caused it.
    pub reason: Option<String>,
}
struct_from_row!(TransitionRow {
    webhook_id,
    at,
    from_status,
    to_status,
    alert_before,
    alert_after,
    outcome,
    reason
});

/// The current state of an incident or component.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct EntityRow {
    pub source: String,
    pub name: Option<String>,
    pub status: Option<String>,
    pub alert_open: bool,
    pub alert_priority: Option<Priority>,
    pub last_event_at: Option<String>,
    pub first_seen_at: String,
    pub link: Option<String>,
}
struct_from_row!(EntityRow {
    source,
    name,
    status,
    alert_open,
    alert_priority,
    last_event_at,
    first_seen_at,
    link
});

/// An incident↔component link, seen from either side.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct LinkRow {
    pub id: String,
    pub name: Option<String>,
    pub status: Option<String>,
    pub current: bool,
}
struct_from_row!(LinkRow {
    id,
    name,
    status,
    current
});

#[derive(Debug, Clone, Serialize)]
pub struct Timeline {
    pub kind: EntityKind,
    pub page_id: String,
    pub entity_id: String,
    pub entity: EntityRow,
    pub transitions: Vec<TransitionRow>,
    pub events: Vec<OutboxRow>,
    /// Components of an incident, or incidents of a component.
    pub links: Vec<LinkRow>,
}

pub async fn timeline(
    r: &Reader,
    kind: EntityKind,
    page_id: &str,
    entity_id: &str,
) -> ReadResult<Option<Timeline>> {
    let (entity_sql, links_sql) = match kind {
        // A page alert has no timeline of its own: its webhook rows are
        // the whole story.
        EntityKind::Page => return Ok(None),
        EntityKind::Incident => (
            "SELECT source, name, status, alert_open <> 0 AS alert_open, alert_priority, last_event_at,
                first_seen_at,
                shortlink AS link
             FROM incidents WHERE page_id = ? AND incident_id = ? ORDER BY updated_at DESC LIMIT 1",
            "SELECT ic.component_id AS id, coalesce(c.name, ic.component_name) AS name, c.status,
                ic.current <> 0 AS current
             FROM incident_components ic
             LEFT JOIN components c ON c.source = ic.source AND c.page_id = ic.page_id
                                   AND c.component_id = ic.component_id
             WHERE ic.page_id = ? AND ic.incident_id = ? ORDER BY ic.current DESC, name",
        ),
        EntityKind::Component => (
            "SELECT source, name, status, alert_open <> 0 AS alert_open, alert_priority, last_event_at,
                first_seen_at,
                NULL AS link
             FROM components WHERE page_id = ? AND component_id = ? ORDER BY updated_at DESC LIMIT 1",
            "SELECT ic.incident_id AS id, i.name, i.status, ic.current <> 0 AS current
             FROM incident_components ic
             LEFT JOIN incidents i ON i.source = ic.source AND i.page_id = ic.page_id
                                  AND i.incident_id = ic.incident_id
             WHERE ic.page_id = ? AND ic.component_id = ? ORDER BY ic.last_seen_at DESC",
        ),
    };
    let Some(entity) = r
        .optional::<EntityRow>(entity_sql, &args![page_id, entity_id])
        .await?
    else {
        return Ok(None);
    };
    let transitions: Vec<TransitionRow> = r.all("SELECT webhook_id, at, from_status, to_status, alert_before, alert_after, outcome, reason
         FROM transitions WHERE kind = ? AND page_id = ? AND entity_id = ? ORDER BY id", &args![kind.as_str(), page_id, entity_id])
    .await?;
    let events: Vec<OutboxRow> = r
        .all(
            &format!("{OUTBOX_SELECT} WHERE fingerprint = ? ORDER BY id"),
            &args![crate::rules::domain::fingerprint(kind, page_id, entity_id)],
        )
        .await?;
    let links: Vec<LinkRow> = r.all(links_sql, &args![page_id, entity_id]).await?;
    Ok(Some(Timeline {
        kind,
        page_id: page_id.to_owned(),
        entity_id: entity_id.to_owned(),
        entity,
        transitions,
        events,
        links,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_times() {
        assert_eq!(
            filter_time("from", "2025-03-04").unwrap(),
            "2025-03-04T00:00:00.000Z"
        );
        assert_eq!(
            filter_time("from", "2025-03-04T10:15").unwrap(),
            "2025-03-04T10:15:00.000Z"
        );
        assert_eq!(
            filter_time("from", "2025-03-04T10:15:00+01:00").unwrap(),
            "2025-03-04T09:15:00.000Z"
        );
        assert!(
            filter_time("to", "last tuesday")
                .unwrap_err()
                .to_string()
                .contains("to:")
        );
    }

    #[test]
    fn limits() {
        assert_eq!(Filters::default().limit(), DEFAULT_LIMIT);
        assert_eq!(
            Filters {
                limit: Some(0),
                ..Filters::default()
            }
            .limit(),
            DEFAULT_LIMIT
        );
        assert_eq!(
            Filters {
                limit: Some(10_000),
                ..Filters::default()
            }
            .limit(),
            MAX_LIMIT
        );
    }
}

/// One reconcile round, for `/reconcile`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct RoundRow {
    pub page_id: String,
    pub source: String,
    pub started_at: String,
    pub duration_ms: i64,
    pub result: RoundResult,
    pub error: Option<String>,
    pub incidents: i64,
    pub components: i64,
    pub heals: i64,
}
struct_from_row!(RoundRow {
    page_id,
    source,
    started_at,
    duration_ms,
    result,
    error,
    incidents,
    components,
    heals
});

/// The latest rounds, newest first.
pub async fn rounds(r: &Reader, limit: i64) -> ReadResult<Vec<RoundRow>> {
    r.all(
        "SELECT page_id, source, started_at, duration_ms, result, error, incidents, components,
                heals
         FROM reconcile_rounds ORDER BY id DESC LIMIT ?",
        &args![limit],
    )
    .await
}

/// A page whose changes reach the bridge only by polling: heals of changes
/// more than two minutes old, stored after the page's last webhook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unannounced {
    pub page_id: String,
    pub changes: i64,
    pub last_webhook: Option<String>,
}

/// For each page (that gets webhooks), the heals stored since its last
/// webhook. Both lookups walk the `(page_id, origin, received_at)` index.
pub async fn unannounced(r: &Reader, pages: &[String]) -> ReadResult<Vec<Unannounced>> {
    let mut out = Vec::new();
    for page in pages {
        let last: Option<String> = r
            .value(
                "SELECT max(received_at) FROM webhooks WHERE page_id = ? AND origin = 'webhook'",
                &args![page],
            )
            .await?;
        let changes: i64 = r
            .value(
                "SELECT count(*) FROM webhooks
             WHERE page_id = ? AND origin = 'reconcile' AND received_at > ?
               AND outcome NOT IN ('duplicate', 'stale') AND event_at IS NOT NULL
               AND julianday(received_at) - julianday(event_at) > 120.0 / 86400",
                &args![page, last.as_deref().unwrap_or("")],
            )
            .await?;
        if changes > 0 {
            out.push(Unannounced {
                page_id: page.clone(),
                changes,
                last_webhook: last,
            });
        }
    }
    Ok(out)
}

/// An alert the bridge believes open in ITOC360 (the `open_alerts` view),
/// with its latest event's delivery and the destinations that have it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct OpenAlertRow {
    pub kind: EntityKind,
    pub page_id: String,
    pub entity_id: String,
    pub name: Option<String>,
    pub status: Option<String>,
    pub priority: Option<Priority>,
    pub open_since: Option<String>,
    pub action: Option<Action>,
    pub state: Option<State>,
    pub attempts: Option<i64>,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    pub outbox_id: Option<i64>,
    /// By name; none when filters kept every event from ITOC360.
    pub destinations: Vec<AlertDestination>,
}
struct_from_row!(OpenAlertRow {
    kind,
    page_id,
    entity_id,
    name,
    status,
    priority,
    open_since,
    action,
    state,
    attempts,
    last_status,
    last_error,
    outbox_id
}; destinations: Vec::new());

/// A destination that has an alert open (or will, once its held trigger is
/// sent).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct AlertDestination {
    #[serde(skip)]
    pub page_id: String,
    #[serde(skip)]
    pub kind: EntityKind,
    #[serde(skip)]
    pub entity_id: String,
    /// `default` or a route's name.
    pub destination: String,
    /// The event held there and until when, while it still waits.
    pub held_action: Option<Action>,
    pub held_until: Option<String>,
}
struct_from_row!(AlertDestination {
    page_id,
    kind,
    entity_id,
    destination,
    held_action,
    held_until
});

/// Every open alert at `now`, most urgent first, then oldest first. Its
/// destinations say what is held there, and until when (a held resolve
/// whose time has come has closed the view).
pub async fn open_alerts(r: &Reader, now: &str) -> ReadResult<Vec<OpenAlertRow>> {
    let mut alerts: Vec<OpenAlertRow> = r
        .all(
            "SELECT a.kind, a.page_id, a.entity_id, a.name, a.status, a.priority, a.open_since,
                o.action, o.state, o.attempts, o.last_status, o.last_error, o.id AS outbox_id
         FROM open_entities a
         LEFT JOIN outbox o ON o.id = (SELECT max(x.id) FROM outbox x
             WHERE x.fingerprint = 'statuspage:' || a.page_id || ':' || a.kind || ':' || a.entity_id
               AND x.state <> 'cancelled')
         ORDER BY CASE a.priority WHEN 'critical' THEN 0 WHEN 'high' THEN 1 WHEN 'medium' THEN 2
                                  ELSE 3 END,
                  a.open_since, a.kind, a.entity_id",
            &[],
        )
        .await?;
    let destinations: Vec<AlertDestination> = r
        .all(
            "SELECT page_id, kind, entity_id, destination,
                CASE WHEN held_until > ?1 THEN held_action END,
                CASE WHEN held_until > ?1 THEN held_until END
         FROM destination_alerts
         WHERE coalesce(held_action, '') <> 'resolve' OR held_until > ?1
         ORDER BY destination",
            &args![now],
        )
        .await?;
    for d in destinations {
        if let Some(a) = alerts
            .iter_mut()
            .find(|a| a.page_id == d.page_id && a.kind == d.kind && a.entity_id == d.entity_id)
        {
            a.destinations.push(d);
        }
    }
    Ok(alerts)
}

/// A resolve held for `resolve_after_secs`: the bridge has closed the
/// alert, ITOC360 still has it open until the resolve is sent.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct HeldResolveRow {
    pub kind: EntityKind,
    pub page_id: String,
    pub entity_id: String,
    pub name: Option<String>,
    pub destination: String,
    pub held_until: String,
}
struct_from_row!(HeldResolveRow {
    kind,
    page_id,
    entity_id,
    name,
    destination,
    held_until
});

/// Every resolve still held, soonest first.
pub async fn held_resolves(r: &Reader, now: &str) -> ReadResult<Vec<HeldResolveRow>> {
    r.all(
        "SELECT d.kind, d.page_id, d.entity_id,
                coalesce((SELECT i.name FROM incidents i
                           WHERE d.kind = 'incident' AND i.source = d.source
                             AND i.page_id = d.page_id AND i.incident_id = d.entity_id),
                         (SELECT c.name FROM components c
                           WHERE d.kind = 'component' AND c.source = d.source
                             AND c.page_id = d.page_id AND c.component_id = d.entity_id)) AS name,
                d.destination, d.held_until
         FROM destination_alerts d
         WHERE d.held_action = 'resolve' AND d.held_until > ?
         ORDER BY d.held_until, d.destination",
        &args![now],
    )
    .await
}
