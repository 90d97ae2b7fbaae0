//! The contexts of a run of webhooks, read together: one statement per
//! table for all of them, each reading a [`Table`] of their keys (on
//! SQLite, which reads one webhook ahead, the same statements for one).

use chrono::{DateTime, Utc};

use super::Entry;
use crate::rules::alert::ComponentFacts;
use crate::rules::domain::{Action, Alert, EntityKind, Priority};
use crate::rules::machine::Prior;
use crate::rules::plan::{Context, Learned, OpenComponent, Stored};
use crate::rules::route::{Held, HeldBy, View};
use crate::rules::time::{format_time, parse_time};
use crate::storage::sql::{self, Arg, Conn, Row, Table, ToArg, Ty, kept};

/// What was read for one webhook.
#[derive(Debug, Default)]
pub(super) struct Read {
    pub context: Context,
    /// An incident's current components before it: those it no longer
    /// lists are unlinked, and every one of them may see its incident
    /// priority change.
    pub links: Vec<String>,
}

/// An entity's key, `n` naming who asked.
const KEY: &[(&str, Ty)] = &[
    ("n", Ty::Int),
    ("source", Ty::Text),
    ("page_id", Ty::Text),
    ("id", Ty::Text),
];

fn row(n: usize) -> Arg<'static> {
    sql::int(n as i64)
}

/// The row number `n` of a result (column 0).
fn n(r: &Row<'_>) -> sql::Result<usize> {
    Ok(r.get::<i64>(0)? as usize)
}

/// The contexts of `entries` (an empty one for a webhook without an
/// entity), as of when each was received.
pub(super) fn contexts(conn: Conn<'_>, entries: &[Entry<'_>]) -> sql::Result<Vec<Read>> {
    let mut reads: Vec<Read> = entries.iter().map(|_| Read::default()).collect();
    // The components incidents list: (entry, id); row `entries.len() + i`
    // of the components' table.
    let listed: Vec<(usize, &str)> = entries
        .iter()
        .enumerate()
        .filter_map(|(i, e)| e.lookup.as_ref().map(|l| (i, l)))
        .filter(|(_, l)| l.kind == EntityKind::Incident)
        .flat_map(|(i, l)| l.components.iter().map(move |c| (i, *c)))
        .collect();
    let open = entities(conn, entries, &listed, &mut reads)?;
    applied(conn, entries, &mut reads)?;
    views(conn, entries, &listed, open, &mut reads)?;
    silences(conn, entries, &mut reads)?;
    incident_priorities(conn, entries, &mut reads)?;
    learned(conn, entries, &mut reads)?;
    links(conn, entries, &mut reads)?;
    Ok(reads)
}

