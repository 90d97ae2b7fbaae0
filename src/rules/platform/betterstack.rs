//! Better Stack status pages: webhooks (`event_type` `incident`,
//! `maintenance`, `component_update`) and, for polling, `/index.json`, a
//! JSON:API document whose `included` holds the page's sections,
//! resources (the components), status reports (incidents and
//! maintenances) and their status updates.

use serde_json::{Map, Value, json};

use super::{Mapping, mapped, text};
use crate::rules::time::parse_time;

/// A resource's status (a report's affected resource's too).
pub const RESOURCE_STATUS: &[Mapping] = &[
    ("operational", "operational"),
    ("degraded", "degraded_performance"),
    ("downtime", "major_outage"),
    ("maintenance", "under_maintenance"),
    ("resolved", "operational"),
];

/// A report's (or the page's) `aggregate_state` as an impact.
pub const IMPACT: &[Mapping] = &[
    ("operational", "none"),
    ("degraded", "minor"),
    ("downtime", "critical"),
    ("maintenance", "maintenance"),
    ("resolved", "none"),
];

/// A report's `report_type`: whether it is a maintenance.
pub const REPORT_TYPE: &[Mapping] = &[("manual", "incident"), ("maintenance", "maintenance")];

/// A resource status Better Stack shows for a resource it does not watch:
/// such a resource is not a component.
const NOT_MONITORED: &str = "not_monitored";

/// An id, as JSON:API writes it (a string) or as a number.
fn id_of(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn attrs(v: &Value) -> &Value {
    v.get("attributes").unwrap_or(&Value::Null)
}

/// A report's status: resolved, or going on (`in_progress` for a
/// maintenance, else `investigating`).
fn report_status(aggregate: Option<&str>, maintenance: bool) -> &'static str {
    match aggregate {
        Some("resolved") => {
            if maintenance {
                "completed"
            } else {
                "resolved"
            }
        }
        _ if maintenance => "in_progress",
        _ => "investigating",
    }
}

