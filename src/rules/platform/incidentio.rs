//! incident.io status pages: a Statuspage-compatible `/api/v2/summary.json`
//! and `/api/v2/incidents.json` whose values differ (`full_outage`,
//! `maintenance_in_progress`, …) and whose empty lists are `null`. Each
//! value goes through the tables below; the page's own id is replaced by
//! the configured one.

use serde_json::{Value, json};

use super::{Mapping, mapped};

/// A component's status.
pub const COMPONENT_STATUS: &[Mapping] = &[
    ("operational", "operational"),
    ("degraded_performance", "degraded_performance"),
    ("partial_outage", "partial_outage"),
    ("full_outage", "major_outage"),
    ("major_outage", "major_outage"),
    ("under_maintenance", "under_maintenance"),
];

/// An incident's or a maintenance's status.
pub const INCIDENT_STATUS: &[Mapping] = &[
    ("investigating", "investigating"),
    ("identified", "identified"),
    ("monitoring", "monitoring"),
    ("resolved", "resolved"),
    ("postmortem", "postmortem"),
    ("maintenance_scheduled", "scheduled"),
    ("maintenance_in_progress", "in_progress"),
    ("maintenance_complete", "completed"),
    ("scheduled", "scheduled"),
    ("in_progress", "in_progress"),
    ("verifying", "verifying"),
    ("completed", "completed"),
];

/// An incident's impact: Statuspage's words, or the worst component
/// status it causes.
pub const IMPACT: &[Mapping] = &[
    ("none", "none"),
    ("minor", "minor"),
    ("major", "major"),
    ("critical", "critical"),
    ("maintenance", "maintenance"),
    ("degraded_performance", "minor"),
    ("partial_outage", "major"),
    ("full_outage", "critical"),
];

/// `v[key]` through `table`, in place.
fn map_in(v: &mut Value, key: &str, table: &[Mapping]) {
    if let Some(s) = v.get(key).and_then(Value::as_str) {
        v[key] = json!(mapped(table, s));
    }
}

/// A list that may be `null` (or missing): its items, mapped by `f`.
fn list(v: &Value, key: &str, f: impl Fn(&mut Value)) -> Vec<Value> {
    v.get(key)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|item| {
                    let mut item = item.clone();
                    f(&mut item);
                    item
                })
                .collect()
        })
        .unwrap_or_default()
}

fn component(c: &mut Value) {
    map_in(c, "status", COMPONENT_STATUS);
    if c.get("group").is_none() {
        c["group"] = json!(false);
    }
}

/// An incident or maintenance, its updates and its components mapped.
pub fn incident(i: &mut Value) {
    map_in(i, "status", INCIDENT_STATUS);
    map_in(i, "impact", IMPACT);
    if let Some(updates) = i.get_mut("incident_updates").and_then(Value::as_array_mut) {
        for u in updates {
            map_in(u, "status", INCIDENT_STATUS);
            if let Some(cs) = u
                .get_mut("affected_components")
                .and_then(Value::as_array_mut)
            {
                for c in cs {
                    map_in(c, "old_status", COMPONENT_STATUS);
                    map_in(c, "new_status", COMPONENT_STATUS);
                }
            }
        }
    }
    if let Some(cs) = i.get_mut("components").and_then(Value::as_array_mut) {
        cs.iter_mut().for_each(component);
    }
}

/// The document is an answer of a Statuspage-compatible API: a `page`
/// and the lists it names (each may be `null`).
fn check(v: &Value, lists: &[&str]) -> Result<(), String> {
    if !v.get("page").is_some_and(Value::is_object) {
        return Err("no page object: not a Statuspage-compatible answer".into());
    }
    for k in lists {
        match v.get(*k) {
            Some(Value::Array(_) | Value::Null) => {}
            _ => return Err(format!("no {k} list")),
        }
    }
    Ok(())
}

/// `/api/v2/summary.json` as Statuspage's, of page `page_id`.
pub fn summary(page_id: &str, doc: &Value) -> Result<Value, String> {
    check(doc, &["components", "incidents"])?;
    let mut page = doc["page"].clone();
    page["id"] = json!(page_id);
    Ok(json!({
        "page": page,
        "components": list(doc, "components", component),
        "incidents": list(doc, "incidents", incident),
        "scheduled_maintenances": list(doc, "scheduled_maintenances", incident),
    }))
}

/// `/api/v2/incidents.json`: the recent incidents, resolved ones included.
pub fn recent(doc: &Value) -> Result<Vec<Value>, String> {
    check(doc, &["incidents"])?;
    Ok(list(doc, "incidents", incident))
}

#[cfg(test)]
#[path = "incidentio_table.rs"]
mod table;
