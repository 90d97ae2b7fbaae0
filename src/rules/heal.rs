//! Reconcile's comparison, pure: a page's status API (its JSON) against
//! what the bridge believes, giving the events that heal the difference
//! (docs/RECONCILE.md). Each heal is a webhook body the bridge writes for itself;
//! the pipeline then applies it through the same rules as any webhook.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::rules::domain::{ComponentStatus, EntityKind, IncidentStatus};
use crate::rules::parse::{self, Parsed};
use crate::rules::time::{format_time, parse_time};

/// The bridge's view of one incident on the page.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LocalIncident {
    pub name: Option<String>,
    pub status: Option<String>,
    /// Effective impact.
    pub impact: Option<String>,
    pub last_event_at: Option<DateTime<Utc>>,
}

/// The bridge's view of one component on the page.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LocalComponent {
    pub status: Option<String>,
    pub alert_open: bool,
    pub last_event_at: Option<DateTime<Utc>>,
}

/// What the bridge believes about one page.
#[derive(Debug, Clone, Default)]
pub struct Local {
    pub incidents: HashMap<String, LocalIncident>,
    pub components: HashMap<String, LocalComponent>,
}

/// Rounds in a row each open entity was missing upstream.
pub type Misses = HashMap<(EntityKind, String), u32>;

/// One event to apply.
#[derive(Debug, Clone, PartialEq)]
pub struct Heal {
    pub kind: EntityKind,
    pub entity_id: String,
    /// A webhook-shaped body made from the upstream JSON.
    pub body: Value,
    /// What the round found, for the stored reason.
    pub why: String,
    /// When the change happened upstream, if the page says.
    pub changed_at: Option<DateTime<Utc>>,
}

/// Why a status API answer cannot be used: the round changes nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unusable {
    #[error("the answer is not the expected JSON: {0}")]
    Shape(String),
    #[error("the answer is for page \"{0}\", not this one")]
    OtherPage(String),
}

/// A summary checked to be this page's.
#[derive(Debug, Clone)]
pub struct PageSummary<'a> {
    /// Unresolved incidents and scheduled maintenances.
    pub incidents: Vec<&'a Value>,
    /// Leaf components (groups never page: their children do).
    pub components: Vec<&'a Value>,
}

/// Whether the bridge counts an incident in this status as still going on.
fn going_on(status: &str) -> bool {
    matches!(
        IncidentStatus::parse(status),
        IncidentStatus::Investigating
            | IncidentStatus::Identified
            | IncidentStatus::Monitoring
            | IncidentStatus::InProgress
            | IncidentStatus::Verifying
    )
}

/// Checks that `v` is a status API answer for `page_id` holding `lists`.
pub(crate) fn checked(v: &Value, page_id: &str, lists: &[&str]) -> Result<(), Unusable> {
    let id = v
        .pointer("/page/id")
        .and_then(Value::as_str)
        .ok_or_else(|| Unusable::Shape("no page.id".into()))?;
    if id != page_id {
        return Err(Unusable::OtherPage(id.to_owned()));
    }
    for list in lists {
        if !v.get(*list).is_some_and(Value::is_array) {
            return Err(Unusable::Shape(format!("no {list} list")));
        }
    }
    Ok(())
}

/// The newest change the summary shows: the latest `updated_at` of its
/// incidents, maintenances and components.
pub fn latest_change(s: &PageSummary<'_>) -> Option<DateTime<Utc>> {
    s.incidents
        .iter()
        .chain(s.components.iter())
        .filter_map(|v| v.get("updated_at").and_then(Value::as_str))
        .filter_map(parse_time)
        .max()
}

/// Reads `summary.json`.
pub fn read_summary<'a>(v: &'a Value, page_id: &str) -> Result<PageSummary<'a>, Unusable> {
    checked(v, page_id, &["components", "incidents"])?;
    let list = |k: &str| -> Vec<&'a Value> {
        v.get(k)
            .and_then(Value::as_array)
            .map(|a| a.iter().collect())
            .unwrap_or_default()
    };
    let mut incidents = list("incidents");
    incidents.extend(list("scheduled_maintenances"));
    let components = list("components")
        .into_iter()
        .filter(|c| c.get("group").and_then(Value::as_bool) != Some(true))
        .filter(|c| c.get("id").and_then(Value::as_str).is_some())
        .collect();
    Ok(PageSummary {
        incidents,
        components,
    })
}

