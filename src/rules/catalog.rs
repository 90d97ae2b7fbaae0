//! What a page is made of, as its `summary.json` says (docs/ROUTING.md):
//! its name and its components and groups. Reconcile stores it each round;
//! the rules use it for page names in titles and for filters that name a
//! group by its name; this module also finds the filters that name nothing
//! the page has, and tells, for `pages components`, what the current rules
//! would do with each component. Pure: no I/O.

use serde::Serialize;
use serde_json::Value;

use crate::rules::alert::{AlertFacts, ComponentFacts};
use crate::rules::domain::{EntityKind, Priority};
use crate::rules::heal::{Unusable, checked};
use crate::rules::route::Policy;

/// One page's name and components.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Catalog {
    pub page_id: String,
    pub name: Option<String>,
    /// In the page's order; groups included.
    pub components: Vec<Listed>,
}

/// A component (or group) of a page.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Listed {
    pub id: String,
    pub name: Option<String>,
    /// A group: its components page, never the group itself.
    pub is_group: bool,
    pub group_id: Option<String>,
    pub group_name: Option<String>,
    pub status: Option<String>,
}

impl Listed {
    /// As selectors see it.
    pub fn facts(&self) -> ComponentFacts {
        ComponentFacts {
            id: self.id.clone(),
            name: self.name.clone(),
            group_id: self.group_id.clone(),
            group_name: self.group_name.clone(),
        }
    }
}

/// A non-empty string of `v`; a name bounded as a webhook's is
/// (`parse::bounded_name`).
fn text(v: &Value, key: &str) -> Option<String> {
    v.get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| match key {
            "name" => crate::rules::parse::bounded_name(s.to_owned()),
            _ => s.to_owned(),
        })
}

/// An id a component of the page may have: present, and no longer than a
/// webhook's may be (`parse::MAX_ID_CHARS`).
fn usable_id(c: &Value) -> bool {
    text(c, "id").is_some_and(|id| id.chars().count() <= crate::rules::parse::MAX_ID_CHARS)
}

/// Reads the page's name and components from `summary.json`.
pub fn read_catalog(v: &Value, page_id: &str) -> Result<Catalog, Unusable> {
    checked(v, page_id, &["components"])?;
    let raw: Vec<&Value> = v["components"]
        .as_array()
        .map(|a| a.iter().filter(|c| usable_id(c)).collect())
        .unwrap_or_default();
    let group_name = |gid: &str| {
        raw.iter()
            .find(|c| c.get("id").and_then(Value::as_str) == Some(gid))
            .and_then(|g| text(g, "name"))
    };
    let components = raw
        .iter()
        .map(|c| {
            let group_id = text(c, "group_id");
            Listed {
                id: text(c, "id").unwrap_or_default(),
                name: text(c, "name"),
                is_group: c.get("group").and_then(Value::as_bool) == Some(true),
                group_name: group_id.as_deref().and_then(group_name),
                group_id,
                status: text(c, "status"),
            }
        })
        .collect();
    Ok(Catalog {
        page_id: page_id.to_owned(),
        name: text(&v["page"], "name"),
        components,
    })
}

impl Catalog {
    /// Some component or group of the page is what `selector` names.
    pub fn has(&self, selector: &str) -> bool {
        self.components.iter().any(|c| c.facts().is(selector))
    }

    /// The page as shown: configured name, else learned name, else id.
    pub fn label<'a>(&'a self, policy: &'a Policy) -> &'a str {
        policy.page_shown(&self.page_id, self.name.as_deref())
    }

    fn alert(&self, c: &Listed) -> AlertFacts {
        AlertFacts {
            kind: EntityKind::Component,
            page_id: self.page_id.clone(),
            page_name: self.name.clone(),
            entity_id: c.id.clone(),
            components: vec![c.facts()],
        }
    }
}

/// A filter naming nothing the page (or pages) it applies to has.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unknown {
    /// Where it is written: `[[pages]] GitHub: components`,
    /// `[[routes]] payments: components`.
    pub key: String,
    pub selector: String,
    /// The pages it was looked for on, as shown.
    pub pages: Vec<String>,
}

impl std::fmt::Display for Unknown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} names \"{}\", which is no component or group of page {}: it matches nothing (a typo?)",
            self.key,
            self.selector,
            self.pages.join(", ")
        )
    }
}

