//! The plan as a value: for each kind of event, everything written —
//! wording included — without a database.

use chrono::{DateTime, TimeZone, Utc};

use super::*;
use crate::rules::domain::{Action, ComponentStatus, GROUPED_NOTE, Impact, IncidentStatus};
use crate::rules::parse::{ComponentRef, IncidentUpdate};
use crate::rules::route::{PagePolicy, RoutePolicy};
use Priority::*;

fn t(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_700_000_000 + secs, 0).unwrap()
}

const NOW: i64 = 1000;

/// No filters, no routes: everything to the default destination.
static PLAIN: Policy = Policy {
    pages: Vec::new(),
    routes: Vec::new(),
    default_has_token: true,
};

fn setting(origin: &Origin) -> Setting<'_> {
    Setting {
        now: t(NOW),
        origin,
        rules: Rules::default(),
        delivery: Delivery::Queue,
        policy: &PLAIN,
        shape: Platform::Statuspage,
    }
}

/// Open at the default destination at `p`.
fn at_default(p: Priority) -> Vec<route::View> {
    vec![route::View::open(route::DEFAULT, p)]
}

fn incident(status: &str, impact: &str, components: &[&str]) -> IncidentEvent {
    IncidentEvent {
        page_id: "p1".into(),
        incident_id: "i1".into(),
        name: Some("API down".into()),
        status: Some(IncidentStatus::parse(status)),
        impact: Some(Impact::parse(impact)),
        impact_override: None,
        backfilled: false,
        shortlink: Some("https://stspg.io/x".into()),
        created_at: Some(t(0)),
        updated_at: Some(t(100)),
        started_at: Some(t(10)),
        resolved_at: (status == "resolved").then(|| t(100)),
        latest_update: Some(IncidentUpdate {
            id: Some("u1".into()),
            status: Some(status.into()),
            body: Some("We are looking into it.".into()),
            created_at: Some(t(90)),
        }),
        components: components
            .iter()
            .map(|id| ComponentRef {
                id: (*id).into(),
                name: Some(format!("Component {id}")),
            })
            .collect(),
    }
}

fn component(old: &str, new: &str) -> ComponentEvent {
    ComponentEvent {
        page_id: "p1".into(),
        component_id: "c1".into(),
        name: Some("API".into()),
        group_id: None,
        update_id: Some("cu1".into()),
        old_status: Some(ComponentStatus::parse(old)),
        new_status: Some(ComponentStatus::parse(new)),
        created_at: Some(t(200)),
    }
}

fn reading_incident(ev: IncidentEvent) -> Reading {
    Reading::Incident {
        event: ev,
        keys: vec!["k1".into(), "k2".into()],
    }
}

fn open_stored(p: Priority, status: &str, started: i64) -> Stored {
    Stored {
        prior: Prior {
            alert: Alert::Open(p),
            status: Some(status.into()),
            last_event_at: Some(t(50)),
        },
        started_at: Some(t(started)),
    }
}