/// Each entity's stored state, and the open ones of the listed
/// components (by index in `listed`).
fn entities(
    conn: Conn<'_>,
    entries: &[Entry<'_>],
    listed: &[(usize, &str)],
    reads: &mut [Read],
) -> sql::Result<Vec<Option<OpenComponent>>> {
    let mut incidents = Table::new(KEY);
    let mut components = Table::new(KEY);
    let mut pages = Table::new(KEY);
    for (i, e) in entries.iter().enumerate() {
        let Some(l) = &e.lookup else { continue };
        let row = [
            row(i),
            e.job.source.to_arg(),
            l.page_id.to_arg(),
            l.entity_id.to_arg(),
        ];
        match l.kind {
            EntityKind::Incident => incidents.push(row),
            EntityKind::Component => components.push(row),
            EntityKind::Page => pages.push(row),
        }
    }
    for (k, (i, id)) in listed.iter().enumerate() {
        let e = &entries[*i];
        let l = e.lookup.as_ref().expect("listed by a lookup");
        components.push([
            row(entries.len() + k),
            e.job.source.to_arg(),
            l.page_id.to_arg(),
            id.to_arg(),
        ]);
    }
    let stored = |r: &Row<'_>| -> sql::Result<(usize, bool, Stored)> {
        let open: bool = r.get(1)?;
        let priority: Option<String> = r.get(2)?;
        let last: Option<String> = r.get(4)?;
        let started: Option<String> = r.get(5)?;
        Ok((
            n(r)?,
            open,
            Stored {
                prior: prior(open, priority.as_deref(), r.get(3)?, last.as_deref()),
                started_at: started.as_deref().and_then(parse_time),
            },
        ))
    };
    let incident_sql = kept!(conn.engine(), |e| format!(
        "SELECT r.n, e.alert_open, e.alert_priority, e.status, e.last_event_at, e.started_at
         FROM {} JOIN incidents e
           ON e.source = r.source AND e.page_id = r.page_id AND e.incident_id = r.id",
        e.table(KEY)
    ));
    let page_sql = kept!(conn.engine(), |e| format!(
        "SELECT r.n, e.alert_open, e.alert_priority, e.status, e.last_event_at, e.opened_at
         FROM {} JOIN page_alerts e
           ON e.source = r.source AND e.page_id = r.page_id AND e.topic = r.id",
        e.table(KEY)
    ));
    for (sql, table) in [(incident_sql, &incidents), (page_sql, &pages)] {
        for (i, _, s) in conn.query_table(sql, table, stored)? {
            reads[i].context.stored = s;
        }
    }
    let component_sql = kept!(conn.engine(), |e| format!(
        "SELECT r.n, e.alert_open, e.alert_priority, e.status, e.last_event_at,
                e.alert_opened_at, e.name
         FROM {} JOIN components e
           ON e.source = r.source AND e.page_id = r.page_id AND e.component_id = r.id",
        e.table(KEY)
    ));
    let mut open: Vec<Option<OpenComponent>> = listed.iter().map(|_| None).collect();
    let rows = conn.query_table(component_sql, &components, |r| {
        Ok((stored(r)?, r.get::<Option<String>>(6)?))
    })?;
    for ((n, is_open, s), name) in rows {
        match n.checked_sub(entries.len()) {
            None => reads[n].context.stored = s,
            Some(k) if is_open => {
                open[k] = Some(OpenComponent {
                    component_id: listed[k].1.to_owned(),
                    name,
                    stored: s,
                    views: Vec::new(),
                })
            }
            Some(_) => {}
        }
    }
    Ok(open)
}

/// An `alert_priority` column as written by `alert_columns`; a missing or
/// unknown one reads as Medium, the default priority.
pub(super) fn priority_column(p: Option<&str>) -> Priority {
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

/// The webhook that applied any of each event's keys to its entity
/// before, if any: the first key found, as the event lists them.
fn applied(conn: Conn<'_>, entries: &[Entry<'_>], reads: &mut [Read]) -> sql::Result<()> {
    const APPLIED: &[(&str, Ty)] = &[
        ("n", Ty::Int),
        ("source", Ty::Text),
        ("kind", Ty::Text),
        ("page_id", Ty::Text),
        ("entity_id", Ty::Text),
        ("event_key", Ty::Text),
    ];
    let mut keys = Table::new(APPLIED);
    for (i, e) in entries.iter().enumerate() {
        let Some(l) = &e.lookup else { continue };
        for k in l.keys {
            keys.push([
                row(i),
                e.job.source.to_arg(),
                l.kind.as_str().to_arg(),
                l.page_id.to_arg(),
                l.entity_id.to_arg(),
                k.to_arg(),
            ]);
        }
    }
    let sql = kept!(conn.engine(), |e| format!(
        "SELECT r.n, a.event_key, a.webhook_id FROM {} JOIN applied_events a
           ON a.source = r.source AND a.kind = r.kind AND a.page_id = r.page_id
          AND a.entity_id = r.entity_id AND a.event_key = r.event_key",
        e.table(APPLIED)
    ));
    let found = conn.query_table(sql, &keys, |r| {
        Ok((n(r)?, r.get::<String>(1)?, r.get::<String>(2)?))
    })?;
    for (i, e) in entries.iter().enumerate() {
        let Some(l) = &e.lookup else { continue };
        reads[i].context.duplicate_of = l.keys.iter().find_map(|k| {
            found
                .iter()
                .find(|(n, key, _)| *n == i && key == k)
                .map(|(_, _, webhook)| webhook.clone())
        });
    }
    Ok(())
}

