//! Hostile answers from the outside systems, each on real sockets: what the
//! bridge keeps of ITOC360's errors, where it lets redirects take it, and
//! how much of a status API's answer it reads.

use statuspage_bridge::config::{Page, Secret};

use crate::fake_itoc360::{FakeItoc360, Reply};
use crate::fake_status::FakeStatus;
use crate::helpers::*;

const INC: &str = "01_incident_created_investigating_critical.json";
const ITOC_TOKEN: &str = "itoc-token-cut-at-the-boundary-0123";

/// The error stored for the one event, and for its attempts.
async fn stored_errors(app: &TestApp) -> Vec<String> {
    let rows: Vec<(String,)> = app
        .db()
        .all(
            "SELECT coalesce(error, '') FROM delivery_attempts ORDER BY id",
            &[],
        )
        .await;
    let mut errors: Vec<String> = rows.into_iter().map(|(e,)| e).collect();
    let last: String = app
        .db()
        .value("SELECT coalesce(last_error, '') FROM outbox", &[])
        .await;
    errors.push(last);
    errors
}

/// A proxy's error page that echoes the `Authorization` header, long
/// enough that a cut at 300 characters would fall inside the token: no
/// part of the token is kept.
#[tokio::test]
async fn an_echoed_token_cut_at_the_boundary_leaves_no_prefix() {
    needs_database!();
    let fake = FakeItoc360::start(ITOC_TOKEN).await;
    // "Authorization: Bearer " is 22 characters: 263 + 22 leaves 15 of the
    // token before character 300.
    fake.script([Reply::EchoText {
        status: 403,
        pad: 263,
    }]);
    let mut app = spawn_delivering(&fake.base_url, ITOC_TOKEN).await;
    assert_eq!(app.outcome(fixture(INC)).await, "triggered");
    app.drain().await;
    let errors = stored_errors(&app).await;
    assert_eq!(errors.len(), 2, "{errors:?}");
    for e in &errors {
        assert!(e.starts_with("HTTP 403: xxx"), "{e}");
        assert!(!e.contains(&ITOC_TOKEN[..8]), "a prefix of the token: {e}");
        assert!(e.chars().count() <= 320, "{} characters", e.chars().count());
    }
    app.stop().await;
    fake.stop().await;
}

/// ITOC360's own error text is kept to 2 KB however long it is; an answer
/// too long to read whole (1 MB) is kept like a proxy's page.
#[tokio::test]
async fn a_long_error_is_kept_to_two_kilobytes() {
    needs_database!();
    for (length, kept) in [(10_000, 2100), (1_000_000, 320)] {
        let fake = FakeItoc360::start(ITOC_TOKEN).await;
        fake.script([Reply::LongError(400, length)]);
        let mut app = spawn_delivering(&fake.base_url, ITOC_TOKEN).await;
        assert_eq!(app.outcome(fixture(INC)).await, "triggered");
        app.drain().await;
        for e in stored_errors(&app).await {
            assert!(e.starts_with("HTTP 400: "), "{e}");
            assert!(e.contains("eeeeeeeeee"), "{e}");
            assert!(
                e.len() <= kept && e.len() > kept - 200,
                "{length}: {} bytes",
                e.len()
            );
            assert!(e.ends_with('…'), "marked as cut");
        }
        app.stop().await;
        fake.stop().await;
    }
}

/// A redirect from ITOC360 is a failed attempt: the event and its bearer
/// token never go to the address it names.
#[tokio::test]
async fn itoc360_redirects_are_not_followed() {
    needs_database!();
    let fake = FakeItoc360::start(ITOC_TOKEN).await;
    let elsewhere = FakeItoc360::start(ITOC_TOKEN).await;
    fake.script([Reply::Redirect(format!(
        "{}/functions/v1/events",
        elsewhere.base_url
    ))]);
    let mut app = spawn_delivering(&fake.base_url, ITOC_TOKEN).await;
    assert_eq!(app.outcome(fixture(INC)).await, "triggered");
    app.drain().await;
    let (state, error): (String, String) = app
        .db()
        .one("SELECT state, coalesce(last_error, '') FROM outbox", &[])
        .await;
    assert_eq!(state, "dead");
    assert!(
        error.contains("HTTP 307: redirected to") && error.contains("not followed"),
        "{error}"
    );
    assert!(elsewhere.received().is_empty(), "the redirect was followed");
    app.stop().await;
    fake.stop().await;
    elsewhere.stop().await;
}

