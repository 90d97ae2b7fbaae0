//! The plans of a run of webhooks, written together: one statement per
//! table for all of them, each reading a [`Table`] of their rows, in the
//! order one webhook's plan is written (its row first, its outbox rows
//! before the views that wait on them).

use super::{Entry, Record};
use crate::rules::domain::{Action, Alert, EntityKind};
use crate::rules::plan::{Delivery, Draft, NewState, Plan};
use crate::rules::time::format_time;
use crate::storage::outbox::{self, NewEvent};
use crate::storage::sql::{self, Arg, Conn, Table, ToArg, Ty, int, kept, owned, text};

/// `INSERT INTO table (columns)` the rows, and `tail` (an upsert's `ON
/// CONFLICT`). The text is kept per table: every insert into one table
/// names the same columns and tail (debug builds check it).
fn insert(
    conn: Conn<'_>,
    table: &'static str,
    rows: &Table<'_>,
    tail: &'static str,
) -> sql::Result<usize> {
    let sql = kept!(conn.engine(), table, |e| {
        let names: Vec<&str> = rows.columns.iter().map(|(c, _)| *c).collect();
        format!(
            "INSERT INTO {table} ({}) {} {tail}",
            names.join(", "),
            e.insert_rows(rows.columns, &names, None)
        )
    });
    conn.execute_table(sql, rows)
}

fn alert_columns(alert: Alert) -> (bool, Option<&'static str>) {
    match alert {
        Alert::Open(p) => (true, Some(p.as_str())),
        Alert::Closed => (false, None),
    }
}

fn flag(b: bool) -> Arg<'static> {
    Arg::Int(Some(i64::from(b)))
}

/// Writes what `plans` decided for `entries` (all of it, or what `record`
/// keeps); `links` are each incident's current components before it.
pub(super) fn plans(
    conn: Conn<'_>,
    entries: &[Entry<'_>],
    plans: &[Plan],
    links: &[Vec<String>],
    record: Record,
) -> sql::Result<()> {
    let nows: Vec<String> = entries
        .iter()
        .map(|e| format_time(e.job.received_at))
        .collect();
    if record == Record::Everything {
        webhooks(conn, entries, plans, &nows)?;
        index_names(
            conn,
            plans
                .iter()
                .filter_map(|p| p.summary.entity_name.as_deref()),
        )?;
    }
    states(conn, entries, plans, &nows)?;
    applied(conn, entries, plans)?;
    link_components(conn, entries, plans, links, &nows)?;
    raises(conn, entries, plans, &nows)?;
    if record == Record::Everything {
        transitions(conn, entries, plans)?;
    }
    let held = outbox_rows(conn, entries, plans, &nows)?;
    views(conn, entries, plans, &held, &nows)
}

/// Where a plan's entity is: (source, page id) once it has an entity.
fn page<'a>(entry: &'a Entry<'_>, plan: &'a Plan) -> Option<(&'a str, &'a str)> {
    match (&plan.summary.page_id, &plan.summary.entity_id) {
        (Some(page_id), Some(_)) => Some((&entry.job.source, page_id)),
        _ => None,
    }
}

const WEBHOOK: &[(&str, Ty)] = &[
    ("id", Ty::Text),
    ("received_at", Ty::Text),
    ("source", Ty::Text),
    ("remote_addr", Ty::Text),
    ("body", Ty::Bytes),
    ("body_bytes", Ty::Int),
    ("kind", Ty::Text),
    ("page_id", Ty::Text),
    ("entity_id", Ty::Text),
    ("entity_name", Ty::Text),
    ("event_id", Ty::Text),
    ("old_status", Ty::Text),
    ("new_status", Ty::Text),
    ("impact", Ty::Text),
    ("event_at", Ty::Text),
    ("outcome", Ty::Text),
    ("reason", Ty::Text),
    ("action", Ty::Text),
    ("priority", Ty::Text),
    ("origin", Ty::Text),
    ("reconcile_note", Ty::Text),
    ("body_shape", Ty::Text),
];

