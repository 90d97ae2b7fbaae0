//! Ingest: read → plan → write for one webhook or heal, on the writer
//! thread inside the batch's transaction (docs/ARCHITECTURE.md).
//!
//! [`read_context`] loads what the rules need about the event's entity,
//! [`write_plan`] writes what they decided; [`Writer::ingest`] runs both
//! around the caller's pure planning function in one job. Statements are
//! cached; none decides anything.

use super::sql::{self, Arg, Conn, ToArg, args};
use chrono::{DateTime, Utc};

use crate::rules::domain::Action;
use crate::rules::domain::{Alert, EntityKind, Origin, Priority};
use crate::rules::machine::Prior;
use crate::rules::plan::{
    Context, Delivery, Draft, Lookup, NewState, OpenComponent, Plan, Reading, Stored, Transition,
};
use crate::rules::platform::Platform;
use crate::rules::route::{Held, HeldBy, Hold, View};
use crate::rules::time::{format_time, parse_time};
use crate::storage::{WriteError, Writer};

/// A webhook (or heal) as received, ready to be stored.
#[derive(Debug, Clone)]
pub struct Job {
    pub id: String,
    pub source: String,
    pub remote_addr: Option<String>,
    pub body: Vec<u8>,
    pub received_at: DateTime<Utc>,
    pub origin: Origin,
    /// The platform whose webhook the body is (`webhooks.body_shape`).
    pub shape: Platform,
}

impl Writer {
    /// Stores one webhook: reads its entity's context, lets `decide` (a pure
    /// function of the rules) plan it, writes the plan, and answers once the
    /// batch is committed. Refuses at once with `Busy` when the queue is full.
    pub async fn ingest<F>(&self, job: Job, reading: Reading, decide: F) -> Result<Plan, WriteError>
    where
        F: Fn(&Reading, &Context) -> Plan + Send + 'static,
    {
        let keys = reading
            .lookup()
            .map(|l| entity_locks(&job.source, &l))
            .unwrap_or_default();
        self.try_run_locked(keys, move |conn| ingest(conn, &job, &reading, &decide))
            .await
    }
}

/// What a write keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Record {
    /// Everything: the webhook's row, the transitions and what later
    /// decisions read.
    Everything,
    /// Only what later decisions read (entity state, applied keys, links,
    /// the outbox and destination views): a replay's scratch copy, whose
    /// audit rows nobody reads.
    Decisions,
}

/// Read, plan, write on `conn` (the writer's, or a replay's scratch).
pub fn ingest(
    conn: Conn<'_>,
    job: &Job,
    reading: &Reading,
    decide: impl Fn(&Reading, &Context) -> Plan,
) -> sql::Result<Plan> {
    ingest_keeping(conn, job, reading, decide, Record::Everything)
}

/// `ingest`, keeping only what `record` says.
pub fn ingest_keeping(
    conn: Conn<'_>,
    job: &Job,
    reading: &Reading,
    decide: impl Fn(&Reading, &Context) -> Plan,
    record: Record,
) -> sql::Result<Plan> {
    let ctx = match reading.lookup() {
        Some(lookup) => read_context(conn, &job.source, &lookup, job.received_at)?,
        None => Context::default(),
    };
    let plan = decide(reading, &ctx);
    write_plan(conn, job, &plan, record)?;
    Ok(plan)
}

/// What an event reads and writes, to serialise it with every other event
/// of the same entities (other replicas' on PostgreSQL): the entity, and
/// for an incident the components it lists, whose alerts it may lift. The
/// writer's runner locks them before the job runs.
fn entity_locks(source: &str, l: &Lookup<'_>) -> Vec<String> {
    let key =
        |kind: EntityKind, id: &str| format!("{source}\u{1f}{kind}\u{1f}{}\u{1f}{id}", l.page_id);
    let mut keys = vec![key(l.kind, l.entity_id)];
    if l.kind == EntityKind::Incident {
        keys.extend(l.components.iter().map(|c| key(EntityKind::Component, c)));
    }
    keys
}

/// Identifies one incident or component.
#[derive(Debug, Clone, Copy)]
struct EntityKey<'a> {
    source: &'a str,
    kind: EntityKind,
    page_id: &'a str,
    entity_id: &'a str,
}

