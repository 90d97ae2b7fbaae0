//! The bodies ITOC360 reads, built from a decided outbox row. Pure: the
//! row already says what to send; this only shapes it for the configured
//! `[itoc360] format`.

use serde_json::{Value, json};

use crate::config::Format;
use crate::rules::domain::{Action, EntityKind, Priority};
use crate::rules::time::format_time;
use crate::storage::outbox::Event;

/// The name ITOC360 sees as the sender (`receiver` in Alertmanager bodies,
/// the `User-Agent` product).
pub const SENDER: &str = "statuspage-bridge";

pub fn body(format: Format, e: &Event) -> Value {
    // A webhook's text may hold a configured secret — another
    // destination's token, a page's API key: masked before it leaves, so
    // no destination learns another's.
    let shown = Event {
        title: crate::redact::mask(&e.title),
        message: crate::redact::mask(&e.message),
        link: e.link.as_deref().map(crate::redact::mask),
        ..e.clone()
    };
    match format {
        Format::Generic => generic(&shown),
        Format::Alertmanager => alertmanager(&shown),
    }
}

/// The vendor-neutral trigger/resolve event.
pub fn generic(e: &Event) -> Value {
    let severity = match e.priority {
        Priority::Critical => "critical",
        Priority::High => "high",
        Priority::Medium => "medium",
        Priority::Low => "low",
    };
    json!({
        "id": e.fingerprint,
        "title": e.title,
        "status": e.action.as_str(),
        "severity": severity,
        "message": e.message,
    })
}

/// An Alertmanager v4 webhook body with one alert.
pub fn alertmanager(e: &Event) -> Value {
    let severity = match e.priority {
        Priority::Critical => "critical",
        Priority::High => "error",
        Priority::Medium => "warning",
        Priority::Low => "info",
    };
    let resolved = e.action == Action::Resolve;
    let status = if resolved { "resolved" } else { "firing" };
    let mut labels = json!({
        "alertname": match e.kind {
            EntityKind::Incident => "StatuspageIncident",
            EntityKind::Component => "StatuspageComponent",
            EntityKind::Page => "StatuspagePage",
        },
        "severity": severity,
        "source": "statuspage",
        "kind": e.kind.as_str(),
        "page_id": e.page_id,
        "statuspage_status": e.status,
    });
    match e.kind {
        // `page_id` is the page already; the page alert's topic says which.
        EntityKind::Page => labels["topic"] = json!(e.entity_id),
        kind => labels[format!("{}_id", kind.as_str())] = json!(e.entity_id),
    }
    if let Some(impact) = &e.impact {
        labels["statuspage_impact"] = json!(impact);
    }
    let annotations = json!({ "summary": e.title, "description": e.message });
    // Alertmanager sends the zero time for a firing alert's end.
    let ends_at = match (e.ends_at, resolved) {
        (Some(t), true) => format_time(t),
        _ => "0001-01-01T00:00:00Z".to_owned(),
    };
    json!({
        "receiver": SENDER,
        "status": status,
        "alerts": [{
            "status": status,
            "labels": labels,
            "annotations": annotations,
            "startsAt": format_time(e.starts_at),
            "endsAt": ends_at,
            "generatorURL": e.link.clone().unwrap_or_default(),
            "fingerprint": e.fingerprint,
        }],
        "groupLabels": { "fingerprint": e.fingerprint },
        "commonLabels": labels,
        "commonAnnotations": annotations,
        "externalURL": "",
        "version": "4",
        "groupKey": e.fingerprint,
        "truncatedAlerts": 0,
    })
}

