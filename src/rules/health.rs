//! A page's health: whether the bridge can still see it (docs/RECONCILE.md,
//! "Page health"). A Statuspage subscriber that failed too often is
//! quarantined and sent nothing more; vendors move platforms and their old
//! API answers 404, 401 or an HTML page. Each of those is a state here,
//! decided from what the rounds recorded — never green without evidence.
//! Pure: the time comes in.

use chrono::{DateTime, Duration, Utc};

use crate::rules::time::format_time;

/// How a failed round failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// No answer, a timeout, a 5xx or another status: the API is out of
    /// reach for now.
    Unreachable,
    /// A redirect to another host, or an answer that is not JSON: the page
    /// has likely moved to another platform.
    Moved,
    /// 401, 404 or 410: the page is gone, private, or its id is wrong.
    Gone,
}

impl Failure {
    pub fn as_str(self) -> &'static str {
        match self {
            Failure::Unreachable => "unreachable",
            Failure::Moved => "moved",
            Failure::Gone => "gone",
        }
    }

    pub fn parse(s: &str) -> Option<Failure> {
        match s {
            "unreachable" => Some(Failure::Unreachable),
            "moved" => Some(Failure::Moved),
            "gone" => Some(Failure::Gone),
            _ => None,
        }
    }

    /// What a failed fetch says: its HTTP status (if it got one), and
    /// whether it was redirected to another host or answered non-JSON.
    pub fn of(status: Option<u16>, moved: bool) -> Failure {
        match status {
            _ if moved => Failure::Moved,
            Some(401 | 404 | 410) => Failure::Gone,
            _ => Failure::Unreachable,
        }
    }
}

/// A page's health.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HealthState {
    /// Never read successfully: no evidence either way.
    Unknown,
    Ok,
    /// No webhook for longer than expected while the status API shows
    /// changes since: the quarantine signature.
    Stale,
    Unreachable,
    Moved,
    Gone,
}

impl HealthState {
    pub const ALL: [HealthState; 6] = [
        HealthState::Unknown,
        HealthState::Ok,
        HealthState::Stale,
        HealthState::Unreachable,
        HealthState::Moved,
        HealthState::Gone,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            HealthState::Unknown => "unknown",
            HealthState::Ok => "ok",
            HealthState::Stale => "stale",
            HealthState::Unreachable => "unreachable",
            HealthState::Moved => "moved",
            HealthState::Gone => "gone",
        }
    }
}

impl From<Failure> for HealthState {
    fn from(f: Failure) -> HealthState {
        match f {
            Failure::Unreachable => HealthState::Unreachable,
            Failure::Moved => HealthState::Moved,
            Failure::Gone => HealthState::Gone,
        }
    }
}

/// A failed round: when, how, and its error (masked).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failed {
    pub at: DateTime<Utc>,
    pub failure: Failure,
    pub error: String,
}

/// What the bridge knows of a page, from its rounds and its webhooks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Evidence {
    /// Statuspage is expected to push this page's changes (`[[pages]]
    /// webhooks`, default true).
    pub webhooks: bool,
    /// The first round that read the page.
    pub first_ok_at: Option<DateTime<Utc>>,
    /// The latest round that read the page.
    pub last_ok_at: Option<DateTime<Utc>>,
    /// The newest upstream change that round saw (an incident's or a
    /// component's `updated_at`).
    pub latest_change_at: Option<DateTime<Utc>>,
    /// The last webhook from Statuspage naming the page.
    pub last_webhook_at: Option<DateTime<Utc>>,
    /// The rounds that failed since the last good one, oldest first.
    pub failed: Vec<Failed>,
}

/// The thresholds of `[health]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Thresholds {
    /// Failed rounds in a row before a page is unreachable, moved or gone.
    pub failed_rounds: usize,
    /// How old an upstream change may be with no webhook since before the
    /// page is stale.
    pub expect_webhook_within: Duration,
}

/// A page's health, since when, and what a person should know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Health {
    pub state: HealthState,
    /// When the state began, as far as the evidence says.
    pub since: Option<DateTime<Utc>>,
    /// Why, in words.
    pub why: String,
}

