//! Plain data access for webhooks, entity state, transitions, applied-event
//! keys and incident↔component links. Every function takes the writer
//! thread's connection (inside the batch's transaction) and uses cached
//! prepared statements; none decides anything.

use rusqlite::types::ToSql;
use rusqlite::{Connection, OptionalExtension, params};

use crate::rules::domain::{Action, Alert, EntityKind, Outcome, Priority};
use crate::rules::machine::Prior;
use crate::rules::time::parse_time;

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
    /// webhook | reconcile
    pub origin: &'a str,
    pub outcome: Outcome,
    pub reason: &'a str,
    pub action: Option<Action>,
    pub priority: Option<Priority>,
}

pub fn insert_webhook(conn: &Connection, w: &NewWebhook<'_>) -> rusqlite::Result<()> {
    // Text when it is text, so analysts can json_extract() it directly;
    // the exact bytes otherwise.
    let text = std::str::from_utf8(w.body).ok();
    let body: &dyn ToSql = match &text {
        Some(t) => t,
        None => &w.body,
    };
    conn.prepare_cached(
        "INSERT INTO webhooks (id, received_at, source, remote_addr, body, body_bytes, kind,
            page_id, entity_id, entity_name, event_id, old_status, new_status, impact, event_at,
            outcome, reason, action, priority, origin)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )?
    .execute(params![
        w.id,
        w.received_at,
        w.source,
        w.remote_addr,
        body,
        w.body.len() as i64,
        w.kind,
        w.page_id,
        w.entity_id,
        w.entity_name,
        w.event_id,
        w.old_status,
        w.new_status,
        w.impact,
        w.event_at,
        w.outcome.as_str(),
        w.reason,
        w.action.map(Action::as_str),
        w.priority.map(Priority::as_str),
        w.origin,
    ])?;
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

pub fn load_entity(conn: &Connection, key: EntityKey<'_>) -> rusqlite::Result<Stored> {
    let sql = match key.kind {
        EntityKind::Incident => {
            "SELECT alert_open, alert_priority, status, last_event_at, started_at
             FROM incidents WHERE source = ? AND page_id = ? AND incident_id = ?"
        }
        EntityKind::Component => {
            "SELECT alert_open, alert_priority, status, last_event_at, alert_opened_at
             FROM components WHERE source = ? AND page_id = ? AND component_id = ?"
        }
    };
    let row = conn
        .prepare_cached(sql)?
        .query_row(params![key.source, key.page_id, key.entity_id], |r| {
            Ok((
                r.get::<_, bool>(0)?,
                r.get::<_, Option<String>>(1)?,
                r.get::<_, Option<String>>(2)?,
                r.get::<_, Option<String>>(3)?,
                r.get::<_, Option<String>>(4)?,
            ))
        })
        .optional()?;
    let Some((open, priority, status, last, started_at)) = row else {
        return Ok(Stored::default());
    };
    Ok(Stored {
        prior: prior(open, priority.as_deref(), status, last.as_deref()),
        started_at,
    })
}

/// An `alert_priority` column as written by `alert_columns`; a missing or
/// unknown one reads as Medium, the default priority.
fn priority_column(p: Option<&str>) -> Priority {
    p.and_then(Priority::parse).unwrap_or(Priority::Medium)
}

/// The machine's view of an entity from its state columns.
fn prior(open: bool, priority: Option<&str>, status: Option<String>, last: Option<&str>) -> Prior {
    Prior {
        alert: if open {
            Alert::Open(priority_column(priority))
        } else {
            Alert::Closed
        },
        status,
        last_event_at: last.and_then(parse_time),
    }
}

/// The webhook that applied any of `keys` to this entity before, if any.
pub fn find_applied(
    conn: &Connection,
    key: EntityKey<'_>,
    keys: &[String],
) -> rusqlite::Result<Option<String>> {
    let mut st = conn.prepare_cached(
        "SELECT webhook_id FROM applied_events
         WHERE source = ? AND kind = ? AND page_id = ? AND entity_id = ? AND event_key = ?",
    )?;
    for k in keys {
        let found: Option<String> = st
            .query_row(
                params![key.source, key.kind.as_str(), key.page_id, key.entity_id, k],
                |r| r.get(0),
            )
            .optional()?;
        if found.is_some() {
            return Ok(found);
        }
    }
    Ok(None)
}

