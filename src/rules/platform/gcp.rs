//! Google Cloud's status dashboard, `/incidents.json`: every recent
//! incident, open (`end` null) or ended. Products × locations are the
//! components (`product · region`), each product a group, so filters and
//! routes can name a product or one region of it.

use serde_json::{Map, Value, json};

use super::{Mapping, mapped, text};
use crate::rules::time::parse_time;

/// An incident's `severity` as its impact (an informational incident is
/// `none` whatever its severity).
pub const SEVERITY: &[Mapping] = &[("low", "minor"), ("medium", "major"), ("high", "critical")];

/// An incident's `status_impact` as the status of the components it
/// touches.
pub const STATUS_IMPACT: &[Mapping] = &[
    ("SERVICE_INFORMATION", "operational"),
    ("SERVICE_DISRUPTION", "partial_outage"),
    ("SERVICE_OUTAGE", "major_outage"),
];

/// An update's `status` as an incident status.
pub const UPDATE_STATUS: &[Mapping] = &[
    ("SERVICE_INFORMATION", "investigating"),
    ("SERVICE_DISRUPTION", "investigating"),
    ("SERVICE_OUTAGE", "investigating"),
    ("AVAILABLE", "resolved"),
];

/// How many ended incidents lend their components to the summary, as
/// operational, so a region that recovered resolves in the round that sees
/// it recover.
const ENDED_COMPONENTS: usize = 10;

/// Where an incident is now, and where it was.
const NOW: &str = "currently_affected_locations";
const BEFORE: &str = "previously_affected_locations";

/// A product and a location: (id, name).
fn component_of(product: &Value, location: Option<&Value>) -> Option<(String, String, String)> {
    let pid = text(product, "id")?;
    let title = text(product, "title").unwrap_or(pid);
    let region = location.and_then(|l| text(l, "id")).unwrap_or("global");
    Some((
        format!("{pid}·{region}"),
        format!("{title} · {region}"),
        pid.to_owned(),
    ))
}

/// The components an incident touches: each product in each location the
/// lists `locations` name (or `global` when they name none).
fn touched(i: &Value, locations: &[&str]) -> Vec<(String, String, String)> {
    let products = i.get("affected_products").and_then(Value::as_array);
    let locs: Vec<&Value> = locations
        .iter()
        .filter_map(|k| i.get(*k).and_then(Value::as_array))
        .flatten()
        .collect();
    let mut out = Vec::new();
    for p in products.into_iter().flatten() {
        if locs.is_empty() {
            out.extend(component_of(p, None));
        }
        for l in &locs {
            out.extend(component_of(p, Some(l)));
        }
    }
    out
}

fn ended(i: &Value) -> bool {
    text(i, "end").is_some()
}

/// One incident in Statuspage's shape.
fn incident(i: &Value) -> Option<Value> {
    let id = text(i, "id")?;
    let info = text(i, "status_impact") == Some("SERVICE_INFORMATION");
    let impact = match text(i, "severity") {
        _ if info => "none".to_owned(),
        Some(s) => mapped(SEVERITY, s),
        None => "minor".to_owned(),
    };
    let status = if ended(i) {
        "resolved"
    } else {
        "investigating"
    };
    let mut updates: Vec<&Value> = i
        .get("updates")
        .and_then(Value::as_array)
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    if updates.is_empty()
        && let Some(u) = i.get("most_recent_update").filter(|u| u.is_object())
    {
        updates.push(u);
    }
    let at = |u: &Value| {
        text(u, "when")
            .or_else(|| text(u, "created"))
            .and_then(parse_time)
    };
    updates.sort_by_key(|u| std::cmp::Reverse(at(u)));
    let updates: Vec<Value> = updates
        .iter()
        .map(|u| {
            let when = text(u, "when").or_else(|| text(u, "created"));
            json!({
                "id": when.map(|w| format!("{id}@{w}")),
                "status": text(u, "status").map(|s| mapped(UPDATE_STATUS, s)),
                "body": text(u, "text"),
                "created_at": when,
            })
        })
        .collect();
    let name = text(i, "external_desc")
        .and_then(|d| {
            d.lines()
                .map(str::trim)
                .find(|l| !l.is_empty() && !l.starts_with("**"))
        })
        .or_else(|| text(i, "service_name"));
    let components: Vec<Value> = touched(i, &[NOW])
        .into_iter()
        .map(|(id, name, _)| json!({"id": id, "name": name}))
        .collect();
    let mut m = Map::new();
    m.insert("id".into(), json!(id));
    m.insert("name".into(), json!(name));
    m.insert("status".into(), json!(status));
    m.insert("impact".into(), json!(impact));
    m.insert(
        "created_at".into(),
        json!(text(i, "created").or_else(|| text(i, "begin"))),
    );
    m.insert("started_at".into(), json!(text(i, "begin")));
    m.insert(
        "updated_at".into(),
        json!(text(i, "modified").or_else(|| text(i, "end"))),
    );
    m.insert("resolved_at".into(), json!(text(i, "end")));
    m.insert(
        "shortlink".into(),
        json!(text(i, "uri").map(|u| format!(
            "https://status.cloud.google.com/{}",
            u.trim_start_matches('/')
        ))),
    );
    m.insert("incident_updates".into(), Value::Array(updates));
    m.insert("components".into(), Value::Array(components));
    Some(Value::Object(m))
}

