//! Routing as a table: (policy, alert, decision, open views) → what each
//! destination is told, or why nobody is.

use super::*;
use Priority::*;

fn component(id: &str, name: &str, group: Option<&str>) -> AlertFacts {
    AlertFacts {
        kind: EntityKind::Component,
        page_id: "gh".into(),
        components: vec![ComponentFacts {
            id: id.into(),
            name: Some(name.into()),
            group_id: group.map(Into::into),
        }],
    }
}

fn incident(listing: &[(&str, &str)]) -> AlertFacts {
    AlertFacts {
        kind: EntityKind::Incident,
        page_id: "gh".into(),
        components: listing
            .iter()
            .map(|(id, name)| ComponentFacts {
                id: (*id).into(),
                name: Some((*name).into()),
                group_id: None,
            })
            .collect(),
    }
}

fn page(f: impl FnOnce(&mut PagePolicy)) -> PagePolicy {
    let mut p = PagePolicy {
        page_id: "gh".into(),
        name: Some("GitHub".into()),
        ..PagePolicy::default()
    };
    f(&mut p);
    p
}

fn route(name: &str, f: impl FnOnce(&mut RoutePolicy)) -> RoutePolicy {
    let mut r = RoutePolicy {
        name: name.into(),
        pages: vec![],
        components: vec![],
        kinds: vec![],
        min_priority: Low,
        continue_matching: false,
        has_token: true,
    };
    f(&mut r);
    r
}

fn to(destinations: &[&str], action: Action, priority: Priority) -> Vec<Send> {
    destinations
        .iter()
        .map(|d| Send {
            destination: (*d).into(),
            action,
            priority,
        })
        .collect()
}

fn trigger(policy: &Policy, alert: &AlertFacts, p: Priority) -> Routed {
    policy.route(alert, Action::Trigger, p, &[])
}

#[test]
fn with_nothing_configured_everything_goes_to_the_default() {
    let plain = Policy::default();
    assert!(plain.is_plain());
    let r = trigger(&plain, &component("c1", "API", None), Medium);
    assert_eq!(r.sends, to(&[DEFAULT], Action::Trigger, Medium));
    assert_eq!(r.unsent, None);
    let open = [(DEFAULT.to_owned(), High)];
    let r = plain.route(
        &component("c1", "API", None),
        Action::Resolve,
        Medium,
        &open,
    );
    assert_eq!(
        r.sends,
        to(&[DEFAULT], Action::Resolve, High),
        "at the priority it had"
    );
    // A page with only a name is still plain.
    let named = Policy {
        pages: vec![page(|_| {})],
        ..Policy::default()
    };
    assert!(named.is_plain());
    assert_eq!(named.page_name("gh"), Some("GitHub"));
    assert_eq!(named.page_name("other"), None);
}