fn webhooks(
    conn: Conn<'_>,
    entries: &[Entry<'_>],
    plans: &[Plan],
    nows: &[String],
) -> sql::Result<()> {
    let engine = conn.engine();
    let mut rows = Table::new(WEBHOOK);
    for ((e, plan), now) in entries.iter().zip(plans).zip(nows) {
        let (job, s, step) = (e.job, &plan.summary, &plan.step);
        rows.push([
            job.id.to_arg(),
            now.to_arg(),
            job.source.to_arg(),
            job.remote_addr.to_arg(),
            engine.body_arg(&job.body),
            int(job.body.len() as i64),
            s.kind.as_str().to_arg(),
            s.page_id.to_arg(),
            s.entity_id.to_arg(),
            s.entity_name.to_arg(),
            s.event_id.to_arg(),
            s.old_status.to_arg(),
            s.new_status.to_arg(),
            s.impact.to_arg(),
            owned(s.event_at.map(format_time)),
            step.outcome.as_str().to_arg(),
            step.reason.to_arg(),
            text(step.emit.map(|e| e.action.as_str())),
            text(step.emit.map(|e| e.priority.as_str())),
            job.origin.as_str().to_arg(),
            text(job.origin.note()),
            job.shape.as_str().to_arg(),
        ]);
    }
    insert(conn, "webhooks", &rows, "")?;
    Ok(())
}

/// Adds the names not seen before to `entity_names` and to the engine's
/// search index beside it (SQLite's trigrams); a known name costs one
/// probe of the names' key. The write path does it on both engines rather
/// than a trigger on `webhooks`: SQLite makes a statement that fires a
/// trigger keep a statement journal, a copy of every page it touches.
pub(in crate::storage) fn index_names<'n>(
    conn: Conn<'_>,
    names: impl IntoIterator<Item = &'n str>,
) -> sql::Result<()> {
    const NAME: &[(&str, Ty)] = &[("name", Ty::Text)];
    let mut seen: Vec<&str> = Vec::new();
    let mut rows = Table::new(NAME);
    for name in names {
        if !seen.contains(&name) {
            seen.push(name);
            rows.push([name.to_arg()]);
        }
    }
    let sql = kept!(conn.engine(), |e| format!(
        "INSERT INTO entity_names (name) {} ON CONFLICT (name) DO NOTHING RETURNING id, name",
        e.insert_rows(NAME, &["name"], None)
    ));
    let added = conn.query_table(sql, &rows, |r| Ok((r.get::<i64>(0)?, r.get::<String>(1)?)))?;
    for (id, name) in added {
        conn.engine().index_new_name(conn, id, &name)?;
    }
    Ok(())
}

const INCIDENT: &[(&str, Ty)] = &[
    ("source", Ty::Text),
    ("page_id", Ty::Text),
    ("incident_id", Ty::Text),
    ("name", Ty::Text),
    ("status", Ty::Text),
    ("impact", Ty::Text),
    ("shortlink", Ty::Text),
    ("started_at", Ty::Text),
    ("resolved_at", Ty::Text),
    ("backfilled", Ty::Int),
    ("alert_open", Ty::Int),
    ("alert_priority", Ty::Text),
    ("last_event_at", Ty::Text),
    ("last_webhook_id", Ty::Text),
    ("first_seen_at", Ty::Text),
    ("updated_at", Ty::Text),
];

const COMPONENT: &[(&str, Ty)] = &[
    ("source", Ty::Text),
    ("page_id", Ty::Text),
    ("component_id", Ty::Text),
    ("name", Ty::Text),
    ("status", Ty::Text),
    ("alert_open", Ty::Int),
    ("alert_priority", Ty::Text),
    ("alert_opened_at", Ty::Text),
    ("last_event_at", Ty::Text),
    ("last_webhook_id", Ty::Text),
    ("first_seen_at", Ty::Text),
    ("updated_at", Ty::Text),
];

const PAGE_ALERT: &[(&str, Ty)] = &[
    ("source", Ty::Text),
    ("page_id", Ty::Text),
    ("topic", Ty::Text),
    ("title", Ty::Text),
    ("status", Ty::Text),
    ("alert_open", Ty::Int),
    ("alert_priority", Ty::Text),
    ("opened_at", Ty::Text),
    ("last_event_at", Ty::Text),
    ("last_webhook_id", Ty::Text),
    ("detail", Ty::Text),
    ("first_seen_at", Ty::Text),
    ("updated_at", Ty::Text),
];