/// Reads `incidents.json` (the 50 most recent incidents).
pub fn read_recent<'a>(v: &'a Value, page_id: &str) -> Result<Vec<&'a Value>, Unusable> {
    checked(v, page_id, &["incidents"])?;
    Ok(v["incidents"]
        .as_array()
        .map(|a| a.iter().collect())
        .unwrap_or_default())
}

fn incident_body(page_id: &str, incident: &Value) -> Value {
    json!({"page": {"id": page_id}, "incident": incident})
}

/// The heal for an upstream incident, if it differs from the bridge's
/// view and is newer than the last event the bridge applied.
fn incident_heal(page_id: &str, up: &Value, local: Option<&LocalIncident>) -> Option<Heal> {
    let body = incident_body(page_id, up);
    let Parsed::Incident(ev) = parse::parse(&body) else {
        return None;
    };
    let status = ev.status.as_ref().map(|s| s.as_str().to_owned());
    let impact = ev.effective_impact().map(|i| i.as_str().to_owned());
    let changed_at = ev.event_time();
    let why = match local {
        None => format!(
            "incident {} is {} on the page, and no webhook told of it",
            ev.incident_id,
            status.as_deref().unwrap_or("?")
        ),
        Some(l) => {
            if l.status == status && l.impact == impact {
                return None;
            }
            // The bridge's view is as new or newer: a webhook raced the poll.
            if let (Some(up_at), Some(last)) = (changed_at, l.last_event_at)
                && up_at <= last
            {
                return None;
            }
            format!(
                "the page shows incident {} as {} ({}), the bridge had {} ({})",
                ev.incident_id,
                status.as_deref().unwrap_or("?"),
                impact.as_deref().unwrap_or("?"),
                l.status.as_deref().unwrap_or("?"),
                l.impact.as_deref().unwrap_or("?"),
            )
        }
    };
    Some(Heal {
        kind: EntityKind::Incident,
        entity_id: ev.incident_id,
        body,
        why,
        changed_at,
    })
}

fn component_heal(
    page_id: &str,
    up: &Value,
    local: Option<&LocalComponent>,
    now: DateTime<Utc>,
) -> Option<Heal> {
    let id = up.get("id")?.as_str()?;
    let status = up.get("status")?.as_str()?;
    let updated_at = up
        .get("updated_at")
        .and_then(Value::as_str)
        .and_then(parse_time);
    let old = local.and_then(|l| l.status.clone());
    match local {
        // Never seen and fine: nothing to say.
        None if ComponentStatus::parse(status) == ComponentStatus::Operational => return None,
        Some(l) if l.status.as_deref() == Some(status) => return None,
        Some(l) => {
            if let (Some(up_at), Some(last)) = (updated_at, l.last_event_at)
                && up_at <= last
            {
                return None;
            }
        }
        None => {}
    }
    let at = updated_at.unwrap_or(now);
    let body = json!({
        "page": {"id": page_id},
        "component": up,
        "component_update": {
            "old_status": old.as_deref().unwrap_or("operational"),
            "new_status": status,
            "created_at": format_time(at),
            "component_id": id,
        },
    });
    Some(Heal {
        kind: EntityKind::Component,
        entity_id: id.to_owned(),
        body,
        why: format!(
            "the page shows component {id} as {status}, the bridge had {}",
            old.as_deref().unwrap_or("nothing")
        ),
        changed_at: updated_at,
    })
}

/// Counts a miss; true once it reached `limit` rounds in a row.
fn missed(misses: &mut Misses, key: (EntityKind, String), limit: u32) -> (bool, u32) {
    let n = misses.entry(key).or_default();
    *n += 1;
    (*n >= limit, *n)
}

/// What the summary alone says a round heals (the heals, and what to look up).
pub struct Heals {
    pub heals: Vec<Heal>,
    /// Local incidents going on that the summary does not list: look them
    /// up in `incidents.json` (`plan_missing`).
    pub missing_incidents: Vec<String>,
}

