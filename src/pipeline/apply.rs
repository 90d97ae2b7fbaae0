//! Applying a parsed incident or component event inside the webhook's
//! transaction: load the entity, run the machine, write the webhook row,
//! and for an applied event its new state, transition, keys, links and
//! any outbox row.

use rusqlite::Connection;

use super::{Ctx, Summary};
use crate::rules::decide::Emit;
use crate::rules::domain::{Action, Alert, EntityKind, fingerprint};
use crate::rules::machine::{self, Step};
use crate::rules::parse::{ComponentEvent, IncidentEvent};
use crate::rules::time::format_time;
use crate::storage::outbox::{self, NewEvent};
use crate::storage::store::{self, ComponentState, EntityKey, IncidentState, NewTransition};

pub(super) fn apply_incident(
    conn: &Connection,
    ctx: &Ctx<'_>,
    ev: &IncidentEvent,
    keys: &[String],
) -> rusqlite::Result<Step> {
    let key = EntityKey {
        source: ctx.source,
        kind: EntityKind::Incident,
        page_id: &ev.page_id,
        entity_id: &ev.incident_id,
    };
    let stored = store::load_entity(conn, key)?;
    let duplicate_of = store::find_applied(conn, key, keys)?;
    let step = ctx.mark(machine::incident_step(
        &stored.prior,
        ev,
        duplicate_of.as_deref(),
        ctx.rules,
    ));

    let status = ev.status.as_ref().map(|s| s.as_str().to_owned());
    let impact = ev.effective_impact().map(|i| i.as_str().to_owned());
    let event_at = ev.event_time().map(format_time);
    let summary = Summary {
        kind: "incident",
        page_id: Some(ev.page_id.clone()),
        entity_id: Some(ev.incident_id.clone()),
        entity_name: ev.name.clone(),
        event_id: ev.latest_update.as_ref().and_then(|u| u.id.clone()),
        old_status: stored.prior.status.clone(),
        new_status: status.clone(),
        impact: impact.clone(),
        event_at: event_at.clone(),
    };
    store::insert_webhook(conn, &ctx.webhook(&summary, &step))?;
    let Some(status) = status.filter(|_| step.applied) else {
        return Ok(step);
    };

    let at = event_at.as_deref().unwrap_or(ctx.now);
    let started_at = ev.start_time().map(format_time);
    let resolved_at = ev.resolved_at.map(format_time);
    store::save_incident(
        conn,
        key,
        &IncidentState {
            name: ev.name.as_deref(),
            status: &status,
            impact: impact.as_deref(),
            shortlink: ev.shortlink.as_deref(),
            started_at: started_at.as_deref(),
            resolved_at: resolved_at.as_deref(),
            backfilled: ev.backfilled,
            alert: step.after,
            last_event_at: event_at.as_deref(),
            webhook_id: ctx.id,
            now: ctx.now,
        },
    )?;
    record(conn, ctx, key, keys, &stored.prior, &status, at, &step)?;
    let components: Vec<(String, Option<String>)> = ev
        .components
        .iter()
        .map(|c| (c.id.clone(), c.name.clone()))
        .collect();
    store::link_components(conn, key, &components, ctx.now)?;
    let label = match &ev.name {
        Some(name) => format!("{name:?} ({})", ev.incident_id),
        None => ev.incident_id.clone(),
    };
    lift_components(conn, ctx, key, step.emit, &label, at)?;

    if let Some(emit) = step.emit {
        let name = ev.name.as_deref().unwrap_or(&ev.incident_id);
        let impact_text = impact.as_deref().unwrap_or("unknown impact");
        let title = format!("Statuspage incident \"{name}\": {status} ({impact_text})");
        let mut message = ev
            .latest_update
            .as_ref()
            .and_then(|u| u.body.clone())
            .unwrap_or_else(|| format!("Incident is {status}."));
        if let Some(link) = &ev.shortlink {
            message = format!("{message}\n\n{link}");
        }
        let draft = Draft {
            title,
            message,
            status: &status,
            impact: impact.as_deref(),
            link: ev.shortlink.as_deref(),
            starts_at: started_at
                .clone()
                .or_else(|| stored.started_at.clone())
                .unwrap_or_else(|| at.to_owned()),
            ends_at: (emit.action == Action::Resolve)
                .then(|| resolved_at.clone().unwrap_or_else(|| at.to_owned())),
        };
        enqueue(conn, ctx, key, emit, draft)?;
    }
    Ok(step)
}

