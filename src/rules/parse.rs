//! Turns a Statuspage webhook body (already valid JSON) into a typed event.
//!
//! Lenient on purpose: every field is optional, enums are open, timestamps in
//! any of Statuspage's ISO 8601 forms are normalised to UTC. There is no
//! event-type field, so the body's keys decide: `incident` → incident (or
//! scheduled maintenance), `component_update` + `component` → component.
//! Anything else is `Unrecognized` with a reason a person can act on.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::domain::{ComponentStatus, EntityKind, Impact, IncidentStatus};
use super::time::parse_time;

/// One webhook, understood.
#[derive(Debug, Clone, PartialEq)]
pub enum Parsed {
    Incident(IncidentEvent),
    Component(ComponentEvent),
    /// A JSON body whose shape is not one of the two kinds, or that lacks an
    /// id the bridge needs to key it.
    Unrecognized {
        reason: String,
    },
}

/// The latest entry of `incident.incident_updates[]`.
#[derive(Debug, Clone, PartialEq)]
pub struct IncidentUpdate {
    pub id: Option<String>,
    pub status: Option<String>,
    pub body: Option<String>,
    pub created_at: Option<DateTime<Utc>>,
}

/// A component named by an incident, in `components[]` or in the latest
/// update's `affected_components[]`.
#[derive(Debug, Clone, PartialEq)]
pub struct ComponentRef {
    pub id: String,
    pub name: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct IncidentEvent {
    pub page_id: String,
    pub incident_id: String,
    pub name: Option<String>,
    /// `None` when the body has no `incident.status`.
    pub status: Option<IncidentStatus>,
    pub impact: Option<Impact>,
    pub impact_override: Option<Impact>,
    pub backfilled: bool,
    pub shortlink: Option<String>,
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
    pub started_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub latest_update: Option<IncidentUpdate>,
    pub components: Vec<ComponentRef>,
}

impl IncidentEvent {
    /// `impact_override` when set, else `impact`.
    pub fn effective_impact(&self) -> Option<&Impact> {
        self.impact_override.as_ref().or(self.impact.as_ref())
    }

    /// The later of `incident.updated_at` and the latest update's
    /// `created_at`: the event's own time, used for ordering.
    pub fn event_time(&self) -> Option<DateTime<Utc>> {
        let update = self.latest_update.as_ref().and_then(|u| u.created_at);
        self.updated_at.max(update)
    }