/// `/index.json` as Statuspage's `summary.json` of page `page_id`, and the
/// resolved reports as its recent list.
pub fn summary(page_id: &str, doc: &Value) -> Result<(Value, Vec<Value>), String> {
    if doc.pointer("/data/type").and_then(Value::as_str) != Some("status_page") {
        return Err("data.type is not status_page: not a Better Stack index.json".into());
    }
    let included: &[Value] = doc
        .get("included")
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice);
    let of_type = |t: &'static str| included.iter().filter(move |v| v["type"] == t);
    let mut components: Vec<Value> = Vec::new();
    for s in of_type("status_page_section") {
        let Some(id) = id_of(s.get("id")) else {
            continue;
        };
        components.push(
            json!({"id": format!("section:{id}"), "name": text(attrs(s), "name").map(str::trim),
                               "group": true, "status": "operational"}),
        );
    }
    let mut names: Vec<(String, String)> = Vec::new();
    for r in of_type("status_page_resource") {
        let a = attrs(r);
        let (Some(id), Some(status)) = (id_of(r.get("id")), text(a, "status")) else {
            continue;
        };
        let name = text(a, "public_name").unwrap_or(&id).trim().to_owned();
        names.push((id.clone(), name.clone()));
        if status == NOT_MONITORED {
            continue;
        }
        let group = id_of(a.get("status_page_section_id")).map(|s| format!("section:{s}"));
        components.push(
            json!({"id": id, "name": name, "group": false, "group_id": group,
                               "status": mapped(RESOURCE_STATUS, status)}),
        );
    }
    let updates: Vec<&Value> = of_type("status_update").collect();
    let mut open = Vec::new();
    let mut maintenances = Vec::new();
    let mut ended = Vec::new();
    for report in of_type("status_report") {
        let a = attrs(report);
        let Some(id) = id_of(report.get("id")) else {
            continue;
        };
        let kind = mapped(REPORT_TYPE, text(a, "report_type").unwrap_or("manual"));
        let maintenance = kind == "maintenance";
        let aggregate = text(a, "aggregate_state");
        let status = report_status(aggregate, maintenance);
        let linked: Vec<String> = report
            .pointer("/relationships/status_updates/data")
            .and_then(Value::as_array)
            .map(|d| d.iter().filter_map(|u| id_of(u.get("id"))).collect())
            .unwrap_or_default();
        let mut mine: Vec<&&Value> = updates
            .iter()
            .filter(|u| id_of(u.get("id")).is_some_and(|uid| linked.contains(&uid)))
            .collect();
        let at = |u: &Value| text(attrs(u), "published_at").and_then(parse_time);
        mine.sort_by_key(|u| std::cmp::Reverse(at(u)));
        let newest = mine.first().and_then(|u| text(attrs(u), "published_at"));
        let incident_updates: Vec<Value> = mine
            .iter()
            .map(|u| {
                json!({"id": id_of(u.get("id")), "status": status,
                       "body": text(attrs(u), "message"),
                       "created_at": text(attrs(u), "published_at")})
            })
            .collect();
        let listed: Vec<Value> = a
            .get("affected_resources")
            .and_then(Value::as_array)
            .map(|rs| {
                rs.iter()
                    .filter_map(|r| {
                        let rid = id_of(r.get("status_page_resource_id"))?;
                        let name = names
                            .iter()
                            .find(|(i, _)| *i == rid)
                            .map(|(_, n)| n.clone());
                        Some(json!({"id": rid, "name": name}))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let impact = if maintenance {
            "maintenance".to_owned()
        } else {
            match aggregate {
                Some("resolved") | None => "minor".to_owned(),
                Some(s) => mapped(IMPACT, s),
            }
        };
        let mut m = Map::new();
        m.insert("id".into(), json!(id));
        m.insert("name".into(), json!(text(a, "title")));
        m.insert("status".into(), json!(status));
        m.insert("impact".into(), json!(impact));
        m.insert("created_at".into(), json!(text(a, "starts_at")));
        m.insert("started_at".into(), json!(text(a, "starts_at")));
        m.insert(
            "updated_at".into(),
            json!(
                newest
                    .or_else(|| text(a, "ends_at"))
                    .or_else(|| text(a, "starts_at"))
            ),
        );
        if maintenance {
            m.insert("scheduled_for".into(), json!(text(a, "starts_at")));
            m.insert("scheduled_until".into(), json!(text(a, "ends_at")));
        }
        m.insert("incident_updates".into(), Value::Array(incident_updates));
        m.insert("components".into(), Value::Array(listed));
        let v = Value::Object(m);
        match (status, maintenance) {
            ("resolved" | "completed", _) => ended.push(v),
            (_, true) => maintenances.push(v),
            (_, false) => open.push(v),
        }
    }
    let page = attrs(&doc["data"]);
    Ok((
        json!({
            "page": {"id": page_id, "name": text(page, "company_name").map(str::trim)},
            "components": components,
            "incidents": open,
            "scheduled_maintenances": maintenances,
        }),
        ended,
    ))
}

/// A webhook as Atlassian's. Better Stack's incident webhooks carry no
/// status: an incident is going on unless it says it is resolved (a
/// `status` or a `resolved_at`); its resolve otherwise comes from the next
/// round of a polled page.
pub fn webhook(v: &Value) -> Result<Value, String> {
    let Some(obj) = v.as_object() else {
        return Err("not a JSON object".into());
    };
    let event = text(v, "event_type").ok_or("no event_type: not a Better Stack webhook")?;
    let page_id = id_of(v.pointer("/page/id")).ok_or("no page.id")?;
    let page = json!({"id": page_id});
    let indicator = v.pointer("/page/status_indicator").and_then(Value::as_str);
    let report = |key: &str, updates_key: &str, maintenance: bool| -> Result<Value, String> {
        let i = obj
            .get(key)
            .filter(|i| i.is_object())
            .ok_or_else(|| format!("event_type {event} without its {key} object"))?;
        let id = id_of(i.get("id")).ok_or_else(|| format!("{key} has no id"))?;
        let resolved = text(i, "status") == Some("resolved")
            || text(i, "aggregate_state") == Some("resolved")
            || text(i, "resolved_at").is_some();
        let status = report_status(resolved.then_some("resolved"), maintenance);
        let impact = if maintenance {
            "maintenance".to_owned()
        } else {
            match indicator {
                Some(s) if !resolved => mapped(IMPACT, s),
                _ => "minor".to_owned(),
            }
        };
        let mut updates: Vec<Value> = i
            .get(updates_key)
            .and_then(Value::as_array)
            .map(|us| {
                us.iter()
                    .map(|u| {
                        json!({"id": id_of(u.get("id")), "status": status,
                               "body": text(u, "body"), "created_at": text(u, "created_at")})
                    })
                    .collect()
            })
            .unwrap_or_default();
        let at = |u: &Value| text(u, "created_at").and_then(parse_time);
        updates.sort_by_key(|u| std::cmp::Reverse(at(u)));
        let mut m = Map::new();
        m.insert("id".into(), json!(id));
        for k in [
            "name",
            "created_at",
            "updated_at",
            "shortlink",
            "resolved_at",
        ] {
            if let Some(s) = text(i, k) {
                m.insert(k.into(), json!(s));
            }
        }
        m.insert("status".into(), json!(status));
        m.insert("impact".into(), json!(impact));
        if maintenance {
            m.insert("scheduled_for".into(), json!(text(i, "starts_at")));
            m.insert("scheduled_until".into(), json!(text(i, "ends_at")));
        }
        m.insert("incident_updates".into(), Value::Array(updates));
        m.insert("components".into(), json!([]));
        Ok(json!({"page": page, "incident": m}))
    };
    match event {
        "incident" => report("incident", "incident_updates", false),
        "maintenance" => report("maintenance", "maintenance_updates", true),
        "component_update" => {
            let c = obj
                .get("component")
                .filter(|c| c.is_object())
                .ok_or("component_update without its component object")?;
            let id = id_of(c.get("id")).ok_or("component has no id")?;
            let u = obj.get("component_update").unwrap_or(&Value::Null);
            let new = text(u, "new_status").or_else(|| text(c, "status"));
            let mut update = Map::new();
            update.insert("component_id".into(), json!(id));
            if let Some(uid) = id_of(u.get("id")) {
                update.insert("id".into(), json!(uid));
            }
            if let Some(s) = text(u, "old_status") {
                update.insert("old_status".into(), json!(mapped(RESOURCE_STATUS, s)));
            }
            if let Some(s) = new {
                update.insert("new_status".into(), json!(mapped(RESOURCE_STATUS, s)));
            }
            if let Some(t) = text(u, "created_at").or_else(|| text(c, "updated_at")) {
                update.insert("created_at".into(), json!(t));
            }
            Ok(json!({"page": page, "component_update": update,
                      "component": {"id": id, "name": text(c, "name").or_else(|| text(c, "public_name")),
                                    "status": new.map(|s| mapped(RESOURCE_STATUS, s))}}))
        }
        other => Err(format!(
            "event_type \"{}\" is not one of incident, maintenance, component_update",
            crate::rules::parse::bounded_name(other.to_owned())
        )),
    }
}

#[cfg(test)]
#[path = "betterstack_table.rs"]
mod table;
