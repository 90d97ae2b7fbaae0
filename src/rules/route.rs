//! Routing: who is told what about an alert (docs/ROUTING.md). The machine
//! decides per entity; this pure step decides, per **destination**, what
//! ITOC360 is told, and says why whenever it is told nothing.
//!
//! Each destination keeps its own view of each alert (open at a priority,
//! or closed). Page filters and routes decide who may be told of an alert
//! **opening**; a destination that has the alert open follows it to its
//! resolve whatever the filters say now, so nothing is left open in ITOC360.

use crate::rules::domain::{Action, EntityKind, Outcome, Priority};

/// The destination of alerts no route takes: `[itoc360]`.
pub const DEFAULT: &str = "default";

/// The routing settings, as the rules use them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    pub pages: Vec<PagePolicy>,
    pub routes: Vec<RoutePolicy>,
    /// `[itoc360]` has a token. With routes and no default token, an alert
    /// no route takes is `unrouted`; with no routes at all it goes to the
    /// default destination as ever (a dry run without a token).
    pub default_has_token: bool,
}

/// What a `[[pages]]` entry says about paging.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PagePolicy {
    pub page_id: String,
    /// Its configured name, if any.
    pub name: Option<String>,
    /// Selectors (ids, names, groups); empty: every component may page.
    pub components: Vec<String>,
    pub ignore_components: Vec<String>,
    pub min_priority: Priority,
    pub incidents: Incidents,
}

impl Default for PagePolicy {
    /// A page with no filters: everything on it may page.
    fn default() -> Self {
        PagePolicy {
            page_id: String::new(),
            name: None,
            components: Vec::new(),
            ignore_components: Vec::new(),
            min_priority: Priority::Low,
            incidents: Incidents::All,
        }
    }
}

/// Which incidents of a page may page.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Incidents {
    #[default]
    All,
    /// Only incidents that list a component that may page.
    Matching,
    None,
}

/// One `[[routes]]` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoutePolicy {
    pub name: String,
    /// Page ids or names; empty: every page.
    pub pages: Vec<String>,
    /// Selectors; empty: every component (and every incident).
    pub components: Vec<String>,
    /// Empty: both kinds.
    pub kinds: Vec<EntityKind>,
    pub min_priority: Priority,
    pub continue_matching: bool,
    /// False: a dry run for this destination (events recorded as skipped).
    pub has_token: bool,
}

/// A component as selectors see it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ComponentFacts {
    pub id: String,
    pub name: Option<String>,
    pub group_id: Option<String>,
}

impl ComponentFacts {
    /// A selector names this component by id, group id, or name (compared
    /// case-insensitively, after trimming).
    fn is(&self, selector: &str) -> bool {
        let s = selector.trim();
        self.id == s
            || self.group_id.as_deref() == Some(s)
            || self
                .name
                .as_deref()
                .is_some_and(|n| n.trim().eq_ignore_ascii_case(s))
    }
}

/// The alert being routed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertFacts {
    pub kind: EntityKind,
    pub page_id: String,
    /// A component alert's component, or the components an incident lists.
    pub components: Vec<ComponentFacts>,
}

impl AlertFacts {
    fn lists(&self, selectors: &[String]) -> bool {
        self.components
            .iter()
            .any(|c| selectors.iter().any(|s| c.is(s)))
    }
}

/// One event for one destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Send {
    pub destination: String,
    pub action: Action,
    pub priority: Priority,
}

/// What routing made of one decision.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Routed {
    pub sends: Vec<Send>,
    /// Set when nothing is sent: the outcome and reason to record instead.
    pub unsent: Option<(Outcome, String)>,
}

impl Policy {
    /// No filters and no routes: everything goes to the default destination.
    pub fn is_plain(&self) -> bool {
        self.routes.is_empty()
            && self.pages.iter().all(|p| {
                p.components.is_empty()
                    && p.ignore_components.is_empty()
                    && p.min_priority == Priority::Low
                    && p.incidents == Incidents::All
            })
    }

    /// The page's configured name.
    pub fn page_name(&self, page_id: &str) -> Option<&str> {
        self.page(page_id).and_then(|p| p.name.as_deref())
    }

    fn page(&self, page_id: &str) -> Option<&PagePolicy> {
        self.pages.iter().find(|p| p.page_id == page_id)
    }