/// The rule: enough failed rounds in a row name the failure (the latest
/// one's kind); else a page never read is `unknown`; else a change older
/// than `expect_webhook_within` with no webhook since (the baseline is the
/// last webhook, or the first round that read the page) is `stale`; else
/// `ok`.
pub fn health(e: &Evidence, t: Thresholds, now: DateTime<Utc>) -> Health {
    if let (Some(first), Some(last)) = (e.failed.first(), e.failed.last())
        && e.failed.len() >= t.failed_rounds.max(1)
    {
        return Health {
            state: last.failure.into(),
            since: Some(first.at),
            why: format!(
                "{} round(s) in a row failed since {}: {}",
                e.failed.len(),
                format_time(first.at),
                last.error
            ),
        };
    }
    let Some(first_ok) = e.first_ok_at else {
        return Health {
            state: HealthState::Unknown,
            since: e.failed.first().map(|f| f.at),
            why: match e.failed.last() {
                Some(f) => format!(
                    "never read successfully; the last round failed: {}",
                    f.error
                ),
                None => "no round has read the page yet".to_owned(),
            },
        };
    };
    let baseline = e.last_webhook_at.map_or(first_ok, |w| w.max(first_ok));
    if e.webhooks
        && let Some(change) = e.latest_change_at
        && change > baseline
        && change <= now - t.expect_webhook_within
    {
        return Health {
            state: HealthState::Stale,
            since: Some(change + t.expect_webhook_within),
            why: format!(
                "the status API shows a change at {} and no webhook has come since {}",
                format_time(change),
                e.last_webhook_at
                    .map_or("the bridge began following the page".to_owned(), |w| {
                        format!("the last one at {}", format_time(w))
                    })
            ),
        };
    }
    Health {
        state: HealthState::Ok,
        since: e.last_ok_at,
        why: "read by the last round; webhooks keep up".to_owned(),
    }
}

/// What the heartbeat checks of the bridge itself before it says it is
/// alive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vitals {
    /// A write transaction committed, or why not.
    pub database: Result<(), String>,
    /// The delivery worker is running; `None` in a dry run (nothing to
    /// deliver).
    pub delivering: Option<bool>,
    /// Dead events older than the allowed age.
    pub old_dead: i64,
    /// That age, for the reason.
    pub max_dead_age: Duration,
}