const PAGE: &str = "x1y2z3a4b5c6";

/// A bridge reconciling the page at `base_url`, reading at most 64 KB of
/// an answer.
async fn spawn_bounded(base_url: String) -> TestApp {
    let app = spawn_app_with(move |s| {
        s.pages = vec![Page {
            id: PAGE.into(),
            source: String::new(),
            base_url,
            api_key: Secret::default(),
            webhooks: true,
            kind: Default::default(),
            feed: None,
        }];
        s.reconcile.interval_secs = 3600;
        s.reconcile.max_body_bytes = 64 * 1024;
    })
    .await;
    app.reconcile.clone().unwrap().wait_for(1).await;
    app
}

async fn last_round(app: &TestApp) -> (String, String) {
    app.db()
        .one(
            "SELECT result, coalesce(error, '') FROM reconcile_rounds ORDER BY id DESC LIMIT 1",
            &[],
        )
        .await
}

/// An answer over `reconcile.max_body_bytes` — announced, or streamed
/// without a length — fails the round with the reason; the next good
/// answer is read as usual.
#[tokio::test]
async fn a_status_answer_over_the_cap_fails_the_round() {
    needs_database!();
    let fake = FakeStatus::start().await;
    fake.set(
        "summary.json",
        crate::fake_status::Answer {
            status: 200,
            body: format!("[{}]", "1,".repeat(50_000) + "1"),
        },
    );
    let app = spawn_bounded(fake.base_url.clone()).await;
    let (result, error) = last_round(&app).await;
    assert_eq!(result, "failed");
    assert!(error.contains("larger than 65536 bytes"), "{error}");

    fake.set_streamed("summary.json", 10 * 1024 * 1024);
    app.reconcile.clone().unwrap().round().await;
    let (result, error) = last_round(&app).await;
    assert_eq!(result, "failed");
    assert!(error.contains("larger than 65536 bytes"), "{error}");

    app.stop().await;
    fake.stop().await;
}

/// A redirect within the status API's host is followed; one to another
/// host (a page that moved platforms) is not, and the round says where it
/// pointed.
#[tokio::test]
async fn status_api_redirects_stay_on_the_host_asked() {
    needs_database!();
    let fake = FakeStatus::start().await;
    fake.page(PAGE, vec![], vec![], vec![]);
    let summary = serde_json::json!({
        "page": {"id": PAGE, "name": "Example", "url": "https://status.example.com",
                 "time_zone": "Etc/UTC", "updated_at": "2025-03-04T10:00:00.000Z"},
        "components": [], "incidents": [], "scheduled_maintenances": [],
        "status": {"indicator": "none", "description": "All Systems Operational"}});
    fake.set(
        "real-summary.json",
        crate::fake_status::Answer::json(summary),
    );
    fake.set_redirect(
        "summary.json",
        &format!("{}/api/v2/real-summary.json", fake.base_url),
    );
    let app = spawn_bounded(fake.base_url.clone()).await;
    assert_eq!(last_round(&app).await, ("ok".to_owned(), String::new()));

    let port = fake.base_url.rsplit(':').next().unwrap();
    let elsewhere = format!("http://localhost:{port}/api/v2/real-summary.json");
    fake.set_redirect("summary.json", &elsewhere);
    app.reconcile.clone().unwrap().round().await;
    let (result, error) = last_round(&app).await;
    assert_eq!(result, "failed");
    assert!(
        error.contains("redirected to another host") && error.contains(&elsewhere),
        "{error}"
    );
    let asked: Vec<String> = fake.seen().into_iter().map(|(path, _, _)| path).collect();
    assert_eq!(
        asked.iter().filter(|p| *p == "real-summary.json").count(),
        1,
        "only the same-host redirect was followed: {asked:?}"
    );
    app.stop().await;
    fake.stop().await;
}