/// The destinations that have each entity's alert open (or will, once a
/// held trigger is due), and those of the open components incidents list,
/// as of when each webhook was received: a held trigger whose time has
/// come is sent, a held resolve whose time has come has closed the view.
fn views(
    conn: Conn<'_>,
    entries: &[Entry<'_>],
    listed: &[(usize, &str)],
    mut open: Vec<Option<OpenComponent>>,
    reads: &mut [Read],
) -> sql::Result<()> {
    const VIEW_KEY: &[(&str, Ty)] = &[
        ("n", Ty::Int),
        ("source", Ty::Text),
        ("page_id", Ty::Text),
        ("kind", Ty::Text),
        ("entity_id", Ty::Text),
    ];
    let mut keys = Table::new(VIEW_KEY);
    for (i, e) in entries.iter().enumerate() {
        let Some(l) = &e.lookup else { continue };
        keys.push([
            row(i),
            e.job.source.to_arg(),
            l.page_id.to_arg(),
            l.kind.as_str().to_arg(),
            l.entity_id.to_arg(),
        ]);
    }
    for (k, c) in open.iter().enumerate() {
        if let Some(c) = c {
            let e = &entries[listed[k].0];
            let l = e.lookup.as_ref().expect("listed by a lookup");
            keys.push([
                row(entries.len() + k),
                e.job.source.to_arg(),
                l.page_id.to_arg(),
                EntityKind::Component.as_str().to_arg(),
                c.component_id.to_arg(),
            ]);
        }
    }
    let sql = kept!(conn.engine(), |e| format!(
        "SELECT r.n, d.destination, d.priority, d.held_action, d.held_until, d.held_outbox,
                d.opened_at, o.held_by, o.created_at
         FROM {} JOIN destination_alerts d
           ON d.source = r.source AND d.page_id = r.page_id AND d.kind = r.kind
          AND d.entity_id = r.entity_id
         LEFT JOIN outbox o ON o.id = d.held_outbox",
        e.table(VIEW_KEY)
    ));
    let rows = conn.query_table(sql, &keys, |r| Ok((n(r)?, view(r)?)))?;
    for (n, v) in rows {
        let (entry, views) = match n.checked_sub(entries.len()) {
            None => (n, &mut reads[n].context.views),
            Some(k) => (
                listed[k].0,
                &mut open[k].as_mut().expect("read for an open one").views,
            ),
        };
        if let Some(v) = as_of(v, entries[entry].job.received_at) {
            views.push(v);
        }
    }
    for (k, c) in open.into_iter().enumerate() {
        if let Some(c) = c {
            reads[listed[k].0].context.open_components.push(c);
        }
    }
    Ok(())
}

/// A view's row (after the row number).
fn view(r: &Row<'_>) -> sql::Result<View> {
    let priority: Option<String> = r.get(2)?;
    let action: Option<Action> = r.get(3)?;
    let until: Option<String> = r.get(4)?;
    let opened: String = r.get(6)?;
    let decided: Option<String> = r.get(8)?;
    let held = match (action, until.as_deref().and_then(parse_time)) {
        (Some(action), Some(until)) => Some(Held {
            outbox_id: r.get::<Option<i64>>(5)?.unwrap_or(0),
            action,
            since: match action {
                Action::Trigger => parse_time(&opened),
                Action::Resolve => decided.as_deref().and_then(parse_time),
            }
            .unwrap_or(until),
            until,
            by: r.get::<Option<HeldBy>>(7)?.unwrap_or(match action {
                Action::Trigger => HeldBy::PageAfter,
                Action::Resolve => HeldBy::ResolveAfter,
            }),
        }),
        _ => None,
    };
    Ok(View {
        destination: r.get(1)?,
        priority: priority_column(priority.as_deref()),
        held,
    })
}

/// A view as of `now`: gone once a held resolve is due, no longer held
/// once a held trigger is.
fn as_of(mut v: View, now: DateTime<Utc>) -> Option<View> {
    match &v.held {
        Some(h) if h.until <= now && h.action == Action::Resolve => return None,
        Some(h) if h.until <= now => v.held = None,
        _ => {}
    }
    Some(v)
}

/// The silences in force when each webhook was received.
fn silences(conn: Conn<'_>, entries: &[Entry<'_>], reads: &mut [Read]) -> sql::Result<()> {
    // To the millisecond, as stored and compared.
    let at = |t: DateTime<Utc>| parse_time(&format_time(t)).unwrap_or(t);
    let times: Vec<(usize, DateTime<Utc>)> = entries
        .iter()
        .enumerate()
        .filter(|(_, e)| e.lookup.is_some())
        .map(|(i, e)| (i, at(e.job.received_at)))
        .collect();
    let (Some(from), Some(to)) = (
        times.iter().map(|t| t.1).min(),
        times.iter().map(|t| t.1).max(),
    ) else {
        return Ok(());
    };
    let all = crate::storage::silences::in_force_during(conn, from, to)?;
    for (i, now) in times {
        reads[i].context.silences = all.iter().filter(|s| s.is_active(now)).cloned().collect();
    }
    Ok(())
}

