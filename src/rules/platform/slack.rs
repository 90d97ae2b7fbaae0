//! Slack's status API, `/api/v2.0.0/current`: the items going on now
//! (`active_incidents`), each of a type (`incident`, `outage`, `notice`,
//! `maintenance`) and naming the services it touches. The services are the
//! page's components; an item is an incident.

use serde_json::{Map, Value, json};

use super::{Mapping, mapped, text};
use crate::rules::time::parse_time;

/// The services Slack's status page lists: the page's components, each
/// operational unless an active item names it.
pub const SERVICES: &[&str] = &[
    "Login/SSO",
    "Messaging",
    "Notifications",
    "Search",
    "Workspace/Org Administration",
    "Canvases",
    "Connectivity",
    "Files",
    "Huddles",
    "Apps/Integrations/APIs",
    "Workflows",
    "Posts/Files",
    "Calls",
    "Link Previews",
];

/// An item's type as an incident's impact.
pub const IMPACT: &[Mapping] = &[
    ("notice", "none"),
    ("incident", "minor"),
    ("outage", "critical"),
    ("maintenance", "maintenance"),
];

/// An item's type as the status of the services it names.
pub const COMPONENT_STATUS: &[Mapping] = &[
    ("notice", "operational"),
    ("incident", "degraded_performance"),
    ("outage", "major_outage"),
    ("maintenance", "under_maintenance"),
];

/// An item's status.
pub const INCIDENT_STATUS: &[Mapping] = &[
    ("active", "investigating"),
    ("resolved", "resolved"),
    ("scheduled", "scheduled"),
    ("completed", "completed"),
    ("cancelled", "completed"),
];

/// How bad a status the items give a service is: the worst wins.
fn rank(status: &str) -> u8 {
    match status {
        "major_outage" => 3,
        "degraded_performance" => 2,
        "under_maintenance" => 1,
        _ => 0,
    }
}

/// One item as an incident.
fn incident(item: &Value) -> Option<Value> {
    let id = item.get("id").and_then(|v| match v {
        Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    })?;
    let kind = text(item, "type").unwrap_or("incident");
    let impact = mapped(IMPACT, kind);
    let mut status = mapped(INCIDENT_STATUS, text(item, "status").unwrap_or("active"));
    if impact == "maintenance" && status == "investigating" {
        status = "in_progress".into();
    }
    let mut notes: Vec<&Value> = item
        .get("notes")
        .and_then(Value::as_array)
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    let at = |v: &Value| text(v, "date_created").and_then(parse_time);
    notes.sort_by_key(|n| std::cmp::Reverse(at(n)));
    let updates: Vec<Value> = notes
        .iter()
        .map(|n| {
            let created = text(n, "date_created");
            json!({
                // Notes carry no id: their time names them.
                "id": created.map(|t| format!("{id}@{t}")),
                "status": status,
                "body": text(n, "body").map(|b| nanohtml2text::html2text(b).trim().to_owned()),
                "created_at": created,
            })
        })
        .collect();
    let services: Vec<Value> = item
        .get("services")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(|s| json!({"id": s, "name": s}))
                .collect()
        })
        .unwrap_or_default();
    let mut m = Map::new();
    m.insert("id".into(), json!(id));
    m.insert("name".into(), json!(text(item, "title")));
    m.insert("status".into(), json!(status));
    m.insert("impact".into(), json!(impact));
    m.insert("created_at".into(), json!(text(item, "date_created")));
    m.insert("updated_at".into(), json!(text(item, "date_updated")));
    m.insert("shortlink".into(), json!(text(item, "url")));
    m.insert("incident_updates".into(), Value::Array(updates));
    m.insert("components".into(), Value::Array(services));
    Some(Value::Object(m))
}

/// `/api/v2.0.0/current` as Statuspage's `summary.json` of page `page_id`.
pub fn summary(page_id: &str, doc: &Value) -> Result<Value, String> {
    if text(doc, "status").is_none() {
        return Err("no status: not Slack's current status".into());
    }
    let items: &[Value] = match doc.get("active_incidents") {
        Some(Value::Array(a)) => a,
        None | Some(Value::Null) => &[],
        Some(_) => return Err("active_incidents is not a list".into()),
    };
    let mut incidents = Vec::new();
    let mut maintenances = Vec::new();
    // Each service's worst status from the items going on.
    let mut services: Vec<(String, String, Option<String>)> = SERVICES
        .iter()
        .map(|s| ((*s).to_owned(), "operational".to_owned(), None))
        .collect();
    for item in items {
        let Some(i) = incident(item) else { continue };
        let done = matches!(i["status"].as_str(), Some("resolved" | "completed"));
        let going_on = !done && i["status"] != "scheduled";
        if going_on {
            let status = mapped(COMPONENT_STATUS, text(item, "type").unwrap_or("incident"));
            for name in item
                .get("services")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
            {
                let updated = text(item, "date_updated").map(str::to_owned);
                let at = |t: &Option<String>| t.as_deref().and_then(parse_time);
                match services.iter_mut().find(|(n, _, _)| n == name) {
                    // The worst status, and of the items that give it the
                    // latest time.
                    Some(entry) => match rank(&status).cmp(&rank(&entry.1)) {
                        std::cmp::Ordering::Greater => {
                            entry.1 = status.clone();
                            entry.2 = updated;
                        }
                        std::cmp::Ordering::Equal if at(&updated) > at(&entry.2) => {
                            entry.2 = updated;
                        }
                        _ => {}
                    },
                    None => services.push((name.to_owned(), status.clone(), updated)),
                }
            }
        }
        if done {
            continue;
        }
        if i["impact"] == "maintenance" {
            maintenances.push(i);
        } else {
            incidents.push(i);
        }
    }
    // A service back to operational carries no time: Slack's page time may
    // lag its items', and an older time would read as a stale heal.
    let components: Vec<Value> = services
        .into_iter()
        .map(|(name, status, updated)| {
            json!({"id": name, "name": name, "status": status, "group": false,
                   "updated_at": updated})
        })
        .collect();
    Ok(json!({
        "page": {"id": page_id, "name": "Slack", "url": "https://slack-status.com"},
        "components": components,
        "incidents": incidents,
        "scheduled_maintenances": maintenances,
    }))
}

#[cfg(test)]
#[path = "slack_table.rs"]
mod table;