#[test]
fn a_new_incident_is_planned_whole() {
    let origin = Origin::Webhook;
    let reading = reading_incident(incident("investigating", "critical", &["c2", "c1"]));
    let ctx = Context {
        open_components: vec![OpenComponent {
            component_id: "c1".into(),
            name: Some("Checkout".into()),
            stored: open_stored(Medium, "major_outage", 40),
            views: at_default(Medium),
        }],
        ..Context::default()
    };
    let p = plan(&reading, &ctx, &setting(&origin));
    assert_eq!(p.step.outcome, Outcome::Triggered);
    assert_eq!(p.step.reason, "investigating: alert opens at critical");
    assert_eq!(p.summary.kind, BodyKind::Incident);
    assert_eq!(p.summary.event_at, Some(t(100)));
    assert_eq!(p.summary.event_id.as_deref(), Some("u1"));
    assert_eq!(
        p.state,
        Some(NewState::Incident(IncidentState {
            name: Some("API down".into()),
            status: "investigating".into(),
            impact: Some("critical".into()),
            shortlink: Some("https://stspg.io/x".into()),
            started_at: Some(t(10)),
            resolved_at: None,
            backfilled: false,
            alert: Alert::Open(Critical),
            last_event_at: Some(t(100)),
        }))
    );
    assert_eq!(p.applied_keys, ["k1", "k2"]);
    assert_eq!(
        p.links,
        Some(vec![
            ("c2".into(), Some("Component c2".into())),
            ("c1".into(), Some("Component c1".into())),
        ])
    );
    // The open component it lists is raised, with its own transition and
    // event, before the incident's event.
    assert_eq!(p.raises, [("c1".to_owned(), Critical)]);
    assert_eq!(p.transitions.len(), 2);
    assert_eq!(p.transitions[0].kind, EntityKind::Incident);
    assert_eq!(p.transitions[0].at, t(100));
    assert_eq!(p.transitions[0].after, Alert::Open(Critical));
    assert_eq!(p.transitions[1].kind, EntityKind::Component);
    assert_eq!(p.transitions[1].outcome, Outcome::Retriggered);
    assert_eq!(
        p.transitions[1].reason.as_deref(),
        Some("major_outage: priority medium → critical, raised by incident \"API down\" (i1)")
    );
    let [raise, own] = &p.drafts[..] else {
        panic!("two events: {:?}", p.drafts);
    };
    assert_eq!(
        (raise.fingerprint.as_str(), raise.action, raise.priority),
        ("statuspage:p1:component:c1", Action::Trigger, Critical)
    );
    assert_eq!(
        raise.title,
        "Statuspage component \"Checkout\": major_outage"
    );
    assert_eq!(
        raise.message,
        "Component \"Checkout\" is major_outage; priority raised to critical by incident \"API down\" (i1)."
    );
    assert_eq!(raise.starts_at, t(40));
    assert_eq!(own.fingerprint, "statuspage:p1:incident:i1");
    assert_eq!(
        own.title,
        "Statuspage incident \"API down\": investigating (critical)"
    );
    assert_eq!(own.message, "We are looking into it.\n\nhttps://stspg.io/x");
    assert_eq!(own.link.as_deref(), Some("https://stspg.io/x"));
    assert_eq!((own.starts_at, own.ends_at), (t(10), None));
    assert_eq!(own.delivery, Delivery::Queue);
    assert_eq!(own.destination, "default");
    // Both alerts are now open at the default destination.
    assert_eq!(
        p.views,
        [
            ViewChange {
                kind: EntityKind::Component,
                entity_id: "c1".into(),
                destination: "default".into(),
                open: Some(Critical),
                held: None,
            },
            ViewChange {
                kind: EntityKind::Incident,
                entity_id: "i1".into(),
                destination: "default".into(),
                open: Some(Critical),
                held: None,
            },
        ]
    );
}

#[test]
fn a_resolve_ends_at_resolved_at_and_keeps_the_last_priority() {
    let origin = Origin::Webhook;
    let reading = reading_incident(incident("resolved", "critical", &[]));
    let ctx = Context {
        stored: open_stored(High, "identified", 5),
        views: at_default(High),
        ..Context::default()
    };
    let p = plan(&reading, &ctx, &setting(&origin));
    assert_eq!(p.step.outcome, Outcome::Resolved);
    let [own] = &p.drafts[..] else {
        panic!("{:?}", p.drafts);
    };
    assert_eq!((own.action, own.priority), (Action::Resolve, High));
    assert_eq!(own.ends_at, Some(t(100)));
    assert_eq!(own.starts_at, t(10), "the payload's start wins");
    assert_eq!(
        own.title,
        "Statuspage incident \"API down\": resolved (critical)"
    );
    assert!(p.raises.is_empty(), "a resolve raises nothing");
    assert_eq!(p.views[0].open, None, "closed at the default destination");
}

#[test]
fn a_component_outage_and_its_return() {
    let origin = Origin::Webhook;
    let reading = Reading::Component {
        event: component("operational", "major_outage"),
        keys: vec!["k".into()],
    };
    let p = plan(&reading, &Context::default(), &setting(&origin));
    assert_eq!(p.step.outcome, Outcome::Triggered);
    let Some(NewState::Component(state)) = &p.state else {
        panic!("{:?}", p.state);
    };
    assert_eq!(state.alert_opened_at, Some(t(200)));
    let [d] = &p.drafts[..] else { panic!() };
    assert_eq!(d.title, "Statuspage component \"API\": major_outage");
    assert_eq!(
        d.message,
        "Component \"API\" changed from operational to major_outage."
    );
    assert_eq!((d.priority, d.starts_at, d.ends_at), (Medium, t(200), None));
    assert!(p.links.is_none());

    let back = Reading::Component {
        event: component("major_outage", "operational"),
        keys: vec!["k2".into()],
    };
    let ctx = Context {
        stored: open_stored(High, "major_outage", 150),
        views: at_default(High),
        ..Context::default()
    };
    let p = plan(&back, &ctx, &setting(&origin));
    assert_eq!(p.step.outcome, Outcome::Resolved);
    let [d] = &p.drafts[..] else { panic!() };
    assert_eq!((d.action, d.priority), (Action::Resolve, High));
    assert_eq!((d.starts_at, d.ends_at), (t(150), Some(t(200))));
    let Some(NewState::Component(state)) = &p.state else {
        panic!()
    };
    assert_eq!(state.alert_opened_at, None);
}