/// Each applied entity's new state.
fn states(
    conn: Conn<'_>,
    entries: &[Entry<'_>],
    plans: &[Plan],
    nows: &[String],
) -> sql::Result<()> {
    let mut incidents = Table::new(INCIDENT);
    let mut components = Table::new(COMPONENT);
    let mut pages = Table::new(PAGE_ALERT);
    for ((e, plan), now) in entries.iter().zip(plans).zip(nows) {
        let (Some((source, page_id)), Some(entity_id)) = (page(e, plan), &plan.summary.entity_id)
        else {
            continue;
        };
        let webhook_id = &e.job.id;
        match &plan.state {
            Some(NewState::Incident(s)) => {
                let (open, priority) = alert_columns(s.alert);
                incidents.push([
                    source.to_arg(),
                    page_id.to_arg(),
                    entity_id.to_arg(),
                    s.name.to_arg(),
                    s.status.to_arg(),
                    s.impact.to_arg(),
                    s.shortlink.to_arg(),
                    owned(s.started_at.map(format_time)),
                    owned(s.resolved_at.map(format_time)),
                    flag(s.backfilled),
                    flag(open),
                    text(priority),
                    owned(s.last_event_at.map(format_time)),
                    webhook_id.to_arg(),
                    now.to_arg(),
                    now.to_arg(),
                ]);
            }
            Some(NewState::Component(s)) => {
                let (open, priority) = alert_columns(s.alert);
                components.push([
                    source.to_arg(),
                    page_id.to_arg(),
                    entity_id.to_arg(),
                    s.name.to_arg(),
                    s.status.to_arg(),
                    flag(open),
                    text(priority),
                    owned(s.alert_opened_at.map(format_time)),
                    owned(s.last_event_at.map(format_time)),
                    webhook_id.to_arg(),
                    now.to_arg(),
                    now.to_arg(),
                ]);
            }
            Some(NewState::Page(s)) => {
                let (open, priority) = alert_columns(s.alert);
                let detail = serde_json::to_string(&s.detail).expect("JSON values serialise");
                pages.push([
                    source.to_arg(),
                    page_id.to_arg(),
                    entity_id.to_arg(),
                    s.title.to_arg(),
                    s.status.to_arg(),
                    flag(open),
                    text(priority),
                    owned(s.opened_at.map(format_time)),
                    owned(format_time(s.last_event_at)),
                    webhook_id.to_arg(),
                    owned(detail),
                    now.to_arg(),
                    now.to_arg(),
                ]);
            }
            None => {}
        }
    }
    insert(
        conn,
        "incidents",
        &incidents,
        "ON CONFLICT (source, page_id, incident_id) DO UPDATE SET
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
    )?;
    insert(
        conn,
        "components",
        &components,
        "ON CONFLICT (source, page_id, component_id) DO UPDATE SET
            name = coalesce(excluded.name, components.name),
            status = excluded.status,
            alert_open = excluded.alert_open,
            alert_priority = coalesce(excluded.alert_priority, components.alert_priority),
            alert_opened_at = excluded.alert_opened_at,
            last_event_at = coalesce(excluded.last_event_at, components.last_event_at),
            last_webhook_id = excluded.last_webhook_id,
            updated_at = excluded.updated_at",
    )?;
    insert(
        conn,
        "page_alerts",
        &pages,
        "ON CONFLICT (source, page_id, topic) DO UPDATE SET
            title = excluded.title,
            status = excluded.status,
            alert_open = excluded.alert_open,
            alert_priority = coalesce(excluded.alert_priority, page_alerts.alert_priority),
            opened_at = excluded.opened_at,
            last_event_at = excluded.last_event_at,
            last_webhook_id = excluded.last_webhook_id,
            detail = excluded.detail,
            updated_at = excluded.updated_at",
    )?;
    Ok(())
}

/// The keys each applied event is known by from now on.
fn applied(conn: Conn<'_>, entries: &[Entry<'_>], plans: &[Plan]) -> sql::Result<()> {
    const APPLIED: &[(&str, Ty)] = &[
        ("source", Ty::Text),
        ("kind", Ty::Text),
        ("page_id", Ty::Text),
        ("entity_id", Ty::Text),
        ("event_key", Ty::Text),
        ("webhook_id", Ty::Text),
    ];
    let mut rows = Table::new(APPLIED);
    for (e, plan) in entries.iter().zip(plans) {
        let kind = match &plan.state {
            Some(NewState::Incident(_)) => EntityKind::Incident,
            Some(NewState::Component(_)) => EntityKind::Component,
            Some(NewState::Page(_)) | None => continue,
        };
        let (Some((source, page_id)), Some(entity_id)) = (page(e, plan), &plan.summary.entity_id)
        else {
            continue;
        };
        for k in &plan.applied_keys {
            rows.push([
                source.to_arg(),
                kind.as_str().to_arg(),
                page_id.to_arg(),
                entity_id.to_arg(),
                k.to_arg(),
                e.job.id.to_arg(),
            ]);
        }
    }
    insert(conn, "applied_events", &rows, "ON CONFLICT DO NOTHING")?;
    Ok(())
}

