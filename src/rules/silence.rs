//! Silences: a person says "not now" (docs/ROUTING.md, "Silences"). Pure:
//! which silences match an alert at a destination at a given time, and
//! whether a new silence is well formed. Storage keeps them; the routing
//! step holds the triggers they match.

use chrono::{DateTime, Utc};

use crate::rules::alert::AlertFacts;
use crate::rules::domain::EntityKind;

/// One silence as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Silence {
    pub id: String,
    /// A page id or name.
    pub page: Option<String>,
    /// A component id, name or group.
    pub component: Option<String>,
    /// An incident id.
    pub incident: Option<String>,
    /// A destination: a route's name, or `default`.
    pub route: Option<String>,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    /// Set when expired by hand: it stops matching from then on.
    pub expired_at: Option<DateTime<Utc>>,
    pub reason: String,
}

/// The longest a silence may last, and the furthest ahead it may start.
const MAX_SPAN: chrono::TimeDelta = chrono::TimeDelta::days(366);

/// What a person asks for, before it is stored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Request {
    pub page: Option<String>,
    pub component: Option<String>,
    pub incident: Option<String>,
    pub route: Option<String>,
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: Option<DateTime<Utc>>,
    pub reason: String,
}

impl Request {
    /// The silence this request makes at `now`, or what is wrong with it,
    /// naming the field: it needs a matcher and an end after its start.
    pub fn silence(&self, id: String, now: DateTime<Utc>) -> Result<Silence, String> {
        // A matcher that shows nothing (only spaces, zero-width or control
        // characters) would silence something nobody can read: none at all.
        let clean = |v: &Option<String>| {
            v.as_deref()
                .map(str::trim)
                .filter(|v| crate::rules::text::shows_something(v))
                .map(str::to_owned)
        };
        let (page, component, incident, route) = (
            clean(&self.page),
            clean(&self.component),
            clean(&self.incident),
            clean(&self.route),
        );
        if page.is_none() && component.is_none() && incident.is_none() && route.is_none() {
            return Err(
                "a silence needs at least one matcher: page, component, incident or route"
                    .to_owned(),
            );
        }
        let Some(ends_at) = self.ends_at else {
            return Err("ends_at (--until) is required".to_owned());
        };
        let starts_at = self.starts_at.unwrap_or(now);
        if ends_at <= starts_at {
            return Err(format!(
                "ends_at ({}) must be after starts_at ({})",
                ends_at.to_rfc3339(),
                starts_at.to_rfc3339()
            ));
        }
        if starts_at > now + MAX_SPAN {
            return Err(format!(
                "starts_at ({}) is more than a year away: plan it closer to the time",
                starts_at.to_rfc3339()
            ));
        }
        if ends_at - starts_at > MAX_SPAN {
            return Err(format!(
                "a silence lasts at most a year (366 days): ends_at ({}) is later than that; \
                 filter the page or component in the configuration to mute it for good",
                ends_at.to_rfc3339()
            ));
        }
        let reason = self.reason.trim();
        Ok(Silence {
            id,
            page,
            component,
            incident,
            route,
            starts_at,
            ends_at,
            expired_at: None,
            reason: reason.to_owned(),
        })
    }
}

/// Where a silence stands at a moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SilenceState {
    /// Matching now.
    Active,
    /// Not started yet.
    Pending,
    /// Past its end.
    Ended,
    /// Expired by hand before its end.
    Expired,
}

impl SilenceState {
    pub fn as_str(self) -> &'static str {
        match self {
            SilenceState::Active => "active",
            SilenceState::Pending => "pending",
            SilenceState::Ended => "ended",
            SilenceState::Expired => "expired",
        }
    }
}

crate::rules::domain::serialize_as_str!(SilenceState);

impl Silence {
    /// In force at `now`: started, not ended, not expired by hand.
    pub fn is_active(&self, now: DateTime<Utc>) -> bool {
        self.starts_at <= now && now < self.end()
    }

    /// When it stops matching: its end, or when it was expired by hand.
    pub fn end(&self) -> DateTime<Utc> {
        match self.expired_at {
            Some(at) if at < self.ends_at => at,
            _ => self.ends_at,
        }
    }

    /// `active`, `pending` (not started), `ended`, or `expired` (by hand,
    /// before its end), at `now`.
    pub fn state(&self, now: DateTime<Utc>) -> SilenceState {
        if self
            .expired_at
            .is_some_and(|e| e < self.ends_at && e <= now)
        {
            SilenceState::Expired
        } else if self.end() <= now {
            SilenceState::Ended
        } else if self.starts_at > now {
            SilenceState::Pending
        } else {
            SilenceState::Active
        }
    }

