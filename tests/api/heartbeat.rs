//! The outgoing heartbeat (docs/OPERATING.md, "Proving it is alive")
//! against a real receiver on 127.0.0.1: sent while the bridge is healthy,
//! withheld — with the reason to `fail_url` — while the database takes no
//! writes or a dead event waits too long, resumed after; a failing target
//! never blocks ingest; the Watchdog alert reaches ITOC360.

use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use statuspage_bridge::config::Secret;

use crate::fake_itoc360::{FakeItoc360, Reply};
use crate::helpers::*;

/// (path, body) of every call.
type Calls = Arc<Mutex<Vec<(String, String)>>>;

/// A dead-man's switch: records every call.
struct Receiver {
    base_url: String,
    calls: Calls,
    handle: ServerHandle,
}

impl Receiver {
    async fn start() -> Receiver {
        let calls: Calls = Arc::default();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let data = web::Data::new(calls.clone());
        let server = HttpServer::new(move || {
            App::new().app_data(data.clone()).default_service(web::to(
                |req: HttpRequest, body: web::Bytes, calls: web::Data<Calls>| async move {
                    calls.lock().unwrap().push((
                        req.path().to_owned(),
                        String::from_utf8_lossy(&body).into_owned(),
                    ));
                    HttpResponse::Ok().body("OK")
                },
            ))
        })
        .workers(1)
        .disable_signals()
        .listen(listener)
        .unwrap()
        .run();
        let handle = server.handle();
        tokio::spawn(server);
        Receiver {
            base_url: format!("http://127.0.0.1:{port}"),
            calls,
            handle,
        }
    }

    fn calls(&self) -> Vec<(String, String)> {
        self.calls.lock().unwrap().clone()
    }

    fn count(&self, path: &str) -> usize {
        self.calls().iter().filter(|(p, _)| p == path).count()
    }
}

async fn beat(app: &TestApp) {
    app.heartbeat.clone().expect("heartbeat on").beat().await;
}

#[tokio::test]
async fn the_heartbeat_is_withheld_while_the_database_takes_no_writes() {
    needs_database!();
    sqlite_only!();
    let receiver = Receiver::start().await;
    let (url, fail) = (
        format!("{}/ping/k3y", receiver.base_url),
        format!("{}/ping/k3y/fail", receiver.base_url),
    );
    let app = spawn_app_with(move |s| {
        s.heartbeat.url = Secret::new(url);
        s.heartbeat.fail_url = Secret::new(fail);
        s.heartbeat.interval_secs = 3600;
        s.database.busy_timeout_ms = 200;
    })
    .await;
    beat(&app).await;
    assert!(receiver.count("/ping/k3y") >= 1, "{:?}", receiver.calls());
    assert_eq!(receiver.count("/ping/k3y/fail"), 0);
    let sent = receiver.count("/ping/k3y");

    // Another process holds the write lock: no beat, the reason instead.
    let mut other = app.db().other_sqlite_connection().await;
    sqlx::query("BEGIN EXCLUSIVE")
        .execute(&mut other)
        .await
        .unwrap();
    beat(&app).await;
    assert_eq!(receiver.count("/ping/k3y"), sent, "withheld");
    let fails: Vec<String> = receiver
        .calls()
        .into_iter()
        .filter(|(p, _)| p == "/ping/k3y/fail")
        .map(|(_, b)| b)
        .collect();
    assert_eq!(fails.len(), 1, "{fails:?}");
    assert!(
        fails[0].starts_with("the database does not take writes"),
        "{}",
        fails[0]
    );
    sqlx::query("COMMIT").execute(&mut other).await.unwrap();
    drop(other);

    // Writable again: beating again.
    beat(&app).await;
    assert_eq!(receiver.count("/ping/k3y"), sent + 1);
    let (_, metrics) = app.get("/metrics").await;
    assert!(
        metrics
            .contains("statuspage_bridge_heartbeats_total{target=\"url\",result=\"withheld\"} 1"),
        "{metrics}"
    );
    app.stop().await;
    receiver.handle.stop(false).await;
}

/// A dead event older than `max_dead_age_secs` withholds the beat.
#[tokio::test]
async fn an_old_dead_event_withholds_the_heartbeat() {
    needs_database!();
    let receiver = Receiver::start().await;
    let fake = FakeItoc360::start("itoc-token-0123456789").await;
    fake.script([Reply::Status(400)]);
    let (url, fail, itoc) = (
        format!("{}/hb", receiver.base_url),
        format!("{}/hb/fail", receiver.base_url),
        fake.base_url.clone(),
    );
    let mut app = spawn_app_with(move |s| {
        s.itoc360.base_url = itoc;
        s.itoc360.token = Secret::new("itoc-token-0123456789");
        s.heartbeat.url = Secret::new(url);
        s.heartbeat.fail_url = Secret::new(fail);
        s.heartbeat.interval_secs = 3600;
        s.heartbeat.max_dead_age_secs = 0;
    })
    .await;
    beat(&app).await;
    let sent = receiver.count("/hb");
    assert!(sent >= 1);
    app.outcome(fixture("01_incident_created_investigating_critical.json"))
        .await;
    app.drain().await;
    beat(&app).await;
    assert_eq!(receiver.count("/hb"), sent, "withheld");
    let reason = receiver.calls().last().unwrap().clone();
    assert_eq!(reason.0, "/hb/fail");
    assert!(
        reason.1.contains("1 dead event(s) older than 0 s"),
        "{}",
        reason.1
    );
    app.stop().await;
    fake.stop().await;
    receiver.handle.stop(false).await;
}

/// A heartbeat target that does not answer is logged and counted; webhooks
/// are taken as ever.
#[tokio::test]
async fn a_failing_heartbeat_target_never_blocks_ingest() {
    needs_database!();
    let app = spawn_app_with(|s| {
        s.heartbeat.url = Secret::new("http://127.0.0.1:9/nobody");
        s.heartbeat.interval_secs = 3600;
    })
    .await;
    beat(&app).await;
    assert_eq!(
        app.outcome(fixture("01_incident_created_investigating_critical.json"))
            .await,
        "triggered"
    );
    let (_, metrics) = app.get("/metrics").await;
    assert!(
        metrics.contains("statuspage_bridge_heartbeats_total{target=\"url\",result=\"failed\"}"),
        "{metrics}"
    );
    app.stop().await;
}

/// `watchdog = true`: an always-firing Alertmanager Watchdog alert reaches
/// ITOC360 with each healthy beat.
#[tokio::test]
async fn the_watchdog_alert_reaches_itoc360() {
    needs_database!();
    let fake = FakeItoc360::start("itoc-token-0123456789").await;
    let itoc = fake.base_url.clone();
    let app = spawn_app_with(move |s| {
        s.itoc360.base_url = itoc;
        s.itoc360.token = Secret::new("itoc-token-0123456789");
        s.heartbeat.watchdog = true;
        s.heartbeat.interval_secs = 3600;
    })
    .await;
    beat(&app).await;
    let watchdog = fake
        .accepted()
        .into_iter()
        .find(|e| e["alerts"][0]["labels"]["alertname"] == "Watchdog")
        .expect("a Watchdog alert");
    assert_eq!(watchdog["status"], "firing");
    assert_eq!(
        watchdog["alerts"][0]["fingerprint"],
        "statuspage-bridge:watchdog"
    );
    app.stop().await;
    fake.stop().await;
}