const LINK: &[(&str, Ty)] = &[
    ("source", Ty::Text),
    ("page_id", Ty::Text),
    ("incident_id", Ty::Text),
    ("component_id", Ty::Text),
];

/// Unmarks an incident's links to components it no longer lists (they
/// stay recorded with `current = 0`), by their keys.
pub(super) fn unlink_sql(engine: &'static dyn crate::storage::engine::Engine) -> &'static str {
    kept!(engine, |engine| format!(
        "UPDATE incident_components SET current = 0
         WHERE (source, page_id, incident_id, component_id)
            IN (SELECT r.source, r.page_id, r.incident_id, r.component_id FROM {})
           AND current = 1",
        engine.table(LINK)
    ))
}

/// One incident's links to write: its components before, those it lists
/// now, and whether its alert is open.
pub(super) struct Relink<'a> {
    pub source: &'a str,
    pub page_id: &'a str,
    pub incident_id: &'a str,
    pub before: &'a [String],
    pub listed: &'a [(String, Option<String>)],
    pub open: bool,
    pub now: &'a str,
}

/// Each applied incident's links.
fn link_components(
    conn: Conn<'_>,
    entries: &[Entry<'_>],
    plans: &[Plan],
    links: &[Vec<String>],
    nows: &[String],
) -> sql::Result<()> {
    let mut relinks = Vec::new();
    for (((e, plan), before), now) in entries.iter().zip(plans).zip(links).zip(nows) {
        let (Some(NewState::Incident(s)), Some(listed)) = (&plan.state, &plan.links) else {
            continue;
        };
        let (Some((source, page_id)), Some(incident_id)) = (page(e, plan), &plan.summary.entity_id)
        else {
            continue;
        };
        relinks.push(Relink {
            source,
            page_id,
            incident_id,
            before,
            listed,
            open: s.alert.is_open(),
            now,
        });
    }
    relink(conn, &relinks)
}

/// Makes each incident's listed components its current set, marked with
/// whether its alert is open; earlier ones stay recorded with `current =
/// 0`. Only links no longer listed are unmarked: unlinking every link and
/// linking the listed ones again would rewrite each listed link's index
/// entry twice per update.
pub(super) fn relink(conn: Conn<'_>, relinks: &[Relink<'_>]) -> sql::Result<()> {
    const LINKED: &[(&str, Ty)] = &[
        ("source", Ty::Text),
        ("page_id", Ty::Text),
        ("incident_id", Ty::Text),
        ("component_id", Ty::Text),
        ("component_name", Ty::Text),
        ("current", Ty::Int),
        ("incident_open", Ty::Int),
        ("first_seen_at", Ty::Text),
        ("last_seen_at", Ty::Text),
    ];
    let mut unlinked = Table::new(LINK);
    let mut linked = Table::new(LINKED);
    for r in relinks {
        for gone in r
            .before
            .iter()
            .filter(|c| !r.listed.iter().any(|(id, _)| id == *c))
        {
            unlinked.push([
                r.source.to_arg(),
                r.page_id.to_arg(),
                r.incident_id.to_arg(),
                gone.to_arg(),
            ]);
        }
        for (id, name) in r.listed {
            linked.push([
                r.source.to_arg(),
                r.page_id.to_arg(),
                r.incident_id.to_arg(),
                id.to_arg(),
                name.to_arg(),
                flag(true),
                flag(r.open),
                r.now.to_arg(),
                r.now.to_arg(),
            ]);
        }
    }
    conn.execute_table(unlink_sql(conn.engine()), &unlinked)?;
    insert(
        conn,
        "incident_components",
        &linked,
        "ON CONFLICT (source, page_id, incident_id, component_id) DO UPDATE SET
            component_name = coalesce(excluded.component_name,
                incident_components.component_name),
            current = 1,
            incident_open = excluded.incident_open,
            last_seen_at = excluded.last_seen_at",
    )?;
    Ok(())
}