/// Why the heartbeat is withheld, or `None` when the bridge is healthy:
/// the database takes writes, the delivery worker runs, and no dead event
/// has waited longer than allowed.
pub fn withheld(v: &Vitals) -> Option<String> {
    let mut why = Vec::new();
    if let Err(e) = &v.database {
        why.push(format!("the database does not take writes: {e}"));
    }
    if v.delivering == Some(false) {
        why.push("the delivery worker has stopped".to_owned());
    }
    if v.old_dead > 0 {
        why.push(format!(
            "{} dead event(s) older than {} s wait for `outbox retry`",
            v.old_dead,
            v.max_dead_age.num_seconds()
        ));
    }
    (!why.is_empty()).then(|| why.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(mins: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_700_000_000, 0).unwrap() + Duration::minutes(mins)
    }

    fn failed(at: i64, failure: Failure) -> Failed {
        Failed {
            at: t(at),
            failure,
            error: format!("{} at {at}", failure.as_str()),
        }
    }

    const T: Thresholds = Thresholds {
        failed_rounds: 3,
        expect_webhook_within: Duration::minutes(15),
    };

    fn read(first: i64, last: i64) -> Evidence {
        Evidence {
            webhooks: true,
            first_ok_at: Some(t(first)),
            last_ok_at: Some(t(last)),
            ..Evidence::default()
        }
    }

    /// (evidence, now in minutes) → (state, since in minutes).
    #[test]
    fn each_state_from_its_evidence() {
        use Failure::*;
        let rows: Vec<(&str, Evidence, i64, HealthState, Option<i64>)> = vec![
            (
                "nothing yet",
                Evidence::default(),
                0,
                HealthState::Unknown,
                None,
            ),
            (
                "never read, failing but not enough",
                Evidence {
                    failed: vec![failed(0, Gone), failed(5, Gone)],
                    ..Evidence::default()
                },
                10,
                HealthState::Unknown,
                Some(0),
            ),
            (
                "never read, failing enough: gone",
                Evidence {
                    failed: vec![failed(0, Gone), failed(5, Gone), failed(10, Gone)],
                    ..Evidence::default()
                },
                10,
                HealthState::Gone,
                Some(0),
            ),
            ("read, quiet", read(0, 60), 60, HealthState::Ok, Some(60)),
            (
                "two failures after a good round: still ok",
                Evidence {
                    failed: vec![failed(65, Unreachable), failed(70, Unreachable)],
                    ..read(0, 60)
                },
                70,
                HealthState::Ok,
                Some(60),
            ),
            (
                "three: unreachable, since the first",
                Evidence {
                    failed: vec![
                        failed(65, Unreachable),
                        failed(70, Unreachable),
                        failed(75, Unreachable),
                    ],
                    ..read(0, 60)
                },
                75,
                HealthState::Unreachable,
                Some(65),
            ),
            (
                "the latest failure names it: moved",
                Evidence {
                    failed: vec![failed(65, Unreachable), failed(70, Gone), failed(75, Moved)],
                    ..read(0, 60)
                },
                75,
                HealthState::Moved,
                Some(65),
            ),
            (
                "a change, no webhook since, old enough: stale",
                Evidence {
                    latest_change_at: Some(t(30)),
                    last_webhook_at: Some(t(10)),
                    ..read(0, 60)
                },
                60,
                HealthState::Stale,
                Some(45),
            ),
            (
                "a change, not yet old enough: ok",
                Evidence {
                    latest_change_at: Some(t(50)),
                    last_webhook_at: Some(t(10)),
                    ..read(0, 60)
                },
                60,
                HealthState::Ok,
                Some(60),
            ),
            (
                "exactly as old as allowed: stale",
                Evidence {
                    latest_change_at: Some(t(45)),
                    last_webhook_at: Some(t(10)),
                    ..read(0, 60)
                },
                60,
                HealthState::Stale,
                Some(60),
            ),
            (
                "a webhook at the very time of the change: ok",
                Evidence {
                    latest_change_at: Some(t(30)),
                    last_webhook_at: Some(t(30)),
                    ..read(0, 60)
                },
                60,
                HealthState::Ok,
                Some(60),
            ),
            (
                "a webhook after the change: ok",
                Evidence {
                    latest_change_at: Some(t(30)),
                    last_webhook_at: Some(t(31)),
                    ..read(0, 60)
                },
                60,
                HealthState::Ok,
                Some(60),
            ),
            (
                "a change before the bridge began following, no webhook ever: ok",
                Evidence {
                    latest_change_at: Some(t(-100)),
                    ..read(0, 60)
                },
                60,
                HealthState::Ok,
                Some(60),
            ),
            (
                "a change since it began following, no webhook ever: stale",
                Evidence {
                    latest_change_at: Some(t(20)),
                    ..read(0, 60)
                },
                60,
                HealthState::Stale,
                Some(35),
            ),
            (
                "a page followed by polling alone is never stale",
                Evidence {
                    webhooks: false,
                    latest_change_at: Some(t(20)),
                    ..read(0, 60)
                },
                60,
                HealthState::Ok,
                Some(60),
            ),
        ];
        for (what, e, now, state, since) in rows {
            let h = health(&e, T, t(now));
            assert_eq!(
                (h.state, h.since),
                (state, since.map(t)),
                "{what}: {}",
                h.why
            );
        }
    }

    #[test]
    fn the_heartbeat_is_withheld_for_each_reason() {
        let healthy = Vitals {
            database: Ok(()),
            delivering: Some(true),
            old_dead: 0,
            max_dead_age: Duration::seconds(3600),
        };
        assert_eq!(withheld(&healthy), None);
        assert_eq!(
            withheld(&Vitals {
                delivering: None,
                ..healthy.clone()
            }),
            None,
            "a dry run delivers nothing"
        );
        let rows: Vec<(Vitals, &str)> = vec![
            (
                Vitals {
                    database: Err("database is locked".into()),
                    ..healthy.clone()
                },
                "the database does not take writes: database is locked",
            ),
            (
                Vitals {
                    delivering: Some(false),
                    ..healthy.clone()
                },
                "the delivery worker has stopped",
            ),
            (
                Vitals {
                    old_dead: 2,
                    ..healthy.clone()
                },
                "2 dead event(s) older than 3600 s wait for `outbox retry`",
            ),
        ];
        for (v, want) in rows {
            assert_eq!(withheld(&v).as_deref(), Some(want));
        }
        let all = Vitals {
            database: Err("x".into()),
            delivering: Some(false),
            old_dead: 1,
            ..healthy
        };
        assert_eq!(withheld(&all).unwrap().matches("; ").count(), 2);
    }

    #[test]
    fn reasons_and_failures_in_words() {
        let e = Evidence {
            failed: vec![
                failed(1, Failure::Gone),
                failed(2, Failure::Gone),
                failed(3, Failure::Gone),
            ],
            ..read(0, 0)
        };
        let h = health(&e, T, t(3));
        assert!(
            h.why.starts_with("3 round(s) in a row failed since"),
            "{}",
            h.why
        );
        assert!(h.why.ends_with("gone at 3"), "{}", h.why);
        assert_eq!(Failure::of(Some(404), false), Failure::Gone);
        assert_eq!(Failure::of(Some(401), false), Failure::Gone);
        assert_eq!(Failure::of(Some(410), false), Failure::Gone);
        assert_eq!(Failure::of(Some(500), false), Failure::Unreachable);
        assert_eq!(Failure::of(None, false), Failure::Unreachable);
        assert_eq!(Failure::of(Some(200), true), Failure::Moved);
        for f in [Failure::Unreachable, Failure::Moved, Failure::Gone] {
            assert_eq!(Failure::parse(f.as_str()), Some(f));
            assert_eq!(HealthState::from(f).as_str(), f.as_str());
        }
        // A threshold of 0 reads as 1: one failed round is enough.
        let once = Evidence {
            failed: vec![failed(1, Failure::Moved)],
            ..read(0, 0)
        };
        let t0 = Thresholds {
            failed_rounds: 0,
            ..T
        };
        assert_eq!(health(&once, t0, t(1)).state, HealthState::Moved);
    }
}