/// `/incidents.json` as Statuspage's `summary.json` of page `page_id`, and
/// the ended incidents as its recent list.
pub fn summary(page_id: &str, doc: &Value) -> Result<(Value, Vec<Value>), String> {
    let all = doc
        .as_array()
        .ok_or("not a list of incidents: not Google Cloud's incidents.json")?;
    let (mut open, mut done): (Vec<&Value>, Vec<&Value>) = all.iter().partition(|i| !ended(i));
    // Each component once, at the worst status an open incident gives it.
    let rank = |s: &str| match s {
        "major_outage" => 3,
        "partial_outage" => 2,
        "degraded_performance" => 1,
        _ => 0,
    };
    let mut components: Vec<(String, String, String, String, Option<String>)> = Vec::new();
    for i in &open {
        let status = mapped(
            STATUS_IMPACT,
            text(i, "status_impact").unwrap_or("SERVICE_DISRUPTION"),
        );
        for (id, name, group) in touched(i, &[NOW]) {
            let updated = text(i, "modified").map(str::to_owned);
            match components.iter_mut().find(|c| c.0 == id) {
                Some(c) if rank(&status) > rank(&c.3) => {
                    c.3 = status.clone();
                    c.4 = updated;
                }
                Some(_) => {}
                None => components.push((id, name, group, status.clone(), updated)),
            }
        }
    }
    done.sort_by_key(|i| std::cmp::Reverse(text(i, "end").and_then(parse_time)));
    for i in done.iter().take(ENDED_COMPONENTS) {
        for (id, name, group) in touched(i, &[NOW, BEFORE]) {
            if !components.iter().any(|c| c.0 == id) {
                components.push((id, name, group, "operational".into(), None));
            }
        }
    }
    // The products are the groups.
    let mut groups: Vec<Value> = Vec::new();
    for i in open.iter().chain(done.iter()) {
        for p in i
            .get("affected_products")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let Some(pid) = text(p, "id") else { continue };
            if components.iter().any(|c| c.2 == pid) && !groups.iter().any(|g| g["id"] == pid) {
                groups.push(
                    json!({"id": pid, "name": text(p, "title").unwrap_or(pid), "group": true,
                                   "status": "operational"}),
                );
            }
        }
    }
    let mut listed: Vec<Value> = groups;
    listed.extend(
        components
            .into_iter()
            .map(|(id, name, group, status, updated)| {
                json!({"id": id, "name": name, "group": false, "group_id": group, "status": status,
               "updated_at": updated})
            }),
    );
    open.sort_by_key(|i| text(i, "begin").and_then(parse_time));
    Ok((
        json!({
            "page": {"id": page_id, "name": "Google Cloud", "url": "https://status.cloud.google.com"},
            "components": listed,
            "incidents": open.iter().filter_map(|i| incident(i)).collect::<Vec<_>>(),
            "scheduled_maintenances": [],
        }),
        done.iter().filter_map(|i| incident(i)).collect(),
    ))
}

#[cfg(test)]
#[path = "gcp_table.rs"]
mod table;