pub(super) fn apply_component(
    conn: &Connection,
    ctx: &Ctx<'_>,
    ev: &ComponentEvent,
    keys: &[String],
) -> rusqlite::Result<Step> {
    let key = EntityKey {
        source: ctx.source,
        kind: EntityKind::Component,
        page_id: &ev.page_id,
        entity_id: &ev.component_id,
    };
    let stored = store::load_entity(conn, key)?;
    let duplicate_of = store::find_applied(conn, key, keys)?;
    let incident_priority = store::open_incident_priority(conn, key)?;
    let step = ctx.mark(machine::component_step(
        &stored.prior,
        ev,
        duplicate_of.as_deref(),
        incident_priority,
        ctx.rules,
    ));

    let status = ev.new_status.as_ref().map(|s| s.as_str().to_owned());
    let event_at = ev.created_at.map(format_time);
    let old_status = ev
        .old_status
        .as_ref()
        .map(|s| s.as_str().to_owned())
        .or_else(|| stored.prior.status.clone());
    let summary = Summary {
        kind: "component",
        page_id: Some(ev.page_id.clone()),
        entity_id: Some(ev.component_id.clone()),
        entity_name: ev.name.clone(),
        event_id: ev.update_id.clone(),
        old_status: old_status.clone(),
        new_status: status.clone(),
        impact: None,
        event_at: event_at.clone(),
    };
    store::insert_webhook(conn, &ctx.webhook(&summary, &step))?;
    let Some(status) = status.filter(|_| step.applied) else {
        return Ok(step);
    };

    let at = event_at.as_deref().unwrap_or(ctx.now);
    // The alert's start is when the component left operational; it stays
    // while the alert is open.
    let opened_at = match (stored.prior.alert, step.after) {
        (Alert::Open(_), Alert::Open(_)) => stored.started_at.clone(),
        (_, Alert::Open(_)) => Some(at.to_owned()),
        _ => None,
    };
    store::save_component(
        conn,
        key,
        &ComponentState {
            name: ev.name.as_deref(),
            status: &status,
            alert: step.after,
            alert_opened_at: opened_at.as_deref(),
            last_event_at: event_at.as_deref(),
            webhook_id: ctx.id,
            now: ctx.now,
        },
    )?;
    record(conn, ctx, key, keys, &stored.prior, &status, at, &step)?;

    if let Some(emit) = step.emit {
        let name = ev.name.as_deref().unwrap_or(&ev.component_id);
        let title = format!("Statuspage component \"{name}\": {status}");
        let from = old_status.as_deref().unwrap_or("unknown");
        let draft = Draft {
            title,
            message: format!("Component \"{name}\" changed from {from} to {status}."),
            status: &status,
            impact: None,
            link: None,
            starts_at: opened_at
                .or(stored.started_at)
                .unwrap_or_else(|| at.to_owned()),
            ends_at: (emit.action == Action::Resolve).then(|| at.to_owned()),
        };
        enqueue(conn, ctx, key, emit, draft)?;
    }
    Ok(step)
}

/// The transition row and the applied-event keys of an applied event.
#[allow(clippy::too_many_arguments)]
fn record(
    conn: &Connection,
    ctx: &Ctx<'_>,
    key: EntityKey<'_>,
    keys: &[String],
    prior: &machine::Prior,
    status: &str,
    at: &str,
    step: &Step,
) -> rusqlite::Result<()> {
    store::insert_transition(
        conn,
        key,
        &NewTransition {
            webhook_id: ctx.id,
            at,
            from_status: prior.status.as_deref(),
            to_status: status,
            before: prior.alert,
            after: step.after,
            outcome: step.outcome,
            reason: None,
        },
    )?;
    store::record_applied(conn, key, keys, ctx.id)
}

/// Re-triggers the incident's associated open components at its priority
/// when its alert opened or rose (`machine::component_lift`), in the same
/// transaction, so the order in which Statuspage delivers an action's
/// incident and component webhooks does not change the outcome.
fn lift_components(
    conn: &Connection,
    ctx: &Ctx<'_>,
    incident: EntityKey<'_>,
    incident_emit: Option<Emit>,
    label: &str,
    at: &str,
) -> rusqlite::Result<()> {
    if incident_emit.is_none() {
        return Ok(());
    }
    for c in store::open_components_of(conn, incident)? {
        let Some(lift) = machine::component_lift(&c.stored.prior, incident_emit, label) else {
            continue;
        };
        let (Some(emit), Alert::Open(priority)) = (lift.emit, lift.after) else {
            continue;
        };
        let key = EntityKey {
            kind: EntityKind::Component,
            entity_id: &c.component_id,
            ..incident
        };
        let status = c.stored.prior.status.as_deref().unwrap_or("unknown");
        store::raise_component(conn, key, priority, ctx.now)?;
        store::insert_transition(
            conn,
            key,
            &NewTransition {
                webhook_id: ctx.id,
                at,
                from_status: Some(status),
                to_status: status,
                before: c.stored.prior.alert,
                after: lift.after,
                outcome: lift.outcome,
                reason: Some(&lift.reason),
            },
        )?;
        let name = c.name.as_deref().unwrap_or(&c.component_id);
        let draft = Draft {
            title: format!("Statuspage component \"{name}\": {status}"),
            message: format!(
                "Component \"{name}\" is {status}; priority raised to {priority} by incident {label}."
            ),
            status,
            impact: None,
            link: None,
            starts_at: c.stored.started_at.clone().unwrap_or_else(|| at.to_owned()),
            ends_at: None,
        };
        enqueue(conn, ctx, key, emit, draft)?;
    }
    Ok(())
}

/// The text and times of an event for ITOC360, before it is keyed.
struct Draft<'a> {
    title: String,
    message: String,
    status: &'a str,
    impact: Option<&'a str>,
    link: Option<&'a str>,
    starts_at: String,
    ends_at: Option<String>,
}

fn enqueue(
    conn: &Connection,
    ctx: &Ctx<'_>,
    key: EntityKey<'_>,
    emit: Emit,
    d: Draft<'_>,
) -> rusqlite::Result<()> {
    let fp = fingerprint(key.kind, key.page_id, key.entity_id);
    outbox::insert(
        conn,
        &NewEvent {
            webhook_id: ctx.id,
            created_at: ctx.now,
            fingerprint: &fp,
            kind: key.kind,
            page_id: key.page_id,
            entity_id: key.entity_id,
            action: emit.action,
            priority: emit.priority,
            title: &d.title,
            message: &d.message,
            status: d.status,
            impact: d.impact,
            link: d.link,
            starts_at: &d.starts_at,
            ends_at: d.ends_at.as_deref(),
            state: ctx.outbox_state(),
        },
    )?;
    Ok(())
}
