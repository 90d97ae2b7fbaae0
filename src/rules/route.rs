//! Routing: who is told what about an alert (docs/ROUTING.md). The machine
//! decides per entity; this pure step decides, per **destination**, what
//! ITOC360 is told, and says why whenever it is told nothing.
//!
//! Each destination keeps its own view of each alert (open at a priority,
//! or closed). Page filters and routes decide who may be told of an alert
//! **opening**; a destination that has the alert open follows it to its
//! resolve whatever the filters say now, so nothing is left open in ITOC360.

use chrono::{DateTime, Duration, Utc};

use crate::rules::alert::{AlertFacts, ComponentFacts};
use crate::rules::domain::{Action, EntityKind, Outcome, Priority};
use crate::rules::silence::{self, Silence};

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
    /// The platform it runs on (its `kind`): titles name it.
    pub platform: crate::rules::platform::Platform,
    /// Its configured name, if any.
    pub name: Option<String>,
    /// Selectors (ids, names, groups); empty: every component may page.
    pub components: Vec<String>,
    pub ignore_components: Vec<String>,
    pub min_priority: Priority,
    pub incidents: Incidents,
    /// Grace periods for every destination of the page (a route's own win).
    pub delays: Delays,
}

/// Grace periods (docs/ROUTING.md, "Grace periods"); `None`: not set here.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Delays {
    /// A component's opening trigger waits this long.
    pub page_after_secs: Option<u64>,
    /// A resolve waits this long; a reopen meanwhile cancels it.
    pub resolve_after_secs: Option<u64>,
}

impl Default for PagePolicy {
    /// A page with no filters: everything on it may page.
    fn default() -> Self {
        PagePolicy {
            page_id: String::new(),
            platform: Default::default(),
            name: None,
            components: Vec::new(),
            ignore_components: Vec::new(),
            min_priority: Priority::Low,
            incidents: Incidents::All,
            delays: Delays::default(),
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
    pub delays: Delays,
}

/// One destination's view of one alert, as stored: it has the alert open
/// at `priority` (or will, once a held trigger goes out).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct View {
    pub destination: String,
    pub priority: Priority,
    /// An event decided for it and held, not sent yet.
    pub held: Option<Held>,
}

impl View {
    /// Open there, nothing held.
    pub fn open(destination: &str, priority: Priority) -> View {
        View {
            destination: destination.to_owned(),
            priority,
            held: None,
        }
    }
}

/// An event held in the outbox until a time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    pub outbox_id: i64,
    pub action: Action,
    /// When the hold began (for a trigger, when the view opened).
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
    pub by: HeldBy,
}

/// Why and until when an event waits before it is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hold {
    pub until: DateTime<Utc>,
    pub by: HeldBy,
}

/// What holds an event, as `outbox.held_by` stores it: `page_after_secs`,
/// `resolve_after_secs` or `silence <id>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeldBy {
    /// A component's grace period before paging.
    PageAfter,
    /// The wait before a resolve is sent.
    ResolveAfter,
    /// A silence, by id.
    Silence(String),
}

impl HeldBy {
    pub fn parse(s: &str) -> Option<HeldBy> {
        match s {
            "page_after_secs" => Some(HeldBy::PageAfter),
            "resolve_after_secs" => Some(HeldBy::ResolveAfter),
            _ => s
                .strip_prefix("silence ")
                .map(|id| HeldBy::Silence(id.to_owned())),
        }
    }
}

impl std::fmt::Display for HeldBy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HeldBy::PageAfter => f.write_str("page_after_secs"),
            HeldBy::ResolveAfter => f.write_str("resolve_after_secs"),
            HeldBy::Silence(id) => write!(f, "silence {id}"),
        }
    }
}

impl serde::Serialize for HeldBy {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// The bridge's clock and the silences in force, for one decision.
#[derive(Debug, Clone, Copy)]
pub struct Quiet<'a> {
    pub now: DateTime<Utc>,
    pub silences: &'a [Silence],
}

/// One event for one destination; sent when due, or held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    pub destination: String,
    pub action: Action,
    pub priority: Priority,
    pub hold: Option<Hold>,
}

/// A held event that is no longer wanted: withdrawn from one destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Withdraw {
    pub destination: String,
    pub outbox_id: i64,
    /// What to queue instead if the held event went out in the meantime
    /// (its time came while this decision was being made), so ITOC360
    /// still ends where the bridge believes it is.
    pub fallback: Option<(Action, Priority)>,
}

/// A destination's view after the decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViewAfter {
    pub destination: String,
    /// `None`: closed there.
    pub open: Option<Priority>,
    /// The event held for it, if any (its outbox row is the send's).
    pub held: Option<(Action, Hold)>,
}

/// What routing made of one decision.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Routed {
    pub sends: Vec<Outgoing>,
    pub cancels: Vec<Withdraw>,
    /// Every destination whose view changes.
    pub views: Vec<ViewAfter>,
    /// Set when no destination is told now or later: the outcome and
    /// reason to record instead.
    pub unsent: Option<(Outcome, String)>,
    /// Said in the reason when some destinations are told and others not.
    pub notes: Vec<String>,
}

