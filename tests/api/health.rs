//! Page health (docs/RECONCILE.md, "Page health") against a fake status
//! API and a fake ITOC360: a page the bridge can no longer see — gone,
//! moved, quarantined — opens one alert of its own, and resolves it once
//! seen again; never green without evidence.

use serde_json::{Value, json};
use statuspage_bridge::config::{Page, Secret};

use crate::fake_itoc360::FakeItoc360;
use crate::fake_status::{Answer, FakeStatus};
use crate::helpers::*;

const PAGE: &str = "x1y2z3a4b5c6";
const TOKEN: &str = "itoc-token-0123456789";

fn source_fp() -> String {
    format!("statuspage:{PAGE}:page:source")
}

/// A bridge following the page at `fake` (its first round done), paging
/// at once for an unhealthy page, after two failed rounds, and for any
/// change with no webhook since.
async fn spawn(fake: &FakeStatus, itoc: &FakeItoc360) -> TestApp {
    let (base_url, itoc_url) = (fake.base_url.clone(), itoc.base_url.clone());
    let app = spawn_app_with(move |s| {
        s.itoc360.base_url = itoc_url;
        s.itoc360.token = Secret::new(TOKEN);
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
        s.health.page_after_secs = 0;
        s.health.failed_rounds = 2;
        s.health.expect_webhook_within_secs = 0;
    })
    .await;
    app.reconcile.clone().unwrap().wait_for(1).await;
    app
}

async fn round(app: &mut TestApp) {
    app.reconcile.clone().unwrap().round().await;
    app.drain().await;
}