#[test]
fn nothing_is_written_but_the_webhook_when_an_event_is_not_applied() {
    let origin = Origin::Webhook;
    let reading = reading_incident(incident("investigating", "major", &["c1"]));
    let dup = Context {
        duplicate_of: Some("w0".into()),
        ..Context::default()
    };
    let p = plan(&reading, &dup, &setting(&origin));
    assert_eq!(p.step.outcome, Outcome::Duplicate);
    assert_eq!(
        (
            p.state.is_none(),
            p.applied_keys.is_empty(),
            p.links.is_none(),
            p.transitions.is_empty(),
            p.drafts.is_empty()
        ),
        (true, true, true, true, true)
    );
    assert_eq!(p.summary.page_id.as_deref(), Some("p1"));

    for (reading, kind, outcome, reason) in [
        (
            Reading::NotJson("expected value".into()),
            BodyKind::Invalid,
            Outcome::Rejected,
            "body is not JSON: expected value",
        ),
        (
            Reading::Unrecognized("no incident or component".into()),
            BodyKind::Unknown,
            Outcome::Unrecognized,
            "unrecognized payload: no incident or component",
        ),
    ] {
        let p = plan(&reading, &Context::default(), &setting(&origin));
        assert_eq!((p.summary.kind, p.step.outcome), (kind, outcome));
        assert_eq!(p.step.reason, reason);
        assert!(p.summary.page_id.is_none() && p.drafts.is_empty());
    }
}

#[test]
fn titles_name_the_page_s_platform_else_the_body_s() {
    let reading = reading_incident(incident("investigating", "minor", &[]));
    let title = |s: &Setting<'_>| {
        plan(&reading, &Context::default(), s).drafts[0]
            .title
            .clone()
    };
    let webhook = Origin::Webhook;
    assert!(title(&setting(&webhook)).starts_with("Statuspage incident \""));
    let pushed = Setting {
        shape: Platform::Instatus,
        ..setting(&webhook)
    };
    assert!(title(&pushed).starts_with("Instatus incident \""));
    // A heal is Statuspage-shaped; the page's kind names it.
    let page_id = match &reading {
        Reading::Incident { event, .. } => event.page_id.clone(),
        _ => unreachable!(),
    };
    let policy = Policy {
        pages: vec![PagePolicy {
            page_id,
            platform: Platform::Gcp,
            ..PagePolicy::default()
        }],
        ..Policy::default()
    };
    let healed = Setting {
        policy: &policy,
        ..setting(&webhook)
    };
    assert!(
        title(&healed).starts_with("Google Cloud incident \""),
        "{}",
        title(&healed)
    );
}

#[test]
fn a_heal_says_so_and_a_dry_run_is_skipped() {
    let origin = Origin::Reconcile {
        why: "missed webhook".into(),
    };
    let reading = reading_incident(incident("investigating", "minor", &[]));
    let s = Setting {
        delivery: Delivery::DryRun,
        ..setting(&origin)
    };
    let p = plan(&reading, &Context::default(), &s);
    assert_eq!(
        p.step.reason,
        "reconcile: missed webhook; investigating: alert opens at medium"
    );
    assert_eq!(p.drafts[0].delivery, Delivery::DryRun);
}

#[test]
fn an_event_without_time_happens_when_received() {
    let origin = Origin::Webhook;
    let mut ev = component("operational", "partial_outage");
    ev.created_at = None;
    ev.name = None;
    let reading = Reading::Component {
        event: ev,
        keys: vec![],
    };
    let p = plan(&reading, &Context::default(), &setting(&origin));
    assert_eq!(p.transitions[0].at, t(NOW));
    assert_eq!(p.drafts[0].starts_at, t(NOW));
    assert_eq!(
        p.drafts[0].title,
        "Statuspage component \"c1\": partial_outage"
    );
}

