//! Routing as a table: (policy, alert, decision, open views) → what each
//! destination is told, or why nobody is.

use super::*;
use Priority::*;

fn component(id: &str, name: &str, group: Option<&str>) -> AlertFacts {
    AlertFacts {
        kind: EntityKind::Component,
        page_id: "gh".into(),
        page_name: None,
        entity_id: id.into(),
        components: vec![ComponentFacts {
            id: id.into(),
            name: Some(name.into()),
            group_id: group.map(Into::into),
            group_name: None,
        }],
    }
}

fn incident(listing: &[(&str, &str)]) -> AlertFacts {
    AlertFacts {
        kind: EntityKind::Incident,
        page_id: "gh".into(),
        page_name: None,
        entity_id: "i1".into(),
        components: listing
            .iter()
            .map(|(id, name)| ComponentFacts {
                id: (*id).into(),
                name: Some((*name).into()),
                group_id: None,
                group_name: None,
            })
            .collect(),
    }
}

fn page(f: impl FnOnce(&mut PagePolicy)) -> PagePolicy {
    let mut p = PagePolicy {
        page_id: "gh".into(),
        platform: Default::default(),
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
        delays: Delays::default(),
    };
    f(&mut r);
    r
}

fn to(destinations: &[&str], action: Action, priority: Priority) -> Vec<Outgoing> {
    destinations
        .iter()
        .map(|d| Outgoing {
            destination: (*d).into(),
            action,
            priority,
            hold: None,
        })
        .collect()
}

fn quiet() -> Quiet<'static> {
    Quiet {
        now: chrono::DateTime::UNIX_EPOCH,
        silences: &[],
    }
}

fn trigger(policy: &Policy, alert: &AlertFacts, p: Priority) -> Routed {
    policy.route(alert, Action::Trigger, p, &[], &quiet())
}

