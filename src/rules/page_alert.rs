//! Alerts about a page itself, raised by the bridge rather than by a
//! Statuspage entity: today the components a reconcile round grouped
//! (docs/RECONCILE.md, "Many changes at once"). Such an alert reaches the
//! pipeline like a heal — a body of its own shape, stored as a webhook row
//! of kind `page` with origin `reconcile` — so routing, silences, the
//! audit, SQL and replay treat it like any alert. Its fingerprint is
//! `statuspage:<page id>:page:<topic>`. Pure.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::rules::domain::Priority;

/// The key of a page alert's body.
const BODY_KEY: &str = "bridge_page_alert";

/// The topic of the alert naming the components a round grouped.
pub const GROUPED: &str = "grouped";

/// The topic of the alert saying the bridge can no longer see a page
/// (`rules::health`).
pub const SOURCE: &str = "source";

/// What the bridge wants of one page alert: open at a priority with this
/// wording, or closed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageAlertEvent {
    pub page_id: String,
    pub topic: String,
    pub open: bool,
    /// `low` … `critical`; unknown reads as high.
    pub priority: String,
    pub title: String,
    pub message: String,
    pub at: DateTime<Utc>,
    /// What it is about (the grouped components' ids), for the next
    /// round's decision.
    #[serde(default)]
    pub detail: Vec<String>,
}

impl PageAlertEvent {
    /// Its body, as stored.
    pub fn body(&self) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({ BODY_KEY: self })).expect("JSON values serialise")
    }

    /// The page alert a body holds, if it has that shape.
    pub fn read(body: &Value) -> Option<PageAlertEvent> {
        serde_json::from_value(body.get(BODY_KEY)?.clone()).ok()
    }

    pub fn priority(&self) -> Priority {
        Priority::parse(&self.priority).unwrap_or(Priority::High)
    }

    /// `open` while open, `clear` once closed.
    pub fn status(&self) -> &'static str {
        if self.open { "open" } else { "clear" }
    }
}

/// A component a round found in trouble and grouped: id and name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grouped {
    pub id: String,
    pub name: Option<String>,
}

/// The most names a grouped alert's message lists.
const NAMES_LISTED: usize = 50;

/// The round a grouped alert is decided in.
#[derive(Debug, Clone, Copy)]
pub struct Round<'a> {
    pub page_id: &'a str,
    /// The page as titles show it.
    pub page_shown: &'a str,
    pub priority: Priority,
    /// `reconcile.max_triggers_per_round`, for the message.
    pub limit: usize,
    pub at: DateTime<Utc>,
}

/// What becomes of a page's grouped alert after a round:
/// - components grouped now: open, naming them with those it named before
///   that are still in trouble (`detail` keeps their ids);
/// - nothing grouped now, the alert open (`named`: the ids it named), and
///   none of those still in trouble upstream (`troubled`): closed;
/// - otherwise nothing changes (`None`).
pub fn grouped_alert(
    round: Round<'_>,
    named: Option<&[String]>,
    grouped: &[Grouped],
    troubled: &[String],
) -> Option<PageAlertEvent> {
    let Round {
        page_id,
        page_shown,
        priority,
        limit,
        at,
    } = round;
    let still: Vec<&String> = named
        .unwrap_or_default()
        .iter()
        .filter(|id| troubled.contains(id))
        .collect();
    if grouped.is_empty() {
        let open = named?;
        if !still.is_empty() {
            return None;
        }
        return Some(PageAlertEvent {
            page_id: page_id.to_owned(),
            topic: GROUPED.to_owned(),
            open: false,
            priority: priority.as_str().to_owned(),
            title: format!("Components grouped on page {page_shown}: all recovered"),
            message: format!(
                "The {} component(s) a reconcile round grouped on page {page_shown} are operational again.",
                open.len()
            ),
            at,
            detail: Vec::new(),
        });
    }
    let mut detail: Vec<String> = still.into_iter().cloned().collect();
    for g in grouped {
        if !detail.contains(&g.id) {
            detail.push(g.id.clone());
        }
    }
    let mut names: Vec<&str> = grouped
        .iter()
        .map(|g| g.name.as_deref().unwrap_or(&g.id))
        .collect();
    let more = names.len().saturating_sub(NAMES_LISTED);
    names.truncate(NAMES_LISTED);
    let mut listed = names.join(", ");
    if more > 0 {
        listed.push_str(&format!(" and {more} more"));
    }
    Some(PageAlertEvent {
        page_id: page_id.to_owned(),
        topic: GROUPED.to_owned(),
        open: true,
        priority: priority.as_str().to_owned(),
        title: format!(
            "{} more component(s) in trouble on page {page_shown}",
            detail.len()
        ),
        message: format!(
            "One reconcile round found more components in trouble on page {page_shown} than it pages one by one \
             (reconcile.max_triggers_per_round = {limit}). Not paged one by one: {listed}. \
             They are followed as usual (see /events); this alert resolves once all of them are operational again."
        ),
        at,
        detail,
    })
}

