//! Maintenance the vendor announced (docs/RECONCILE.md, "Maintenance"):
//! with `maintenance = "notify"`, each reconcile round follows the page's
//! scheduled maintenances — Statuspage often pushes no webhook when one
//! starts or ends by itself — and decides, as page alerts:
//! - a heads-up `lead_secs` before it starts (topic `maintenance:<id>:upcoming`,
//!   low priority: a note, not a page), resolved when it starts;
//! - while it runs, `maintenance:<id>:in_progress` (low), resolved when it
//!   ends, and a silence of each of its components until its scheduled end,
//!   so their maintenance changes page nobody;
//! - an overrun (`maintenance:<id>:overran`, high): still running past its
//!   scheduled end and the grace, or ended with a component it listed not
//!   operational; resolved once it ended and they are all operational.
//!
//! Pure: what the round saw and what is open come in, the alerts to send
//! and the silences to add go out.

use chrono::{DateTime, Duration, Utc};

use crate::rules::domain::Priority;
use crate::rules::page_alert::PageAlertEvent;

/// A maintenance as the status API shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Maintenance {
    pub id: String,
    pub name: String,
    /// `scheduled`, `in_progress`, `verifying`, `completed` …
    pub status: String,
    pub scheduled_for: Option<DateTime<Utc>>,
    pub scheduled_until: Option<DateTime<Utc>>,
    /// (id, name) of the components it lists.
    pub components: Vec<(String, String)>,
}

impl Maintenance {
    fn running(&self) -> bool {
        matches!(self.status.as_str(), "in_progress" | "verifying")
    }

    fn upcoming(&self) -> bool {
        self.status == "scheduled"
    }
}

/// The maintenances a `summary.json` lists (`scheduled_maintenances`:
/// upcoming and running ones).
pub fn read(summary: &serde_json::Value) -> Vec<Maintenance> {
    let text = |v: &serde_json::Value, k: &str| {
        v.get(k)
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned)
    };
    let time = |v: &serde_json::Value, k: &str| {
        v.get(k)
            .and_then(serde_json::Value::as_str)
            .and_then(crate::rules::time::parse_time)
    };
    summary
        .get("scheduled_maintenances")
        .and_then(serde_json::Value::as_array)
        .map(|all| {
            all.iter()
                .filter_map(|m| {
                    let id = text(m, "id")?;
                    Some(Maintenance {
                        name: crate::rules::parse::bounded_name(
                            text(m, "name").unwrap_or_else(|| id.clone()),
                        ),
                        status: text(m, "status").unwrap_or_default(),
                        scheduled_for: time(m, "scheduled_for"),
                        scheduled_until: time(m, "scheduled_until"),
                        components: m
                            .get("components")
                            .and_then(serde_json::Value::as_array)
                            .map(|cs| {
                                cs.iter()
                                    .filter_map(|c| {
                                        let cid = text(c, "id")?;
                                        let name = text(c, "name").unwrap_or_else(|| cid.clone());
                                        Some((cid, name))
                                    })
                                    .collect()
                            })
                            .unwrap_or_default(),
                        id,
                    })
                })
                .filter(|m| m.id.chars().count() <= crate::rules::parse::MAX_ID_CHARS)
                .collect()
        })
        .unwrap_or_default()
}

/// A maintenance page alert that is open: its topic and what it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Open {
    pub topic: String,
    /// The maintenance's component ids.
    pub detail: Vec<String>,
}

/// `[maintenance]` as it applies to the page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Margins {
    pub lead: Duration,
    pub overrun_grace: Duration,
}

/// A silence to add: one component of the page, until `until`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaintenanceSilence {
    pub component_id: String,
    pub until: DateTime<Utc>,
    pub reason: String,
    /// Who made it, as `/silences` shows: `maintenance:<id>`.
    pub by: String,
}

/// What a round decides.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Decisions {
    pub alerts: Vec<PageAlertEvent>,
    pub holds: Vec<MaintenanceSilence>,
}

fn topic(id: &str, phase: &str) -> String {
    format!("maintenance:{id}:{phase}")
}

/// The maintenance id of a topic of this module's, and its phase.
fn parse_topic(topic: &str) -> Option<(&str, &str)> {
    let rest = topic.strip_prefix("maintenance:")?;
    rest.rsplit_once(':')
}