    /// Every matcher it has matches the alert at `destination`; `page_name`
    /// is the page's configured name, if any.
    pub fn matches(&self, alert: &AlertFacts, page_name: Option<&str>, destination: &str) -> bool {
        let page_ok = self
            .page
            .as_deref()
            .is_none_or(|p| alert.names_page(page_name, p));
        let component_ok = self.component.as_deref().is_none_or(|c| alert.lists_one(c));
        let incident_ok = self
            .incident
            .as_deref()
            .is_none_or(|i| alert.kind == EntityKind::Incident && alert.entity_id == i.trim());
        let route_ok = self
            .route
            .as_deref()
            .is_none_or(|r| r.trim() == destination);
        page_ok && component_ok && incident_ok && route_ok
    }

    /// `silence <id> ("reason", until …)`, for reasons and the audit.
    pub fn label(&self) -> String {
        format!(
            "silence {} ({:?}, until {})",
            self.id,
            self.reason,
            self.end().format("%Y-%m-%d %H:%M:%SZ")
        )
    }

    /// Its matchers in words: `page=GitHub component="Git Operations"`.
    pub fn matchers(&self) -> String {
        [
            ("page", &self.page),
            ("component", &self.component),
            ("incident", &self.incident),
            ("route", &self.route),
        ]
        .iter()
        .filter_map(|(k, v)| v.as_deref().map(|v| format!("{k}={v:?}")))
        .collect::<Vec<_>>()
        .join(" ")
    }
}