    /// When the incident started, for `startsAt`.
    pub fn start_time(&self) -> Option<DateTime<Utc>> {
        self.started_at.or(self.created_at)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ComponentEvent {
    pub page_id: String,
    pub component_id: String,
    pub name: Option<String>,
    /// `component.group_id`: the group it belongs to, if any.
    pub group_id: Option<String>,
    /// `component_update.id`: the change's own id.
    pub update_id: Option<String>,
    pub old_status: Option<ComponentStatus>,
    /// `None` when neither `component_update.new_status` nor
    /// `component.status` is present.
    pub new_status: Option<ComponentStatus>,
    pub created_at: Option<DateTime<Utc>>,
}

impl Parsed {
    pub fn kind(&self) -> Option<EntityKind> {
        match self {
            Parsed::Incident(_) => Some(EntityKind::Incident),
            Parsed::Component(_) => Some(EntityKind::Component),
            Parsed::Unrecognized { .. } => None,
        }
    }
}

/// The longest id taken: Statuspage's are 12 characters; a longer one is
/// no id of theirs, and would not fit an index key.
pub const MAX_ID_CHARS: usize = 255;

/// The longest name kept (longer ones are cut, with `…`): names are keys of
/// the name index, so they stay bounded on disk and within PostgreSQL's
/// index row; the raw body keeps the whole name.
pub const MAX_NAME_CHARS: usize = 500;

/// `s` cut to `MAX_NAME_CHARS`, marked with `…` when cut.
pub fn bounded_name(s: String) -> String {
    match s.char_indices().nth(MAX_NAME_CHARS) {
        None => s,
        Some((at, _)) => format!("{}…", &s[..at]),
    }
}

/// Reads a webhook body.
pub fn parse(body: &Value) -> Parsed {
    let parsed = parse_shape(body);
    match long_id(&parsed) {
        Some(what) => Parsed::Unrecognized {
            reason: format!("{what} is longer than {MAX_ID_CHARS} characters: no Statuspage id"),
        },
        None => parsed,
    }
}

/// The first id of the event longer than `MAX_ID_CHARS`, by name.
fn long_id(parsed: &Parsed) -> Option<&'static str> {
    let long = |s: &str| s.chars().count() > MAX_ID_CHARS;
    let long_opt = |s: &Option<String>| s.as_deref().is_some_and(long);
    match parsed {
        Parsed::Incident(e) => {
            if long(&e.page_id) {
                Some("the page id")
            } else if long(&e.incident_id) {
                Some("the incident id")
            } else if e.latest_update.as_ref().is_some_and(|u| long_opt(&u.id)) {
                Some("the incident update's id")
            } else if e.components.iter().any(|c| long(&c.id)) {
                Some("a listed component's id")
            } else {
                None
            }
        }
        Parsed::Component(e) => {
            if long(&e.page_id) {
                Some("the page id")
            } else if long(&e.component_id) {
                Some("the component id")
            } else if long_opt(&e.update_id) || long_opt(&e.group_id) {
                Some("the component update's or group's id")
            } else {
                None
            }
        }
        Parsed::Unrecognized { .. } => None,
    }
}

fn parse_shape(body: &Value) -> Parsed {
    let Some(obj) = body.as_object() else {
        return Parsed::Unrecognized {
            reason: format!("body is a JSON {}, not an object", json_type(body)),
        };
    };
    let page_id = str_at(body, &["page", "id"]);
    if let Some(incident) = obj.get("incident").filter(|v| v.is_object()) {
        return parse_incident(incident, page_id);
    }
    let update = obj.get("component_update").filter(|v| v.is_object());
    let component = obj.get("component").filter(|v| v.is_object());
    if let (Some(update), Some(component)) = (update, component) {
        return parse_component(update, component, page_id);
    }
    let mut keys: Vec<String> = obj.keys().map(|k| bounded_key(k)).collect();
    keys.sort_unstable();
    let more = keys.len().saturating_sub(MAX_KEYS_SHOWN);
    keys.truncate(MAX_KEYS_SHOWN);
    if more > 0 {
        keys.push(format!("… {more} more"));
    }
    Parsed::Unrecognized {
        reason: format!(
            "neither an incident nor a component update (top-level keys: {})",
            if keys.is_empty() {
                "none".to_owned()
            } else {
                keys.join(", ")
            }
        ),
    }
}

fn parse_incident(incident: &Value, page_id: Option<String>) -> Parsed {
    let Some(incident_id) = str_at(incident, &["id"]) else {
        return Parsed::Unrecognized {
            reason: "incident has no id".into(),
        };
    };
    let Some(page_id) = page_id
        .or_else(|| str_at(incident, &["page_id"]))
        .or_else(|| str_at(incident, &["organization_id"]))
    else {
        return Parsed::Unrecognized {
            reason: "incident has no page id (page.id, incident.page_id)".into(),
        };
    };
    let latest = incident
        .get("incident_updates")
        .and_then(Value::as_array)
        .and_then(|updates| updates.first());
    let latest_update = latest.map(|u| IncidentUpdate {
        id: str_at(u, &["id"]),
        status: str_at(u, &["status"]),
        body: str_at(u, &["body"]),
        created_at: time_at(u, &["created_at"]),
    });

    let mut components: Vec<ComponentRef> = Vec::new();
    let mut add = |id: Option<String>, name: Option<String>| {
        if let Some(id) = id
            && !components.iter().any(|c| c.id == id)
        {
            components.push(ComponentRef { id, name });
        }
    };
    for c in array_at(incident, "components") {
        add(str_at(c, &["id"]), name_at(c, &["name"]));
    }
    if let Some(u) = latest {
        for c in array_at(u, "affected_components") {
            add(str_at(c, &["code"]), name_at(c, &["name"]));
        }
    }

    Parsed::Incident(IncidentEvent {
        page_id,
        incident_id,
        name: name_at(incident, &["name"]),
        status: str_at(incident, &["status"]).map(|s| IncidentStatus::parse(&s)),
        impact: str_at(incident, &["impact"]).map(|s| Impact::parse(&s)),
        impact_override: str_at(incident, &["impact_override"]).map(|s| Impact::parse(&s)),
        backfilled: incident.get("backfilled").and_then(Value::as_bool) == Some(true),
        shortlink: str_at(incident, &["shortlink"]),
        created_at: time_at(incident, &["created_at"]),
        updated_at: time_at(incident, &["updated_at"]),
        started_at: time_at(incident, &["started_at"]),
        resolved_at: time_at(incident, &["resolved_at"]),
        latest_update,
        components,
    })
}

fn parse_component(update: &Value, component: &Value, page_id: Option<String>) -> Parsed {
    let Some(component_id) =
        str_at(update, &["component_id"]).or_else(|| str_at(component, &["id"]))
    else {
        return Parsed::Unrecognized {
            reason: "component update has no component id".into(),
        };
    };
    let Some(page_id) = page_id.or_else(|| str_at(component, &["page_id"])) else {
        return Parsed::Unrecognized {
            reason: "component update has no page id (page.id, component.page_id)".into(),
        };
    };
    Parsed::Component(ComponentEvent {
        page_id,
        component_id,
        name: name_at(component, &["name"]),
        group_id: str_at(component, &["group_id"]),
        update_id: str_at(update, &["id"]),
        old_status: str_at(update, &["old_status"]).map(|s| ComponentStatus::parse(&s)),
        new_status: str_at(update, &["new_status"])
            .or_else(|| str_at(component, &["status"]))
            .map(|s| ComponentStatus::parse(&s)),
        created_at: time_at(update, &["created_at"]),
    })
}

/// How many of an unknown body's top-level keys its reason names.
const MAX_KEYS_SHOWN: usize = 20;

/// A key as a reason names it: at most 40 characters.
fn bounded_key(k: &str) -> String {
    match k.char_indices().nth(40) {
        None => k.to_owned(),
        Some((at, _)) => format!("{}…", &k[..at]),
    }
}

/// A name at `path`, bounded (see `MAX_NAME_CHARS`).
fn name_at(v: &Value, path: &[&str]) -> Option<String> {
    str_at(v, path).map(bounded_name)
}

/// A non-empty string at `path`; numbers are accepted as ids too.
fn str_at(v: &Value, path: &[&str]) -> Option<String> {
    let mut cur = v;
    for key in path {
        cur = cur.get(key)?;
    }
    match cur {
        Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn array_at<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v.get(key)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

fn time_at(v: &Value, path: &[&str]) -> Option<DateTime<Utc>> {
    str_at(v, path).and_then(|s| parse_time(&s))
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::time::format_time;
    use serde_json::json;

    fn fixture(name: &str) -> Value {
        let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    #[test]
    fn incident_sample_parses() {
        let Parsed::Incident(i) =
            parse(&fixture("01_incident_created_investigating_critical.json"))
        else {
            panic!("not an incident")
        };
        assert_eq!(i.page_id, "x1y2z3a4b5c6");
        assert_eq!(i.incident_id, "lq0v6n2c9t4h");
        assert_eq!(i.status, Some(IncidentStatus::Investigating));
        assert_eq!(i.effective_impact(), Some(&Impact::Critical));
        assert_eq!(
            i.latest_update.as_ref().unwrap().id.as_deref(),
            Some("b3n8s1f6y0gj")
        );
        assert_eq!(
            i.event_time().map(format_time).as_deref(),
            Some("2025-03-04T10:15:02.118Z")
        );
        assert_eq!(i.components.len(), 1);
        assert_eq!(i.components[0].id, "r7p3k9d2m5w1");
    }

    #[test]
    fn old_doc_incident_uses_organization_id_and_offsets() {
        // This sample's `page.id` is present; the fallback is tested below.
        let Parsed::Incident(i) = parse(&fixture(
            "ref_atlassian_doc_incident_monitoring_critical.json",
        )) else {
            panic!("not an incident")
        };
        assert_eq!(i.page_id, "j2mfxwj97wnj");
        assert_eq!(
            i.event_time().map(format_time).as_deref(),
            Some("2013-05-29T22:30:35.000Z")
        );
        let body = json!({"incident": {"id": "i", "organization_id": "org", "status": "resolved"}});
        let Parsed::Incident(i) = parse(&body) else {
            panic!()
        };
        assert_eq!(i.page_id, "org");
    }

    #[test]
    fn override_wins_over_impact() {
        let body = json!({"page": {"id": "p"}, "incident": {"id": "i", "impact": "minor", "impact_override": "critical"}});
        let Parsed::Incident(i) = parse(&body) else {
            panic!()
        };
        assert_eq!(i.effective_impact(), Some(&Impact::Critical));
        let body = json!({"page": {"id": "p"}, "incident": {"id": "i", "impact": "minor", "impact_override": null}});
        let Parsed::Incident(i) = parse(&body) else {
            panic!()
        };
        assert_eq!(i.effective_impact(), Some(&Impact::Minor));
    }

    #[test]
    fn component_sample_parses() {
        let Parsed::Component(c) = parse(&fixture("04_component_back_to_operational.json")) else {
            panic!("not a component")
        };
        assert_eq!(c.page_id, "kctbh9vrtdwd");
        assert_eq!(c.component_id, "br0l2tvcx85d");
        assert_eq!(c.update_id.as_deref(), Some("7k75k63t6fr0"));
        assert_eq!(c.old_status, Some(ComponentStatus::PartialOutage));
        assert_eq!(c.new_status, Some(ComponentStatus::Operational));
        // The doc sample has no component.page_id but has page.id.
        let Parsed::Component(c) = parse(&fixture(
            "ref_atlassian_doc_component_major_outage_to_operational.json",
        )) else {
            panic!()
        };
        assert_eq!(c.page_id, "j2mfxwj97wnj");
    }

    #[test]
    fn unknown_shapes_say_why() {
        for (body, want) in [
            (json!([1, 2]), "JSON array"),
            (json!({"hello": 1, "a": 2}), "top-level keys: a, hello"),
            (json!({"component": {"id": "c"}}), "neither"),
            (json!({"incident": {"name": "x"}}), "no id"),
            (json!({"incident": {"id": "x"}}), "no page id"),
            (
                json!({"component": {}, "component_update": {"id": "u"}}),
                "no component id",
            ),
        ] {
            match parse(&body) {
                Parsed::Unrecognized { reason } => {
                    assert!(reason.contains(want), "{reason} lacks {want}")
                }
                other => panic!("{body} parsed as {other:?}"),
            }
        }
    }

    mod odd_bodies {
        use super::*;
        use proptest::prelude::*;

        /// Any JSON value, a few levels deep.
        fn any_json() -> impl Strategy<Value = Value> {
            let leaf = prop_oneof![
                Just(Value::Null),
                any::<bool>().prop_map(Value::from),
                any::<i64>().prop_map(Value::from),
                any::<f64>().prop_map(|f| json!(f)),
                ".{0,12}".prop_map(Value::from),
                // Values the parser looks for, in the wrong places.
                prop::sample::select(vec![
                    "investigating",
                    "resolved",
                    "major_outage",
                    "operational",
                    "critical",
                    "2025-03-04T10:15:01Z",
                    "not a time",
                    "",
                ])
                .prop_map(Value::from),
            ];
            leaf.prop_recursive(4, 48, 6, |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                    prop::collection::btree_map(
                        prop::sample::select(vec![
                            "incident",
                            "component",
                            "component_update",
                            "page",
                            "id",
                            "name",
                            "status",
                            "impact",
                            "incident_updates",
                            "components",
                            "meta",
                            "created_at",
                            "new_status",
                            "old_status",
                            "x",
                        ])
                        .prop_map(str::to_owned),
                        inner,
                        0..5
                    )
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
                ]
            })
        }

        /// Every path (as `/a/0/b` pointers) in a value.
        fn pointers(v: &Value, at: String, out: &mut Vec<String>) {
            out.push(at.clone());
            match v {
                Value::Object(m) => {
                    for (k, child) in m {
                        pointers(child, format!("{at}/{k}"), out);
                    }
                }
                Value::Array(a) => {
                    for (i, child) in a.iter().enumerate() {
                        pointers(child, format!("{at}/{i}"), out);
                    }
                }
                _ => {}
            }
        }

        const SAMPLES: [&str; 5] = [
            "01_incident_created_investigating_critical.json",
            "02_incident_resolved.json",
            "03_component_major_outage.json",
            "04_component_back_to_operational.json",
            "05_scheduled_maintenance_scheduled.json",
        ];

        proptest! {
            #[test]
            fn any_json_parses_without_panicking(v in any_json()) {
                let _ = parse(&v);
            }

            /// A real sample with one value anywhere replaced by any JSON:
            /// parse never panics, and whatever it reads keeps its ids.
            #[test]
            fn mutated_samples_parse_without_panicking(
                sample in 0..SAMPLES.len(),
                pick in any::<prop::sample::Index>(),
                replacement in any_json(),
            ) {
                let mut v = fixture(SAMPLES[sample]);
                let mut paths = Vec::new();
                pointers(&v, String::new(), &mut paths);
                let path = pick.get(&paths).clone();
                match v.pointer_mut(&path) {
                    Some(slot) => *slot = replacement,
                    None => v = replacement,
                }
                match parse(&v) {
                    Parsed::Incident(ev) => {
                        prop_assert!(!ev.incident_id.is_empty() && !ev.page_id.is_empty());
                    }
                    Parsed::Component(ev) => {
                        prop_assert!(!ev.component_id.is_empty() && !ev.page_id.is_empty());
                    }
                    Parsed::Unrecognized { reason } => prop_assert!(!reason.is_empty()),
                }
            }
        }
    }
}