#[test]
fn readings_say_what_storage_must_look_up() {
    let body =
        br#"{"incident": {"id": "i1", "page_id": "p1", "name": "Down", "status": "investigating",
        "components": [{"id": "b"}, {"id": "a"}, {"id": "b"}]}}"#;
    let r = Reading::of(Platform::Statuspage, body, &Origin::Webhook);
    let l = r.lookup().unwrap();
    assert_eq!(
        (l.kind, l.page_id, l.entity_id),
        (EntityKind::Incident, "p1", "i1")
    );
    assert_eq!(l.components, ["a", "b"], "distinct and sorted");
    assert_eq!(l.keys.len(), 1, "a body key; no update id");
    assert_eq!(r.subject(), "incident \"Down\" (p1/i1)");
    assert!(matches!(
        Reading::of(Platform::Statuspage, b"nope", &Origin::Webhook),
        Reading::NotJson(_)
    ));
    assert!(
        Reading::of(Platform::Statuspage, b"nope", &Origin::Webhook)
            .lookup()
            .is_none()
    );
    assert_eq!(
        Reading::of(Platform::Statuspage, b"{}", &Origin::Webhook).subject(),
        "a payload of unknown shape"
    );
}

#[test]
fn routing_names_the_page_fans_out_and_says_why_nothing_was_sent() {
    let origin = Origin::Webhook;
    let policy = Policy {
        pages: vec![PagePolicy {
            page_id: "p1".into(),
            platform: Default::default(),
            name: Some("GitHub".into()),
            ignore_components: vec!["Codespaces".into()],
            ..PagePolicy::default()
        }],
        routes: vec![
            RoutePolicy {
                name: "team-a".into(),
                pages: vec![],
                components: vec!["API".into()],
                kinds: vec![],
                min_priority: Low,
                continue_matching: true,
                has_token: true,
                delays: Default::default(),
            },
            RoutePolicy {
                name: "quiet".into(),
                pages: vec!["github".into()],
                components: vec![],
                kinds: vec![],
                min_priority: Low,
                continue_matching: false,
                has_token: false,
                delays: Default::default(),
            },
        ],
        default_has_token: true,
    };
    let s = Setting {
        policy: &policy,
        shape: Platform::Statuspage,
        ..setting(&origin)
    };
    let outage = Reading::Component {
        event: component("operational", "major_outage"),
        keys: vec![],
    };
    let p = plan(&outage, &Context::default(), &s);
    assert_eq!(p.step.outcome, Outcome::Triggered);
    let sent: Vec<(&str, &str, Delivery)> = p
        .drafts
        .iter()
        .map(|d| (d.destination.as_str(), d.title.as_str(), d.delivery))
        .collect();
    assert_eq!(
        sent,
        [
            (
                "team-a",
                "[GitHub] Statuspage component \"API\": major_outage",
                Delivery::Queue
            ),
            (
                "quiet",
                "[GitHub] Statuspage component \"API\": major_outage",
                Delivery::DryRun
            ),
        ]
    );
    assert_eq!(p.views.len(), 2);

    let mut ignored = component("operational", "major_outage");
    ignored.name = Some("Codespaces".into());
    let p = plan(
        &Reading::Component {
            event: ignored,
            keys: vec![],
        },
        &Context::default(),
        &s,
    );
    assert_eq!(p.step.outcome, Outcome::Filtered);
    assert_eq!(
        p.step.reason,
        "filtered: component \"Codespaces\" is ignored on page GitHub; major_outage: alert opens at medium (priority medium: no associated open incident)"
    );
    assert_eq!(p.step.emit, None, "nothing was emitted");
    assert!(p.drafts.is_empty() && p.views.is_empty());
    // The entity is still followed: its state and transition are written.
    assert_eq!(p.transitions[0].after, Alert::Open(Medium));
}