/// Bodies PostgreSQL's text and index rows cannot hold as they are — a NUL
/// in a name or an update, a name of many kilobytes, an id of kilobytes —
/// get the same 2xx answers on both engines, and Statuspage's retries
/// are not needed: each is stored once.
#[tokio::test]
async fn hostile_bodies_get_the_same_answers_on_both_engines() {
    needs_database!();
    let app = spawn_app().await;
    let long_name = "N".repeat(5000);
    let cases = [
        (
            fixture_with(
                INC,
                &[
                    ("incident.id", serde_json::json!("nul1")),
                    ("incident.name", serde_json::json!("API\u{0}down")),
                    (
                        "incident.incident_updates.0.body",
                        serde_json::json!("text\u{0}with NUL"),
                    ),
                ],
            ),
            "triggered",
        ),
        (
            fixture_with(
                INC,
                &[
                    ("incident.id", serde_json::json!("long1")),
                    ("incident.name", serde_json::json!(long_name)),
                ],
            ),
            "triggered",
        ),
        (
            fixture_with(INC, &[("incident.id", serde_json::json!("i".repeat(3000)))]),
            "unrecognized",
        ),
        (
            fixture_with(
                "03_component_major_outage.json",
                &[(
                    "component.name",
                    serde_json::json!(format!("{long_name}\u{0}")),
                )],
            ),
            "triggered",
        ),
    ];
    for (body, want) in cases {
        let (status, v) = app.post_json(body).await;
        assert_eq!((status, v["outcome"].as_str()), (200, Some(want)), "{v}");
    }
    let (name, body_text): (String, String) = app
        .db()
        .one(
            "SELECT i.name, o.message FROM incidents i JOIN outbox o ON o.entity_id = i.incident_id
              WHERE i.incident_id = 'nul1'",
            &[],
        )
        .await;
    assert_eq!(name, "APIdown", "NUL dropped from the name");
    assert!(body_text.starts_with("textwith NUL"), "{body_text}");
    let names: Vec<(String, i64)> = app
        .db()
        .all(
            "SELECT kind, CAST(max(length(entity_name)) AS BIGINT) FROM webhooks
              WHERE entity_name LIKE 'NNN%' GROUP BY kind ORDER BY kind",
            &[],
        )
        .await;
    assert_eq!(
        names,
        [("component".to_owned(), 501), ("incident".to_owned(), 501)],
        "names kept to 500 characters and a mark"
    );
    let reason: String = app
        .db()
        .value(
            "SELECT reason FROM webhooks WHERE outcome = 'unrecognized'",
            &[],
        )
        .await;
    assert!(reason.contains("longer than 255 characters"), "{reason}");
    // The name search still finds the long name.
    let (status, page) = app.get("/api/events?q=NNNNN").await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(app.count("SELECT count(*) FROM webhooks").await, 4);
    app.stop().await;
}

/// A page whose summary holds a NUL in a name, a name of kilobytes and an
/// id of kilobytes still reconciles, round after round, on both engines.
#[tokio::test]
async fn a_hostile_summary_does_not_break_reconcile_rounds() {
    needs_database!();
    let fake = FakeStatus::start().await;
    let component = |id: String, name: String| {
        serde_json::json!({"id": id, "name": name, "status": "major_outage", "group": false,
                           "group_id": null, "page_id": PAGE, "position": 1})
    };
    fake.page(
        PAGE,
        vec![],
        vec![
            component("nul1".into(), "Web\u{0}site".into()),
            component("long1".into(), "L".repeat(5000)),
            component("x".repeat(3000), "Huge id".into()),
        ],
        vec![],
    );
    let app = spawn_bounded(fake.base_url.clone()).await;
    app.reconcile.clone().unwrap().round().await;
    let rounds: Vec<(String, String)> = app
        .db()
        .all(
            "SELECT result, coalesce(error, '') FROM reconcile_rounds ORDER BY id",
            &[],
        )
        .await;
    assert_eq!(rounds.len(), 2);
    assert!(rounds.iter().all(|(r, _)| r == "ok"), "{rounds:?}");
    let learned: Vec<(String, String)> = app
        .db()
        .all(
            "SELECT component_id, name FROM learned_components ORDER BY component_id",
            &[],
        )
        .await;
    assert_eq!(learned.len(), 2, "the huge id is left out");
    assert_eq!(learned[1], ("nul1".to_owned(), "Website".to_owned()));
    assert_eq!(learned[0].1.chars().count(), 501);
    app.stop().await;
    fake.stop().await;
}