/// The silences in force at `now` that match the alert at `destination`.
pub fn matching<'a>(
    silences: &'a [Silence],
    alert: &AlertFacts,
    page_name: Option<&str>,
    destination: &str,
    now: DateTime<Utc>,
) -> Vec<&'a Silence> {
    silences
        .iter()
        .filter(|s| s.is_active(now) && s.matches(alert, page_name, destination))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::alert::ComponentFacts;
    use chrono::TimeZone;

    fn at(h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 1, h, 0, 0).unwrap()
    }

    fn silence(f: impl FnOnce(&mut Silence)) -> Silence {
        let mut s = Silence {
            id: "s1".into(),
            page: None,
            component: None,
            incident: None,
            route: None,
            starts_at: at(10),
            ends_at: at(12),
            expired_at: None,
            reason: "known".into(),
        };
        f(&mut s);
        s
    }

    /// The page's configured name.
    const GITHUB: Option<&str> = Some("GitHub");

    fn git() -> AlertFacts {
        AlertFacts {
            kind: EntityKind::Component,
            page_id: "gh".into(),
            page_name: None,
            entity_id: "c1".into(),
            components: vec![ComponentFacts {
                id: "c1".into(),
                name: Some("Git Operations".into()),
                group_id: Some("g1".into()),
                group_name: None,
            }],
        }
    }

    fn outage() -> AlertFacts {
        AlertFacts {
            kind: EntityKind::Incident,
            page_id: "gh".into(),
            page_name: None,
            entity_id: "i1".into(),
            components: git().components,
        }
    }

    #[test]
    fn each_matcher_narrows_and_all_must_match() {
        let cases: &[(Silence, &AlertFacts, &str, bool)] = &[
            (
                silence(|s| s.page = Some("gh".into())),
                &git(),
                "default",
                true,
            ),
            (
                silence(|s| s.page = Some(" github ".into())),
                &git(),
                "default",
                true,
            ),
            (
                silence(|s| s.page = Some("other".into())),
                &git(),
                "default",
                false,
            ),
            (
                silence(|s| s.component = Some("git operations".into())),
                &git(),
                "default",
                true,
            ),
            (
                silence(|s| s.component = Some("g1".into())),
                &git(),
                "default",
                true,
            ),
            (
                silence(|s| s.component = Some("c1".into())),
                &outage(),
                "default",
                true,
            ),
            (
                silence(|s| s.component = Some("API".into())),
                &git(),
                "default",
                false,
            ),
            (
                silence(|s| s.incident = Some("i1".into())),
                &outage(),
                "default",
                true,
            ),
            (
                silence(|s| s.incident = Some("i2".into())),
                &outage(),
                "default",
                false,
            ),
            (
                silence(|s| s.incident = Some("c1".into())),
                &git(),
                "default",
                false,
            ),
            (
                silence(|s| s.route = Some("payments".into())),
                &git(),
                "payments",
                true,
            ),
            (
                silence(|s| s.route = Some("payments".into())),
                &git(),
                "default",
                false,
            ),
            (
                silence(|s| {
                    s.page = Some("GitHub".into());
                    s.route = Some("payments".into());
                }),
                &git(),
                "default",
                false,
            ),
        ];
        for (s, alert, dest, want) in cases {
            assert_eq!(
                s.matches(alert, GITHUB, dest),
                *want,
                "{} at {dest}",
                s.matchers()
            );
        }
    }

    #[test]
    fn in_force_from_start_until_end_or_expiry() {
        let s = silence(|_| {});
        assert!(!s.is_active(at(9)));
        assert!(s.is_active(at(10)));
        assert!(s.is_active(at(11)));
        assert!(!s.is_active(at(12)));
        let expired = silence(|s| s.expired_at = Some(at(11)));
        assert!(expired.is_active(at(10)));
        assert!(!expired.is_active(at(11)));
        assert_eq!(expired.end(), at(11));
        assert_eq!(
            [9, 10, 11].map(|h| expired.state(at(h))),
            [
                SilenceState::Pending,
                SilenceState::Active,
                SilenceState::Expired
            ]
        );
        assert_eq!(silence(|_| {}).state(at(12)), SilenceState::Ended);
        // Expiring after the end changes nothing.
        assert_eq!(silence(|s| s.expired_at = Some(at(13))).end(), at(12));
        let all = [s, silence(|s| s.id = "s2".into())];
        let hits = matching(&all, &git(), GITHUB, "default", at(11));
        assert_eq!(hits.len(), 2);
        assert!(matching(&all, &git(), GITHUB, "default", at(13)).is_empty());
    }

    #[test]
    fn a_request_needs_a_matcher_and_an_end_after_its_start() {
        let now = at(10);
        let ok = Request {
            page: Some("GitHub".into()),
            ends_at: Some(at(12)),
            reason: " vendor ticket ".into(),
            ..Request::default()
        };
        let s = ok.silence("s1".into(), now).unwrap();
        assert_eq!((s.starts_at, s.ends_at), (now, at(12)));
        assert_eq!(s.reason, "vendor ticket");
        assert_eq!(s.matchers(), "page=\"GitHub\"");
        for invisible in ["  ", "\u{200b}", " \u{202e}\u{feff}\t"] {
            let no_matcher = Request {
                page: Some(invisible.into()),
                ..ok.clone()
            };
            assert!(
                no_matcher
                    .silence("x".into(), now)
                    .unwrap_err()
                    .contains("matcher"),
                "{invisible:?}"
            );
        }
        // At most a year long, starting at most a year ahead.
        let year = chrono::TimeDelta::days(366);
        let longest = Request {
            ends_at: Some(now + year),
            ..ok.clone()
        };
        assert!(longest.silence("x".into(), now).is_ok());
        let forever = Request {
            ends_at: Some(now + year + chrono::TimeDelta::seconds(1)),
            ..ok.clone()
        };
        assert!(
            forever
                .silence("x".into(), now)
                .unwrap_err()
                .contains("at most a year")
        );
        let far = Request {
            starts_at: Some(now + year + chrono::TimeDelta::seconds(1)),
            ends_at: Some(now + year + year),
            ..ok.clone()
        };
        assert!(
            far.silence("x".into(), now)
                .unwrap_err()
                .contains("more than a year away")
        );
        let a_year_ahead = Request {
            starts_at: Some(now + year),
            ends_at: Some(now + year + chrono::TimeDelta::hours(1)),
            ..ok.clone()
        };
        assert!(a_year_ahead.silence("x".into(), now).is_ok());
        let backwards = Request {
            starts_at: Some(at(13)),
            ..ok.clone()
        };
        assert!(
            backwards
                .silence("x".into(), now)
                .unwrap_err()
                .contains("ends_at")
        );
        let equal = Request {
            starts_at: Some(at(12)),
            ..ok.clone()
        };
        assert!(equal.silence("x".into(), now).is_err());
        let no_end = Request {
            ends_at: None,
            ..ok.clone()
        };
        assert!(
            no_end
                .silence("x".into(), now)
                .unwrap_err()
                .contains("ends_at")
        );
        // The start defaults to now: an end at now is not after it.
        let at_now = Request {
            ends_at: Some(now),
            route: Some("default".into()),
            ..Request::default()
        };
        assert!(
            at_now
                .silence("x".into(), now)
                .unwrap_err()
                .contains("after")
        );
        let no_reason = Request {
            reason: " ".into(),
            ..ok
        };
        assert_eq!(no_reason.silence("x".into(), now).unwrap().reason, "");
    }
}