/// Each component's highest priority among its associated open incidents.
/// Walks only the links of open incidents (`current = 1 AND incident_open
/// = 1`, the last two columns of `incident_components_component`),
/// however many incidents the component has had. One statement per
/// component, whose key is a plain value: a component's links are the one
/// non-unique key the write path reads by, and joined to a table of keys
/// the planner takes every key for the one most incidents list (on a page
/// where thousands of open incidents list one component, a scan of all
/// their links).
fn incident_priorities(
    conn: Conn<'_>,
    entries: &[Entry<'_>],
    reads: &mut [Read],
) -> sql::Result<()> {
    let mut keys = Table::new(KEY);
    for (i, e) in entries.iter().enumerate() {
        match &e.lookup {
            Some(l) if l.kind == EntityKind::Component => keys.push([
                row(i),
                e.job.source.to_arg(),
                l.page_id.to_arg(),
                l.entity_id.to_arg(),
            ]),
            _ => {}
        }
    }
    let sql = incident_priority_sql(conn.engine());
    for (i, p) in conn.query_by_row(sql, &keys, |r| Ok((n(r)?, r.get::<Option<String>>(1)?)))? {
        let Some(p) = p else { continue };
        let p = Some(priority_column(Some(&p)));
        let highest = &mut reads[i].context.incident_priority;
        *highest = (*highest).max(p);
    }
    Ok(())
}

/// The statement of `incident_priorities` (SQLite is told the index): a
/// row per open link, its incident's priority ('' for none) while the
/// incident's alert is open, else NULL. The incident is looked up by its
/// key from each link, so the one way to plan it starts from the links of
/// the component asked for, whatever value it is planned for.
fn incident_priority_sql(engine: &'static dyn crate::storage::engine::Engine) -> &'static str {
    kept!(engine, |engine| format!(
        "SELECT r.n, (SELECT coalesce(i.alert_priority, '') FROM incidents i
                      WHERE i.source = ic.source AND i.page_id = ic.page_id
                        AND i.incident_id = ic.incident_id AND i.alert_open = 1)
         FROM {} JOIN incident_components ic{}
           ON ic.source = r.source AND ic.page_id = r.page_id AND ic.component_id = r.id
          AND ic.current = 1 AND ic.incident_open = 1",
        engine.row(KEY),
        engine.indexed_by("incident_components_component")
    ))
}

/// What reconcile learned of each webhook's page and of the components
/// involved (the component itself, or those the incident lists): nothing
/// for a page never learned.
fn learned(conn: Conn<'_>, entries: &[Entry<'_>], reads: &mut [Read]) -> sql::Result<()> {
    const PAGE: &[(&str, Ty)] = &[("n", Ty::Int), ("page_id", Ty::Text)];
    const COMPONENT: &[(&str, Ty)] = &[
        ("n", Ty::Int),
        ("page_id", Ty::Text),
        ("component_id", Ty::Text),
    ];
    let mut pages = Table::new(PAGE);
    for (i, e) in entries.iter().enumerate() {
        if let Some(l) = &e.lookup {
            pages.push([row(i), l.page_id.to_arg()]);
        }
    }
    let sql = kept!(conn.engine(), |e| format!(
        "SELECT r.n, p.name FROM {} JOIN learned_pages p ON p.page_id = r.page_id",
        e.table(PAGE)
    ));
    let mut involved: Vec<(usize, &str)> = Vec::new();
    let mut components = Table::new(COMPONENT);
    for (i, name) in conn.query_table(sql, &pages, |r| Ok((n(r)?, r.get::<Option<String>>(1)?)))? {
        reads[i].context.learned.page_name = name;
        let l = entries[i].lookup.as_ref().expect("asked for by a lookup");
        let ids = match l.kind {
            EntityKind::Component => std::slice::from_ref(&l.entity_id),
            EntityKind::Incident => l.components.as_slice(),
            EntityKind::Page => &[],
        };
        for id in ids {
            components.push([row(involved.len()), l.page_id.to_arg(), id.to_arg()]);
            involved.push((i, id));
        }
    }
    let sql = kept!(conn.engine(), |e| format!(
        "SELECT r.n, c.name, c.group_id, c.group_name FROM {} JOIN learned_components c
           ON c.page_id = r.page_id AND c.component_id = r.component_id",
        e.table(COMPONENT)
    ));
    let mut found: Vec<Option<ComponentFacts>> = involved.iter().map(|_| None).collect();
    for (k, facts) in conn.query_table(sql, &components, |r| {
        Ok((
            n(r)?,
            ComponentFacts {
                id: String::new(),
                name: r.get(1)?,
                group_id: r.get(2)?,
                group_name: r.get(3)?,
            },
        ))
    })? {
        found[k] = Some(ComponentFacts {
            id: involved[k].1.to_owned(),
            ..facts
        });
    }
    for (k, facts) in found.into_iter().enumerate() {
        if let Some(f) = facts {
            let Learned { components, .. } = &mut reads[involved[k].0].context.learned;
            components.push(f);
        }
    }
    Ok(())
}

/// Each incident's current components.
fn links(conn: Conn<'_>, entries: &[Entry<'_>], reads: &mut [Read]) -> sql::Result<()> {
    let mut keys = Table::new(KEY);
    for (i, e) in entries.iter().enumerate() {
        match &e.lookup {
            Some(l) if l.kind == EntityKind::Incident => keys.push([
                row(i),
                e.job.source.to_arg(),
                l.page_id.to_arg(),
                l.entity_id.to_arg(),
            ]),
            _ => {}
        }
    }
    let sql = links_sql(conn.engine());
    for (i, c) in conn.query_table(sql, &keys, |r| Ok((n(r)?, r.get::<String>(1)?)))? {
        reads[i].links.push(c);
    }
    Ok(())
}

/// The statement of `links`.
fn links_sql(engine: &'static dyn crate::storage::engine::Engine) -> &'static str {
    kept!(engine, |engine| format!(
        "SELECT r.n, ic.component_id FROM {} JOIN incident_components ic
           ON ic.source = r.source AND ic.page_id = r.page_id AND ic.incident_id = r.id
         WHERE ic.current = 1",
        engine.table(KEY)
    ))
}
