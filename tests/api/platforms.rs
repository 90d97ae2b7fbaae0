//! Status platforms other than Atlassian's, black-box: webhooks posted to
//! `/webhooks/<kind>` and pages polled from a fake serving the captured
//! bodies of `tests/fixtures/<kind>/` (see PROVENANCE.md there), through to
//! the fake ITOC360 — each trouble paged once, each recovery resolved once.

use serde_json::{Value, json};
use statuspage_bridge::config::{Page, Route, Secret};
use statuspage_bridge::rules::domain::EntityKind;
use statuspage_bridge::rules::platform::{FeedWords, Platform};

use crate::commands::{config_for, run, stdout};
use crate::fake_itoc360::FakeItoc360;
use crate::fake_status::{Answer, FakeStatus};
use crate::helpers::*;

const ITOC_TOKEN: &str = "itoc-token";
/// The Instatus page of the webhook bodies.
const INSTATUS_PAGE: &str = "cl8y2m2pq0017wistia";
const INSTATUS_INCIDENT: &str = "cl4a3i2k90001incident";
const INSTATUS_COMPONENT: &str = "cm86c68hh003drlefrrklqlw1";

async fn post_to(app: &TestApp, kind: &str, body: String) -> (u16, Value) {
    let r = app
        .client
        .post(format!("{}/webhooks/{kind}?token={TOKEN}", app.address))
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap())
}