/// (status, title) of every event ITOC360 accepted for the page's source
/// alert, in order.
fn source_events(itoc: &FakeItoc360) -> Vec<(String, String)> {
    itoc.accepted()
        .iter()
        .filter(|e| e["id"] == source_fp().as_str())
        .map(|e| {
            (
                e["status"].as_str().unwrap().to_owned(),
                e["title"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

async fn health_metric(app: &TestApp) -> String {
    let (_, metrics) = app.get("/metrics").await;
    metrics
        .lines()
        .find(|l| l.starts_with("statuspage_bridge_page_health{") && l.ends_with(" 1"))
        .unwrap_or_default()
        .to_owned()
}

/// 404, 401, a redirect to another host, an HTML page: each, for two
/// rounds, opens exactly one alert naming the state; the page answering
/// again resolves it, once.
#[tokio::test]
async fn a_page_gone_or_moved_pages_once_and_resolves_once() {
    needs_database!();
    let fake = FakeStatus::start().await;
    fake.page(PAGE, vec![], vec![], vec![]);
    let itoc = FakeItoc360::start(TOKEN).await;
    let mut app = spawn(&fake, &itoc).await;
    assert!(health_metric(&app).await.contains("state=\"ok\""));
    let port = fake.base_url.rsplit(':').next().unwrap().to_owned();
    type Breaks = Box<dyn Fn(&FakeStatus)>;
    let cases: Vec<(Breaks, &str)> = vec![
        (
            Box::new(|f| {
                f.set(
                    "summary.json",
                    Answer {
                        status: 404,
                        body: "{\"error\":\"page not found\"}".into(),
                    },
                )
            }),
            "gone",
        ),
        (
            Box::new(|f| {
                f.set(
                    "summary.json",
                    Answer {
                        status: 401,
                        body: "{\"error\":\"page inactive\"}".into(),
                    },
                )
            }),
            "gone",
        ),
        (
            Box::new(move |f| {
                f.set_redirect(
                    "summary.json",
                    &format!("http://localhost:{port}/new-home.html"),
                )
            }),
            "moved",
        ),
        (
            Box::new(|f| {
                f.set(
                    "summary.json",
                    Answer {
                        status: 200,
                        body: "<html><body>We moved to a new status page</body></html>".into(),
                    },
                )
            }),
            "moved",
        ),
    ];
    let mut want: Vec<(String, String)> = Vec::new();
    for (break_it, state) in cases {
        break_it(&fake);
        round(&mut app).await;
        assert_eq!(
            source_events(&itoc),
            want,
            "{state}: one failed round is not enough"
        );
        round(&mut app).await;
        round(&mut app).await;
        want.push((
            "trigger".into(),
            format!("Page Example is {state}: the bridge cannot see it"),
        ));
        assert_eq!(source_events(&itoc), want, "{state}: one trigger");
        assert!(
            health_metric(&app)
                .await
                .contains(&format!("state=\"{state}\"")),
            "{state}"
        );
        let (_, page) = app.get("/reconcile").await;
        assert!(page.contains(&format!("pill bad\">{state}<")), "{page}");

        fake.clear_redirect("summary.json");
        fake.page(PAGE, vec![], vec![], vec![]);
        round(&mut app).await;
        round(&mut app).await;
        want.push(("resolve".into(), "Page Example is seen again".into()));
        assert_eq!(source_events(&itoc), want, "{state}: one resolve");
        assert!(health_metric(&app).await.contains("state=\"ok\""));
    }
    let first = itoc
        .accepted()
        .into_iter()
        .find(|e| e["id"] == source_fp().as_str())
        .unwrap();
    assert_eq!(first["severity"], "high");
    assert!(
        first["message"]
            .as_str()
            .unwrap()
            .contains("check this [[pages]] entry (id, api_key)"),
        "{first}"
    );
    // A replay of the stored history decides the page's alerts the same.
    let config = crate::commands::config_for(&app);
    let tmp = tempfile::tempdir().unwrap();
    let out = crate::commands::run(&config, tmp.path(), &["replay", "--json"]);
    assert!(out.status.success(), "{out:?}");
    let text = crate::commands::stdout(&out);
    assert!(text.contains("\"differences\":0"), "{text}");
    app.stop().await;
    fake.stop().await;
    itoc.stop().await;
}

fn now_text() -> String {
    statuspage_bridge::rules::time::format_time(chrono::Utc::now())
}

/// The quarantine signature: the status API shows a change and no webhook
/// has come since: stale, one alert saying to re-add the subscriber; a
/// webhook arriving again resolves it.
#[tokio::test]
async fn changes_without_webhooks_look_quarantined_until_a_webhook_comes() {
    needs_database!();
    let fake = FakeStatus::start().await;
    let api = |status: &str, at: &str| -> Value {
        json!({"id": "r7p3k9d2m5w1", "name": "API", "status": status, "created_at": "2023-01-01T00:00:00.000Z",
               "updated_at": at, "position": 1, "group_id": null, "page_id": PAGE, "group": false})
    };
    fake.page(
        PAGE,
        vec![],
        vec![api("operational", "2025-01-01T00:00:00.000Z")],
        vec![],
    );
    let itoc = FakeItoc360::start(TOKEN).await;
    let mut app = spawn(&fake, &itoc).await;
    round(&mut app).await;
    assert!(
        source_events(&itoc).is_empty(),
        "a change before the bridge began following"
    );

    // The component changes upstream; its webhook never comes.
    fake.page(PAGE, vec![], vec![api("major_outage", &now_text())], vec![]);
    round(&mut app).await;
    let events = source_events(&itoc);
    assert_eq!(
        events,
        [(
            "trigger".to_owned(),
            "Page Example is stale: the bridge cannot see it".to_owned()
        )]
    );
    let message = itoc
        .accepted()
        .into_iter()
        .find(|e| e["id"] == source_fp().as_str())
        .unwrap()["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        message.contains(&format!(
            "Re-add the webhook subscriber at {}/subscribers",
            fake.base_url
        )),
        "{message}"
    );
    assert!(health_metric(&app).await.contains("state=\"stale\""));
    round(&mut app).await;
    assert_eq!(source_events(&itoc).len(), 1, "still stale: nothing more");

    // A webhook from the page comes again: seen again.
    let webhook = component_change("major_outage", "major_outage", "23:59");
    let (status, _) = app.post_json(webhook).await;
    assert_eq!(status, 200);
    round(&mut app).await;
    assert_eq!(
        source_events(&itoc).last().unwrap(),
        &(
            "resolve".to_owned(),
            "Page Example is seen again".to_owned()
        )
    );
    assert_eq!(source_events(&itoc).len(), 2);
    app.stop().await;
    fake.stop().await;
    itoc.stop().await;
}

/// A page never read successfully is `unknown`, never `ok`.
#[tokio::test]
async fn a_page_never_read_is_unknown_not_ok() {
    needs_database!();
    let fake = FakeStatus::start().await;
    fake.set(
        "summary.json",
        Answer {
            status: 503,
            body: "down".into(),
        },
    );
    let itoc = FakeItoc360::start(TOKEN).await;
    let app = spawn(&fake, &itoc).await;
    assert!(
        health_metric(&app).await.contains("state=\"unknown\""),
        "{}",
        health_metric(&app).await
    );
    let (_, page) = app.get("/reconcile").await;
    assert!(page.contains(">unknown<"), "{page}");
    app.stop().await;
    fake.stop().await;
    itoc.stop().await;
}