/// The round a page's source alert is decided in.
#[derive(Debug, Clone, Copy)]
pub struct SourceRound<'a> {
    pub page_id: &'a str,
    pub page_shown: &'a str,
    /// The page's address (`https://<id>.statuspage.io` or its domain).
    pub page_url: &'a str,
    pub priority: Priority,
    /// How long the page may be unhealthy before the alert opens.
    pub page_after: chrono::Duration,
    pub at: DateTime<Utc>,
}

/// What becomes of a page's source alert given its health: opened once it
/// has been unhealthy for `page_after`, worded with what to do; resolved
/// once the page is `ok`; otherwise unchanged (`None`).
pub fn source_alert(
    round: SourceRound<'_>,
    open: bool,
    h: &crate::rules::health::Health,
) -> Option<PageAlertEvent> {
    use crate::rules::health::HealthState;
    let SourceRound {
        page_id,
        page_shown,
        page_url,
        priority,
        page_after,
        at,
    } = round;
    let event = |open: bool, title: String, message: String| PageAlertEvent {
        page_id: page_id.to_owned(),
        topic: SOURCE.to_owned(),
        open,
        priority: priority.as_str().to_owned(),
        title,
        message,
        at,
        detail: Vec::new(),
    };
    if h.state == HealthState::Ok {
        return open.then(|| {
            event(
                false,
                format!("Page {page_shown} is seen again"),
                format!("The bridge reads page {page_shown} again: {}.", h.why),
            )
        });
    }
    let since = h.since?;
    if open || at - since < page_after {
        return None;
    }
    let todo = match h.state {
        HealthState::Stale => format!(
            "Statuspage has probably quarantined the webhook subscriber (it stops sending after \
             repeated failures). Re-add the webhook subscriber at {page_url}/subscribers \
             (Notifications → Webhook); the bridge is polling the page meanwhile."
        ),
        HealthState::Unreachable => format!(
            "Check the network, DNS and proxy between the bridge and {page_url}; the bridge keeps \
             polling, and webhooks that still arrive are applied."
        ),
        HealthState::Moved => format!(
            "The vendor may have moved its status page to another platform: find its new status \
             page and update this [[pages]] entry (base_url); {page_url} is no longer followed."
        ),
        HealthState::Gone => format!(
            "The page was removed, made private, or its id or API key is wrong: check this \
             [[pages]] entry (id, api_key) against {page_url}."
        ),
        HealthState::Unknown => format!(
            "The bridge has never read this page: check this [[pages]] entry (id, base_url) \
             against {page_url}."
        ),
        HealthState::Ok => unreachable!("handled above"),
    };
    Some(event(
        true,
        format!(
            "Page {page_shown} is {}: the bridge cannot see it",
            h.state.as_str()
        ),
        format!("{}. {todo}", upper_first(&h.why)),
    ))
}