#[test]
fn with_nothing_configured_everything_goes_to_the_default() {
    let plain = Policy::default();
    assert!(plain.is_plain());
    let r = trigger(&plain, &component("c1", "API", None), Medium);
    assert_eq!(r.sends, to(&[DEFAULT], Action::Trigger, Medium));
    assert_eq!(r.unsent, None);
    let open = [View::open(DEFAULT, High)];
    let r = plain.route(
        &component("c1", "API", None),
        Action::Resolve,
        Medium,
        &open,
        &quiet(),
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
    let open = [View::open(DEFAULT, High)];
    let r = minimum.route(
        &component("c1", "API", None),
        Action::Trigger,
        Low,
        &open,
        &quiet(),
    );
    assert_eq!(r.sends, to(&[DEFAULT], Action::Trigger, Low));
    assert_eq!(r.unsent, None, "it was told: no filter to report");
    // Told already at this priority: nothing to send, and still no filter
    // to report.
    let same = [View::open(DEFAULT, Low)];
    let r = minimum.route(
        &component("c1", "API", None),
        Action::Trigger,
        Low,
        &same,
        &quiet(),
    );
    assert_eq!((r.sends, r.unsent), (vec![], None));
    let r = minimum.route(
        &component("c1", "API", None),
        Action::Resolve,
        Low,
        &open,
        &quiet(),
    );
    assert_eq!(r.sends, to(&[DEFAULT], Action::Resolve, High));
    // A resolve of an alert nobody was told of sends nothing.
    let r = minimum.route(
        &component("c1", "API", None),
        Action::Resolve,
        Low,
        &[],
        &quiet(),
    );
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
    let open = [View::open("team-a", High)];
    assert_eq!(
        policy
            .route(&api, Action::Trigger, Critical, &open, &quiet())
            .sends,
        to(&["team-a"], Action::Trigger, Critical)
    );
    // The same priority again: nobody is told twice, and that is no filter.
    let r = policy.route(&api, Action::Trigger, High, &open, &quiet());
    assert_eq!((r.sends, r.unsent), (vec![], None));
    // The route no longer matches (routes changed): the open destination
    // still follows the alert, and the new match opens it too.
    let moved = Policy {
        routes: vec![route("team-b", |_| {})],
        default_has_token: true,
        ..Policy::default()
    };
    assert_eq!(
        moved
            .route(&api, Action::Trigger, Critical, &open, &quiet())
            .sends,
        [
            Outgoing {
                destination: "team-a".into(),
                action: Action::Trigger,
                priority: Critical,
                hold: None,
            },
            Outgoing {
                destination: "team-b".into(),
                action: Action::Trigger,
                priority: Critical,
                hold: None,
            }
        ]
    );
    // A resolve goes to every destination that has it open, at its own
    // priority, whatever the routes say now.
    let both = [View::open("team-a", High), View::open("old", Medium)];
    assert_eq!(
        moved
            .route(&api, Action::Resolve, Low, &both, &quiet())
            .sends,
        [
            Outgoing {
                destination: "team-a".into(),
                action: Action::Resolve,
                priority: High,
                hold: None,
            },
            Outgoing {
                destination: "old".into(),
                action: Action::Resolve,
                priority: Medium,
                hold: None,
            }
        ]
    );
}

mod quiet {
    //! Grace periods and silences: what is held, until when, and what a
    //! later decision cancels.
    use super::*;
    use crate::rules::silence::Silence;
    use chrono::TimeZone;

    fn t(secs: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 1, 10, 0, 0).unwrap() + Duration::seconds(secs)
    }

    fn at(secs: i64, silences: &[Silence]) -> Quiet<'_> {
        Quiet {
            now: t(secs),
            silences,
        }
    }

    fn graceful(page_after: u64, resolve_after: u64) -> Policy {
        Policy {
            pages: vec![page(|p| {
                p.delays = Delays {
                    page_after_secs: Some(page_after),
                    resolve_after_secs: Some(resolve_after),
                }
            })],
            ..Policy::default()
        }
    }

    fn held(action: Action, since: i64, until: i64, by: &str) -> Option<Held> {
        Some(Held {
            outbox_id: 7,
            action,
            since: t(since),
            until: t(until),
            by: HeldBy::parse(by).expect("a hold reason"),
        })
    }

    fn hold(until: i64, by: &str) -> Option<Hold> {
        Some(Hold {
            until: t(until),
            by: HeldBy::parse(by).expect("a hold reason"),
        })
    }

    fn silence(id: &str, f: impl FnOnce(&mut Silence)) -> Silence {
        let mut s = Silence {
            id: id.into(),
            page: Some("GitHub".into()),
            component: None,
            incident: None,
            route: None,
            starts_at: t(-60),
            ends_at: t(600),
            expired_at: None,
            reason: "vendor ticket 4411".into(),
        };
        f(&mut s);
        s
    }

    #[test]
    fn a_component_trigger_waits_its_grace_period_and_an_incident_does_not() {
        let policy = graceful(120, 0);
        let api = component("c1", "API", None);
        let r = policy.route(&api, Action::Trigger, High, &[], &at(0, &[]));
        assert_eq!(r.sends.len(), 1);
        assert_eq!(r.sends[0].hold, hold(120, "page_after_secs"));
        assert_eq!(r.unsent, None, "the opening webhook keeps its outcome");
        assert_eq!(
            r.views,
            [ViewAfter {
                destination: DEFAULT.into(),
                open: Some(High),
                held: Some((Action::Trigger, hold(120, "page_after_secs").unwrap())),
            }]
        );
        let outage = incident(&[("c1", "API")]);
        let r = policy.route(&outage, Action::Trigger, High, &[], &at(0, &[]));
        assert_eq!(r.sends, to(&[DEFAULT], Action::Trigger, High));
        // A route's own delay wins over the page's.
        let routed = Policy {
            routes: vec![route("team", |r| {
                r.delays.page_after_secs = Some(30);
            })],
            ..graceful(120, 0)
        };
        assert_eq!(routed.delays("gh", "team"), (30, 0));
        assert_eq!(routed.delays("gh", DEFAULT), (120, 0));
        assert_eq!(routed.delays("other", DEFAULT), (0, 0));
        assert!(!graceful(0, 5).is_plain());
    }

    #[test]
    fn a_recovery_within_the_grace_period_cancels_the_trigger_and_pages_nobody() {
        let policy = graceful(120, 0);
        let api = component("c1", "API", None);
        let waiting = [View {
            held: held(Action::Trigger, 0, 120, "page_after_secs"),
            ..View::open(DEFAULT, High)
        }];
        let r = policy.route(&api, Action::Resolve, High, &waiting, &at(30, &[]));
        assert!(r.sends.is_empty());
        assert_eq!(
            r.cancels,
            [Withdraw {
                destination: DEFAULT.into(),
                outbox_id: 7,
                fallback: Some((Action::Resolve, High)),
            }]
        );
        assert_eq!(
            r.unsent,
            Some((
                Outcome::Recovered,
                "recovered within 120 s: not paged".into()
            ))
        );
        assert_eq!(r.views[0].open, None);
        // A priority change while held replaces the held trigger, same deadline.
        let r = policy.route(&api, Action::Trigger, Critical, &waiting, &at(30, &[]));
        assert_eq!(r.cancels[0].fallback, None);
        assert_eq!(r.sends[0].priority, Critical);
        assert_eq!(r.sends[0].hold, hold(120, "page_after_secs"));
        // The same priority again changes nothing.
        let r = policy.route(&api, Action::Trigger, High, &waiting, &at(30, &[]));
        assert!(r.sends.is_empty() && r.cancels.is_empty() && r.views.is_empty());
    }

    #[test]
    fn a_held_resolve_is_cancelled_by_a_reopen() {
        let policy = graceful(0, 300);
        let api = component("c1", "API", None);
        let open = [View::open(DEFAULT, High)];
        let r = policy.route(&api, Action::Resolve, High, &open, &at(0, &[]));
        assert_eq!(r.sends[0].hold, hold(300, "resolve_after_secs"));
        assert_eq!(
            r.views[0].open,
            Some(High),
            "still open there until it is sent"
        );
        assert_eq!(r.unsent, None);
        let closing = [View {
            held: held(Action::Resolve, 0, 300, "resolve_after_secs"),
            ..View::open(DEFAULT, High)
        }];
        // Reopened at the same priority: the resolve is cancelled, nothing sent.
        let r = policy.route(&api, Action::Trigger, High, &closing, &at(60, &[]));
        assert!(r.sends.is_empty());
        assert_eq!(r.cancels[0].fallback, Some((Action::Trigger, High)));
        assert_eq!(
            r.views,
            [ViewAfter {
                destination: DEFAULT.into(),
                open: Some(High),
                held: None
            }]
        );
        assert!(r.notes[0].contains("stays open"), "{:?}", r.notes);
        // At another priority: the change is sent as usual.
        let r = policy.route(&api, Action::Trigger, Critical, &closing, &at(60, &[]));
        assert_eq!(r.sends, to(&[DEFAULT], Action::Trigger, Critical));
        assert_eq!(r.cancels[0].fallback, None);
        assert_eq!(r.views[0].open, Some(Critical));
        // A second resolve while one is held adds nothing.
        let r = policy.route(&api, Action::Resolve, High, &closing, &at(60, &[]));
        assert!(r.sends.is_empty() && r.cancels.is_empty());
    }

    #[test]
    fn a_silence_holds_new_triggers_until_it_ends_and_never_holds_a_resolve() {
        let policy = Policy {
            pages: vec![page(|_| {})],
            ..Policy::default()
        };
        let api = component("c1", "API", None);
        let known = [silence("s1", |_| {}), silence("s2", |s| s.ends_at = t(900))];
        let r = policy.route(&api, Action::Trigger, High, &[], &at(0, &known));
        assert_eq!(r.sends[0].hold, hold(900, "silence s2"), "the latest end");
        let (outcome, why) = r.unsent.clone().unwrap();
        assert_eq!(outcome, Outcome::Silenced);
        assert!(
            why.contains("silence s2") && why.contains("vendor ticket 4411"),
            "{why}"
        );
        // A grace period longer than the silence keeps its own deadline.
        let both = Policy {
            pages: vec![page(|p| p.delays.page_after_secs = Some(1200))],
            ..Policy::default()
        };
        let r = both.route(&api, Action::Trigger, High, &[], &at(0, &known));
        assert_eq!(r.sends[0].hold, hold(1200, "silence s2"));
        // Not in force yet, or ended: sent at once.
        let r = policy.route(&api, Action::Trigger, High, &[], &at(-120, &known));
        assert_eq!(r.sends, to(&[DEFAULT], Action::Trigger, High));
        // An alert ITOC360 has open follows its changes.
        let open = [View::open(DEFAULT, Medium)];
        let r = policy.route(&api, Action::Trigger, High, &open, &at(0, &known));
        assert_eq!(r.sends, to(&[DEFAULT], Action::Trigger, High));
        let r = policy.route(&api, Action::Resolve, High, &open, &at(0, &known));
        assert_eq!(r.sends, to(&[DEFAULT], Action::Resolve, Medium));
        // A silenced trigger never sent: the resolve cancels it.
        let silenced = [View {
            held: held(Action::Trigger, 0, 900, "silence s2"),
            ..View::open(DEFAULT, High)
        }];
        let r = policy.route(&api, Action::Resolve, High, &silenced, &at(10, &known));
        assert!(r.sends.is_empty());
        assert_eq!(r.cancels.len(), 1);
        assert_eq!(r.unsent.as_ref().map(|u| u.0), Some(Outcome::Silenced));
    }

    #[test]
    fn a_silence_on_one_route_leaves_the_others_paged() {
        let policy = Policy {
            routes: vec![
                route("payments", |r| r.continue_matching = true),
                route("platform", |_| {}),
            ],
            ..Policy::default()
        };
        let known = [silence("s1", |s| {
            s.page = None;
            s.route = Some("payments".into());
        })];
        let api = component("c1", "API", None);
        let r = policy.route(&api, Action::Trigger, High, &[], &at(0, &known));
        assert_eq!(r.sends.len(), 2);
        assert_eq!(r.sends[0].hold, hold(600, "silence s1"));
        assert_eq!(r.sends[1].hold, None);
        assert_eq!(r.unsent, None, "platform is paged");
        assert!(
            r.notes[0].starts_with("silenced: silence s1"),
            "{:?}",
            r.notes
        );
    }
}