#[test]
fn a_destination_is_resolved_at_the_priority_it_has() {
    let origin = Origin::Webhook;
    let back = Reading::Component {
        event: component("major_outage", "operational"),
        keys: vec![],
    };
    // The machine last decided high; this destination was told medium.
    let ctx = Context {
        stored: open_stored(High, "major_outage", 150),
        views: at_default(Medium),
        ..Context::default()
    };
    let p = plan(&back, &ctx, &setting(&origin));
    assert_eq!(p.step.emit.map(|e| e.priority), Some(High));
    assert_eq!(p.drafts[0].priority, Medium);
}

#[test]
fn an_outage_that_stays_open_keeps_when_it_started() {
    let origin = Origin::Webhook;
    // Open at medium since 150; an incident now makes it high.
    let worse = Reading::Component {
        event: component("partial_outage", "major_outage"),
        keys: vec![],
    };
    let ctx = Context {
        stored: open_stored(Medium, "partial_outage", 150),
        views: at_default(Medium),
        incident_priority: Some(High),
        ..Context::default()
    };
    let p = plan(&worse, &ctx, &setting(&origin));
    assert_eq!(p.step.outcome, Outcome::Retriggered);
    let Some(NewState::Component(state)) = &p.state else {
        panic!("{:?}", p.state)
    };
    assert_eq!(state.alert_opened_at, Some(t(150)));
    assert_eq!(p.drafts[0].starts_at, t(150));
}

#[test]
fn body_kinds_are_written_as_the_schema_names_them() {
    let names: Vec<&str> = [
        BodyKind::Incident,
        BodyKind::Component,
        BodyKind::Unknown,
        BodyKind::Invalid,
    ]
    .iter()
    .map(|k| k.as_str())
    .collect();
    assert_eq!(names, ["incident", "component", "unknown", "invalid"]);
}

#[test]
fn a_learned_page_name_leads_titles_and_learned_groups_reach_the_filters() {
    let origin = Origin::Webhook;
    let down = Reading::Component {
        event: component("operational", "major_outage"),
        keys: vec![],
    };
    let learned = Learned {
        page_name: Some("Vendor".into()),
        components: vec![ComponentFacts {
            id: "c1".into(),
            name: Some("API (learned)".into()),
            group_id: Some("g1".into()),
            group_name: Some("Core".into()),
        }],
    };
    let ctx = Context {
        learned: learned.clone(),
        ..Context::default()
    };
    let p = plan(&down, &ctx, &setting(&origin));
    assert_eq!(
        p.drafts[0].title, "[Vendor] Statuspage component \"API\": major_outage",
        "the webhook's own name, led by the learned page name"
    );
    // No learned name: the title is as ever.
    let p = plan(&down, &Context::default(), &setting(&origin));
    assert_eq!(
        p.drafts[0].title,
        "Statuspage component \"API\": major_outage"
    );
    // The webhook names no group; the learned one is "Core".
    let policy = Policy {
        pages: vec![route::PagePolicy {
            page_id: "p1".into(),
            platform: Default::default(),
            ignore_components: vec!["core".into()],
            ..route::PagePolicy::default()
        }],
        ..Policy::default()
    };
    let s = Setting {
        policy: &policy,
        shape: Platform::Statuspage,
        ..setting(&origin)
    };
    let p = plan(&down, &ctx, &s);
    assert_eq!(p.step.outcome, Outcome::Filtered);
    assert!(
        p.step.reason.contains("is ignored on page Vendor"),
        "{}",
        p.step.reason
    );
    // Facts: the event's name and group win; a group name only while the
    // groups agree.
    let moved = learned.facts("c1", None, Some("g2"));
    assert_eq!(moved.name.as_deref(), Some("API (learned)"));
    assert_eq!(
        (moved.group_id.as_deref(), moved.group_name),
        (Some("g2"), None)
    );
    let same = learned.facts("c1", Some("API"), None);
    assert_eq!(same.name.as_deref(), Some("API"));
    assert_eq!(same.group_name.as_deref(), Some("Core"));
    assert_eq!(
        learned.facts("c9", None, None),
        ComponentFacts {
            id: "c9".into(),
            ..ComponentFacts::default()
        }
    );
}

