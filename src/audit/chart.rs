//! The timeline chart's geometry: status bands over time and marks where
//! ITOC360 was paged or resolved. Only numbers and short labels come out;
//! the template draws the SVG (and escapes the labels).

use chrono::{DateTime, Utc};

use super::query::{OutboxRow, TransitionRow};
use crate::rules::domain::{Action, ComponentStatus, IncidentStatus};
use crate::rules::time::parse_time;

pub const WIDTH: f64 = 800.0;
pub const HEIGHT: f64 = 120.0;
const LEFT: f64 = 10.0;
const RIGHT: f64 = 10.0;
const BAND_Y: f64 = 30.0;
const BAND_H: f64 = 40.0;

#[derive(Debug, Clone, PartialEq)]
pub struct Band {
    pub x: f64,
    pub w: f64,
    pub y: f64,
    pub h: f64,
    /// CSS class: ok, warn, bad, maint, unknown.
    pub class: &'static str,
    pub label: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Mark {
    pub x: f64,
    /// trigger | resolve
    pub action: &'static str,
    /// SVG points of the marker's triangle.
    pub points: String,
    pub label: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Tick {
    pub x: f64,
    pub label: String,
    /// SVG text-anchor, so the first and last labels stay inside.
    pub anchor: &'static str,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    pub width: f64,
    pub height: f64,
    pub bands: Vec<Band>,
    pub marks: Vec<Mark>,
    pub ticks: Vec<Tick>,
}

/// How a status (an incident's or a component's) is coloured.
pub fn status_class(status: &str) -> &'static str {
    use ComponentStatus as C;
    use IncidentStatus as I;
    match I::parse(status) {
        I::Resolved | I::Postmortem | I::Completed => "ok",
        I::Monitoring => "warn",
        I::Investigating | I::Identified => "bad",
        I::Scheduled | I::InProgress | I::Verifying => "maint",
        I::Unknown(_) => match C::parse(status) {
            C::Operational => "ok",
            C::DegradedPerformance => "warn",
            C::PartialOutage | C::MajorOutage => "bad",
            C::UnderMaintenance => "maint",
            C::Unknown(_) => "unknown",
        },
    }
}

/// Lays out the chart; `None` without any transition.
pub fn build(
    transitions: &[TransitionRow],
    events: &[OutboxRow],
    now: DateTime<Utc>,
) -> Option<Chart> {
    let times: Vec<DateTime<Utc>> = transitions
        .iter()
        .filter_map(|t| parse_time(&t.at))
        .collect();
    let t0 = *times.iter().min()?;
    let event_time = |e: &OutboxRow| {
        // The payload time of the transition that decided it, so marks line
        // up with the bands; the decision time otherwise.
        transitions
            .iter()
            .find(|t| t.webhook_id == e.webhook_id)
            .and_then(|t| parse_time(&t.at))
            .or_else(|| parse_time(&e.created_at))
    };
    let mut t1 = times
        .iter()
        .copied()
        .chain(events.iter().filter_map(event_time))
        .max()?;
    // Leave room after the last change; an open status runs to "now" when
    // that is close enough to keep the chart readable.
    let span = (t1 - t0).max(chrono::Duration::minutes(1));
    if now > t1 && now - t1 < span * 2 {
        t1 = now;
    } else {
        t1 += span / 10;
    }
    let total = (t1 - t0).num_milliseconds().max(1) as f64;
    let x = |t: DateTime<Utc>| {
        LEFT + (WIDTH - LEFT - RIGHT) * ((t - t0).num_milliseconds() as f64 / total)
    };

    let mut bands = Vec::new();
    let mut sorted: Vec<(DateTime<Utc>, &TransitionRow)> = transitions
        .iter()
        .filter_map(|t| parse_time(&t.at).map(|at| (at, t)))
        .collect();
    sorted.sort_by_key(|(at, _)| *at);
    for (i, (at, t)) in sorted.iter().enumerate() {
        let end = sorted.get(i + 1).map_or(t1, |(next, _)| *next);
        let (x0, x1) = (x(*at), x(end));
        bands.push(Band {
            x: round(x0),
            w: round((x1 - x0).max(1.0)),
            y: BAND_Y,
            h: BAND_H,
            class: status_class(&t.to_status),
            label: format!(
                "{} from {}",
                t.to_status,
                at.format("%Y-%m-%d %H:%M:%S UTC")
            ),
        });
    }

    let marks = events
        .iter()
        .filter_map(|e| {
            let at = event_time(e)?;
            let mx = round(x(at));
            let points = if e.action == Action::Trigger {
                format!(
                    "{},{} {},{} {},{}",
                    mx - 6.0,
                    10.0,
                    mx + 6.0,
                    10.0,
                    mx,
                    24.0
                )
            } else {
                format!(
                    "{},{} {},{} {},{}",
                    mx - 6.0,
                    90.0,
                    mx + 6.0,
                    90.0,
                    mx,
                    76.0
                )
            };
            Some(Mark {
                x: mx,
                action: e.action.as_str(),
                points,
                label: format!(
                    "{} ({}) at {}, {}",
                    e.action,
                    e.priority,
                    at.format("%H:%M:%S"),
                    e.state.as_str()
                ),
            })
        })
        .collect();

    let format = if t1 - t0 > chrono::Duration::days(1) {
        "%m-%d %H:%M"
    } else if t1 - t0 < chrono::Duration::minutes(10) {
        "%H:%M:%S"
    } else {
        "%H:%M"
    };
    let ticks = (0..=4)
        .map(|i| {
            let t = t0 + (t1 - t0) * i / 4;
            Tick {
                x: round(x(t)),
                label: t.format(format).to_string(),
                anchor: match i {
                    0 => "start",
                    4 => "end",
                    _ => "middle",
                },
            }
        })
        .collect();
    Some(Chart {
        width: WIDTH,
        height: HEIGHT,
        bands,
        marks,
        ticks,
    })
}

fn round(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::domain::{Alert, Outcome};
    use crate::storage::outbox::State;
    use chrono::TimeZone;

    fn tr(w: &str, at: &str, to: &str) -> TransitionRow {
        TransitionRow {
            webhook_id: w.into(),
            at: at.into(),
            from_status: None,
            to_status: to.into(),
            alert_before: Alert::Closed,
            alert_after: Alert::Closed,
            outcome: Outcome::Triggered,
            reason: None,
        }
    }

    fn ev(w: &str, action: Action) -> OutboxRow {
        let mut o = super::super::views::fixtures::outbox(1, action, State::Delivered);
        o.webhook_id = w.into();
        o.created_at = "2030-01-01T00:00:00.000Z".into();
        o
    }

    #[test]
    fn bands_follow_transitions_and_marks_line_up() {
        let trs = vec![
            tr("a", "2025-03-04T10:00:00.000Z", "investigating"),
            tr("b", "2025-03-04T10:30:00.000Z", "resolved"),
            tr("c", "2025-03-04T11:00:00.000Z", "investigating"),
        ];
        let evs = vec![
            ev("a", Action::Trigger),
            ev("b", Action::Resolve),
            ev("c", Action::Trigger),
        ];
        let now = Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, 0).unwrap();
        let c = build(&trs, &evs, now).unwrap();
        assert_eq!(c.bands.len(), 3);
        assert_eq!(
            c.bands.iter().map(|b| b.class).collect::<Vec<_>>(),
            ["bad", "ok", "bad"]
        );
        assert_eq!(c.bands[0].x, LEFT);
        assert!(c.bands[1].x > c.bands[0].x && c.bands[2].x > c.bands[1].x);
        // Each mark sits where its transition's band starts.
        for (m, b) in c.marks.iter().zip(&c.bands) {
            assert_eq!(m.x, b.x);
        }
        assert_eq!(c.marks[1].action, "resolve");
        assert!(c.bands.iter().all(|b| b.x + b.w <= WIDTH - RIGHT + 0.2));
        assert_eq!(c.ticks.len(), 5);
        assert!(build(&[], &evs, now).is_none());
    }

    #[test]
    fn every_status_has_its_colour() {
        for (statuses, class) in [
            (
                &["operational", "resolved", "postmortem", "completed"][..],
                "ok",
            ),
            (&["degraded_performance", "monitoring"][..], "warn"),
            (
                &[
                    "partial_outage",
                    "major_outage",
                    "investigating",
                    "identified",
                ][..],
                "bad",
            ),
            (
                &["under_maintenance", "scheduled", "in_progress", "verifying"][..],
                "maint",
            ),
            (&["", "on_fire"][..], "unknown"),
        ] {
            for s in statuses {
                assert_eq!(status_class(s), class, "{s}");
            }
        }
    }
}