/// The round's decisions for one page: `upstream` are the maintenances the
/// summary lists, `open` this page's open maintenance alerts, `operational`
/// whether a component is operational upstream (by id; unknown: true).
pub fn follow(
    page_id: &str,
    page_shown: &str,
    s: Margins,
    upstream: &[Maintenance],
    open: &[Open],
    operational: impl Fn(&str) -> bool,
    now: DateTime<Utc>,
) -> Decisions {
    let mut d = Decisions::default();
    let is_open = |t: &str| open.iter().any(|o| o.topic == t);
    let alert = |topic: String,
                 on: bool,
                 priority: Priority,
                 title: String,
                 message: String,
                 detail: Vec<String>| {
        PageAlertEvent {
            page_id: page_id.to_owned(),
            topic,
            open: on,
            priority: priority.as_str().to_owned(),
            title,
            message,
            at: now,
            detail,
        }
    };
    let when = |t: Option<DateTime<Utc>>| {
        t.map_or(
            "an unknown time".to_owned(),
            crate::rules::time::format_time,
        )
    };
    for m in upstream {
        let ids: Vec<String> = m.components.iter().map(|(id, _)| id.clone()).collect();
        let names = if m.components.is_empty() {
            "no components listed".to_owned()
        } else {
            m.components
                .iter()
                .map(|(_, n)| n.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let up = topic(&m.id, "upcoming");
        let running = topic(&m.id, "in_progress");
        let overran = topic(&m.id, "overran");
        if m.upcoming() {
            let due = m.scheduled_for.is_some_and(|f| now >= f - s.lead);
            if due && !is_open(&up) {
                d.alerts.push(alert(
                    up,
                    true,
                    Priority::Low,
                    format!("Maintenance \"{}\" on page {page_shown} starts at {}", m.name, when(m.scheduled_for)),
                    format!(
                        "Scheduled from {} to {}: {names}. A heads-up, not a page: its components' changes will be held while it runs.",
                        when(m.scheduled_for),
                        when(m.scheduled_until)
                    ),
                    ids,
                ));
            }
            continue;
        }
        if !m.running() {
            continue;
        }
        if is_open(&up) {
            d.alerts.push(alert(
                up,
                false,
                Priority::Low,
                format!(
                    "Maintenance \"{}\" on page {page_shown} has started",
                    m.name
                ),
                "It has started.".to_owned(),
                Vec::new(),
            ));
        }
        if !is_open(&running) {
            d.alerts.push(alert(
                running,
                true,
                Priority::Low,
                format!("Maintenance \"{}\" on page {page_shown} is in progress", m.name),
                format!(
                    "In progress until {}: {names}. Their changes are held until then (see /silences).",
                    when(m.scheduled_until)
                ),
                ids.clone(),
            ));
            if let Some(until) = m.scheduled_until.filter(|u| *u > now) {
                d.holds
                    .extend(m.components.iter().map(|(id, name)| MaintenanceSilence {
                        component_id: id.clone(),
                        until,
                        reason: format!("maintenance \"{}\" in progress: {name}", m.name),
                        by: format!("maintenance:{}", m.id),
                    }));
            }
        }
        let late = m.scheduled_until.is_some_and(|u| now > u + s.overrun_grace);
        if late && !is_open(&overran) {
            d.alerts.push(alert(
                overran,
                true,
                Priority::High,
                format!("Maintenance \"{}\" on page {page_shown} overran", m.name),
                format!(
                    "Still {} past its scheduled end at {} (grace {} s): {names}.",
                    m.status.replace('_', " "),
                    when(m.scheduled_until),
                    s.overrun_grace.num_seconds()
                ),
                ids,
            ));
        }
    }
    // Open alerts of maintenances no longer running upstream: ended.
    for o in open {
        let Some((id, phase)) = parse_topic(&o.topic) else {
            continue;
        };
        let now_upstream = upstream.iter().find(|m| m.id == id);
        if now_upstream.is_some_and(|m| m.running() || m.upcoming()) {
            continue;
        }
        let not_ok: Vec<&String> = o.detail.iter().filter(|c| !operational(c)).collect();
        let name = id.to_owned();
        match phase {
            "upcoming" => d.alerts.push(alert(
                o.topic.clone(),
                false,
                Priority::Low,
                format!("Maintenance {name} on page {page_shown} is no longer scheduled"),
                "It ended or was cancelled.".to_owned(),
                Vec::new(),
            )),
            "in_progress" => {
                d.alerts.push(alert(
                    o.topic.clone(),
                    false,
                    Priority::Low,
                    format!("Maintenance {name} on page {page_shown} has ended"),
                    "It has ended.".to_owned(),
                    Vec::new(),
                ));
                let overran = topic(id, "overran");
                if !not_ok.is_empty() && !is_open(&overran) {
                    d.alerts.push(alert(
                        overran,
                        true,
                        Priority::High,
                        format!("Maintenance {name} on page {page_shown} overran"),
                        format!(
                            "It has ended, but component(s) it listed are not operational: {}.",
                            not_ok
                                .iter()
                                .map(|c| c.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                        o.detail.clone(),
                    ));
                }
            }
            "overran" if not_ok.is_empty() => d.alerts.push(alert(
                o.topic.clone(),
                false,
                Priority::High,
                format!("Maintenance {name} on page {page_shown} is over"),
                "It has ended and every component it listed is operational.".to_owned(),
                Vec::new(),
            )),
            _ => {}
        }
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(mins: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_700_000_000, 0).unwrap() + Duration::minutes(mins)
    }

    const S: Margins = Margins {
        lead: Duration::minutes(60),
        overrun_grace: Duration::minutes(15),
    };

    fn m(status: &str) -> Maintenance {
        Maintenance {
            id: "m1".into(),
            name: "DB upgrade".into(),
            status: status.into(),
            scheduled_for: Some(t(100)),
            scheduled_until: Some(t(160)),
            components: vec![("c1".into(), "API".into()), ("c2".into(), "Web".into())],
        }
    }

    fn open(phase: &str) -> Open {
        Open {
            topic: format!("maintenance:m1:{phase}"),
            detail: vec!["c1".into(), "c2".into()],
        }
    }

    /// (upstream, open, component not operational, now) → the alerts sent
    /// (topic phase, open) and how many holds.
    #[test]
    fn a_maintenance_from_heads_up_to_overrun() {
        type RoundCase = (
            Vec<Maintenance>,
            Vec<Open>,
            Option<&'static str>,
            i64,
            Vec<(&'static str, bool)>,
            usize,
        );
        let rows: Vec<RoundCase> = vec![
            // Too early for the heads-up.
            (vec![m("scheduled")], vec![], None, 30, vec![], 0),
            // Within the lead: the heads-up, once.
            (
                vec![m("scheduled")],
                vec![],
                None,
                40,
                vec![("upcoming", true)],
                0,
            ),
            (
                vec![m("scheduled")],
                vec![open("upcoming")],
                None,
                50,
                vec![],
                0,
            ),
            // It starts: heads-up resolved, in progress opened, both
            // components held.
            (
                vec![m("in_progress")],
                vec![open("upcoming")],
                None,
                100,
                vec![("upcoming", false), ("in_progress", true)],
                2,
            ),
            // Running, within its time: nothing more.
            (
                vec![m("verifying")],
                vec![open("in_progress")],
                None,
                170,
                vec![],
                0,
            ),
            // Running past the end and the grace: overran.
            (
                vec![m("in_progress")],
                vec![open("in_progress")],
                None,
                176,
                vec![("overran", true)],
                0,
            ),
            // Ended (gone from the summary), all operational: resolved.
            (
                vec![],
                vec![open("in_progress")],
                None,
                150,
                vec![("in_progress", false)],
                0,
            ),
            // Ended with a component down: overran.
            (
                vec![],
                vec![open("in_progress")],
                Some("c2"),
                150,
                vec![("in_progress", false), ("overran", true)],
                0,
            ),
            // Overran, the component still down: stays; then back: resolved.
            (vec![], vec![open("overran")], Some("c2"), 200, vec![], 0),
            (
                vec![],
                vec![open("overran")],
                None,
                210,
                vec![("overran", false)],
                0,
            ),
            // Overran while still running: stays.
            (
                vec![m("in_progress")],
                vec![open("in_progress"), open("overran")],
                None,
                300,
                vec![],
                0,
            ),
            // Completed upstream (a webhook's view): like gone.
            (
                vec![m("completed")],
                vec![open("in_progress")],
                None,
                150,
                vec![("in_progress", false)],
                0,
            ),
            // A heads-up whose maintenance vanished: resolved.
            (
                vec![],
                vec![open("upcoming")],
                None,
                90,
                vec![("upcoming", false)],
                0,
            ),
        ];
        for (upstream, open, down, now, want, holds) in rows {
            let d = follow(
                "p",
                "Example",
                S,
                &upstream,
                &open,
                |c| Some(c) != down,
                t(now),
            );
            let got: Vec<(&str, bool)> = d
                .alerts
                .iter()
                .map(|a| (parse_topic(&a.topic).unwrap().1, a.open))
                .collect();
            assert_eq!(got, want, "{upstream:?} {open:?} {down:?} at {now}");
            assert_eq!(d.holds.len(), holds, "{upstream:?} at {now}");
        }
    }

    #[test]
    fn maintenances_are_read_from_the_summary() {
        let v = serde_json::json!({"scheduled_maintenances": [
            {"id": "m1", "name": "DB upgrade", "status": "scheduled",
             "scheduled_for": "2025-03-04T10:00:00.000Z", "scheduled_until": "2025-03-04T11:00:00Z",
             "components": [{"id": "c1", "name": "API"}, {"name": "no id"}]},
            {"name": "no id at all"}
        ]});
        let got = read(&v);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].id, "m1");
        assert_eq!(got[0].status, "scheduled");
        assert_eq!(got[0].components, [("c1".to_owned(), "API".to_owned())]);
        assert_eq!(
            got[0]
                .scheduled_until
                .map(crate::rules::time::format_time)
                .as_deref(),
            Some("2025-03-04T11:00:00.000Z")
        );
        assert!(read(&serde_json::json!({})).is_empty());
    }

    #[test]
    fn wording_priorities_and_holds() {
        let d = follow("p", "Example", S, &[m("scheduled")], &[], |_| true, t(40));
        let heads_up = &d.alerts[0];
        assert_eq!(heads_up.priority(), Priority::Low);
        assert_eq!(
            heads_up.title,
            "Maintenance \"DB upgrade\" on page Example starts at 2023-11-14T23:53:20.000Z"
        );
        assert!(
            heads_up.message.contains(": API, Web."),
            "{}",
            heads_up.message
        );
        assert_eq!(heads_up.detail, ["c1", "c2"]);
        let d = follow(
            "p",
            "Example",
            S,
            &[m("in_progress")],
            &[],
            |_| true,
            t(100),
        );
        assert_eq!(
            d.holds[0],
            MaintenanceSilence {
                component_id: "c1".into(),
                until: t(160),
                reason: "maintenance \"DB upgrade\" in progress: API".into(),
                by: "maintenance:m1".into(),
            }
        );
        // Already past its end when first seen running: nothing to hold.
        let d = follow(
            "p",
            "Example",
            S,
            &[m("in_progress")],
            &[],
            |_| true,
            t(170),
        );
        assert!(d.holds.is_empty());
        // Exactly at its end: nothing left to hold either.
        let at_end = |now: i64, open: &[Open]| {
            follow(
                "p",
                "Example",
                S,
                &[m("in_progress")],
                open,
                |_| true,
                t(now),
            )
        };
        assert!(at_end(160, &[]).holds.is_empty());
        assert_eq!(at_end(159, &[]).holds.len(), 2);
        // Exactly at the end of the grace: not yet overran; a moment later it is.
        assert!(at_end(175, &[open("in_progress")]).alerts.is_empty());
        assert_eq!(at_end(176, &[open("in_progress")]).alerts.len(), 1);
        let late = follow(
            "p",
            "Example",
            S,
            &[m("in_progress")],
            &[open("in_progress")],
            |_| true,
            t(176),
        );
        assert_eq!(late.alerts[0].priority(), Priority::High);
        assert!(
            late.alerts[0]
                .message
                .starts_with("Still in progress past its scheduled end"),
            "{}",
            late.alerts[0].message
        );
        assert_eq!(
            parse_topic("maintenance:a:b:upcoming"),
            Some(("a:b", "upcoming"))
        );
        assert_eq!(parse_topic("grouped"), None);
    }
}