/// What the rules need to know about the event's entity, as of `now` (when
/// it was received: held events whose time has come count as sent).
pub fn read_context(
    conn: Conn<'_>,
    source: &str,
    l: &Lookup<'_>,
    now: DateTime<Utc>,
) -> sql::Result<Context> {
    let key = EntityKey {
        source,
        kind: l.kind,
        page_id: l.page_id,
        entity_id: l.entity_id,
    };
    let stored = load_entity(conn, key)?;
    let duplicate_of = find_applied(conn, key, l.keys)?;
    let views = load_views(conn, key, now)?;
    let silences = super::silences::in_force(conn, now)?;
    Ok(match l.kind {
        EntityKind::Component => Context {
            stored,
            duplicate_of,
            incident_priority: open_incident_priority(conn, key)?,
            open_components: Vec::new(),
            views,
            silences,
            learned: super::catalog::learned(conn, l.page_id, &[l.entity_id])?,
        },
        EntityKind::Incident => Context {
            stored,
            duplicate_of,
            incident_priority: None,
            open_components: open_components(conn, key, &l.components, now)?,
            views,
            silences,
            learned: super::catalog::learned(conn, l.page_id, &l.components)?,
        },
        EntityKind::Page => Context {
            stored,
            duplicate_of,
            incident_priority: None,
            open_components: Vec::new(),
            views,
            silences,
            learned: super::catalog::learned(conn, l.page_id, &[])?,
        },
    })
}

/// Writes what `plan` decided for `job` (all of it, or what `record` keeps).
pub fn write_plan(conn: Conn<'_>, job: &Job, plan: &Plan, record: Record) -> sql::Result<()> {
    let now = format_time(job.received_at);
    let audit = record == Record::Everything;
    if audit {
        insert_webhook(conn, job, &now, plan)?;
    }
    let (Some(page_id), Some(entity_id)) = (&plan.summary.page_id, &plan.summary.entity_id) else {
        return Ok(());
    };
    let key = |kind, entity_id| EntityKey {
        source: &job.source,
        kind,
        page_id,
        entity_id,
    };
    match &plan.state {
        Some(NewState::Incident(s)) => {
            let incident = key(EntityKind::Incident, entity_id);
            save_incident(conn, incident, s, &job.id, &now)?;
            record_applied(conn, incident, &plan.applied_keys, &job.id)?;
            if let Some(links) = &plan.links {
                link_components(conn, incident, links, s.alert.is_open(), &now)?;
            }
        }
        Some(NewState::Component(s)) => {
            let component = key(EntityKind::Component, entity_id);
            save_component(conn, component, s, &job.id, &now)?;
            record_applied(conn, component, &plan.applied_keys, &job.id)?;
        }
        Some(NewState::Page(s)) => {
            save_page_alert(conn, key(EntityKind::Page, entity_id), s, &job.id, &now)?;
        }
        None => {}
    }
    for (component_id, priority) in &plan.raises {
        raise_component(
            conn,
            key(EntityKind::Component, component_id),
            *priority,
            &now,
        )?;
    }
    for t in plan.transitions.iter().filter(|_| audit) {
        insert_transition(conn, key(t.kind, &t.entity_id), &job.id, t)?;
    }
    for c in &plan.cancels {
        let cancelled = super::outbox::cancel(conn, c.outbox_id, &now)?;
        if let (false, Some(instead)) = (cancelled, &c.fallback) {
            insert_draft(conn, page_id, &job.id, &now, instead)?;
        }
    }
    // The outbox row of each held draft, for its view.
    let mut held_rows: Vec<(EntityKind, &str, &str, i64)> = Vec::new();
    for d in &plan.drafts {
        let id = insert_draft(conn, page_id, &job.id, &now, d)?;
        if d.hold.is_some() {
            held_rows.push((d.kind, &d.entity_id, &d.destination, id));
        }
    }
    for v in &plan.views {
        let held = v.held.as_ref().map(|(action, hold)| {
            let row = held_rows
                .iter()
                .rev()
                .find(|(k, e, d, _)| *k == v.kind && *e == v.entity_id && *d == v.destination)
                .map_or(0, |r| r.3);
            (*action, hold, row)
        });
        save_view(
            conn,
            key(v.kind, &v.entity_id),
            &v.destination,
            v.open,
            held,
            &now,
        )?;
    }
    Ok(())
}

