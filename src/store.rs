//! Plain data access for webhooks, entity state, transitions, applied-event
//! keys and incident↔component links. Every function takes the caller's
//! connection (inside the pipeline's transaction); none decides anything.

use sqlx::{Row, SqliteConnection};

use crate::domain::{Action, Alert, EntityKind, Outcome, Priority};
use crate::machine::Prior;
use crate::parse::parse_time;

/// A webhook row to insert.
#[derive(Debug)]
pub struct NewWebhook<'a> {
    pub id: &'a str,
    pub received_at: &'a str,
    pub source: &'a str,
    pub remote_addr: Option<&'a str>,
    pub body: &'a [u8],
    /// incident | component | unknown | invalid
    pub kind: &'a str,
    pub page_id: Option<&'a str>,
    pub entity_id: Option<&'a str>,
    pub entity_name: Option<&'a str>,
    pub event_id: Option<&'a str>,
    pub old_status: Option<&'a str>,
    pub new_status: Option<&'a str>,
    pub impact: Option<&'a str>,
    pub event_at: Option<&'a str>,
    pub outcome: Outcome,
    pub reason: &'a str,
    pub action: Option<Action>,
    pub priority: Option<Priority>,
}

pub async fn insert_webhook(conn: &mut SqliteConnection, w: &NewWebhook<'_>) -> sqlx::Result<()> {
    let q = sqlx::query(
        "INSERT INTO webhooks (id, received_at, source, remote_addr, body, body_bytes, kind,
            page_id, entity_id, entity_name, event_id, old_status, new_status, impact, event_at,
            outcome, reason, action, priority)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(w.id)
    .bind(w.received_at)
    .bind(w.source)
    .bind(w.remote_addr);
    // Text when it is text, so analysts can json_extract() it directly;
    // the exact bytes otherwise.
    let q = match std::str::from_utf8(w.body) {
        Ok(s) => q.bind(s),
        Err(_) => q.bind(w.body),
    };
    q.bind(w.body.len() as i64)
        .bind(w.kind)
        .bind(w.page_id)
        .bind(w.entity_id)
        .bind(w.entity_name)
        .bind(w.event_id)
        .bind(w.old_status)
        .bind(w.new_status)
        .bind(w.impact)
        .bind(w.event_at)
        .bind(w.outcome.as_str())
        .bind(w.reason)
        .bind(w.action.map(Action::as_str))
        .bind(w.priority.map(Priority::as_str))
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Identifies one incident or component.
#[derive(Debug, Clone, Copy)]
pub struct EntityKey<'a> {
    pub source: &'a str,
    pub kind: EntityKind,
    pub page_id: &'a str,
    pub entity_id: &'a str,
}

/// An entity's stored state, as the machine needs it, plus when its
/// trouble started (for `startsAt`): an incident's `started_at`, a
/// component's `alert_opened_at` (when it left operational).
#[derive(Debug, Clone, Default)]
pub struct Stored {
    pub prior: Prior,
    pub started_at: Option<String>,
}

pub async fn load_entity(conn: &mut SqliteConnection, key: EntityKey<'_>) -> sqlx::Result<Stored> {
    let sql = match key.kind {
        EntityKind::Incident => {
            "SELECT alert_open, alert_priority, status, last_event_at, started_at
             FROM incidents WHERE source = ? AND page_id = ? AND incident_id = ?"
        }
        EntityKind::Component => {
            "SELECT alert_open, alert_priority, status, last_event_at, alert_opened_at AS started_at
             FROM components WHERE source = ? AND page_id = ? AND component_id = ?"
        }
    };
    let row = sqlx::query(sql)
        .bind(key.source)
        .bind(key.page_id)
        .bind(key.entity_id)
        .fetch_optional(&mut *conn)
        .await?;
    let Some(row) = row else {
        return Ok(Stored::default());
    };
    let open: bool = row.try_get("alert_open")?;
    let priority: Option<String> = row.try_get("alert_priority")?;
    let priority = priority
        .as_deref()
        .and_then(Priority::parse)
        .unwrap_or(Priority::Medium);
    let last: Option<String> = row.try_get("last_event_at")?;
    Ok(Stored {
        prior: Prior {
            alert: if open {
                Alert::Open(priority)
            } else {
                Alert::Closed
            },
            status: row.try_get("status")?,
            last_event_at: last.as_deref().and_then(parse_time),
        },
        started_at: row.try_get("started_at")?,
    })
}