/// A page alert: only from the bridge's own reconcile; open → a trigger of
/// kind `page` at its priority with its wording, routed like any alert;
/// closed → its resolve.
#[test]
fn page_alerts_open_and_resolve_and_only_reconcile_makes_them() {
    use crate::rules::page_alert::PageAlertEvent;
    let ev = PageAlertEvent {
        page_id: "p1".into(),
        topic: "grouped".into(),
        open: true,
        priority: "high".into(),
        title: "7 more component(s) in trouble on page p1".into(),
        message: "Not paged one by one: A, B".into(),
        at: t(500),
        detail: vec!["a".into(), "b".into()],
    };
    let body = ev.body();
    assert!(matches!(
        Reading::of(Platform::Statuspage, &body, &Origin::Webhook),
        Reading::Unrecognized(why) if why.contains("only the bridge's own reconcile")
    ));
    let origin = Origin::Reconcile {
        why: "2 component(s) grouped".into(),
    };
    let reading = Reading::of(Platform::Statuspage, &body, &origin);
    let l = reading.lookup().unwrap();
    assert_eq!(
        (l.kind, l.page_id, l.entity_id),
        (EntityKind::Page, "p1", "grouped")
    );
    let opened = plan(&reading, &Context::default(), &setting(&origin));
    assert_eq!(opened.step.outcome, Outcome::Triggered);
    assert_eq!(opened.summary.kind, BodyKind::Page);
    let [d] = opened.drafts.as_slice() else {
        panic!("one draft: {:?}", opened.drafts)
    };
    assert_eq!(
        (d.kind, d.action, d.priority, d.fingerprint.as_str()),
        (
            EntityKind::Page,
            Action::Trigger,
            High,
            "statuspage:p1:page:grouped"
        )
    );
    assert_eq!(d.title, ev.title);
    assert_eq!(d.message, ev.message);
    let Some(NewState::Page(state)) = &opened.state else {
        panic!("{:?}", opened.state)
    };
    assert_eq!(
        (state.alert, state.opened_at),
        (Alert::Open(High), Some(t(500)))
    );
    assert_eq!(state.detail, ev.detail);

    let closed_ev = PageAlertEvent {
        open: false,
        at: t(900),
        ..ev.clone()
    };
    let ctx = Context {
        stored: Stored {
            prior: Prior {
                alert: Alert::Open(High),
                status: Some("open".into()),
                last_event_at: Some(t(500)),
            },
            started_at: Some(t(500)),
        },
        views: at_default(High),
        ..Context::default()
    };
    let closed = plan(&Reading::PageAlert(closed_ev), &ctx, &setting(&origin));
    assert_eq!(closed.step.outcome, Outcome::Resolved);
    assert_eq!(
        closed
            .drafts
            .iter()
            .map(|d| (d.action, d.priority, d.starts_at, d.ends_at))
            .collect::<Vec<_>>(),
        [(Action::Resolve, High, t(500), Some(t(900)))]
    );
}

/// A heal its round grouped opens its alert nowhere new (outcome
/// `filtered`, saying why), but still changes an alert a destination
/// already has open.
#[test]
fn a_grouped_heal_opens_nothing_new_and_follows_what_is_open() {
    let grouped = Origin::Reconcile {
        why: format!("{GROUPED_NOTE} (3 components paged one by one this round); down"),
    };
    assert!(grouped.grouped());
    assert!(!Origin::Reconcile { why: "down".into() }.grouped());
    let reading = Reading::Component {
        event: component("operational", "major_outage"),
        keys: vec!["component_update:cu1".into()],
    };
    let p = plan(&reading, &Context::default(), &setting(&grouped));
    assert_eq!(p.step.outcome, Outcome::Filtered);
    assert!(
        p.step.reason.contains("grouped: not paged one by one"),
        "{}",
        p.step.reason
    );
    assert!(p.drafts.is_empty() && p.views.is_empty(), "{p:?}");
    assert!(matches!(&p.state, Some(NewState::Component(c)) if c.alert == Alert::Open(Medium)));
    // Already open at the default destination, now raised: sent there.
    let open = Context {
        stored: Stored {
            prior: Prior {
                alert: Alert::Open(Low),
                status: Some("degraded_performance".into()),
                last_event_at: Some(t(100)),
            },
            started_at: Some(t(100)),
        },
        views: at_default(Low),
        ..Context::default()
    };
    let p = plan(&reading, &open, &setting(&grouped));
    assert_eq!(p.step.outcome, Outcome::Retriggered);
    assert_eq!(
        p.drafts
            .iter()
            .map(|d| (d.action, d.priority))
            .collect::<Vec<_>>(),
        [(Action::Trigger, Medium)]
    );
}