/// The destinations that have an entity's alert open (or will, once a held
/// trigger is due), at what priority, as of `now`: a held trigger whose
/// time has come is sent, a held resolve whose time has come has closed
/// the view.
fn load_views(conn: Conn<'_>, key: EntityKey<'_>, now: DateTime<Utc>) -> sql::Result<Vec<View>> {
    let rows = conn.query(
        "SELECT d.destination, d.priority, d.held_action, d.held_until, d.held_outbox,
                d.opened_at, o.held_by, o.created_at
         FROM destination_alerts d LEFT JOIN outbox o ON o.id = d.held_outbox
         WHERE d.source = ? AND d.page_id = ? AND d.kind = ? AND d.entity_id = ?",
        &args![key.source, key.page_id, key.kind.as_str(), key.entity_id],
        |r| {
            let priority: Option<String> = r.get(1)?;
            let action: Option<Action> = r.get(2)?;
            let until: Option<String> = r.get(3)?;
            let opened: String = r.get(5)?;
            let decided: Option<String> = r.get(7)?;
            let held = match (action, until.as_deref().and_then(parse_time)) {
                (Some(action), Some(until)) => Some(Held {
                    outbox_id: r.get::<Option<i64>>(4)?.unwrap_or(0),
                    action,
                    since: match action {
                        Action::Trigger => parse_time(&opened),
                        Action::Resolve => decided.as_deref().and_then(parse_time),
                    }
                    .unwrap_or(until),
                    until,
                    by: r.get::<Option<HeldBy>>(6)?.unwrap_or(match action {
                        Action::Trigger => HeldBy::PageAfter,
                        Action::Resolve => HeldBy::ResolveAfter,
                    }),
                }),
                _ => None,
            };
            Ok(View {
                destination: r.get(0)?,
                priority: priority_column(priority.as_deref()),
                held,
            })
        },
    )?;
    let mut views = Vec::new();
    for mut v in rows {
        match &v.held {
            Some(h) if h.until <= now && h.action == Action::Resolve => continue,
            Some(h) if h.until <= now => v.held = None,
            _ => {}
        }
        views.push(v);
    }
    Ok(views)
}

/// One destination's view: a row while it has the alert open, or waits
/// on a held event (with that event's outbox row).
fn save_view(
    conn: Conn<'_>,
    key: EntityKey<'_>,
    destination: &str,
    open: Option<Priority>,
    held: Option<(Action, &Hold, i64)>,
    now: &str,
) -> sql::Result<()> {
    let (held_action, held_until, held_outbox) = match held {
        Some((action, hold, row)) => (
            Some(action.as_str()),
            Some(format_time(hold.until)),
            Some(row),
        ),
        None => (None, None, None),
    };
    match open {
        Some(p) => conn.execute(
        "INSERT INTO destination_alerts (source, page_id, kind, entity_id, destination,
                    priority, opened_at, held_action, held_until, held_outbox)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                 ON CONFLICT (source, page_id, kind, entity_id, destination)
                 DO UPDATE SET priority = excluded.priority, held_action = excluded.held_action,
                    held_until = excluded.held_until, held_outbox = excluded.held_outbox,
                    opened_at = CASE WHEN destination_alerts.held_action = 'resolve'
                                      AND destination_alerts.held_until <= excluded.opened_at
                                     THEN excluded.opened_at ELSE destination_alerts.opened_at END",
        &args![
                key.source,
                key.page_id,
                key.kind.as_str(),
                key.entity_id,
                destination,
                p.as_str(),
                now,
                held_action,
                held_until,
                held_outbox
            ])?,
        None => conn.execute(
        "DELETE FROM destination_alerts
                 WHERE source = ? AND page_id = ? AND kind = ? AND entity_id = ? AND destination = ?",
        &args![
                key.source,
                key.page_id,
                key.kind.as_str(),
                key.entity_id,
                destination
            ])?,
    };
    Ok(())
}

fn insert_webhook(conn: Conn<'_>, job: &Job, now: &str, plan: &Plan) -> sql::Result<()> {
    let body = conn.engine().body_arg(&job.body);
    let s = &plan.summary;
    let step = &plan.step;
    conn.execute(
        "INSERT INTO webhooks (id, received_at, source, remote_addr, body, body_bytes, kind,
            page_id, entity_id, entity_name, event_id, old_status, new_status, impact, event_at,
            outcome, reason, action, priority, origin, reconcile_note, body_shape)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        &args![
            job.id,
            now,
            job.source,
            job.remote_addr,
            body,
            job.body.len() as i64,
            s.kind.as_str(),
            s.page_id,
            s.entity_id,
            s.entity_name,
            s.event_id,
            s.old_status,
            s.new_status,
            s.impact,
            s.event_at.map(format_time),
            step.outcome.as_str(),
            step.reason,
            step.emit.map(|e| e.action.as_str()),
            step.emit.map(|e| e.priority.as_str()),
            job.origin.as_str(),
            job.origin.note(),
            job.shape.as_str(),
        ],
    )?;
    match &s.entity_name {
        Some(name) => index_name(conn, name),
        None => Ok(()),
    }
}