/// The filters and routes naming a component or group that none of the
/// pages they apply to has, among the pages whose components are known.
/// A page not learned yet is not judged; a route whose pages are all
/// unknown is not either.
pub fn unknown_selectors(policy: &Policy, catalogs: &[Catalog]) -> Vec<Unknown> {
    let mut found = Vec::new();
    for p in &policy.pages {
        let Some(c) = catalogs.iter().find(|c| c.page_id == p.page_id) else {
            continue;
        };
        let lists = [
            ("components", &p.components),
            ("ignore_components", &p.ignore_components),
        ];
        for (key, selectors) in lists {
            for s in selectors.iter().filter(|s| !c.has(s)) {
                found.push(Unknown {
                    key: format!("[[pages]] {}: {key}", c.label(policy)),
                    selector: s.clone(),
                    pages: vec![c.label(policy).to_owned()],
                });
            }
        }
    }
    for r in &policy.routes {
        let on: Vec<&Catalog> = catalogs
            .iter()
            .filter(|c| {
                r.pages.is_empty() || {
                    let alert = c.alert(&Listed::default());
                    r.pages.iter().any(|s| policy.names_page(&alert, s))
                }
            })
            .collect();
        if on.is_empty() {
            continue;
        }
        for s in r.components.iter().filter(|s| !on.iter().any(|c| c.has(s))) {
            found.push(Unknown {
                key: format!("[[routes]] {}: components", r.name),
                selector: s.clone(),
                pages: on.iter().map(|c| c.label(policy).to_owned()).collect(),
            });
        }
    }
    found
}

/// What the current rules would do with a component's own alert.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    /// Whether it may page at all.
    pub pages: bool,
    /// Where it would go.
    pub destinations: Vec<String>,
    /// Why it would not page.
    pub why: Option<String>,
}

/// The priority a component's alert has when no incident raises it.
pub const COMPONENT_PRIORITY: Priority = Priority::Medium;