impl Routed {
    fn send(&mut self, destination: &str, action: Action, priority: Priority, hold: Option<Hold>) {
        let view = ViewAfter {
            destination: destination.to_owned(),
            open: match (action, &hold) {
                (Action::Trigger, _) => Some(priority),
                (Action::Resolve, Some(_)) => Some(priority),
                (Action::Resolve, None) => None,
            },
            held: hold.clone().map(|h| (action, h)),
        };
        self.set_view(view);
        self.sends.push(Outgoing {
            destination: destination.to_owned(),
            action,
            priority,
            hold,
        });
    }

    fn set_view(&mut self, view: ViewAfter) {
        self.views.retain(|v| v.destination != view.destination);
        self.views.push(view);
    }
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
                    && p.delays == Delays::default()
            })
    }

    /// The grace periods for an alert of `page_id` at `destination`: the
    /// route's, else the page's, else none.
    pub fn delays(&self, page_id: &str, destination: &str) -> (u64, u64) {
        let page = self.page(page_id).map(|p| p.delays).unwrap_or_default();
        let route = self
            .routes
            .iter()
            .find(|r| r.name == destination)
            .map(|r| r.delays)
            .unwrap_or_default();
        (
            route.page_after_secs.or(page.page_after_secs).unwrap_or(0),
            route
                .resolve_after_secs
                .or(page.resolve_after_secs)
                .unwrap_or(0),
        )
    }

    /// The platform a configured page runs on.
    pub fn platform(&self, page_id: &str) -> Option<crate::rules::platform::Platform> {
        self.page(page_id).map(|p| p.platform)
    }

    /// The page's configured name.
    pub fn page_name(&self, page_id: &str) -> Option<&str> {
        self.page(page_id).and_then(|p| p.name.as_deref())
    }

    /// The alert's page name: configured, else learned.
    pub fn page_name_of<'a>(&'a self, alert: &'a AlertFacts) -> Option<&'a str> {
        self.page_name(&alert.page_id)
            .or(alert.page_name.as_deref())
    }

    /// A page as shown on the audit pages and in reasons: its configured
    /// name, else the `learned` one, else its id.
    pub fn page_shown<'a>(&'a self, page_id: &'a str, learned: Option<&'a str>) -> &'a str {
        self.page_name(page_id).or(learned).unwrap_or(page_id)
    }

    /// `selector` (from a route's or a silence's `pages`) names the alert's
    /// page by id, configured name or learned name.
    pub fn names_page(&self, alert: &AlertFacts, selector: &str) -> bool {
        alert.names_page(self.page_name(&alert.page_id), selector)
    }

    fn page(&self, page_id: &str) -> Option<&PagePolicy> {
        self.pages.iter().find(|p| p.page_id == page_id)
    }

    /// Routes one decision (`action` at `priority`) for an alert whose
    /// destinations' views are `views`.
    pub fn route(
        &self,
        alert: &AlertFacts,
        action: Action,
        priority: Priority,
        views: &[View],
        quiet: &Quiet<'_>,
    ) -> Routed {
        match action {
            Action::Resolve => self.route_resolve(alert, views, quiet),
            Action::Trigger => self.route_trigger(alert, priority, views, quiet),
        }
    }

    /// A resolve goes to every destination that has the alert open (held
    /// for `resolve_after_secs` where set); a trigger still held is
    /// cancelled instead: nothing was paged, so nothing is resolved.
    fn route_resolve(&self, alert: &AlertFacts, views: &[View], quiet: &Quiet<'_>) -> Routed {
        let mut r = Routed::default();
        let mut recovered = Vec::new();
        let mut silenced = Vec::new();
        for v in views {
            match &v.held {
                Some(h) if h.action == Action::Trigger => {
                    r.cancels.push(Withdraw {
                        destination: v.destination.clone(),
                        outbox_id: h.outbox_id,
                        fallback: Some((Action::Resolve, v.priority)),
                    });
                    r.set_view(ViewAfter {
                        destination: v.destination.clone(),
                        open: None,
                        held: None,
                    });
                    if matches!(h.by, HeldBy::Silence(_)) {
                        silenced.push(format!(
                            "the trigger held at {} by {} was never sent, so there is nothing to resolve",
                            v.destination, h.by
                        ));
                    } else {
                        recovered.push(format!(
                            "recovered within {} s: not paged",
                            (h.until - h.since).num_seconds()
                        ));
                    }
                }
                // Its resolve is held already.
                Some(_) => {}
                None => {
                    let (_, resolve_after) = self.delays(&alert.page_id, &v.destination);
                    let hold = (resolve_after > 0).then(|| Hold {
                        until: quiet.now + secs(resolve_after),
                        by: HeldBy::ResolveAfter,
                    });
                    r.send(&v.destination, Action::Resolve, v.priority, hold);
                }
            }
        }
        if r.sends.is_empty() {
            r.unsent = Some(if let Some(why) = recovered.first() {
                (Outcome::Recovered, why.clone())
            } else if !silenced.is_empty() {
                (
                    Outcome::Silenced,
                    format!("silenced: {}", silenced.join("; ")),
                )
            } else {
                (
                    Outcome::Filtered,
                    "filtered: no destination has this alert open, so there is nothing to resolve"
                        .to_owned(),
                )
            });
        } else {
            r.notes.extend(recovered);
            r.notes.extend(silenced);
        }
        r
    }

    /// A destination that has the alert follows its priority; one whose
    /// resolve is held keeps it open. A destination the filters and routes
    /// choose for the opening is told now, or after `page_after_secs`
    /// (components), or when the silences matching it end.
    fn route_trigger(
        &self,
        alert: &AlertFacts,
        priority: Priority,
        views: &[View],
        quiet: &Quiet<'_>,
    ) -> Routed {
        let mut r = Routed::default();
        for v in views {
            match &v.held {
                None => {
                    if v.priority != priority {
                        r.send(&v.destination, Action::Trigger, priority, None);
                    }
                }
                Some(h) if h.action == Action::Resolve => {
                    r.cancels.push(Withdraw {
                        destination: v.destination.clone(),
                        outbox_id: h.outbox_id,
                        fallback: (v.priority == priority).then_some((Action::Trigger, priority)),
                    });
                    r.set_view(ViewAfter {
                        destination: v.destination.clone(),
                        open: Some(v.priority),
                        held: None,
                    });
                    r.notes.push(format!(
                        "the resolve held at {} is cancelled: the alert stays open there",
                        v.destination
                    ));
                    if v.priority != priority {
                        r.send(&v.destination, Action::Trigger, priority, None);
                    }
                }
                Some(h) => {
                    if v.priority != priority {
                        r.cancels.push(Withdraw {
                            destination: v.destination.clone(),
                            outbox_id: h.outbox_id,
                            fallback: None,
                        });
                        let hold = Hold {
                            until: h.until,
                            by: h.by.clone(),
                        };
                        r.notes.push(format!(
                            "still held at {} ({}): sent at the priority it has then",
                            v.destination, h.by
                        ));
                        r.send(&v.destination, Action::Trigger, priority, Some(hold));
                    }
                }
            }
        }
        let opening = self.destinations(alert, priority);
        let names = match opening {
            Ok(names) => names,
            Err(why) => {
                if views.is_empty() {
                    r.unsent = Some(why);
                }
                return r;
            }
        };
        let mut told = !views.is_empty();
        let mut silenced = Vec::new();
        for n in names {
            if views.iter().any(|v| v.destination == n) {
                continue;
            }
            let (page_after, _) = self.delays(&alert.page_id, &n);
            let mut hold = (alert.kind == EntityKind::Component && page_after > 0).then(|| Hold {
                until: quiet.now + secs(page_after),
                by: HeldBy::PageAfter,
            });
            let matching = silence::matching(
                quiet.silences,
                alert,
                self.page_name(&alert.page_id),
                &n,
                quiet.now,
            );
            match matching.iter().max_by_key(|s| s.end()) {
                Some(s) => {
                    let until = hold.as_ref().map_or(s.end(), |h| h.until.max(s.end()));
                    hold = Some(Hold {
                        until,
                        by: HeldBy::Silence(s.id.clone()),
                    });
                    silenced.push(format!("{} matches at {n}", s.label()));
                }
                None => told = true,
            }
            r.send(&n, Action::Trigger, priority, hold);
        }
        if silenced.is_empty() {
            return r;
        }
        if told {
            r.notes
                .extend(silenced.into_iter().map(|s| format!("silenced: {s}")));
        } else {
            r.unsent = Some((
                Outcome::Silenced,
                format!("silenced: {}", silenced.join("; ")),
            ));
        }
        r
    }

    /// Who may be told of this alert opening at `priority`: the page's
    /// filters, then the first matching route and those after it while
    /// each says `continue`, else the default destination.
    pub fn destinations(
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
        let page = self.page_shown(&p.page_id, alert.page_name.as_deref());
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
            // An alert about the page itself: the page's filters name
            // components and incidents, not it.
            EntityKind::Page => {}
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
        let page_ok = r.pages.is_empty() || r.pages.iter().any(|s| self.names_page(alert, s));
        let kind_ok = r.kinds.is_empty() || r.kinds.contains(&alert.kind);
        let component_ok = r.components.is_empty() || alert.lists(&r.components);
        page_ok && kind_ok && component_ok && priority >= r.min_priority
    }
}

fn secs(n: u64) -> Duration {
    Duration::seconds(
        i64::try_from(n)
            .unwrap_or(i64::MAX / 1000)
            .min(10 * 365 * 86_400),
    )
}

#[cfg(test)]
#[path = "route_table.rs"]
mod route_table;
