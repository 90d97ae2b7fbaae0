//! Instatus: webhooks in Atlassian's shape with Instatus's UPPERCASE
//! values, and, for polling, `/summary.json` (the page, its active
//! incidents and maintenances) beside `/v2/components.json`.

use chrono::Duration;
use serde_json::{Map, Value, json};

use super::{Mapping, mapped, text};
use crate::rules::time::{format_time, parse_time};

/// A component's status.
pub const COMPONENT_STATUS: &[Mapping] = &[
    ("OPERATIONAL", "operational"),
    ("DEGRADEDPERFORMANCE", "degraded_performance"),
    ("PARTIALOUTAGE", "partial_outage"),
    ("MINOROUTAGE", "partial_outage"),
    ("MAJOROUTAGE", "major_outage"),
    ("UNDERMAINTENANCE", "under_maintenance"),
];

/// An incident's impact: Instatus names it by the worst component status
/// it causes; a major outage is the bridge's critical.
pub const IMPACT: &[Mapping] = &[
    ("OPERATIONAL", "none"),
    ("DEGRADEDPERFORMANCE", "minor"),
    ("MINOROUTAGE", "minor"),
    ("PARTIALOUTAGE", "major"),
    ("MAJOROUTAGE", "critical"),
    ("UNDERMAINTENANCE", "maintenance"),
];

/// An incident's status.
pub const INCIDENT_STATUS: &[Mapping] = &[
    ("INVESTIGATING", "investigating"),
    ("IDENTIFIED", "identified"),
    ("MONITORING", "monitoring"),
    ("RESOLVED", "resolved"),
];

/// A maintenance's status.
pub const MAINTENANCE_STATUS: &[Mapping] = &[
    ("NOTSTARTEDYET", "scheduled"),
    ("INPROGRESS", "in_progress"),
    ("COMPLETED", "completed"),
];

/// `key` of `from` through `table`, when there is one.
fn put_mapped(to: &mut Map<String, Value>, key: &str, from: &Value, table: &[Mapping]) {
    if let Some(v) = text(from, key) {
        to.insert(key.to_owned(), json!(mapped(table, v)));
    }
}

/// `keys` of `from`, as they are.
fn copy(to: &mut Map<String, Value>, from: &Value, keys: &[&str]) {
    for k in keys {
        if let Some(v) = from.get(*k).filter(|v| !v.is_null()) {
            to.insert((*k).to_owned(), v.clone());
        }
    }
}

/// An incident's or a maintenance's updates, newest first as Atlassian
/// lists them, statuses through `table`.
fn updates(list: Option<&Value>, table: &[Mapping]) -> Value {
    let mut out: Vec<Value> = list
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|u| {
                    let mut m = Map::new();
                    copy(&mut m, u, &["id", "body", "created_at", "updated_at"]);
                    put_mapped(&mut m, "status", u, table);
                    Value::Object(m)
                })
                .collect()
        })
        .unwrap_or_default();
    out.sort_by(|a, b| {
        let at = |v: &Value| text(v, "created_at").and_then(parse_time);
        at(b).cmp(&at(a))
    });
    Value::Array(out)
}

/// The components an incident lists, when it lists any.
fn listed(v: &Value) -> Value {
    let list = v
        .get("components")
        .and_then(Value::as_array)
        .map(|cs| {
            cs.iter()
                .filter_map(|c| {
                    let id = text(c, "id")?;
                    Some(json!({"id": id, "name": text(c, "name")}))
                })
                .collect()
        })
        .unwrap_or_default();
    Value::Array(list)
}

/// An incident or a maintenance (an incident with the maintenance
/// statuses and impact `maintenance`) as Atlassian's incident.
fn report(i: &Value, maintenance: bool) -> Map<String, Value> {
    let (updates_key, statuses) = if maintenance {
        ("maintenance_updates", MAINTENANCE_STATUS)
    } else {
        ("incident_updates", INCIDENT_STATUS)
    };
    let mut m = Map::new();
    copy(
        &mut m,
        i,
        &[
            "id",
            "name",
            "created_at",
            "updated_at",
            "resolved_at",
            "backfilled",
        ],
    );
    put_mapped(&mut m, "status", i, statuses);
    if maintenance {
        m.insert("impact".into(), json!("maintenance"));
    } else {
        put_mapped(&mut m, "impact", i, IMPACT);
    }
    if let Some(url) = text(i, "url") {
        m.insert("shortlink".into(), json!(url));
    }
    m.insert(
        "incident_updates".into(),
        updates(i.get(updates_key), statuses),
    );
    m.insert("components".into(), listed(i));
    m
}