fn upper_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at() -> DateTime<Utc> {
        Utc.timestamp_opt(1_700_000_000, 0).unwrap()
    }

    fn round() -> Round<'static> {
        Round {
            page_id: "p",
            page_shown: "Example",
            priority: Priority::High,
            limit: 20,
            at: at(),
        }
    }

    fn g(id: &str) -> Grouped {
        Grouped {
            id: id.into(),
            name: Some(format!("Name {id}")),
        }
    }

    fn ids(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    /// (named before, grouped now, troubled upstream) → open with these
    /// ids, closed, or unchanged.
    #[test]
    fn the_grouped_alert_follows_what_it_names() {
        type Want = Option<(bool, Vec<String>)>;
        type GroupCase = (Option<Vec<String>>, Vec<Grouped>, Vec<String>, Want);
        let rows: Vec<GroupCase> = vec![
            // Nothing grouped, nothing open: nothing.
            (None, vec![], ids(&["a"]), None),
            // Grouped now: open, naming them.
            (
                None,
                vec![g("a"), g("b")],
                ids(&["a", "b"]),
                Some((true, ids(&["a", "b"]))),
            ),
            // More grouped while open: the ones still in trouble stay named.
            (
                Some(ids(&["a", "b"])),
                vec![g("c")],
                ids(&["b", "c"]),
                Some((true, ids(&["b", "c"]))),
            ),
            // Nothing grouped, some still in trouble: unchanged.
            (Some(ids(&["a", "b"])), vec![], ids(&["b"]), None),
            // Nothing grouped, all recovered: closed.
            (
                Some(ids(&["a", "b"])),
                vec![],
                ids(&["x"]),
                Some((false, vec![])),
            ),
        ];
        for (named, grouped, troubled, want) in rows {
            let got = grouped_alert(round(), named.as_deref(), &grouped, &troubled)
                .map(|e| (e.open, e.detail));
            assert_eq!(got, want, "{named:?} {grouped:?} {troubled:?}");
        }
    }

    /// (health, alert open, minutes unhealthy) → opened, resolved, or
    /// nothing; the wording says what to do.
    #[test]
    fn the_source_alert_follows_the_pages_health() {
        use crate::rules::health::{Health, HealthState};
        let round = SourceRound {
            page_id: "p",
            page_shown: "Example",
            page_url: "https://p.statuspage.io",
            priority: Priority::High,
            page_after: chrono::Duration::minutes(30),
            at: at(),
        };
        let h = |state: HealthState, mins_ago: Option<i64>| Health {
            state,
            since: mins_ago.map(|m| at() - chrono::Duration::minutes(m)),
            why: "the status API shows a change".to_owned(),
        };
        let rows: Vec<(Health, bool, Option<bool>)> = vec![
            (h(HealthState::Ok, Some(5)), false, None),
            (h(HealthState::Ok, Some(5)), true, Some(false)),
            (h(HealthState::Stale, Some(29)), false, None),
            (h(HealthState::Stale, Some(30)), false, Some(true)),
            (h(HealthState::Stale, Some(90)), true, None),
            (h(HealthState::Gone, Some(31)), false, Some(true)),
            (h(HealthState::Unknown, None), false, None),
            (h(HealthState::Unknown, Some(40)), false, Some(true)),
        ];
        for (health, open, want) in rows {
            let got = source_alert(round, open, &health).map(|e| e.open);
            assert_eq!(got, want, "{health:?} open={open}");
        }
        let stale = source_alert(round, false, &h(HealthState::Stale, Some(30))).unwrap();
        assert_eq!(stale.topic, "source");
        assert_eq!(
            stale.title,
            "Page Example is stale: the bridge cannot see it"
        );
        assert!(
            stale.message.starts_with("The status API shows a change. "),
            "{}",
            stale.message
        );
        assert!(
            stale
                .message
                .contains("Re-add the webhook subscriber at https://p.statuspage.io/subscribers"),
            "{}",
            stale.message
        );
        let gone = source_alert(round, false, &h(HealthState::Gone, Some(31))).unwrap();
        assert!(gone.message.contains("(id, api_key)"), "{}", gone.message);
        let moved = source_alert(round, false, &h(HealthState::Moved, Some(31))).unwrap();
        assert!(
            moved.message.contains("another platform"),
            "{}",
            moved.message
        );
        let unreachable =
            source_alert(round, false, &h(HealthState::Unreachable, Some(31))).unwrap();
        assert!(
            unreachable.message.contains("network, DNS"),
            "{}",
            unreachable.message
        );
        let back = source_alert(round, true, &h(HealthState::Ok, None)).unwrap();
        assert_eq!(back.title, "Page Example is seen again");
    }

    #[test]
    fn the_message_names_the_grouped_and_how_many_more() {
        let many: Vec<Grouped> = (0..60).map(|i| g(&i.to_string())).collect();
        let e = grouped_alert(round(), None, &many, &[]).unwrap();
        assert_eq!(e.title, "60 more component(s) in trouble on page Example");
        assert!(e.message.contains("Name 0, Name 1"), "{}", e.message);
        assert!(e.message.contains("Name 49 and 10 more"), "{}", e.message);
        assert!(!e.message.contains("Name 50"), "{}", e.message);
        assert!(e.message.contains("max_triggers_per_round = 20"));
        assert_eq!((e.status(), e.open), ("open", true));
        // Exactly as many as are listed: no "more".
        let fifty: Vec<Grouped> = (0..50).map(|i| g(&i.to_string())).collect();
        let e50 = grouped_alert(round(), None, &fifty, &[]).unwrap();
        assert!(e50.message.contains("Name 49."), "{}", e50.message);
        assert!(!e50.message.contains("more."), "{}", e50.message);
        let closed = PageAlertEvent {
            open: false,
            ..e50.clone()
        };
        assert_eq!(closed.status(), "clear");
        assert_eq!(e.priority(), Priority::High);
        // The body reads back as the same event.
        let body: Value = serde_json::from_slice(&e.body()).unwrap();
        assert_eq!(PageAlertEvent::read(&body), Some(e));
        assert_eq!(
            PageAlertEvent::read(&serde_json::json!({"incident": {}})),
            None
        );
    }
}