/// Whether `c` may page and where, for its own alert at the priority it has
/// without an incident (an incident listing it can raise it, and the
/// incident's own alert is routed on its own).
pub fn verdict(policy: &Policy, catalog: &Catalog, c: &Listed) -> Verdict {
    if c.is_group {
        return Verdict {
            pages: false,
            destinations: Vec::new(),
            why: Some("a group: its components page, never the group itself".to_owned()),
        };
    }
    match policy.destinations(&catalog.alert(c), COMPONENT_PRIORITY) {
        Ok(destinations) => Verdict {
            pages: true,
            destinations,
            why: None,
        },
        Err((_, why)) => Verdict {
            pages: false,
            destinations: Vec::new(),
            why: Some(why),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::route::{PagePolicy, RoutePolicy};
    use serde_json::json;

    fn summary() -> Value {
        json!({
            "page": {"id": "gh", "name": "GitHub"},
            "components": [
                {"id": "g1", "name": "Actions", "group": true, "group_id": null, "status": "operational"},
                {"id": "c1", "name": "Runners", "group": false, "group_id": "g1", "status": "major_outage"},
                {"id": "c2", "name": "Git Operations", "group": false, "group_id": null, "status": "operational"},
                {"name": "no id"}
            ],
            "incidents": []
        })
    }

    #[test]
    fn reads_the_name_groups_and_components_in_order() {
        let c = read_catalog(&summary(), "gh").unwrap();
        assert_eq!(c.name.as_deref(), Some("GitHub"));
        let ids: Vec<&str> = c.components.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, ["g1", "c1", "c2"]);
        assert!(c.components[0].is_group);
        assert!(!c.components[1].is_group);
        assert_eq!(c.components[1].group_name.as_deref(), Some("Actions"));
        assert_eq!(c.components[1].status.as_deref(), Some("major_outage"));
        assert_eq!(c.components[2].group_name, None);
        assert!(matches!(
            read_catalog(&summary(), "other"),
            Err(Unusable::OtherPage(_))
        ));
        let nameless = json!({"page": {"id": "gh", "name": "  "}, "components": []});
        assert_eq!(read_catalog(&nameless, "gh").unwrap().name, None);
        assert!(read_catalog(&json!({"page": {"id": "gh"}}), "gh").is_err());
    }

    #[test]
    fn a_selector_names_a_component_or_a_group_by_id_or_name() {
        let c = read_catalog(&summary(), "gh").unwrap();
        for s in ["g1", "actions", " Runners ", "c2", "git operations"] {
            assert!(c.has(s), "{s}");
        }
        for s in ["Runner", "c3", "GitHub"] {
            assert!(!c.has(s), "{s}");
        }
    }

    fn route(name: &str, pages: &[&str], components: &[&str]) -> RoutePolicy {
        RoutePolicy {
            name: name.into(),
            pages: pages.iter().map(|s| s.to_string()).collect(),
            components: components.iter().map(|s| s.to_string()).collect(),
            kinds: Vec::new(),
            min_priority: Priority::Low,
            continue_matching: false,
            has_token: true,
            delays: Default::default(),
        }
    }

    #[test]
    fn filters_naming_nothing_the_page_has_are_found() {
        let gh = read_catalog(&summary(), "gh").unwrap();
        let other = Catalog {
            page_id: "tw".into(),
            name: Some("Twilio".into()),
            components: vec![Listed {
                id: "s1".into(),
                name: Some("SMS".into()),
                ..Listed::default()
            }],
        };
        let policy = Policy {
            pages: vec![
                PagePolicy {
                    page_id: "gh".into(),
                    platform: Default::default(),
                    components: vec!["Actions".into(), "Git Operatons".into()],
                    ignore_components: vec!["Copilot".into()],
                    ..PagePolicy::default()
                },
                // Not learned yet: not judged.
                PagePolicy {
                    page_id: "unseen".into(),
                    platform: Default::default(),
                    components: vec!["Anything".into()],
                    ..PagePolicy::default()
                },
            ],
            routes: vec![
                route("payments", &["Twilio"], &["SMS", "Voice"]),
                route("everything", &[], &["Runners", "SMS", "Email"]),
                route("elsewhere", &["unseen"], &["Nothing"]),
            ],
            default_has_token: true,
        };
        let found = unknown_selectors(&policy, &[gh, other]);
        let seen: Vec<(String, String)> = found
            .iter()
            .map(|u| (u.key.clone(), u.selector.clone()))
            .collect();
        assert_eq!(
            seen,
            [
                (
                    "[[pages]] GitHub: components".into(),
                    "Git Operatons".into()
                ),
                (
                    "[[pages]] GitHub: ignore_components".into(),
                    "Copilot".into()
                ),
                ("[[routes]] payments: components".into(), "Voice".into()),
                ("[[routes]] everything: components".into(), "Email".into()),
            ]
        );
        assert_eq!(found[3].pages, ["GitHub", "Twilio"]);
        assert_eq!(
            found[0].to_string(),
            "[[pages]] GitHub: components names \"Git Operatons\", which is no component or group of page GitHub: it matches nothing (a typo?)"
        );
    }

    #[test]
    fn a_verdict_tells_whether_and_where_a_component_pages() {
        let gh = read_catalog(&summary(), "gh").unwrap();
        let policy = Policy {
            pages: vec![PagePolicy {
                page_id: "gh".into(),
                platform: Default::default(),
                name: Some("GH".into()),
                ignore_components: vec!["Git Operations".into()],
                ..PagePolicy::default()
            }],
            routes: vec![route("ci", &["GitHub"], &["Actions"])],
            default_has_token: false,
        };
        let v: Vec<Verdict> = gh
            .components
            .iter()
            .map(|c| verdict(&policy, &gh, c))
            .collect();
        assert!(!v[0].pages);
        assert!(v[0].why.as_deref().unwrap().contains("a group"));
        assert_eq!(
            v[1],
            Verdict {
                pages: true,
                destinations: vec!["ci".into()],
                why: None
            }
        );
        assert!(!v[2].pages);
        assert_eq!(
            v[2].why.as_deref(),
            Some("filtered: component \"Git Operations\" is ignored on page GH")
        );
        // Above the minimum or not: a component alone is medium.
        let strict = Policy {
            pages: vec![PagePolicy {
                page_id: "gh".into(),
                platform: Default::default(),
                min_priority: Priority::High,
                ..PagePolicy::default()
            }],
            ..Policy::default()
        };
        assert_eq!(
            verdict(&strict, &gh, &gh.components[1]).why.as_deref(),
            Some("filtered: medium is below the page's minimum high")
        );
        let plain = Policy::default();
        assert_eq!(
            verdict(&plain, &gh, &gh.components[2]).destinations,
            ["default"]
        );
        assert_eq!(gh.label(&policy), "GH");
        assert_eq!(gh.label(&plain), "GitHub");
    }
}