#[test]
fn page_filters_gate_opening_and_say_why() {
    let policy = |f: fn(&mut PagePolicy)| Policy {
        pages: vec![page(f)],
        default_has_token: true,
        ..Policy::default()
    };
    let only = policy(|p| p.components = vec!["Git Operations".into(), "g1".into()]);
    assert!(!only.is_plain());
    for (alert, sent) in [
        (component("c1", "git operations ", None), true),
        (component("c2", "API", Some("g1")), true),
        (component("c3", "Codespaces", None), false),
    ] {
        let r = trigger(&only, &alert, High);
        assert_eq!(!r.sends.is_empty(), sent, "{alert:?}");
    }
    let r = trigger(&only, &component("c3", "Codespaces", None), High);
    assert_eq!(
        r.unsent,
        Some((
            Outcome::Filtered,
            "filtered: component \"Codespaces\" is not among the components that may page on page GitHub".into()
        ))
    );

    let ignore = policy(|p| {
        p.components = vec!["Codespaces".into()];
        p.ignore_components = vec!["codespaces".into()];
    });
    assert_eq!(
        trigger(&ignore, &component("c3", "Codespaces", None), High).unsent,
        Some((
            Outcome::Filtered,
            "filtered: component \"Codespaces\" is ignored on page GitHub".into()
        )),
        "ignore wins"
    );

    let minimum = policy(|p| p.min_priority = High);
    assert_eq!(
        trigger(&minimum, &component("c1", "API", None), Medium).unsent,
        Some((
            Outcome::Filtered,
            "filtered: medium is below the page's minimum high".into()
        ))
    );
    assert_eq!(
        trigger(&minimum, &component("c1", "API", None), High).sends,
        to(&[DEFAULT], Action::Trigger, High),
        "at the minimum it opens"
    );
    assert_eq!(
        trigger(&minimum, &component("c1", "API", None), Critical).sends,
        to(&[DEFAULT], Action::Trigger, Critical),
        "rising to the minimum opens it then"
    );
    // Once open somewhere, it follows every change, even below the minimum.
    let open = [(DEFAULT.to_owned(), High)];
    let r = minimum.route(&component("c1", "API", None), Action::Trigger, Low, &open);
    assert_eq!(r.sends, to(&[DEFAULT], Action::Trigger, Low));
    assert_eq!(r.unsent, None, "it was told: no filter to report");
    // Told already at this priority: nothing to send, and still no filter
    // to report.
    let same = [(DEFAULT.to_owned(), Low)];
    let r = minimum.route(&component("c1", "API", None), Action::Trigger, Low, &same);
    assert_eq!((r.sends, r.unsent), (vec![], None));
    let r = minimum.route(&component("c1", "API", None), Action::Resolve, Low, &open);
    assert_eq!(r.sends, to(&[DEFAULT], Action::Resolve, High));
    // A resolve of an alert nobody was told of sends nothing.
    let r = minimum.route(&component("c1", "API", None), Action::Resolve, Low, &[]);
    assert_eq!(r.sends, []);
    assert_eq!(r.unsent.map(|u| u.0), Some(Outcome::Filtered));

    let none = policy(|p| p.incidents = Incidents::None);
    assert_eq!(
        trigger(&none, &incident(&[("c1", "API")]), Critical).unsent,
        Some((
            Outcome::Filtered,
            "filtered: incidents do not page on page GitHub".into()
        ))
    );
    let matching = policy(|p| {
        p.incidents = Incidents::Matching;
        p.components = vec!["API".into()];
    });
    assert!(
        !trigger(
            &matching,
            &incident(&[("c9", "Pages"), ("c1", "API")]),
            High
        )
        .sends
        .is_empty()
    );
    assert_eq!(
        trigger(&matching, &incident(&[("c9", "Pages")]), High)
            .unsent
            .map(|u| u.0),
        Some(Outcome::Filtered)
    );
    assert_eq!(
        trigger(&matching, &incident(&[]), High).unsent.map(|u| u.0),
        Some(Outcome::Filtered),
        "an incident that lists nothing matches nothing"
    );
    // Another page's alerts are not this page's business.
    let mut elsewhere = component("c3", "Codespaces", None);
    elsewhere.page_id = "other".into();
    assert_eq!(
        trigger(&only, &elsewhere, Low).sends,
        to(&[DEFAULT], Action::Trigger, Low)
    );
}