/// The webhook that applied any of `keys` to this entity before, if any.
pub async fn find_applied(
    conn: &mut SqliteConnection,
    key: EntityKey<'_>,
    keys: &[String],
) -> sqlx::Result<Option<String>> {
    for k in keys {
        let found: Option<String> = sqlx::query_scalar(
            "SELECT webhook_id FROM applied_events
             WHERE source = ? AND kind = ? AND page_id = ? AND entity_id = ? AND event_key = ?",
        )
        .bind(key.source)
        .bind(key.kind.as_str())
        .bind(key.page_id)
        .bind(key.entity_id)
        .bind(k)
        .fetch_optional(&mut *conn)
        .await?;
        if found.is_some() {
            return Ok(found);
        }
    }
    Ok(None)
}

pub async fn record_applied(
    conn: &mut SqliteConnection,
    key: EntityKey<'_>,
    keys: &[String],
    webhook_id: &str,
) -> sqlx::Result<()> {
    for k in keys {
        sqlx::query(
            "INSERT INTO applied_events (source, kind, page_id, entity_id, event_key, webhook_id)
             VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        )
        .bind(key.source)
        .bind(key.kind.as_str())
        .bind(key.page_id)
        .bind(key.entity_id)
        .bind(k)
        .bind(webhook_id)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// The incident columns written on every applied incident event.
#[derive(Debug)]
pub struct IncidentState<'a> {
    pub name: Option<&'a str>,
    pub status: &'a str,
    pub impact: Option<&'a str>,
    pub shortlink: Option<&'a str>,
    pub started_at: Option<&'a str>,
    pub resolved_at: Option<&'a str>,
    pub backfilled: bool,
    pub alert: Alert,
    pub last_event_at: Option<&'a str>,
    pub webhook_id: &'a str,
    pub now: &'a str,
}

fn alert_columns(alert: Alert) -> (bool, Option<&'static str>) {
    match alert {
        Alert::Open(p) => (true, Some(p.as_str())),
        Alert::Closed => (false, None),
    }
}

pub async fn save_incident(
    conn: &mut SqliteConnection,
    key: EntityKey<'_>,
    s: &IncidentState<'_>,
) -> sqlx::Result<()> {
    let (open, priority) = alert_columns(s.alert);
    sqlx::query(
        "INSERT INTO incidents (source, page_id, incident_id, name, status, impact, shortlink,
            started_at, resolved_at, backfilled, alert_open, alert_priority, last_event_at,
            last_webhook_id, first_seen_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (source, page_id, incident_id) DO UPDATE SET
            name = coalesce(excluded.name, name),
            status = excluded.status,
            impact = excluded.impact,
            shortlink = coalesce(excluded.shortlink, shortlink),
            started_at = coalesce(excluded.started_at, started_at),
            resolved_at = excluded.resolved_at,
            backfilled = excluded.backfilled,
            alert_open = excluded.alert_open,
            alert_priority = coalesce(excluded.alert_priority, alert_priority),
            last_event_at = coalesce(excluded.last_event_at, last_event_at),
            last_webhook_id = excluded.last_webhook_id,
            updated_at = excluded.updated_at",
    )
    .bind(key.source)
    .bind(key.page_id)
    .bind(key.entity_id)
    .bind(s.name)
    .bind(s.status)
    .bind(s.impact)
    .bind(s.shortlink)
    .bind(s.started_at)
    .bind(s.resolved_at)
    .bind(s.backfilled)
    .bind(open)
    .bind(priority)
    .bind(s.last_event_at)
    .bind(s.webhook_id)
    .bind(s.now)
    .bind(s.now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The component columns written on every applied component event.
#[derive(Debug)]
pub struct ComponentState<'a> {
    pub name: Option<&'a str>,
    pub status: &'a str,
    pub alert: Alert,
    pub alert_opened_at: Option<&'a str>,
    pub last_event_at: Option<&'a str>,
    pub webhook_id: &'a str,
    pub now: &'a str,
}

pub async fn save_component(
    conn: &mut SqliteConnection,
    key: EntityKey<'_>,
    s: &ComponentState<'_>,
) -> sqlx::Result<()> {
    let (open, priority) = alert_columns(s.alert);
    sqlx::query(
        "INSERT INTO components (source, page_id, component_id, name, status, alert_open,
            alert_priority, alert_opened_at, last_event_at, last_webhook_id, first_seen_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (source, page_id, component_id) DO UPDATE SET
            name = coalesce(excluded.name, name),
            status = excluded.status,
            alert_open = excluded.alert_open,
            alert_priority = coalesce(excluded.alert_priority, alert_priority),
            alert_opened_at = excluded.alert_opened_at,
            last_event_at = coalesce(excluded.last_event_at, last_event_at),
            last_webhook_id = excluded.last_webhook_id,
            updated_at = excluded.updated_at",
    )
    .bind(key.source)
    .bind(key.page_id)
    .bind(key.entity_id)
    .bind(s.name)
    .bind(s.status)
    .bind(open)
    .bind(priority)
    .bind(s.alert_opened_at)
    .bind(s.last_event_at)
    .bind(s.webhook_id)
    .bind(s.now)
    .bind(s.now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// How an alert state is written in `transitions`.
pub fn alert_text(a: Alert) -> String {
    match a {
        Alert::Closed => "closed".into(),
        Alert::Open(p) => format!("open:{p}"),
    }
}

#[derive(Debug)]
pub struct NewTransition<'a> {
    pub webhook_id: &'a str,
    pub at: &'a str,
    pub from_status: Option<&'a str>,
    pub to_status: &'a str,
    pub before: Alert,
    pub after: Alert,
    pub outcome: Outcome,
}

pub async fn insert_transition(
    conn: &mut SqliteConnection,
    key: EntityKey<'_>,
    t: &NewTransition<'_>,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO transitions (webhook_id, source, kind, page_id, entity_id, at, from_status,
            to_status, alert_before, alert_after, outcome)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(t.webhook_id)
    .bind(key.source)
    .bind(key.kind.as_str())
    .bind(key.page_id)
    .bind(key.entity_id)
    .bind(t.at)
    .bind(t.from_status)
    .bind(t.to_status)
    .bind(alert_text(t.before))
    .bind(alert_text(t.after))
    .bind(t.outcome.as_str())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Makes `components` the incident's current set of components; earlier
/// ones stay recorded with `current = 0`.
pub async fn link_components(
    conn: &mut SqliteConnection,
    key: EntityKey<'_>,
    components: &[(String, Option<String>)],
    now: &str,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE incident_components SET current = 0
         WHERE source = ? AND page_id = ? AND incident_id = ?",
    )
    .bind(key.source)
    .bind(key.page_id)
    .bind(key.entity_id)
    .execute(&mut *conn)
    .await?;
    for (id, name) in components {
        sqlx::query(
            "INSERT INTO incident_components (source, page_id, incident_id, component_id,
                component_name, current, first_seen_at, last_seen_at)
             VALUES (?, ?, ?, ?, ?, 1, ?, ?)
             ON CONFLICT (source, page_id, incident_id, component_id) DO UPDATE SET
                component_name = coalesce(excluded.component_name, component_name),
                current = 1,
                last_seen_at = excluded.last_seen_at",
        )
        .bind(key.source)
        .bind(key.page_id)
        .bind(key.entity_id)
        .bind(id)
        .bind(name)
        .bind(now)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// The highest priority of the open incidents currently associated with a
/// component, if any.
pub async fn open_incident_priority(
    conn: &mut SqliteConnection,
    key: EntityKey<'_>,
) -> sqlx::Result<Option<Priority>> {
    let priorities: Vec<Option<String>> = sqlx::query_scalar(
        "SELECT i.alert_priority FROM incident_components ic
         JOIN incidents i ON i.source = ic.source AND i.page_id = ic.page_id
                         AND i.incident_id = ic.incident_id
         WHERE ic.source = ? AND ic.page_id = ? AND ic.component_id = ?
           AND ic.current = 1 AND i.alert_open = 1",
    )
    .bind(key.source)
    .bind(key.page_id)
    .bind(key.entity_id)
    .fetch_all(&mut *conn)
    .await?;
    Ok(priorities
        .iter()
        .map(|p| {
            p.as_deref()
                .and_then(Priority::parse)
                .unwrap_or(Priority::Medium)
        })
        .max())
}