/// (status, id) of every event ITOC360 accepted, in order.
fn sent(fake: &FakeItoc360) -> Vec<(String, String)> {
    fake.accepted()
        .iter()
        .map(|b| {
            (
                b["status"].as_str().unwrap().to_owned(),
                b["id"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn fingerprint(page: &str, kind: &str, id: &str) -> String {
    format!("statuspage:{page}:{kind}:{id}")
}

#[tokio::test]
async fn instatus_webhooks_page_once_and_resolve_once() {
    needs_database!();
    let fake = FakeItoc360::start(ITOC_TOKEN).await;
    let mut app = spawn_delivering(&fake.base_url, ITOC_TOKEN).await;
    // Instatus retries a delivery: the same body again pages nothing.
    for (name, outcome) in [
        ("webhook_incident_investigating.json", "triggered"),
        ("webhook_incident_investigating.json", "duplicate"),
        ("webhook_component_majoroutage.json", "triggered"),
        ("webhook_incident_resolved.json", "resolved"),
        ("webhook_component_operational.json", "resolved"),
    ] {
        let (status, v) = post_to(&app, "instatus", fixture(&format!("instatus/{name}"))).await;
        assert_eq!(
            (status, v["outcome"].as_str()),
            (200, Some(outcome)),
            "{name}: {v}"
        );
    }
    app.drain().await;

    let incident_fp = fingerprint(INSTATUS_PAGE, "incident", INSTATUS_INCIDENT);
    let component_fp = fingerprint(INSTATUS_PAGE, "component", INSTATUS_COMPONENT);
    let mut got = sent(&fake);
    got.sort();
    assert_eq!(
        got,
        vec![
            ("resolve".to_owned(), component_fp.clone()),
            ("resolve".to_owned(), incident_fp.clone()),
            ("trigger".to_owned(), component_fp),
            ("trigger".to_owned(), incident_fp),
        ]
    );
    // MAJOROUTAGE is critical; the title names the incident and its status.
    // (Events of different alerts are sent concurrently: find it by id.)
    let incident_fp = fingerprint(INSTATUS_PAGE, "incident", INSTATUS_INCIDENT);
    let accepted = fake.accepted();
    let trigger = accepted
        .iter()
        .find(|b| b["id"] == incident_fp.as_str() && b["status"] == "trigger")
        .expect("the incident's trigger");
    assert_eq!(trigger["severity"], "critical", "{trigger}");
    assert!(
        trigger["title"]
            .as_str()
            .unwrap()
            .contains("We're facing an issue with our API"),
        "{trigger}"
    );
    // Each body is kept as it came, with the platform it is read as.
    let shapes: Vec<(String, String)> = app
        .db()
        .all(
            "SELECT body_shape, kind FROM webhooks ORDER BY received_at, id",
            &[],
        )
        .await;
    assert!(shapes.iter().all(|(s, _)| s == "instatus"), "{shapes:?}");
    // The unsubscribe link never reaches the audit page.
    let (_, page) = app.get("/events").await;
    assert!(!page.contains("unsub-secret-token"));
}

#[tokio::test]
async fn a_body_that_is_not_an_instatus_webhook_is_400_and_kept() {
    needs_database!();
    let app = spawn_app().await;
    // A Statuspage webhook posted to the Instatus endpoint.
    let (status, v) = post_to(
        &app,
        "instatus",
        fixture("01_incident_created_investigating_critical.json"),
    )
    .await;
    assert_eq!(status, 200, "Statuspage's shape is Instatus's too: {v}");
    let (status, v) = post_to(
        &app,
        "instatus",
        json!({"page": {"id": "p1"}, "hello": 1}).to_string(),
    )
    .await;
    assert_eq!(status, 400, "{v}");
    assert_eq!(v["outcome"], "unrecognized");
    assert!(
        v["error"]
            .as_str()
            .unwrap()
            .contains("not an Instatus webhook"),
        "{v}"
    );
    let (status, _) = post_to(&app, "instatus", "{not json".into()).await;
    assert_eq!(status, 400);
    assert_eq!(
        app.count("SELECT count(*) FROM webhooks WHERE body_shape = 'instatus'")
            .await,
        3,
        "every authenticated body is stored"
    );
    // The same body on Statuspage's endpoint is stored and answered 200.
    let (status, v) = post_to(&app, "statuspage", json!({"hello": 1}).to_string()).await;
    assert_eq!((status, v["outcome"].as_str()), (200, Some("unrecognized")));
}

#[tokio::test]
async fn an_unknown_kind_is_404_and_stores_nothing() {
    needs_database!();
    let app = spawn_app().await;
    for kind in ["atlassian", "STATUSPAGE", "instatus%2F..", ""] {
        let r = app
            .client
            .post(format!("{}/webhooks/{kind}?token={TOKEN}", app.address))
            .body(fixture("instatus/webhook_incident_investigating.json"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 404, "{kind}");
    }
    assert_eq!(app.count("SELECT count(*) FROM webhooks").await, 0);
}

/// A page of `kind`, polled alone, at `fake`.
fn polled(kind: Platform, id: &str, fake: &FakeStatus) -> Page {
    Page {
        id: id.into(),
        source: String::new(),
        base_url: fake.base_url.clone(),
        api_key: Secret::default(),
        webhooks: false,
        kind,
        feed: None,
    }
}

fn instatus_page(fake: &FakeStatus) -> Page {
    polled(Platform::Instatus, "wistia", fake)
}

/// Serves the fixture `name` at `path` (below `/api/v2/` without a
/// leading slash, else as given).
fn serve(fake: &FakeStatus, path: &str, name: &str) {
    fake.set(
        path,
        Answer::json(serde_json::from_str(&fixture(name)).unwrap()),
    );
}

/// A bridge delivering to `itoc` that polls `page` (its first round done).
async fn spawn_polling(itoc: &FakeItoc360, page: Page) -> TestApp {
    let (base, token) = (itoc.base_url.clone(), ITOC_TOKEN.to_owned());
    let app = spawn_app_with(move |s| {
        s.itoc360.base_url = base;
        s.itoc360.token = Secret::new(token);
        s.pages = vec![page];
        s.reconcile.interval_secs = 3600;
        s.reconcile.misses_to_resolve = 2;
    })
    .await;
    app.reconcile.clone().unwrap().wait_for(1).await;
    app
}

fn serve_instatus(fake: &FakeStatus, summary: &str, components: &str) {
    fake.set(
        "/summary.json",
        Answer::json(serde_json::from_str(&fixture(summary)).unwrap()),
    );
    fake.set(
        "/v2/components.json",
        Answer::json(serde_json::from_str(&fixture(components)).unwrap()),
    );
}

#[tokio::test]
async fn a_polled_instatus_page_pages_its_trouble_once_and_resolves_it() {
    needs_database!();
    let status = FakeStatus::start().await;
    serve_instatus(
        &status,
        "instatus/summary_hasissues.json",
        "instatus/components_majoroutage.json",
    );
    let fake = FakeItoc360::start(ITOC_TOKEN).await;
    let page = instatus_page(&status);
    let (base, token) = (fake.base_url.clone(), ITOC_TOKEN.to_owned());
    let mut app = spawn_app_with(move |s| {
        s.itoc360.base_url = base;
        s.itoc360.token = Secret::new(token);
        s.pages = vec![page];
        s.reconcile.interval_secs = 3600;
        s.reconcile.misses_to_resolve = 2;
    })
    .await;
    let mut rounds = app.reconcile.clone().unwrap();
    rounds.wait_for(1).await;
    // A second round with the same answers changes nothing.
    rounds.round().await;
    app.drain().await;
    let incident_fp = fingerprint("wistia", "incident", INSTATUS_INCIDENT);
    let component_fp = fingerprint("wistia", "component", INSTATUS_COMPONENT);
    let mut got = sent(&fake);
    got.sort();
    assert_eq!(
        got,
        vec![
            ("trigger".to_owned(), component_fp.clone()),
            ("trigger".to_owned(), incident_fp.clone()),
        ],
        "the maintenance not yet started pages nothing"
    );
    let failed: i64 = app
        .count("SELECT count(*) FROM reconcile_rounds WHERE result <> 'ok'")
        .await;
    assert_eq!(failed, 0);

    // Recovered: the component at once, the incident once it has been
    // missing from the summary for two rounds.
    serve_instatus(
        &status,
        "instatus/summary_up.json",
        "instatus/components_operational.json",
    );
    rounds.round().await;
    app.drain().await;
    assert_eq!(sent(&fake).len(), 3);
    assert_eq!(sent(&fake)[2], ("resolve".to_owned(), component_fp.clone()));
    rounds.round().await;
    rounds.round().await;
    app.drain().await;
    let got = sent(&fake);
    assert_eq!(got.len(), 4, "{got:?}");
    assert_eq!(got[3], ("resolve".to_owned(), incident_fp));
    // The page's name and components were learned from the adapter's summary.
    let name: Option<String> = app
        .db()
        .value(
            "SELECT name FROM learned_pages WHERE page_id = 'wistia'",
            &[],
        )
        .await;
    assert_eq!(name.as_deref(), Some("Wistia"));
}

#[tokio::test]
async fn an_answer_that_is_not_instatus_fails_the_round_and_changes_nothing() {
    needs_database!();
    let status = FakeStatus::start().await;
    // A Statuspage summary where Instatus's should be.
    status.set(
        "/summary.json",
        Answer::json(json!({"page": {"id": "wistia"}, "components": [], "incidents": []})),
    );
    status.set(
        "/v2/components.json",
        Answer::json(json!({"components": []})),
    );
    let page = instatus_page(&status);
    let app = spawn_app_with(move |s| {
        s.pages = vec![page];
        s.reconcile.interval_secs = 3600;
    })
    .await;
    app.reconcile.clone().unwrap().wait_for(1).await;
    let (result, error): (String, Option<String>) = app
        .db()
        .one("SELECT result, error FROM reconcile_rounds", &[])
        .await;
    assert_eq!(result, "failed");
    assert!(error.unwrap().contains("page.status"));
    assert_eq!(app.count("SELECT count(*) FROM webhooks").await, 0);
}

#[tokio::test]
async fn replay_reads_each_body_as_its_platform_and_decides_the_same() {
    needs_database!();
    let app = spawn_app().await;
    for (name, outcome) in [
        ("webhook_incident_investigating.json", "triggered"),
        ("webhook_component_majoroutage.json", "triggered"),
        ("webhook_maintenance_inprogress.json", "ignored"),
        ("webhook_incident_resolved.json", "resolved"),
        ("webhook_component_operational.json", "resolved"),
    ] {
        let (_, v) = post_to(&app, "instatus", fixture(&format!("instatus/{name}"))).await;
        assert_eq!(v["outcome"], outcome, "{name}: {v}");
    }
    // A Statuspage webhook beside them, read as Statuspage's.
    assert_eq!(
        app.outcome(fixture("01_incident_created_investigating_critical.json"))
            .await,
        "triggered"
    );
    let tmp = tempfile::tempdir().unwrap();
    let out = run(&config_for(&app), tmp.path(), &["replay", "--json"]);
    assert!(out.status.success(), "{out:?}");
    let lines: Vec<Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines, vec![json!({"webhooks": 6, "differences": 0})]);
}

#[tokio::test]
async fn a_polled_incident_io_page_maps_its_values_and_resolves_from_its_recent_list() {
    needs_database!();
    let status = FakeStatus::start().await;
    serve(&status, "summary.json", "incidentio/summary_trouble.json");
    serve(
        &status,
        "incidents.json",
        "incidentio/incidents_recent.json",
    );
    let itoc = FakeItoc360::start(ITOC_TOKEN).await;
    let mut app = spawn_polling(&itoc, polled(Platform::Incidentio, "openai", &status)).await;
    let mut rounds = app.reconcile.clone().unwrap();
    rounds.round().await;
    app.drain().await;
    let incident = fingerprint("openai", "incident", "01M36RMC01ZFWQ861WYJKC4XE1");
    let component = fingerprint("openai", "component", "01JMB2N6CA0D6R5B1EBGQ4MZJ1");
    let mut got = sent(&itoc);
    got.sort();
    assert_eq!(
        got,
        vec![
            ("trigger".to_owned(), component.clone()),
            ("trigger".to_owned(), incident.clone()),
        ]
    );
    // The incident's impact is minor: both page at medium (a component
    // takes its open incidents' priority, at least medium).
    let severities: Vec<(String, String)> = itoc
        .accepted()
        .iter()
        .map(|b| {
            (
                b["id"].as_str().unwrap().into(),
                b["severity"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert!(
        severities.iter().all(|(_, s)| s == "medium"),
        "{severities:?}"
    );
    let stored: String = app
        .db()
        .value(
            "SELECT status FROM components WHERE component_id = '01JMB2N6CA0D6R5B1EBGQ4MZJ1'",
            &[],
        )
        .await;
    assert_eq!(
        stored, "major_outage",
        "full_outage is read as a major outage"
    );

    // Recovered: the incident left the summary and incidents.json has it
    // resolved, so it resolves in this one round.
    serve(&status, "summary.json", "incidentio/summary_recovered.json");
    rounds.round().await;
    app.drain().await;
    let got = sent(&itoc);
    assert_eq!(got.len(), 4, "{got:?}");
    let mut resolves: Vec<String> = got[2..].iter().map(|(s, id)| format!("{s} {id}")).collect();
    resolves.sort();
    assert_eq!(
        resolves,
        vec![
            format!("resolve {component}"),
            format!("resolve {incident}")
        ]
    );
    rounds.round().await;
    app.drain().await;
    assert_eq!(sent(&itoc).len(), 4, "nothing more");
}

#[tokio::test]
async fn a_polled_slack_page_pages_its_items_and_their_services_once() {
    needs_database!();
    let status = FakeStatus::start().await;
    serve(&status, "/api/v2.0.0/current", "slack/current_active.json");
    let itoc = FakeItoc360::start(ITOC_TOKEN).await;
    let mut app = spawn_polling(&itoc, polled(Platform::Slack, "slack", &status)).await;
    let mut rounds = app.reconcile.clone().unwrap();
    rounds.round().await;
    app.drain().await;
    let mut got = sent(&itoc);
    got.sort();
    let fp = |kind: &str, id: &str| fingerprint("slack", kind, id);
    let mut want = vec![
        ("trigger".to_owned(), fp("incident", "546")),
        ("trigger".to_owned(), fp("incident", "547")),
        (
            "trigger".to_owned(),
            fp("component", "Apps/Integrations/APIs"),
        ),
        ("trigger".to_owned(), fp("component", "Connectivity")),
        ("trigger".to_owned(), fp("component", "Messaging")),
    ];
    want.sort();
    assert_eq!(got, want);
    // The outage is critical, and so are the services it names.
    let severity = |id: &str| {
        itoc.accepted()
            .iter()
            .find(|b| b["id"] == id)
            .map(|b| b["severity"].as_str().unwrap().to_owned())
    };
    assert_eq!(
        severity(&fp("incident", "547")).as_deref(),
        Some("critical")
    );
    assert_eq!(
        severity(&fp("component", "Connectivity")).as_deref(),
        Some("critical")
    );

    // All well again: the services resolve at once, the items once they
    // have been gone for two rounds.
    serve(&status, "/api/v2.0.0/current", "slack/current_ok.json");
    rounds.round().await;
    app.drain().await;
    assert_eq!(sent(&itoc).len(), 8);
    rounds.round().await;
    app.drain().await;
    let got = sent(&itoc);
    assert_eq!(got.len(), 10, "{got:?}");
    let mut resolved: Vec<String> = got[5..].iter().map(|(_, id)| id.clone()).collect();
    resolved.sort();
    let mut all: Vec<String> = want.iter().map(|(_, id)| id.clone()).collect();
    all.sort();
    assert_eq!(resolved, all);
    assert!(got[5..].iter().all(|(s, _)| s == "resolve"));
    // Its services have timelines like any component.
    let (code, page) = app.get("/components/slack/Connectivity").await;
    assert_eq!(code, 200, "{page}");
}

#[tokio::test]
async fn pages_components_reads_any_kind_through_its_adapter() {
    let status = FakeStatus::start().await;
    serve(&status, "/summary.json", "instatus/summary_up.json");
    serve(
        &status,
        "/v2/components.json",
        "instatus/components_documented.json",
    );
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("bridge.toml");
    std::fs::write(
        &config,
        format!(
            "[database]\npath = \"{}\"\n\n[[pages]]\nid = \"wistia\"\nkind = \"instatus\"\nbase_url = \"{}\"\n",
            dir.path().join("bridge.db").display(),
            status.base_url
        ),
    )
    .unwrap();
    let tmp = dir.path().to_owned();
    let out = tokio::task::spawn_blocking(move || {
        run(&config, &tmp, &["pages", "components", "wistia", "--json"])
    })
    .await
    .unwrap();
    assert!(out.status.success(), "{out:?}");
    let v: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v["page"]["name"], "Wistia");
    let rows: Vec<(String, bool, Option<String>, String)> = v["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_owned(),
                c["group"].as_bool().unwrap(),
                c["group_name"].as_str().map(str::to_owned),
                c["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        vec![
            ("App".to_owned(), true, None, "operational".to_owned()),
            (
                "Player".to_owned(),
                false,
                Some("App".to_owned()),
                "degraded_performance".to_owned()
            ),
            (
                "Uploads".to_owned(),
                false,
                None,
                "under_maintenance".to_owned()
            ),
        ]
    );
}

#[tokio::test]
async fn a_google_cloud_region_is_a_component_a_route_can_take() {
    needs_database!();
    const REGION_TOKEN: &str = "alloydb-iowa-token";
    let status = FakeStatus::start().await;
    serve(&status, "/incidents.json", "gcp/incidents_trouble.json");
    let itoc = FakeItoc360::start_many(&[ITOC_TOKEN, REGION_TOKEN]).await;
    let page = polled(Platform::Gcp, "gcp", &status);
    let (base, token) = (itoc.base_url.clone(), ITOC_TOKEN.to_owned());
    let mut app = spawn_app_with(move |s| {
        s.itoc360.base_url = base;
        s.itoc360.token = Secret::new(token);
        s.pages = vec![page];
        s.reconcile.interval_secs = 3600;
        s.routing.routes = vec![Route {
            name: "alloydb-iowa".into(),
            pages: vec![],
            components: vec!["AlloyDB for PostgreSQL · us-central1".into()],
            kinds: vec![EntityKind::Component],
            min_priority: None,
            token: Secret::new(REGION_TOKEN),
            format: None,
            continue_matching: false,
            page_after_secs: None,
            resolve_after_secs: None,
        }];
    })
    .await;
    let mut rounds = app.reconcile.clone().unwrap();
    rounds.wait_for(1).await;
    rounds.round().await;
    app.drain().await;
    let incident = fingerprint("gcp", "incident", "xVSEV3kVaJBmS7SZbnre");
    let region = fingerprint("gcp", "component", "fPovtKbaWN9UTepMm3kJ·us-central1");
    let ids = |token: &str| -> Vec<(String, String)> {
        itoc.accepted_by(token)
            .iter()
            .map(|b| {
                (
                    b["status"].as_str().unwrap().into(),
                    b["id"].as_str().unwrap().into(),
                )
            })
            .collect()
    };
    assert_eq!(
        ids(ITOC_TOKEN),
        vec![("trigger".to_owned(), incident.clone())]
    );
    assert_eq!(
        ids(REGION_TOKEN),
        vec![("trigger".to_owned(), region.clone())]
    );
    // Severity medium: the incident, and the region it lists, page at high.
    assert_eq!(itoc.accepted_by(REGION_TOKEN)[0]["severity"], "high");
    // Titles name the page's platform.
    assert_eq!(
        itoc.accepted_by(REGION_TOKEN)[0]["title"],
        "Google Cloud component \"AlloyDB for PostgreSQL · us-central1\": partial_outage"
    );

    // Ended: the incident is resolved from the feed's own ended list, the
    // region is listed operational again — both in one round.
    serve(&status, "/incidents.json", "gcp/incidents_recovered.json");
    rounds.round().await;
    app.drain().await;
    assert_eq!(
        ids(ITOC_TOKEN),
        vec![
            ("trigger".to_owned(), incident.clone()),
            ("resolve".to_owned(), incident)
        ]
    );
    assert_eq!(
        ids(REGION_TOKEN),
        vec![
            ("trigger".to_owned(), region.clone()),
            ("resolve".to_owned(), region)
        ]
    );
    rounds.round().await;
    app.drain().await;
    assert_eq!(itoc.accepted().len(), 4, "nothing more");
}

#[tokio::test]
async fn better_stack_webhooks_page_once_and_resolve_once() {
    needs_database!();
    let itoc = FakeItoc360::start(ITOC_TOKEN).await;
    let mut app = spawn_delivering(&itoc.base_url, ITOC_TOKEN).await;
    for (name, outcome) in [
        ("webhook_incident.json", "triggered"),
        ("webhook_incident.json", "duplicate"),
        ("webhook_maintenance.json", "ignored"),
        ("webhook_incident_resolved.json", "resolved"),
    ] {
        let (status, v) =
            post_to(&app, "betterstack", fixture(&format!("betterstack/{name}"))).await;
        assert_eq!(
            (status, v["outcome"].as_str()),
            (200, Some(outcome)),
            "{name}: {v}"
        );
    }
    let (status, v) = post_to(
        &app,
        "betterstack",
        json!({"event_type": "monitor"}).to_string(),
    )
    .await;
    assert_eq!(status, 400, "{v}");
    app.drain().await;
    let fp = fingerprint("12345", "incident", "98765");
    assert_eq!(
        sent(&itoc),
        vec![
            ("trigger".to_owned(), fp.clone()),
            ("resolve".to_owned(), fp)
        ]
    );
    assert_eq!(
        itoc.accepted()[0]["severity"],
        "critical",
        "the page said downtime"
    );
}

#[tokio::test]
async fn a_polled_better_stack_page_pages_its_report_and_resource_once() {
    needs_database!();
    let status = FakeStatus::start().await;
    serve(&status, "/index.json", "betterstack/index_trouble.json");
    let itoc = FakeItoc360::start(ITOC_TOKEN).await;
    let mut app = spawn_polling(&itoc, polled(Platform::Betterstack, "133002", &status)).await;
    let mut rounds = app.reconcile.clone().unwrap();
    rounds.round().await;
    app.drain().await;
    let incident = fingerprint("133002", "incident", "1050825");
    let resource = fingerprint("133002", "component", "4188758");
    let mut got = sent(&itoc);
    got.sort();
    assert_eq!(
        got,
        vec![
            ("trigger".to_owned(), resource.clone()),
            ("trigger".to_owned(), incident.clone())
        ]
    );
    serve(&status, "/index.json", "betterstack/index_recovered.json");
    rounds.round().await;
    app.drain().await;
    let got = sent(&itoc);
    assert_eq!(got.len(), 4, "{got:?}");
    let mut ends: Vec<(String, String)> = got[2..].to_vec();
    ends.sort();
    assert_eq!(
        ends,
        vec![
            ("resolve".to_owned(), resource),
            ("resolve".to_owned(), incident)
        ]
    );
    rounds.round().await;
    app.drain().await;
    assert_eq!(sent(&itoc).len(), 4, "nothing more");
}

/// A feed page at `fake`'s `path`, its entries recent for twenty years.
fn feed_page(fake: &FakeStatus, path: &str, by_title: bool) -> Page {
    let mut page = polled(Platform::Feed, "vendor", fake);
    page.base_url = format!("{}{path}", fake.base_url);
    page.feed = Some(FeedWords {
        max_age: chrono::Duration::days(20 * 366),
        by_title,
        ..FeedWords::default()
    });
    page
}

fn serve_text(fake: &FakeStatus, path: &str, name: &str) {
    fake.set(
        path,
        Answer {
            status: 200,
            body: fixture(name),
        },
    );
}

#[tokio::test]
async fn a_feed_entry_pages_once_and_resolves_when_it_says_so() {
    needs_database!();
    let status = FakeStatus::start().await;
    serve_text(&status, "/history.atom", "feed/github_history_open.atom");
    let itoc = FakeItoc360::start(ITOC_TOKEN).await;
    let mut app = spawn_polling(&itoc, feed_page(&status, "/history.atom", false)).await;
    let mut rounds = app.reconcile.clone().unwrap();
    rounds.round().await;
    app.drain().await;
    let incident = fingerprint(
        "vendor",
        "incident",
        "tag:www.githubstatus.com,2005:Incident/8zc63m64hy36",
    );
    assert_eq!(sent(&itoc), vec![("trigger".to_owned(), incident.clone())]);
    assert_eq!(itoc.accepted()[0]["severity"], "medium", "no words: minor");
    serve_text(
        &status,
        "/history.atom",
        "feed/github_history_resolved.atom",
    );
    rounds.round().await;
    app.drain().await;
    assert_eq!(
        sent(&itoc),
        vec![
            ("trigger".to_owned(), incident.clone()),
            ("resolve".to_owned(), incident)
        ]
    );
}

#[tokio::test]
async fn an_aws_feed_grouped_by_subject_resolves_on_its_resolved_item() {
    needs_database!();
    let status = FakeStatus::start().await;
    serve_text(&status, "/rss/sqs-eu-west-1.rss", "feed/aws_open.rss");
    let itoc = FakeItoc360::start(ITOC_TOKEN).await;
    let mut app = spawn_polling(&itoc, feed_page(&status, "/rss/sqs-eu-west-1.rss", true)).await;
    let mut rounds = app.reconcile.clone().unwrap();
    rounds.round().await;
    app.drain().await;
    let incident = fingerprint("vendor", "incident", "subject:increased error rates");
    assert_eq!(sent(&itoc), vec![("trigger".to_owned(), incident.clone())]);
    serve_text(&status, "/rss/sqs-eu-west-1.rss", "feed/aws_resolved.rss");
    rounds.round().await;
    app.drain().await;
    assert_eq!(
        sent(&itoc),
        vec![
            ("trigger".to_owned(), incident.clone()),
            ("resolve".to_owned(), incident)
        ]
    );
    // Not a feed (an HTML page where the feed was): the round fails, nothing changes.
    status.set(
        "/rss/sqs-eu-west-1.rss",
        Answer {
            status: 200,
            body: "<html>moved</html>".into(),
        },
    );
    rounds.round().await;
    let failed: i64 = app
        .count("SELECT count(*) FROM reconcile_rounds WHERE result = 'failed'")
        .await;
    assert_eq!(failed, 1);
    assert_eq!(itoc.accepted().len(), 2);
}
