//! `/silences`: every silence, where it stands, and the add form.

use askama::Template;
use chrono::{DateTime, Utc};

use crate::rules::silence::SilenceState;
use crate::storage::silences::SilenceRecord;

#[derive(Template)]
#[template(path = "silences.html", config = "src/audit/askama.toml")]
pub struct SilencesPage {
    pub silences: Vec<SilenceView>,
    /// The add form, prefilled from the query (the Silence links on
    /// `/alerts`).
    pub form: SilenceForm,
}

#[derive(Debug, Default, serde::Deserialize)]
pub struct SilenceForm {
    #[serde(default)]
    pub page: String,
    #[serde(default)]
    pub component: String,
    #[serde(default)]
    pub incident: String,
    #[serde(default)]
    pub route: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SilenceView {
    pub id: String,
    /// active | pending | ended | expired
    pub state: &'static str,
    /// The state pill's class: `warn` while it holds pages back.
    pub class: &'static str,
    pub matchers: String,
    pub from: String,
    pub until: String,
    pub reason: String,
    pub by: String,
    pub can_expire: bool,
}

impl SilencesPage {
    pub fn new(all: &[SilenceRecord], form: SilenceForm, now: DateTime<Utc>) -> Self {
        let t = |t: DateTime<Utc>| t.format("%Y-%m-%d %H:%M:%SZ").to_string();
        SilencesPage {
            silences: all
                .iter()
                .map(|l| {
                    let s = &l.silence;
                    let state = s.state(now);
                    SilenceView {
                        id: s.id.clone(),
                        state: state.as_str(),
                        class: match state {
                            SilenceState::Active => "warn",
                            _ => "ok",
                        },
                        matchers: s.matchers(),
                        from: t(s.starts_at),
                        until: t(s.end()),
                        reason: s.reason.clone(),
                        by: match &l.expired_by {
                            Some(e) => {
                                format!("{} at {}; expired by {e}", l.created_by, t(l.created_at))
                            }
                            None => format!("{} at {}", l.created_by, t(l.created_at)),
                        },
                        can_expire: s.end() > now,
                    }
                })
                .collect(),
            form,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::silence::Silence;
    use chrono::TimeZone;

    fn at(h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 3, 4, h, 0, 0).unwrap()
    }

    fn record(expired: Option<u32>) -> SilenceRecord {
        SilenceRecord {
            silence: Silence {
                id: "s1".into(),
                page: Some("GitHub".into()),
                component: Some("API".into()),
                incident: None,
                route: None,
                starts_at: at(10),
                ends_at: at(12),
                expired_at: expired.map(at),
                reason: "deploy".into(),
            },
            created_at: at(9),
            created_by: "alice".into(),
            expired_by: expired.map(|_| "bob".into()),
        }
    }

    #[test]
    fn a_silence_shows_its_state_window_and_who_made_and_ended_it() {
        let p = SilencesPage::new(&[record(None)], SilenceForm::default(), at(11));
        let s = &p.silences[0];
        assert_eq!((s.state, s.class, s.can_expire), ("active", "warn", true));
        assert_eq!(
            (s.from.as_str(), s.until.as_str()),
            ("2025-03-04 10:00:00Z", "2025-03-04 12:00:00Z")
        );
        assert_eq!(s.by, "alice at 2025-03-04 09:00:00Z");
        let p = SilencesPage::new(&[record(Some(11))], SilenceForm::default(), at(11));
        let s = &p.silences[0];
        assert_eq!((s.state, s.class, s.can_expire), ("expired", "ok", false));
        assert_eq!(s.until, "2025-03-04 11:00:00Z");
        assert_eq!(s.by, "alice at 2025-03-04 09:00:00Z; expired by bob");
        let p = SilencesPage::new(&[record(None)], SilenceForm::default(), at(9));
        assert_eq!(p.silences[0].state, "pending");
    }
}