/// First half of a round: the summary against the bridge's view. Updates
/// the component misses (seen ones reset).
pub fn plan_summary(
    page_id: &str,
    summary: &PageSummary<'_>,
    local: &Local,
    misses: &mut Misses,
    misses_to_resolve: u32,
    now: DateTime<Utc>,
) -> Heals {
    let mut heals = Vec::new();
    let mut listed = std::collections::HashSet::new();
    for up in &summary.incidents {
        if let Some(id) = up.get("id").and_then(Value::as_str) {
            listed.insert(id.to_owned());
            misses.remove(&(EntityKind::Incident, id.to_owned()));
            heals.extend(incident_heal(page_id, up, local.incidents.get(id)));
        }
    }
    let mut seen = std::collections::HashSet::new();
    for up in &summary.components {
        let id = up["id"].as_str().unwrap_or_default().to_owned();
        misses.remove(&(EntityKind::Component, id.clone()));
        heals.extend(component_heal(page_id, up, local.components.get(&id), now));
        seen.insert(id);
    }
    let mut gone: Vec<&String> = local
        .components
        .iter()
        .filter(|(id, c)| c.alert_open && !seen.contains(*id))
        .map(|(id, _)| id)
        .collect();
    gone.sort();
    for id in gone {
        let (resolve, n) = missed(
            misses,
            (EntityKind::Component, id.clone()),
            misses_to_resolve,
        );
        if resolve {
            let old = local.components[id].status.clone();
            heals.push(Heal {
                kind: EntityKind::Component,
                entity_id: id.clone(),
                body: json!({
                    "page": {"id": page_id},
                    "component": {"id": id, "page_id": page_id, "status": "operational"},
                    "component_update": {
                        "old_status": old.as_deref().unwrap_or("operational"),
                        "new_status": "operational",
                        "created_at": format_time(now),
                        "component_id": id,
                    },
                }),
                why: format!(
                    "component {id} is no longer listed on the page ({n} rounds in a row)"
                ),
                changed_at: None,
            });
        }
    }
    let mut missing_incidents: Vec<String> = local
        .incidents
        .iter()
        .filter(|(id, l)| !listed.contains(*id) && l.status.as_deref().is_some_and(going_on))
        .map(|(id, _)| id.clone())
        .collect();
    missing_incidents.sort();
    Heals {
        heals,
        missing_incidents,
    }
}

/// Second half: incidents going on in the bridge but not in the summary,
/// looked up in `incidents.json`. Found ended: applied as that event. Found
/// nowhere: resolved after `misses_to_resolve` rounds in a row.
pub fn plan_missing(
    page_id: &str,
    missing: &[String],
    recent: &[&Value],
    local: &Local,
    misses: &mut Misses,
    misses_to_resolve: u32,
    now: DateTime<Utc>,
) -> Vec<Heal> {
    let mut heals = Vec::new();
    for id in missing {
        let found = recent
            .iter()
            .find(|i| i.get("id").and_then(Value::as_str) == Some(id.as_str()));
        match found {
            Some(up) => {
                misses.remove(&(EntityKind::Incident, id.clone()));
                heals.extend(incident_heal(page_id, up, local.incidents.get(id)));
            }
            None => {
                let (resolve, n) = missed(
                    misses,
                    (EntityKind::Incident, id.clone()),
                    misses_to_resolve,
                );
                if resolve {
                    let l = &local.incidents[id];
                    let at = format_time(now);
                    heals.push(Heal {
                        kind: EntityKind::Incident,
                        entity_id: id.clone(),
                        body: incident_body(
                            page_id,
                            &json!({"id": id, "name": l.name, "status": "resolved", "impact": l.impact,
                                    "updated_at": at, "resolved_at": at, "page_id": page_id}),
                        ),
                        why: format!(
                            "incident {id} is on neither the page's open nor its recent incidents ({n} rounds in a row)"
                        ),
                        changed_at: None,
                    });
                }
            }
        }
    }
    heals
}

#[cfg(test)]
#[path = "heal_table.rs"]
mod table;