pub fn record_applied(
    conn: &Connection,
    key: EntityKey<'_>,
    keys: &[String],
    webhook_id: &str,
) -> rusqlite::Result<()> {
    let mut st = conn.prepare_cached(
        "INSERT INTO applied_events (source, kind, page_id, entity_id, event_key, webhook_id)
         VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
    )?;
    for k in keys {
        st.execute(params![
            key.source,
            key.kind.as_str(),
            key.page_id,
            key.entity_id,
            k,
            webhook_id
        ])?;
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

pub fn save_incident(
    conn: &Connection,
    key: EntityKey<'_>,
    s: &IncidentState<'_>,
) -> rusqlite::Result<()> {
    let (open, priority) = alert_columns(s.alert);
    conn.prepare_cached(
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
    )?
    .execute(params![
        key.source,
        key.page_id,
        key.entity_id,
        s.name,
        s.status,
        s.impact,
        s.shortlink,
        s.started_at,
        s.resolved_at,
        s.backfilled,
        open,
        priority,
        s.last_event_at,
        s.webhook_id,
        s.now,
        s.now,
    ])?;
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

pub fn save_component(
    conn: &Connection,
    key: EntityKey<'_>,
    s: &ComponentState<'_>,
) -> rusqlite::Result<()> {
    let (open, priority) = alert_columns(s.alert);
    conn.prepare_cached(
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
    )?
    .execute(params![
        key.source,
        key.page_id,
        key.entity_id,
        s.name,
        s.status,
        open,
        priority,
        s.alert_opened_at,
        s.last_event_at,
        s.webhook_id,
        s.now,
        s.now,
    ])?;
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
    /// Set when the transition was caused by another entity's event.
    pub reason: Option<&'a str>,
}

pub fn insert_transition(
    conn: &Connection,
    key: EntityKey<'_>,
    t: &NewTransition<'_>,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO transitions (webhook_id, source, kind, page_id, entity_id, at, from_status,
            to_status, alert_before, alert_after, outcome, reason)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )?
    .execute(params![
        t.webhook_id,
        key.source,
        key.kind.as_str(),
        key.page_id,
        key.entity_id,
        t.at,
        t.from_status,
        t.to_status,
        alert_text(t.before),
        alert_text(t.after),
        t.outcome.as_str(),
        t.reason,
    ])?;
    Ok(())
}

/// Makes `components` the incident's current set of components; earlier
/// ones stay recorded with `current = 0`.
pub fn link_components(
    conn: &Connection,
    key: EntityKey<'_>,
    components: &[(String, Option<String>)],
    now: &str,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "UPDATE incident_components SET current = 0
         WHERE source = ? AND page_id = ? AND incident_id = ? AND current = 1",
    )?
    .execute(params![key.source, key.page_id, key.entity_id])?;
    let mut st = conn.prepare_cached(
        "INSERT INTO incident_components (source, page_id, incident_id, component_id,
            component_name, current, first_seen_at, last_seen_at)
         VALUES (?, ?, ?, ?, ?, 1, ?, ?)
         ON CONFLICT (source, page_id, incident_id, component_id) DO UPDATE SET
            component_name = coalesce(excluded.component_name, component_name),
            current = 1,
            last_seen_at = excluded.last_seen_at",
    )?;
    for (id, name) in components {
        st.execute(params![
            key.source,
            key.page_id,
            key.entity_id,
            id,
            name,
            now,
            now
        ])?;
    }
    Ok(())
}

const OPEN_INCIDENT_PRIORITY: &str = "SELECT i.alert_priority FROM incident_components ic
     JOIN incidents i ON i.source = ic.source AND i.page_id = ic.page_id
                     AND i.incident_id = ic.incident_id
     WHERE ic.source = ? AND ic.page_id = ? AND ic.component_id = ?
       AND ic.current = 1 AND i.alert_open = 1";