#[test]
fn learned_names_stand_in_for_configured_ones() {
    // Learned from summary.json: the page is "GitHub (vendor)", and c2 is in
    // the group "Actions".
    let learned = |mut a: AlertFacts| {
        a.page_name = Some("GitHub (vendor)".into());
        if let Some(c) = a.components.first_mut().filter(|c| c.group_id.is_some()) {
            c.group_name = Some("Actions".into());
        }
        a
    };
    let policy = Policy {
        pages: vec![PagePolicy {
            page_id: "gh".into(),
            platform: Default::default(),
            ignore_components: vec!["actions".into()],
            ..PagePolicy::default()
        }],
        routes: vec![route("vendor", |r| {
            r.pages = vec!["github (VENDOR)".into()]
        })],
        default_has_token: false,
    };
    let runners = learned(component("c2", "Runners", Some("g1")));
    assert_eq!(policy.page_name_of(&runners), Some("GitHub (vendor)"));
    assert_eq!(
        trigger(&policy, &runners, High).unsent,
        Some((
            Outcome::Filtered,
            "filtered: component \"Runners\" is ignored on page GitHub (vendor)".into()
        )),
        "a group named by its learned name"
    );
    // Without the learned group name the group's name matches nothing.
    let unlearned = component("c2", "Runners", Some("g1"));
    assert_eq!(
        trigger(&policy, &unlearned, High).unsent.map(|u| u.0),
        Some(Outcome::Unrouted),
        "no learned page name: the route's page does not match either"
    );
    let git = learned(component("c1", "Git", None));
    assert_eq!(
        trigger(&policy, &git, High).sends,
        to(&["vendor"], Action::Trigger, High),
        "a route's pages name the page by its learned name"
    );
    // A configured name wins over the learned one.
    let named = Policy {
        pages: vec![page(|_| {})],
        ..Policy::default()
    };
    assert_eq!(named.page_name_of(&git), Some("GitHub"));
    assert!(named.names_page(&git, "github"));
    assert!(named.names_page(&git, " github (vendor) "));
    assert!(named.names_page(&git, "gh"));
    assert!(!named.names_page(&git, "GitLab"));
}
