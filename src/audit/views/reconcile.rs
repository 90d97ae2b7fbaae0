//! `/reconcile`: each configured page's health and the latest rounds.

use askama::Template;

use super::when;
use crate::rules::health::{Evidence, Health, HealthState};
use crate::rules::time::format_time;
use crate::storage::audit::RoundRow;
use crate::storage::rounds::RoundResult;

#[derive(Template)]
#[template(path = "reconcile.html", config = "src/audit/askama.toml")]
pub struct ReconcilePage {
    /// Filters naming a component or group their page does not have.
    pub unknown: Vec<String>,
    /// Each configured page's health.
    pub health: Vec<HealthView>,
    pub rounds: Vec<RoundView>,
    /// Configured pages with no round recorded yet.
    pub waiting: Vec<String>,
    pub banners: Vec<String>,
}

/// One page's health, as shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthView {
    pub page_id: String,
    pub state: &'static str,
    /// `ok`, `bad` or `warn` (unknown): the pill's class.
    pub class: &'static str,
    pub since: String,
    pub last_webhook: String,
    pub last_good: String,
    pub why: String,
}

impl HealthView {
    pub fn new(page_id: &str, e: &Evidence, h: &Health) -> HealthView {
        let shown = |t: Option<chrono::DateTime<chrono::Utc>>| {
            t.map_or_else(|| "never".to_owned(), |t| when(&format_time(t)))
        };
        HealthView {
            page_id: page_id.to_owned(),
            state: h.state.as_str(),
            class: match h.state {
                HealthState::Ok => "ok",
                HealthState::Unknown => "warn",
                _ => "bad",
            },
            since: h.since.map(|t| shown(Some(t))).unwrap_or_default(),
            last_webhook: if e.webhooks {
                shown(e.last_webhook_at)
            } else {
                "not expected (polling only)".to_owned()
            },
            last_good: shown(e.last_ok_at),
            why: h.why.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoundView {
    pub page_id: String,
    pub source: String,
    pub started: String,
    pub duration_ms: i64,
    pub ok: bool,
    pub result: &'static str,
    pub error: String,
    pub incidents: i64,
    pub components: i64,
    pub heals: i64,
}

impl ReconcilePage {
    pub fn new(rounds: &[RoundRow], pages: &[String], banners: Vec<String>) -> Self {
        ReconcilePage {
            unknown: Vec::new(),
            health: Vec::new(),
            waiting: pages
                .iter()
                .filter(|p| !rounds.iter().any(|r| &r.page_id == *p))
                .cloned()
                .collect(),
            rounds: rounds
                .iter()
                .map(|r| RoundView {
                    page_id: r.page_id.clone(),
                    source: r.source.clone(),
                    started: when(&r.started_at),
                    duration_ms: r.duration_ms,
                    ok: r.result == RoundResult::Ok,
                    result: r.result.as_str(),
                    error: r.error.clone().unwrap_or_default(),
                    incidents: r.incidents,
                    components: r.components,
                    heals: r.heals,
                })
                .collect(),
            banners,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round(page: &str, result: RoundResult, error: Option<&str>) -> RoundRow {
        RoundRow {
            page_id: page.into(),
            source: "statuspage".into(),
            started_at: "2025-03-04T10:00:00.000Z".into(),
            duration_ms: 120,
            result,
            error: error.map(Into::into),
            incidents: 2,
            components: 5,
            heals: 1,
        }
    }

    #[test]
    fn rounds_say_how_they_ended_and_pages_without_one_wait() {
        let rounds = [
            round("p1", RoundResult::Ok, None),
            round("p1", RoundResult::Failed, Some("HTTP 503")),
        ];
        let p = ReconcilePage::new(&rounds, &["p1".into(), "p2".into()], vec![]);
        assert_eq!(p.waiting, ["p2"]);
        assert!(p.rounds[0].ok);
        assert_eq!((p.rounds[1].ok, p.rounds[1].result), (false, "failed"));
        assert_eq!(p.rounds[1].error, "HTTP 503");
        assert_eq!(p.rounds[0].started, "2025-03-04 10:00:00 UTC");
    }

    #[test]
    fn health_pills_and_a_poll_only_page_expects_no_webhook() {
        let mut h = Health {
            state: HealthState::Ok,
            since: None,
            why: "fine".into(),
        };
        let e = Evidence {
            webhooks: false,
            ..Evidence::default()
        };
        let v = HealthView::new("p1", &e, &h);
        assert_eq!(
            (v.class, v.last_webhook.as_str()),
            ("ok", "not expected (polling only)")
        );
        assert_eq!(v.last_good, "never");
        h.state = HealthState::Unknown;
        assert_eq!(HealthView::new("p1", &e, &h).class, "warn");
    }
}