/// Adds a name not seen before to `entity_names` and to the engine's search
/// index beside it (SQLite's trigrams); a known name costs one probe of the
/// names' key. The write path does it on both engines rather than a trigger
/// on `webhooks`: SQLite makes a statement that fires a trigger keep a
/// statement journal, a copy of every page it touches.
pub(super) fn index_name(conn: Conn<'_>, name: &str) -> sql::Result<()> {
    let added = conn.execute(
        "INSERT INTO entity_names (name) VALUES (?) ON CONFLICT (name) DO NOTHING",
        &args![name],
    )?;
    if added == 1 {
        conn.engine().index_new_name(conn, name)?;
    }
    Ok(())
}

fn load_entity(conn: Conn<'_>, key: EntityKey<'_>) -> sql::Result<Stored> {
    let sql = match key.kind {
        EntityKind::Incident => {
            "SELECT alert_open, alert_priority, status, last_event_at, started_at
             FROM incidents WHERE source = ? AND page_id = ? AND incident_id = ?"
        }
        EntityKind::Component => {
            "SELECT alert_open, alert_priority, status, last_event_at, alert_opened_at
             FROM components WHERE source = ? AND page_id = ? AND component_id = ?"
        }
        EntityKind::Page => {
            "SELECT alert_open, alert_priority, status, last_event_at, opened_at
             FROM page_alerts WHERE source = ? AND page_id = ? AND topic = ?"
        }
    };
    let row = conn.query_row(sql, &args![key.source, key.page_id, key.entity_id], |r| {
        Ok((
            r.get::<bool>(0)?,
            r.get::<Option<String>>(1)?,
            r.get::<Option<String>>(2)?,
            r.get::<Option<String>>(3)?,
            r.get::<Option<String>>(4)?,
        ))
    })?;
    let Some((open, priority, status, last, started_at)) = row else {
        return Ok(Stored::default());
    };
    Ok(Stored {
        prior: prior(open, priority.as_deref(), status, last.as_deref()),
        started_at: started_at.as_deref().and_then(parse_time),
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
fn find_applied(
    conn: Conn<'_>,
    key: EntityKey<'_>,
    keys: &[String],
) -> sql::Result<Option<String>> {
    // One statement for all of the event's keys (one or two: each count
    // is its own cached statement); the first key found wins, as listed.
    let sql = match keys {
        [] => return Ok(None),
        [_] => APPLIED_1,
        [_, _] => APPLIED_2,
        _ => {
            let mut found = None;
            for k in keys {
                found = find_applied(conn, key, std::slice::from_ref(k))?;
                if found.is_some() {
                    break;
                }
            }
            return Ok(found);
        }
    };
    let kind = key.kind.as_str();
    let mut values: Vec<Arg<'_>> = args![key.source, kind, key.page_id, key.entity_id].into();
    values.extend(keys.iter().map(|k| k.to_arg()));
    let found = conn.query(sql, &values, |r| {
        Ok((r.get::<String>(0)?, r.get::<String>(1)?))
    })?;
    Ok(keys
        .iter()
        .find_map(|k| found.iter().find(|(applied, _)| applied == k))
        .map(|(_, webhook)| webhook.clone()))
}

const APPLIED_1: &str = "SELECT event_key, webhook_id FROM applied_events
     WHERE source = ? AND kind = ? AND page_id = ? AND entity_id = ? AND event_key = ?";
const APPLIED_2: &str = "SELECT event_key, webhook_id FROM applied_events
     WHERE source = ? AND kind = ? AND page_id = ? AND entity_id = ? AND event_key IN (?, ?)";

fn record_applied(
    conn: Conn<'_>,
    key: EntityKey<'_>,
    keys: &[String],
    webhook_id: &str,
) -> sql::Result<()> {
    for k in keys {
        conn.execute(
            "INSERT INTO applied_events (source, kind, page_id, entity_id, event_key, webhook_id)
             VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            &args![
                key.source,
                key.kind.as_str(),
                key.page_id,
                key.entity_id,
                k,
                webhook_id
            ],
        )?;
    }
    Ok(())
}

fn alert_columns(alert: Alert) -> (bool, Option<&'static str>) {
    match alert {
        Alert::Open(p) => (true, Some(p.as_str())),
        Alert::Closed => (false, None),
    }
}

fn save_incident(
    conn: Conn<'_>,
    key: EntityKey<'_>,
    s: &crate::rules::plan::IncidentState,
    webhook_id: &str,
    now: &str,
) -> sql::Result<()> {
    let (open, priority) = alert_columns(s.alert);
    conn.execute(
        "INSERT INTO incidents (source, page_id, incident_id, name, status, impact, shortlink,
            started_at, resolved_at, backfilled, alert_open, alert_priority, last_event_at,
            last_webhook_id, first_seen_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (source, page_id, incident_id) DO UPDATE SET
            name = coalesce(excluded.name, incidents.name),
            status = excluded.status,
            impact = excluded.impact,
            shortlink = coalesce(excluded.shortlink, incidents.shortlink),
            started_at = coalesce(excluded.started_at, incidents.started_at),
            resolved_at = excluded.resolved_at,
            backfilled = excluded.backfilled,
            alert_open = excluded.alert_open,
            alert_priority = coalesce(excluded.alert_priority, incidents.alert_priority),
            last_event_at = coalesce(excluded.last_event_at, incidents.last_event_at),
            last_webhook_id = excluded.last_webhook_id,
            updated_at = excluded.updated_at",
        &args![
            key.source,
            key.page_id,
            key.entity_id,
            s.name,
            s.status,
            s.impact,
            s.shortlink,
            s.started_at.map(format_time),
            s.resolved_at.map(format_time),
            s.backfilled,
            open,
            priority,
            s.last_event_at.map(format_time),
            webhook_id,
            now,
            now,
        ],
    )?;
    Ok(())
}

fn save_component(
    conn: Conn<'_>,
    key: EntityKey<'_>,
    s: &crate::rules::plan::ComponentState,
    webhook_id: &str,
    now: &str,
) -> sql::Result<()> {
    let (open, priority) = alert_columns(s.alert);
    conn.execute(
        "INSERT INTO components (source, page_id, component_id, name, status, alert_open,
            alert_priority, alert_opened_at, last_event_at, last_webhook_id, first_seen_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (source, page_id, component_id) DO UPDATE SET
            name = coalesce(excluded.name, components.name),
            status = excluded.status,
            alert_open = excluded.alert_open,
            alert_priority = coalesce(excluded.alert_priority, components.alert_priority),
            alert_opened_at = excluded.alert_opened_at,
            last_event_at = coalesce(excluded.last_event_at, components.last_event_at),
            last_webhook_id = excluded.last_webhook_id,
            updated_at = excluded.updated_at",
        &args![
        key.source,
        key.page_id,
        key.entity_id,
        s.name,
        s.status,
        open,
        priority,
        s.alert_opened_at.map(format_time),
        s.last_event_at.map(format_time),
        webhook_id,
        now,
        now,
    ])?;
    Ok(())
}

fn save_page_alert(
    conn: Conn<'_>,
    key: EntityKey<'_>,
    s: &crate::rules::plan::PageAlertState,
    webhook_id: &str,
    now: &str,
) -> sql::Result<()> {
    let (open, priority) = alert_columns(s.alert);
    let detail = serde_json::to_string(&s.detail).expect("JSON values serialise");
    conn.execute(
        "INSERT INTO page_alerts (source, page_id, topic, title, status, alert_open,
            alert_priority, opened_at, last_event_at, last_webhook_id, detail, first_seen_at,
            updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (source, page_id, topic) DO UPDATE SET
            title = excluded.title,
            status = excluded.status,
            alert_open = excluded.alert_open,
            alert_priority = coalesce(excluded.alert_priority, page_alerts.alert_priority),
            opened_at = excluded.opened_at,
            last_event_at = excluded.last_event_at,
            last_webhook_id = excluded.last_webhook_id,
            detail = excluded.detail,
            updated_at = excluded.updated_at",
        &args![
            key.source,
            key.page_id,
            key.entity_id,
            s.title,
            s.status,
            open,
            priority,
            s.opened_at.map(format_time),
            format_time(s.last_event_at),
            webhook_id,
            detail,
            now,
            now,
        ],
    )?;
    Ok(())
}

/// How an alert state is written in `transitions`.
fn insert_transition(
    conn: Conn<'_>,
    key: EntityKey<'_>,
    webhook_id: &str,
    t: &Transition,
) -> sql::Result<()> {
    conn.execute(
        "INSERT INTO transitions (webhook_id, source, kind, page_id, entity_id, at, from_status,
            to_status, alert_before, alert_after, outcome, reason)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        &args![
            webhook_id,
            key.source,
            key.kind.as_str(),
            key.page_id,
            key.entity_id,
            format_time(t.at),
            t.from_status,
            t.to_status,
            t.before.to_string(),
            t.after.to_string(),
            t.outcome.as_str(),
            t.reason,
        ],
    )?;
    Ok(())
}

/// Makes `components` the incident's current set of components, marked
/// with whether its alert is open; earlier ones stay recorded with
/// `current = 0`.
fn link_components(
    conn: Conn<'_>,
    key: EntityKey<'_>,
    components: &[(String, Option<String>)],
    incident_open: bool,
    now: &str,
) -> sql::Result<()> {
    // Only links no longer listed are touched here (one statement for up to
    // two listed components, the usual case): unlinking every link and
    // linking the listed ones again rewrote each listed link's index entry
    // twice per update.
    let (unlink, but_listed) = match components {
        [_] => (UNLINK_BUT_1, true),
        [_, _] => (UNLINK_BUT_2, true),
        _ => (UNLINK_ALL, false),
    };
    let mut values: Vec<Arg<'_>> = args![key.source, key.page_id, key.entity_id].into();
    if but_listed {
        values.extend(components.iter().map(|(id, _)| id.to_arg()));
    }
    conn.execute(unlink, &values)?;
    for (id, name) in components {
        conn.execute(
            "INSERT INTO incident_components (source, page_id, incident_id, component_id,
                component_name, current, incident_open, first_seen_at, last_seen_at)
             VALUES (?, ?, ?, ?, ?, 1, ?, ?, ?)
             ON CONFLICT (source, page_id, incident_id, component_id) DO UPDATE SET
                component_name = coalesce(excluded.component_name,
                    incident_components.component_name),
                current = 1,
                incident_open = excluded.incident_open,
                last_seen_at = excluded.last_seen_at",
            &args![
                key.source,
                key.page_id,
                key.entity_id,
                id,
                name,
                incident_open,
                now,
                now
            ],
        )?;
    }
    Ok(())
}

const UNLINK_ALL: &str = "UPDATE incident_components SET current = 0
     WHERE source = ? AND page_id = ? AND incident_id = ? AND current = 1";
const UNLINK_BUT_1: &str = "UPDATE incident_components SET current = 0
     WHERE source = ? AND page_id = ? AND incident_id = ? AND current = 1
       AND component_id <> ?";
const UNLINK_BUT_2: &str = "UPDATE incident_components SET current = 0
     WHERE source = ? AND page_id = ? AND incident_id = ? AND current = 1
       AND component_id NOT IN (?, ?)";

/// Walks only the links of open incidents (`current = 1 AND incident_open
/// = 1`, the last two columns of `incident_components_component`), however
/// many incidents the component has had.
const OPEN_INCIDENT_PRIORITY_FROM: &str = "SELECT i.alert_priority
     FROM incident_components ic";
const OPEN_INCIDENT_PRIORITY_WHERE: &str = "
     JOIN incidents i ON i.source = ic.source AND i.page_id = ic.page_id
                     AND i.incident_id = ic.incident_id
     WHERE ic.source = ? AND ic.page_id = ? AND ic.component_id = ?
       AND ic.current = 1 AND ic.incident_open = 1 AND i.alert_open = 1";

/// The statement of `open_incident_priority` (SQLite is told the index).
fn open_incident_priority_sql(engine: &dyn super::engine::Engine) -> String {
    format!(
        "{OPEN_INCIDENT_PRIORITY_FROM}{}{OPEN_INCIDENT_PRIORITY_WHERE}",
        engine.indexed_by("incident_components_component")
    )
}

/// The highest priority of the open incidents currently associated with a
/// component, if any.
fn open_incident_priority(conn: Conn<'_>, key: EntityKey<'_>) -> sql::Result<Option<Priority>> {
    let sql = open_incident_priority_sql(conn.engine());
    let priorities = conn.query(&sql, &args![key.source, key.page_id, key.entity_id], |r| {
        r.get::<Option<String>>(0)
    })?;
    let mut highest = None;
    for p in priorities {
        highest = highest.max(Some(priority_column(p.as_deref())));
    }
    Ok(highest)
}

const OPEN_COMPONENT: &str =
    "SELECT name, alert_priority, status, last_event_at, alert_opened_at FROM components
     WHERE source = ? AND page_id = ? AND component_id = ? AND alert_open = 1";

/// Of the components an incident lists (distinct, sorted), those whose
/// alerts are open: one lookup by key each.
fn open_components(
    conn: Conn<'_>,
    incident: EntityKey<'_>,
    ids: &[&str],
    now: DateTime<Utc>,
) -> sql::Result<Vec<OpenComponent>> {
    let mut open = Vec::new();
    for id in ids {
        let row = conn.query_row(
            OPEN_COMPONENT,
            &args![incident.source, incident.page_id, *id],
            |r| {
                let priority: Option<String> = r.get(1)?;
                let last: Option<String> = r.get(3)?;
                let started: Option<String> = r.get(4)?;
                Ok(OpenComponent {
                    component_id: (*id).to_owned(),
                    name: r.get(0)?,
                    stored: Stored {
                        prior: prior(true, priority.as_deref(), r.get(2)?, last.as_deref()),
                        started_at: started.as_deref().and_then(parse_time),
                    },
                    views: Vec::new(),
                })
            },
        )?;
        open.extend(row);
    }
    for c in &mut open {
        let key = EntityKey {
            kind: EntityKind::Component,
            entity_id: &c.component_id,
            ..incident
        };
        c.views = load_views(conn, key, now)?;
    }
    Ok(open)
}

/// Sets an open component's alert priority (its status and times stay).
fn raise_component(
    conn: Conn<'_>,
    key: EntityKey<'_>,
    priority: Priority,
    now: &str,
) -> sql::Result<()> {
    conn.execute(
        "UPDATE components SET alert_priority = ?, updated_at = ?
         WHERE source = ? AND page_id = ? AND component_id = ? AND alert_open = 1",
        &args![
            priority.as_str(),
            now,
            key.source,
            key.page_id,
            key.entity_id
        ],
    )?;
    Ok(())
}

fn insert_draft(
    conn: Conn<'_>,
    page_id: &str,
    webhook_id: &str,
    now: &str,
    d: &Draft,
) -> sql::Result<i64> {
    let state = match d.delivery {
        Delivery::Queue => super::outbox::State::Pending,
        Delivery::DryRun => super::outbox::State::Skipped,
    };
    let starts_at = format_time(d.starts_at);
    let ends_at = d.ends_at.map(format_time);
    let held_until = d.hold.as_ref().map(|h| format_time(h.until));
    let held_by = d.hold.as_ref().map(|h| h.by.to_string());
    super::outbox::insert(
        conn,
        &super::outbox::NewEvent {
            destination: &d.destination,
            webhook_id,
            created_at: now,
            fingerprint: &d.fingerprint,
            kind: d.kind,
            page_id,
            entity_id: &d.entity_id,
            action: d.action,
            priority: d.priority,
            title: &d.title,
            message: &d.message,
            status: &d.status,
            impact: d.impact.as_deref(),
            link: d.link.as_deref(),
            starts_at: &starts_at,
            ends_at: ends_at.as_deref(),
            state,
            held_until: held_until.as_deref(),
            held_by: held_by.as_deref(),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    use rusqlite::Connection;

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

    /// An event's keys are looked up together; the first listed that was
    /// applied names the webhook, whatever the order rows come back in.
    #[test]
    fn the_first_applied_key_as_listed_names_the_duplicate() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("applied.db");
        super::super::migrate(&path).unwrap();
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(
            "PRAGMA foreign_keys = OFF;
             INSERT INTO applied_events (source, kind, page_id, entity_id, event_key, webhook_id)
             VALUES ('s', 'incident', 'p', 'i', 'k1', 'w1'), ('s', 'incident', 'p', 'i', 'k2', 'w2'),
                    ('s', 'incident', 'p', 'other', 'k3', 'w3')",
        )
        .unwrap();
        let key = EntityKey {
            source: "s",
            kind: EntityKind::Incident,
            page_id: "p",
            entity_id: "i",
        };
        let find = |keys: &[&str]| {
            let keys: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
            find_applied(crate::storage::sqlite::conn(&conn), key, &keys).unwrap()
        };
        assert_eq!(find(&["k1", "k2"]).as_deref(), Some("w1"));
        assert_eq!(find(&["k2", "k1"]).as_deref(), Some("w2"));
        assert_eq!(find(&["k3", "k2"]).as_deref(), Some("w2"));
        assert_eq!(find(&["k2"]).as_deref(), Some("w2"));
        assert_eq!(find(&["k3"]), None);
        assert_eq!(find(&["k3", "k4"]), None);
        assert_eq!(find(&[]), None);
        assert_eq!(find(&["k4", "k3", "k2"]).as_deref(), Some("w2"));
        assert_eq!(find(&["k4", "k3", "k5"]), None);
    }

    /// Listing components again makes exactly those the current ones,
    /// whichever statement unlinks the rest.
    #[test]
    fn the_listed_components_are_the_current_links() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("links.db");
        super::super::migrate(&path).unwrap();
        let conn = Connection::open(&path).unwrap();
        let key = EntityKey {
            source: "s",
            kind: EntityKind::Incident,
            page_id: "p",
            entity_id: "i",
        };
        let other = EntityKey {
            entity_id: "other",
            ..key
        };
        let link = |key, ids: &[&str], open: bool| {
            let ids: Vec<(String, Option<String>)> =
                ids.iter().map(|c| (c.to_string(), None)).collect();
            link_components(
                crate::storage::sqlite::conn(&conn),
                key,
                &ids,
                open,
                "2025-01-01T00:00:00.000Z",
            )
            .unwrap();
        };
        let current = || -> Vec<(String, String, bool)> {
            let mut st = conn
                .prepare(
                    "SELECT incident_id, component_id, incident_open <> 0 FROM incident_components
                     WHERE current = 1 ORDER BY incident_id, component_id",
                )
                .unwrap();
            st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap()
        };
        let row = |i: &str, c: &str, open| (i.to_owned(), c.to_owned(), open);
        link(other, &["a"], true);
        link(key, &["a", "b", "c"], true);
        link(key, &["b", "c"], true);
        assert_eq!(
            current(),
            [
                row("i", "b", true),
                row("i", "c", true),
                row("other", "a", true)
            ]
        );
        link(key, &["c", "d"], false);
        assert_eq!(
            current(),
            [
                row("i", "c", false),
                row("i", "d", false),
                row("other", "a", true)
            ]
        );
        link(key, &["b"], false);
        assert_eq!(current(), [row("i", "b", false), row("other", "a", true)]);
        link(key, &["b"], true);
        assert_eq!(current(), [row("i", "b", true), row("other", "a", true)]);
        link(key, &["a", "b", "e"], true);
        assert_eq!(
            current(),
            [
                row("i", "a", true),
                row("i", "b", true),
                row("i", "e", true),
                row("other", "a", true)
            ]
        );
        link(key, &[], true);
        assert_eq!(current(), [row("other", "a", true)]);
        let all: i64 = conn
            .query_row("SELECT count(*) FROM incident_components", [], |r| r.get(0))
            .unwrap();
        assert_eq!(all, 6, "earlier links stay recorded");
    }

    /// The joins on the write path start from the one entity's key and
    /// look every other row up by its key: their cost must not grow with
    /// the number of incidents or components on the page.
    #[test]
    fn write_path_joins_start_from_the_entity_key() {
        for unlink in [UNLINK_ALL, UNLINK_BUT_1, UNLINK_BUT_2] {
            assert_eq!(
                plan(unlink),
                [
                    "SEARCH incident_components USING INDEX sqlite_autoindex_incident_components_1 (source=? AND page_id=? AND incident_id=?)"
                ]
            );
        }
        assert_eq!(
            plan(OPEN_COMPONENT),
            [
                "SEARCH components USING INDEX sqlite_autoindex_components_1 (source=? AND page_id=? AND component_id=?)"
            ]
        );
        assert_eq!(
            plan(&open_incident_priority_sql(&crate::storage::sqlite::Sqlite)),
            [
                "SEARCH ic USING INDEX incident_components_component (source=? AND page_id=? AND component_id=? AND current=? AND incident_open=?)",
                "SEARCH i USING INDEX sqlite_autoindex_incidents_1 (source=? AND page_id=? AND incident_id=?)",
            ]
        );
    }
}