/// Open components raised to a higher priority (their status and times
/// stay).
fn raises(
    conn: Conn<'_>,
    entries: &[Entry<'_>],
    plans: &[Plan],
    nows: &[String],
) -> sql::Result<()> {
    const RAISE: &[(&str, Ty)] = &[
        ("source", Ty::Text),
        ("page_id", Ty::Text),
        ("component_id", Ty::Text),
        ("priority", Ty::Text),
        ("updated_at", Ty::Text),
    ];
    let mut rows = Table::new(RAISE);
    for ((e, plan), now) in entries.iter().zip(plans).zip(nows) {
        let Some((source, page_id)) = page(e, plan) else {
            continue;
        };
        for (component_id, priority) in &plan.raises {
            rows.push([
                source.to_arg(),
                page_id.to_arg(),
                component_id.to_arg(),
                priority.as_str().to_arg(),
                now.to_arg(),
            ]);
        }
    }
    let sql = kept!(conn.engine(), |e| format!(
        "UPDATE components SET alert_priority = r.priority, updated_at = r.updated_at
         FROM {}
         WHERE components.source = r.source AND components.page_id = r.page_id
           AND components.component_id = r.component_id AND components.alert_open = 1",
        e.table(RAISE)
    ));
    conn.execute_table(sql, &rows)?;
    Ok(())
}

fn transitions(conn: Conn<'_>, entries: &[Entry<'_>], plans: &[Plan]) -> sql::Result<()> {
    const TRANSITION: &[(&str, Ty)] = &[
        ("webhook_id", Ty::Text),
        ("source", Ty::Text),
        ("kind", Ty::Text),
        ("page_id", Ty::Text),
        ("entity_id", Ty::Text),
        ("at", Ty::Text),
        ("from_status", Ty::Text),
        ("to_status", Ty::Text),
        ("alert_before", Ty::Text),
        ("alert_after", Ty::Text),
        ("outcome", Ty::Text),
        ("reason", Ty::Text),
    ];
    let mut rows = Table::new(TRANSITION);
    for (e, plan) in entries.iter().zip(plans) {
        let Some((source, page_id)) = page(e, plan) else {
            continue;
        };
        for t in &plan.transitions {
            rows.push([
                e.job.id.to_arg(),
                source.to_arg(),
                t.kind.as_str().to_arg(),
                page_id.to_arg(),
                t.entity_id.to_arg(),
                owned(format_time(t.at)),
                t.from_status.to_arg(),
                t.to_status.to_arg(),
                owned(t.before.to_string()),
                owned(t.after.to_string()),
                t.outcome.as_str().to_arg(),
                t.reason.to_arg(),
            ]);
        }
    }
    insert(conn, "transitions", &rows, "")?;
    Ok(())
}

/// A held draft's outbox row: (plan, kind, entity, destination, row id).
type HeldRow<'p> = (usize, EntityKind, &'p str, &'p str, i64);

/// Cancels the held events the plans no longer want (one statement each:
/// whether it was too late decides the fallback), then inserts every
/// plan's drafts, each plan's fallbacks before its drafts. Answers the
/// outbox row of each held draft: (plan, kind, entity, destination, row).
fn outbox_rows<'p>(
    conn: Conn<'_>,
    entries: &[Entry<'_>],
    plans: &'p [Plan],
    nows: &[String],
) -> sql::Result<Vec<HeldRow<'p>>> {
    let mut drafts: Vec<(usize, &Draft)> = Vec::new();
    for (i, (plan, now)) in plans.iter().zip(nows).enumerate() {
        if page(&entries[i], plan).is_none() {
            continue;
        }
        for c in &plan.cancels {
            let cancelled = outbox::cancel(conn, c.outbox_id, now)?;
            if let (false, Some(instead)) = (cancelled, &c.fallback) {
                drafts.push((i, instead));
            }
        }
        drafts.extend(plan.drafts.iter().map(|d| (i, d)));
    }
    let held_until: Vec<Option<String>> = drafts
        .iter()
        .map(|(_, d)| d.hold.as_ref().map(|h| format_time(h.until)))
        .collect();
    let held_by: Vec<Option<String>> = drafts
        .iter()
        .map(|(_, d)| d.hold.as_ref().map(|h| h.by.to_string()))
        .collect();
    let starts: Vec<String> = drafts
        .iter()
        .map(|(_, d)| format_time(d.starts_at))
        .collect();
    let ends: Vec<Option<String>> = drafts
        .iter()
        .map(|(_, d)| d.ends_at.map(format_time))
        .collect();
    let events: Vec<NewEvent<'_>> = drafts
        .iter()
        .enumerate()
        .map(|(k, (i, d))| NewEvent {
            destination: &d.destination,
            webhook_id: &entries[*i].job.id,
            created_at: &nows[*i],
            fingerprint: &d.fingerprint,
            kind: d.kind,
            page_id: plans[*i].summary.page_id.as_deref().unwrap_or_default(),
            entity_id: &d.entity_id,
            action: d.action,
            priority: d.priority,
            title: &d.title,
            message: &d.message,
            status: &d.status,
            impact: d.impact.as_deref(),
            link: d.link.as_deref(),
            starts_at: &starts[k],
            ends_at: ends[k].as_deref(),
            state: match d.delivery {
                Delivery::Queue => outbox::State::Pending,
                Delivery::DryRun => outbox::State::Skipped,
            },
            held_until: held_until[k].as_deref(),
            held_by: held_by[k].as_deref(),
        })
        .collect();
    let ids = if events.is_empty() {
        Vec::new()
    } else {
        outbox::insert_all(conn, &events)?
    };
    Ok(drafts
        .iter()
        .zip(ids)
        .filter(|((_, d), _)| d.hold.is_some())
        .map(|((i, d), id)| (*i, d.kind, d.entity_id.as_str(), d.destination.as_str(), id))
        .collect())
}

