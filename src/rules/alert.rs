//! What the rules know of an alert, below every decision about it: the
//! alert's facts, its components as selectors see them, and how a selector
//! (an id, a name, a group) names a page or a component. Routing and
//! silences both match on these neutral facts.

use crate::rules::domain::EntityKind;

/// A component as selectors see it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ComponentFacts {
    pub id: String,
    pub name: Option<String>,
    pub group_id: Option<String>,
    /// Its group's name, as reconcile learned it from `summary.json`.
    pub group_name: Option<String>,
}

/// Names are compared case-insensitively, after trimming.
fn same_name(name: Option<&str>, selector: &str) -> bool {
    name.is_some_and(|n| n.trim().eq_ignore_ascii_case(selector))
}

impl ComponentFacts {
    /// A selector names this component by its id or name, or by its
    /// group's id or name.
    pub fn is(&self, selector: &str) -> bool {
        let s = selector.trim();
        self.id == s
            || self.group_id.as_deref() == Some(s)
            || same_name(self.name.as_deref(), s)
            || same_name(self.group_name.as_deref(), s)
    }
}

/// The alert being routed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertFacts {
    pub kind: EntityKind,
    pub page_id: String,
    /// The page's name as reconcile learned it (a configured name wins).
    pub page_name: Option<String>,
    pub entity_id: String,
    /// A component alert's component, or the components an incident lists.
    pub components: Vec<ComponentFacts>,
}

impl AlertFacts {
    /// Lists a component one of `selectors` names.
    pub fn lists(&self, selectors: &[String]) -> bool {
        selectors.iter().any(|s| self.lists_one(s))
    }

    /// Lists a component `selector` names.
    pub fn lists_one(&self, selector: &str) -> bool {
        self.components.iter().any(|c| c.is(selector))
    }

    /// `selector` (from a route's or a silence's `pages`) names the alert's
    /// page by id, by `configured` name (`[[pages]] name`) or by the name
    /// reconcile learned.
    pub fn names_page(&self, configured: Option<&str>, selector: &str) -> bool {
        let s = selector.trim();
        s == self.page_id || same_name(configured, s) || same_name(self.page_name.as_deref(), s)
    }
}