/// The heartbeat's always-firing Alertmanager `Watchdog` alert
/// (docs/OPERATING.md, "Proving it is alive"), firing since `started_at`.
pub fn watchdog(started_at: chrono::DateTime<chrono::Utc>) -> Value {
    json!({
        "receiver": SENDER,
        "status": "firing",
        "alerts": [{
            "status": "firing",
            "labels": {"alertname": "Watchdog", "severity": "info", "source": SENDER},
            "annotations": {
                "summary": "statuspage-bridge is alive",
                "description": "Always firing while the bridge is healthy; page when it stops arriving."
            },
            "startsAt": format_time(started_at),
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "",
            "fingerprint": WATCHDOG,
        }],
        "groupLabels": {"alertname": "Watchdog"},
        "commonLabels": {"alertname": "Watchdog", "severity": "info"},
        "commonAnnotations": {"summary": "statuspage-bridge is alive"},
        "externalURL": "",
        "version": "4",
        "groupKey": WATCHDOG,
        "truncatedAlerts": 0,
    })
}

/// The Watchdog alert's fingerprint.
const WATCHDOG: &str = "statuspage-bridge:watchdog";

#[cfg(test)]
mod tests {
    use super::*;

    fn event(action: &str, priority: &str) -> Event {
        let t = |s: &str| crate::rules::time::parse_time(s).unwrap();
        let action = Action::parse(action).unwrap();
        Event {
            id: 1,
            webhook_id: "w".into(),
            created_at: t("2025-03-04T10:15:02.118Z"),
            fingerprint: "statuspage:p:incident:i".into(),
            kind: EntityKind::Incident,
            page_id: "p".into(),
            entity_id: "i".into(),
            action,
            priority: Priority::parse(priority).unwrap(),
            title: "Statuspage incident \"API\": investigating (critical)".into(),
            message: "Looking".into(),
            status: "investigating".into(),
            impact: Some("critical".into()),
            link: Some("https://stspg.io/x".into()),
            starts_at: t("2025-03-04T10:15:01.900Z"),
            ends_at: (action == Action::Resolve).then(|| t("2025-03-04T11:00:00.000Z")),
            state: crate::storage::outbox::State::Pending,
            attempts: 0,
            next_attempt_at: t("2025-03-04T10:15:02.118Z"),
            queued_at: t("2025-03-04T10:15:02.118Z"),
            last_status: None,
            last_error: None,
            destination: "default".into(),
        }
    }

    #[test]
    fn generic_severities() {
        for (p, want) in [
            ("critical", "critical"),
            ("high", "high"),
            ("medium", "medium"),
            ("low", "low"),
        ] {
            let b = generic(&event("trigger", p));
            assert_eq!(b["severity"], want);
            assert_eq!(b["status"], "trigger");
            assert_eq!(b["id"], "statuspage:p:incident:i");
        }
        assert_eq!(generic(&event("resolve", "high"))["status"], "resolve");
    }

    #[test]
    fn alertmanager_shape() {
        for (p, want) in [
            ("critical", "critical"),
            ("high", "error"),
            ("medium", "warning"),
            ("low", "info"),
        ] {
            let b = alertmanager(&event("trigger", p));
            assert_eq!(b["alerts"][0]["labels"]["severity"], want);
            assert_eq!(b["commonLabels"]["severity"], want);
        }
        let b = alertmanager(&event("resolve", "high"));
        assert_eq!(b["status"], "resolved");
        assert_eq!(b["alerts"][0]["status"], "resolved");
        assert_eq!(b["alerts"][0]["endsAt"], "2025-03-04T11:00:00.000Z");
        assert_eq!(b["alerts"][0]["startsAt"], "2025-03-04T10:15:01.900Z");
        assert_eq!(
            alertmanager(&event("trigger", "high"))["alerts"][0]["endsAt"],
            "0001-01-01T00:00:00Z"
        );
        assert_eq!(b["alerts"][0]["labels"]["incident_id"], "i");
        assert_eq!(b["alerts"][0]["generatorURL"], "https://stspg.io/x");
        assert_eq!(b["groupKey"], "statuspage:p:incident:i");
        assert_eq!(b["version"], "4");
        assert_eq!(
            b["commonAnnotations"]["summary"],
            b["alerts"][0]["annotations"]["summary"]
        );
    }
}