const VIEW: &[(&str, Ty)] = &[
    ("source", Ty::Text),
    ("page_id", Ty::Text),
    ("kind", Ty::Text),
    ("entity_id", Ty::Text),
    ("destination", Ty::Text),
    ("priority", Ty::Text),
    ("opened_at", Ty::Text),
    ("held_action", Ty::Text),
    ("held_until", Ty::Text),
    ("held_outbox", Ty::Int),
];

const VIEW_KEY: &[(&str, Ty)] = &[
    ("source", Ty::Text),
    ("page_id", Ty::Text),
    ("kind", Ty::Text),
    ("entity_id", Ty::Text),
    ("destination", Ty::Text),
];

/// Each destination's view that changes: a row while it has the alert
/// open or waits on a held event (with that event's outbox row, this
/// plan's last draft for the same alert and destination), else none.
fn views(
    conn: Conn<'_>,
    entries: &[Entry<'_>],
    plans: &[Plan],
    held: &[HeldRow<'_>],
    nows: &[String],
) -> sql::Result<()> {
    let mut open = Table::new(VIEW);
    let mut closed = Table::new(VIEW_KEY);
    for (i, ((e, plan), now)) in entries.iter().zip(plans).zip(nows).enumerate() {
        let Some((source, page_id)) = page(e, plan) else {
            continue;
        };
        for v in &plan.views {
            let key = [
                source.to_arg(),
                page_id.to_arg(),
                v.kind.as_str().to_arg(),
                v.entity_id.to_arg(),
                v.destination.to_arg(),
            ];
            let Some(p) = v.open else {
                closed.push(key);
                continue;
            };
            let (action, until, row): (Option<Action>, Option<String>, Option<i64>) = match &v.held
            {
                Some((action, hold)) => (
                    Some(*action),
                    Some(format_time(hold.until)),
                    Some(
                        held.iter()
                            .rev()
                            .find(|(n, k, entity, d, _)| {
                                *n == i
                                    && *k == v.kind
                                    && *entity == v.entity_id
                                    && *d == v.destination
                            })
                            .map_or(0, |r| r.4),
                    ),
                ),
                None => (None, None, None),
            };
            let [s, pg, k, id, d] = key;
            open.push([
                s,
                pg,
                k,
                id,
                d,
                p.as_str().to_arg(),
                now.to_arg(),
                text(action.map(Action::as_str)),
                owned(until),
                int(row),
            ]);
        }
    }
    insert(
        conn,
        "destination_alerts",
        &open,
        "ON CONFLICT (source, page_id, kind, entity_id, destination)
         DO UPDATE SET priority = excluded.priority, held_action = excluded.held_action,
            held_until = excluded.held_until, held_outbox = excluded.held_outbox,
            opened_at = CASE WHEN destination_alerts.held_action = 'resolve'
                              AND destination_alerts.held_until <= excluded.opened_at
                             THEN excluded.opened_at ELSE destination_alerts.opened_at END",
    )?;
    let sql = kept!(conn.engine(), |e| format!(
        "DELETE FROM destination_alerts
         WHERE (source, page_id, kind, entity_id, destination)
            IN (SELECT r.source, r.page_id, r.kind, r.entity_id, r.destination FROM {})",
        e.table(VIEW_KEY)
    ));
    conn.execute_table(sql, &closed)?;
    Ok(())
}