#[test]
fn routes_take_the_first_match_and_continue_when_told() {
    let policy = Policy {
        pages: vec![page(|_| {})],
        routes: vec![
            route("payments", |r| {
                r.components = vec!["Payments API".into()];
                r.continue_matching = true;
            }),
            route("platform", |r| r.pages = vec!["github".into()]),
            route("late", |_| {}),
            route("critical-only", |r| r.min_priority = Critical),
        ],
        default_has_token: true,
    };
    // Payments goes to payments, then on to platform (which matches the
    // page by name), which stops.
    let r = trigger(&policy, &component("c1", "Payments API", None), High);
    assert_eq!(
        r.sends,
        to(&["payments", "platform"], Action::Trigger, High)
    );
    // Anything else on the page: platform only.
    let r = trigger(&policy, &component("c2", "API", None), High);
    assert_eq!(r.sends, to(&["platform"], Action::Trigger, High));
    // An incident matches a route's components when it lists one.
    let r = trigger(&policy, &incident(&[("c1", "Payments API")]), High);
    assert_eq!(
        r.sends,
        to(&["payments", "platform"], Action::Trigger, High)
    );

    // A route names pages by id too; another page's alerts pass it by.
    let by_id = Policy {
        routes: vec![route("gh-team", |r| r.pages = vec!["gh".into()])],
        default_has_token: true,
        ..Policy::default()
    };
    assert_eq!(
        trigger(&by_id, &component("c1", "API", None), Low).sends,
        to(&["gh-team"], Action::Trigger, Low)
    );
    let mut elsewhere = component("c1", "API", None);
    elsewhere.page_id = "other".into();
    assert_eq!(
        trigger(&by_id, &elsewhere, Low).sends,
        to(&[DEFAULT], Action::Trigger, Low)
    );

    let kinds = Policy {
        routes: vec![
            route("incidents", |r| r.kinds = vec![EntityKind::Incident]),
            route("urgent", |r| r.min_priority = High),
        ],
        default_has_token: true,
        ..Policy::default()
    };
    assert_eq!(
        trigger(&kinds, &incident(&[]), Low).sends,
        to(&["incidents"], Action::Trigger, Low)
    );
    // Below a route's minimum it goes on to later routes, then the default.
    assert_eq!(
        trigger(&kinds, &component("c1", "API", None), Medium).sends,
        to(&[DEFAULT], Action::Trigger, Medium)
    );
    assert_eq!(
        trigger(&kinds, &component("c1", "API", None), High).sends,
        to(&["urgent"], Action::Trigger, High)
    );
}

#[test]
fn unmatched_alerts_need_a_default_token_once_routes_exist() {
    let policy = Policy {
        routes: vec![route("payments", |r| {
            r.components = vec!["Payments API".into()]
        })],
        default_has_token: false,
        ..Policy::default()
    };
    let r = trigger(&policy, &component("c2", "API", None), High);
    assert_eq!(r.sends, []);
    assert_eq!(
        r.unsent,
        Some((
            Outcome::Unrouted,
            "unrouted: no route matches this alert and [itoc360] has no token".into()
        ))
    );
}

#[test]
fn each_destination_keeps_its_own_view() {
    let policy = Policy {
        routes: vec![route("team-a", |r| r.components = vec!["API".into()])],
        default_has_token: true,
        ..Policy::default()
    };
    let api = component("c1", "API", None);
    // Open at team-a at high; a rise to critical goes there.
    let open = [("team-a".to_owned(), High)];
    assert_eq!(
        policy.route(&api, Action::Trigger, Critical, &open).sends,
        to(&["team-a"], Action::Trigger, Critical)
    );
    // The same priority again: nobody is told twice, and that is no filter.
    let r = policy.route(&api, Action::Trigger, High, &open);
    assert_eq!((r.sends, r.unsent), (vec![], None));
    // The route no longer matches (routes changed): the open destination
    // still follows the alert, and the new match opens it too.
    let moved = Policy {
        routes: vec![route("team-b", |_| {})],
        default_has_token: true,
        ..Policy::default()
    };
    assert_eq!(
        moved.route(&api, Action::Trigger, Critical, &open).sends,
        [
            Send {
                destination: "team-a".into(),
                action: Action::Trigger,
                priority: Critical
            },
            Send {
                destination: "team-b".into(),
                action: Action::Trigger,
                priority: Critical
            }
        ]
    );
    // A resolve goes to every destination that has it open, at its own
    // priority, whatever the routes say now.
    let both = [("team-a".to_owned(), High), ("old".to_owned(), Medium)];
    assert_eq!(
        moved.route(&api, Action::Resolve, Low, &both).sends,
        [
            Send {
                destination: "team-a".into(),
                action: Action::Resolve,
                priority: High
            },
            Send {
                destination: "old".into(),
                action: Action::Resolve,
                priority: Medium
            }
        ]
    );
}