    /// Routes one decision (`action` at `priority`) for an alert whose open
    /// views (destination, priority) are `open`.
    pub fn route(
        &self,
        alert: &AlertFacts,
        action: Action,
        priority: Priority,
        open: &[(String, Priority)],
    ) -> Routed {
        match action {
            Action::Resolve => {
                let sends: Vec<Send> = open
                    .iter()
                    .map(|(d, p)| Send {
                        destination: d.clone(),
                        action: Action::Resolve,
                        priority: *p,
                    })
                    .collect();
                let unsent = sends.is_empty().then(|| {
                    (
                        Outcome::Filtered,
                        "filtered: no destination has this alert open, so there is nothing to resolve"
                            .to_owned(),
                    )
                });
                Routed { sends, unsent }
            }
            Action::Trigger => {
                let opening = self.destinations(alert, priority);
                let mut targets: Vec<&str> = open.iter().map(|(d, _)| d.as_str()).collect();
                if let Ok(names) = &opening {
                    for n in names {
                        if !targets.contains(&n.as_str()) {
                            targets.push(n);
                        }
                    }
                }
                let sends: Vec<Send> = targets
                    .into_iter()
                    .filter(|d| !open.iter().any(|(o, p)| o == d && *p == priority))
                    .map(|d| Send {
                        destination: d.to_owned(),
                        action: Action::Trigger,
                        priority,
                    })
                    .collect();
                let unsent = match (&opening, sends.is_empty() && open.is_empty()) {
                    (Err(why), true) => Some(why.clone()),
                    _ => None,
                };
                Routed { sends, unsent }
            }
        }
    }

    /// Who may be told of this alert opening at `priority`: the page's
    /// filters, then the first matching route and those after it while
    /// each says `continue`, else the default destination.
    fn destinations(
        &self,
        alert: &AlertFacts,
        priority: Priority,
    ) -> Result<Vec<String>, (Outcome, String)> {
        let page = self.page(&alert.page_id);
        if let Some(p) = page {
            self.page_filter(p, alert, priority)
                .map_err(|why| (Outcome::Filtered, format!("filtered: {why}")))?;
        }
        let mut names = Vec::new();
        for r in &self.routes {
            if self.route_matches(r, alert, priority) {
                names.push(r.name.clone());
                if !r.continue_matching {
                    break;
                }
            }
        }
        if names.is_empty() {
            if !self.routes.is_empty() && !self.default_has_token {
                return Err((
                    Outcome::Unrouted,
                    "unrouted: no route matches this alert and [itoc360] has no token".to_owned(),
                ));
            }
            names.push(DEFAULT.to_owned());
        }
        Ok(names)
    }

    fn page_filter(
        &self,
        p: &PagePolicy,
        alert: &AlertFacts,
        priority: Priority,
    ) -> Result<(), String> {
        let page = p.name.as_deref().unwrap_or(&p.page_id);
        let may_page = |c: &ComponentFacts| {
            !p.ignore_components.iter().any(|s| c.is(s))
                && (p.components.is_empty() || p.components.iter().any(|s| c.is(s)))
        };
        match alert.kind {
            EntityKind::Component => {
                if let Some(c) = alert.components.first() {
                    let shown = c.name.as_deref().unwrap_or(&c.id);
                    if p.ignore_components.iter().any(|s| c.is(s)) {
                        return Err(format!("component \"{shown}\" is ignored on page {page}"));
                    }
                    if !may_page(c) {
                        return Err(format!(
                            "component \"{shown}\" is not among the components that may page on page {page}"
                        ));
                    }
                }
            }
            EntityKind::Incident => match p.incidents {
                Incidents::All => {}
                Incidents::None => return Err(format!("incidents do not page on page {page}")),
                Incidents::Matching => {
                    if !alert.components.iter().any(may_page) {
                        return Err(format!(
                            "the incident lists no component that may page on page {page}"
                        ));
                    }
                }
            },
        }
        if priority < p.min_priority {
            return Err(format!(
                "{priority} is below the page's minimum {}",
                p.min_priority
            ));
        }
        Ok(())
    }

    fn route_matches(&self, r: &RoutePolicy, alert: &AlertFacts, priority: Priority) -> bool {
        let page_ok = r.pages.is_empty()
            || r.pages.iter().any(|s| {
                let s = s.trim();
                s == alert.page_id
                    || self
                        .page_name(&alert.page_id)
                        .is_some_and(|n| n.trim().eq_ignore_ascii_case(s))
            });
        let kind_ok = r.kinds.is_empty() || r.kinds.contains(&alert.kind);
        let component_ok = r.components.is_empty() || alert.lists(&r.components);
        page_ok && kind_ok && component_ok && priority >= r.min_priority
    }
}

#[cfg(test)]
#[path = "route_table.rs"]
mod route_table;