/// A webhook as Atlassian's: an incident, a maintenance or a component
/// update.
pub fn webhook(v: &Value) -> Result<Value, String> {
    let Some(obj) = v.as_object() else {
        return Err("not a JSON object".into());
    };
    let page_id = v
        .pointer("/page/id")
        .and_then(Value::as_str)
        .ok_or("no page.id: not an Instatus webhook")?;
    let page = json!({"id": page_id});
    for (key, maintenance) in [("incident", false), ("maintenance", true)] {
        if let Some(i) = obj.get(key).filter(|i| i.is_object()) {
            return Ok(json!({"page": page, "incident": report(i, maintenance)}));
        }
    }
    if let (Some(u), Some(c)) = (
        obj.get("component_update").filter(|u| u.is_object()),
        obj.get("component").filter(|c| c.is_object()),
    ) {
        let mut update = Map::new();
        copy(&mut update, u, &["id", "component_id", "created_at"]);
        put_mapped(&mut update, "old_status", u, COMPONENT_STATUS);
        put_mapped(&mut update, "new_status", u, COMPONENT_STATUS);
        let mut component = Map::new();
        copy(
            &mut component,
            c,
            &["id", "name", "created_at", "updated_at"],
        );
        put_mapped(&mut component, "status", c, COMPONENT_STATUS);
        return Ok(json!({"page": page, "component_update": update, "component": component}));
    }
    let mut keys: Vec<&str> = obj.keys().map(String::as_str).collect();
    keys.sort_unstable();
    keys.truncate(20);
    Err(format!(
        "neither an incident, a maintenance nor a component update (top-level keys: {})",
        if keys.is_empty() {
            "none".to_owned()
        } else {
            keys.join(", ")
        }
    ))
}

/// The components of `/v2/components.json`: an object with a
/// `components` list, or a bare list; a parent's `children` are
/// components of the group it is.
fn components(doc: &Value) -> Result<Vec<Value>, String> {
    let list = doc
        .get("components")
        .or(Some(doc))
        .and_then(Value::as_array)
        .ok_or("components.json holds no components list")?;
    let mut out = Vec::new();
    let mut add = |c: &Value, group_id: Option<&str>| {
        let Some(id) = text(c, "id") else { return };
        let children = c.get("children").and_then(Value::as_array);
        let is_group = c.get("isParent").and_then(Value::as_bool) == Some(true)
            || children.is_some_and(|ch| !ch.is_empty());
        let group = group_id.or_else(|| c.pointer("/group/id").and_then(Value::as_str));
        let mut m = Map::new();
        m.insert("id".into(), json!(id));
        copy(&mut m, c, &["name", "description"]);
        put_mapped(&mut m, "status", c, COMPONENT_STATUS);
        m.insert("group".into(), json!(is_group));
        m.insert("group_id".into(), json!(group));
        out.push(Value::Object(m));
    };
    for c in list {
        add(c, None);
        let parent = text(c, "id");
        for child in c
            .get("children")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            add(child, parent);
        }
    }
    Ok(out)
}

/// An active incident or maintenance of `/summary.json` as Atlassian's:
/// an incident starts at `started`; a maintenance at `start`, for
/// `duration` minutes (a number or a numeric string).
fn active(i: &Value, maintenance: bool) -> Option<Value> {
    let id = text(i, "id").or_else(|| text(i, "url"))?;
    let start_key = if maintenance { "start" } else { "started" };
    let mut m = Map::new();
    m.insert("id".into(), json!(id));
    copy(&mut m, i, &["name"]);
    if maintenance {
        put_mapped(&mut m, "status", i, MAINTENANCE_STATUS);
        m.insert("impact".into(), json!("maintenance"));
        if let Some(start) = text(i, start_key).and_then(parse_time) {
            m.insert("scheduled_for".into(), json!(format_time(start)));
            let minutes = i.get("duration").and_then(|d| {
                d.as_i64()
                    .or_else(|| d.as_str().and_then(|s| s.trim().parse().ok()))
            });
            if let Some(min) = minutes.filter(|m| *m > 0) {
                m.insert(
                    "scheduled_until".into(),
                    json!(format_time(start + Duration::minutes(min))),
                );
            }
        }
    } else {
        put_mapped(&mut m, "status", i, INCIDENT_STATUS);
        put_mapped(&mut m, "impact", i, IMPACT);
        if let Some(t) = text(i, start_key) {
            m.insert("created_at".into(), json!(t));
        }
    }
    if let Some(t) = text(i, "updatedAt").or_else(|| text(i, start_key)) {
        m.insert("updated_at".into(), json!(t));
    }
    if let Some(url) = text(i, "url") {
        m.insert("shortlink".into(), json!(url));
    }
    m.insert("components".into(), listed(i));
    Some(Value::Object(m))
}

/// `/summary.json` and `/v2/components.json` as Atlassian's
/// `summary.json` of page `page_id` (Instatus's summary names no page id).
pub fn summary(page_id: &str, docs: &[Value]) -> Result<Value, String> {
    let [summary, components_doc] = docs else {
        return Err("an Instatus round reads two documents".into());
    };
    let page = summary
        .get("page")
        .filter(|p| text(p, "status").is_some())
        .ok_or("summary.json has no page.status: not an Instatus summary")?;
    let list = |k: &str| {
        summary
            .get(k)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    let incidents: Vec<Value> = list("activeIncidents")
        .iter()
        .filter_map(|i| active(i, false))
        .collect();
    let maintenances: Vec<Value> = list("activeMaintenances")
        .iter()
        .filter_map(|i| active(i, true))
        .collect();
    Ok(json!({
        "page": {"id": page_id, "name": text(page, "name"), "url": text(page, "url")},
        "components": components(components_doc)?,
        "incidents": incidents,
        "scheduled_maintenances": maintenances,
    }))
}

#[cfg(test)]
#[path = "instatus_table.rs"]
mod table;