/// The highest priority of the open incidents currently associated with a
/// component, if any.
pub fn open_incident_priority(
    conn: &Connection,
    key: EntityKey<'_>,
) -> rusqlite::Result<Option<Priority>> {
    let mut st = conn.prepare_cached(OPEN_INCIDENT_PRIORITY)?;
    let priorities = st.query_map(params![key.source, key.page_id, key.entity_id], |r| {
        r.get::<_, Option<String>>(0)
    })?;
    let mut highest = None;
    for p in priorities {
        highest = highest.max(Some(priority_column(p?.as_deref())));
    }
    Ok(highest)
}

/// A component whose alert is open, linked to an incident now.
#[derive(Debug, Clone)]
pub struct LinkedOpen {
    pub component_id: String,
    pub name: Option<String>,
    pub stored: Stored,
}

const OPEN_COMPONENTS_OF: &str =
    "SELECT c.component_id, c.name, c.alert_priority, c.status, c.last_event_at, c.alert_opened_at
     FROM incident_components ic
     JOIN components c ON c.source = ic.source AND c.page_id = ic.page_id
                      AND c.component_id = ic.component_id
     WHERE ic.source = ? AND ic.page_id = ? AND ic.incident_id = ? AND ic.current = 1
       AND c.alert_open = 1
     ORDER BY ic.component_id";

/// The components currently associated with an incident whose alerts are
/// open, by id. Ordered through `incident_components`' key: ordering by the
/// component's own key made SQLite walk every component of the page to
/// avoid a sort (20 ms per incident webhook at 10 000 components).
pub fn open_components_of(
    conn: &Connection,
    incident: EntityKey<'_>,
) -> rusqlite::Result<Vec<LinkedOpen>> {
    let mut st = conn.prepare_cached(OPEN_COMPONENTS_OF)?;
    let rows = st.query_map(
        params![incident.source, incident.page_id, incident.entity_id],
        |r| {
            let priority: Option<String> = r.get(2)?;
            let last: Option<String> = r.get(4)?;
            Ok(LinkedOpen {
                component_id: r.get(0)?,
                name: r.get(1)?,
                stored: Stored {
                    prior: prior(true, priority.as_deref(), r.get(3)?, last.as_deref()),
                    started_at: r.get(5)?,
                },
            })
        },
    )?;
    rows.collect()
}

/// Sets an open component's alert priority (its status and times stay).
pub fn raise_component(
    conn: &Connection,
    key: EntityKey<'_>,
    priority: Priority,
    now: &str,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "UPDATE components SET alert_priority = ?, updated_at = ?
         WHERE source = ? AND page_id = ? AND component_id = ? AND alert_open = 1",
    )?
    .execute(params![
        priority.as_str(),
        now,
        key.source,
        key.page_id,
        key.entity_id
    ])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `EXPLAIN QUERY PLAN` lines of `sql` on a migrated, empty database.
    fn plan(sql: &str) -> Vec<String> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plan.db");
        super::super::migrate(&path).unwrap();
        let conn = Connection::open(&path).unwrap();
        let mut st = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let n = st.parameter_count();
        let args: Vec<String> = (0..n).map(|i| format!("a{i}")).collect();
        st.query_map(rusqlite::params_from_iter(args.iter()), |r| r.get(3))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    /// The joins on the write path start from the one entity's key and
    /// look every other row up by its key: their cost must not grow with
    /// the number of incidents or components on the page.
    #[test]
    fn write_path_joins_start_from_the_entity_key() {
        assert_eq!(
            plan(OPEN_COMPONENTS_OF),
            [
                "SEARCH ic USING INDEX sqlite_autoindex_incident_components_1 (source=? AND page_id=? AND incident_id=?)",
                "SEARCH c USING INDEX sqlite_autoindex_components_1 (source=? AND page_id=? AND component_id=?)",
            ]
        );
        assert_eq!(
            plan(OPEN_INCIDENT_PRIORITY),
            [
                "SEARCH ic USING INDEX incident_components_component (source=? AND page_id=? AND component_id=? AND current=?)",
                "SEARCH i USING INDEX sqlite_autoindex_incidents_1 (source=? AND page_id=? AND incident_id=?)",
            ]
        );
    }
}
