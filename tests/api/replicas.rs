//! Several replicas on one PostgreSQL (docs/ENGINES.md): any replica takes
//! any webhook, each event is decided once and sent once in order, and when
//! a replica dies the other carries on — its held events, and the polling.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

use crate::binary::start;
use crate::fake_itoc360::FakeItoc360;
use crate::fake_status::FakeStatus;
use crate::helpers::*;

const PAGE: &str = "x1y2z3a4b5c6";
/// The page reconcile polls (apart from the burst's, so its rounds change
/// nothing the burst checks).
const POLLED: &str = "recon0page01";
const ITOC_TOKEN: &str = "itoc-token";

fn replica_config(dir: &Path, name: &str, url: &str, itoc: &str, status: &str) -> PathBuf {
    let text = format!(
        r#"
[server]
listen = "127.0.0.1:0"

[database]
url = "{url}"

[itoc360]
base_url = "{itoc}"
token = "{ITOC_TOKEN}"

[delivery]
retry_base_ms = 20
retry_max_secs = 1
lease_secs = 3
timeout_ms = 2000

[reconcile]
interval_secs = 1

[[sources]]
name = "statuspage"
token = "{TOKEN}"

[[pages]]
id = "{POLLED}"
base_url = "{status}"
webhooks = false
"#
    );
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, text).unwrap();
    path
}

/// How a stream's updates reach the replicas.
#[derive(Clone, Copy)]
enum Mode {
    /// Each update to both at once (a retry the load balancer spread).
    Both,
    /// Update k to replica k % 2.
    Alternate,
}

/// One entity's updates, in order, and what ITOC360 must end up with.
struct Stream {
    fingerprint: String,
    entity_id: String,
    updates: Vec<String>,
    mode: Mode,
    /// (status, severity) sent for it, in order.
    expected: Vec<(&'static str, Option<&'static str>)>,
}

fn incident_stream(n: usize) -> Stream {
    let id = format!("inc{n}");
    let updates = [
        ("investigating", "10:00"),
        ("identified", "10:05"),
        ("monitoring", "10:10"),
        ("resolved", "10:15"),
    ]
    .iter()
    .map(|(status, at)| {
        incident_update(
            status,
            at,
            &[
                ("incident.id", json!(id)),
                ("incident.name", json!(format!("Incident {n}"))),
                ("incident.incident_updates.0.incident_id", json!(id)),
            ],
        )
    })
    .collect();
    Stream {
        fingerprint: format!("statuspage:{PAGE}:incident:{id}"),
        entity_id: id,
        updates,
        mode: if n.is_multiple_of(2) {
            Mode::Both
        } else {
            Mode::Alternate
        },
        // The sample's impact is critical; a resolve keeps the severity.
        expected: vec![("trigger", Some("critical")), ("resolve", Some("critical"))],
    }
}

fn component_stream(n: usize) -> Stream {
    let id = format!("comp{n}");
    let name = format!("Component {n}");
    let updates = [
        ("operational", "major_outage", "10:01"),
        ("major_outage", "operational", "10:06"),
        ("operational", "major_outage", "10:11"),
        ("major_outage", "operational", "10:16"),
    ]
    .iter()
    .map(|(old, new, at)| other_component(&id, &name, old, new, at))
    .collect();
    Stream {
        fingerprint: format!("statuspage:{PAGE}:component:{id}"),
        entity_id: id,
        updates,
        mode: if n.is_multiple_of(2) {
            Mode::Alternate
        } else {
            Mode::Both
        },
        // The severity is checked to be the same for all four below.
        expected: vec![
            ("trigger", None),
            ("resolve", None),
            ("trigger", None),
            ("resolve", None),
        ],
    }
}

/// Posts `body` to `address`; the answer's (status, id) if one came.
async fn post(client: &reqwest::Client, address: &str, body: &str) -> Option<(u16, String)> {
    let r = client
        .post(format!("{address}/webhooks/statuspage?token={TOKEN}"))
        .header("Content-Type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .ok()?;
    let status = r.status().as_u16();
    let v: Value = r.json().await.ok()?;
    Some((status, v["id"].as_str().unwrap_or_default().to_owned()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_replicas_decide_once_send_in_order_and_one_survives_sigkill() {
    postgres_only!();
    let url = new_postgres_database();
    let dir = tempfile::tempdir().unwrap();
    let itoc = FakeItoc360::start(ITOC_TOKEN).await;
    let status = FakeStatus::start().await;
    status.page(
        POLLED,
        vec![],
        vec![
            json!({"id": "steady1", "name": "Steady", "status": "operational",
                    "created_at": "2023-01-01T00:00:00.000Z",
                    "updated_at": "2025-03-04T10:00:00.000Z", "position": 1,
                    "group_id": null, "page_id": POLLED, "group": false}),
        ],
        vec![],
    );
    // `a` starts first, so it holds the poller lease: killing it shows the
    // polling moving over too.
    let a = start(&replica_config(
        dir.path(),
        "a",
        &url,
        &itoc.base_url,
        &status.base_url,
    ));
    status.wait_for_requests(1).await;
    let b = start(&replica_config(
        dir.path(),
        "b",
        &url,
        &itoc.base_url,
        &status.base_url,
    ));
    let db = test_db(&{
        let mut s = test_settings(dir.path());
        s.database.url = statuspage_bridge::config::Secret::new(url.clone());
        s
    })
    .await;

    let streams: Vec<Stream> = (0..6)
        .map(incident_stream)
        .chain((0..4).map(component_stream))
        .collect();
    let total: usize = streams.iter().map(|s| s.updates.len()).sum();
    let acknowledged = Arc::new(Mutex::new(Vec::<String>::new()));
    let done = Arc::new(AtomicUsize::new(0));
    let half = Arc::new(tokio::sync::Notify::new());
    let replicas = [a.address.clone(), b.address.clone()];
    let mut tasks = tokio::task::JoinSet::new();
    for s in &streams {
        let (updates, mode) = (s.updates.clone(), s.mode);
        let (replicas, acknowledged, done, half) = (
            replicas.clone(),
            acknowledged.clone(),
            done.clone(),
            half.clone(),
        );
        tasks.spawn(async move {
            let client = reqwest::Client::new();
            for (k, body) in updates.iter().enumerate() {
                let targets: Vec<&str> = match mode {
                    Mode::Both => replicas.iter().map(String::as_str).collect(),
                    Mode::Alternate => vec![replicas[k % 2].as_str()],
                };
                let answers =
                    futures_util::future::join_all(targets.iter().map(|t| post(&client, t, body)))
                        .await;
                let mut ok = false;
                for (status, id) in answers.into_iter().flatten() {
                    if status == 200 {
                        acknowledged.lock().unwrap().push(id);
                        ok = true;
                    }
                }
                // Statuspage retries what was not acknowledged; the load
                // balancer sends the retry to a replica that answers.
                let mut tries = 0;
                while !ok {
                    tries += 1;
                    assert!(tries < 50, "update {k} never acknowledged");
                    for t in replicas.iter().rev() {
                        if let Some((200, id)) = post(&client, t, body).await {
                            acknowledged.lock().unwrap().push(id);
                            ok = true;
                            break;
                        }
                    }
                }
                if done.fetch_add(1, Ordering::SeqCst) + 1 == total / 2 {
                    half.notify_one();
                }
            }
        });
    }

    // Mid-burst, the replica holding the poller lease dies.
    tokio::time::timeout(Duration::from_secs(60), half.notified())
        .await
        .expect("half the burst acknowledged");
    a.signal("KILL");
    let _ = a.wait();
    let killed_at = statuspage_bridge::rules::time::format_time(chrono::Utc::now());
    let held_at_kill: i64 = db
        .value(
            "SELECT count(*) FROM outbox WHERE state = 'pending' AND lease_until > ?",
            &[Bind::from(&killed_at)],
        )
        .await;
    let polled_before = status.seen().len();
    while let Some(r) = tasks.join_next().await {
        r.unwrap();
    }

    // The survivor takes over the polling within a few seconds…
    tokio::time::timeout(
        Duration::from_secs(30),
        status.wait_for_requests(polled_before + 3),
    )
    .await
    .expect("the survivor polls the page");
    // …and sends every decided event, those the dead one held too (once
    // their lease has ended). The survivor is another process: what it has
    // recorded is read from the database, again after each request the
    // fake ITOC360 receives, or a tenth of a second at the most (its
    // record of the last one follows that request).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let unsent: i64 = db
            .value(
                "SELECT count(*) FROM outbox WHERE state <> 'delivered'",
                &[],
            )
            .await;
        if unsent == 0 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{unsent} events never delivered"
        );
        let seen = itoc.received().len();
        tokio::select! {
            _ = itoc.wait_for_requests(seen + 1) => {}
            _ = tokio::time::sleep(Duration::from_millis(100)) => {}
        }
    }
    b.signal("TERM");
    let (code, log) = b.wait();
    assert_eq!(code, Some(0), "{log}");

    // Every acknowledged webhook is stored, once.
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(acknowledged.len() >= total);
    for id in &acknowledged {
        let n: i64 = db
            .value(
                "SELECT count(*) FROM webhooks WHERE id = ?",
                &[Bind::from(id)],
            )
            .await;
        assert_eq!(n, 1, "acknowledged webhook {id}");
    }
    // Each update was decided once: any other copy is a duplicate.
    for s in &streams {
        let applied: i64 = db
            .value(
                "SELECT count(*) FROM webhooks WHERE entity_id = ? AND outcome <> 'duplicate'",
                &[Bind::from(&s.entity_id)],
            )
            .await;
        assert_eq!(applied, s.updates.len() as i64, "{}", s.entity_id);
    }
    let unfinished: i64 = db
        .value(
            "SELECT count(*) FROM outbox WHERE state <> 'delivered'",
            &[],
        )
        .await;
    assert_eq!(unfinished, 0, "every event delivered");

    // ITOC360 got each alert's events in order; only what the dead replica
    // held may have gone out twice.
    let got = itoc.accepted();
    let mut sent_twice = 0;
    for s in &streams {
        let mine: Vec<(String, String)> = got
            .iter()
            .filter(|b| b["id"] == s.fingerprint.as_str())
            .map(|b| {
                (
                    b["status"].as_str().unwrap().to_owned(),
                    b["severity"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect();
        let mut once = mine.clone();
        once.dedup();
        sent_twice += mine.len() - once.len();
        let actions: Vec<&str> = once.iter().map(|(a, _)| a.as_str()).collect();
        let expected: Vec<&str> = s.expected.iter().map(|(a, _)| *a).collect();
        assert_eq!(actions, expected, "{}: {mine:?}", s.fingerprint);
        for ((_, severity), (_, want)) in once.iter().zip(&s.expected) {
            if let Some(want) = want {
                assert_eq!(severity, want, "{}", s.fingerprint);
            }
        }
        let severities: std::collections::HashSet<&str> =
            once.iter().map(|(_, p)| p.as_str()).collect();
        assert_eq!(severities.len(), 1, "{}: {mine:?}", s.fingerprint);
    }
    assert!(
        sent_twice as i64 <= held_at_kill,
        "{sent_twice} sent twice, but the dead replica held {held_at_kill}"
    );

    // Polling went on after the kill, on the survivor.
    let rounds_after: i64 = db
        .value(
            "SELECT count(*) FROM reconcile_rounds WHERE started_at > ?",
            &[Bind::from(&killed_at)],
        )
        .await;
    assert!(rounds_after >= 1, "no round after the kill");
    let per_page: HashMap<String, i64> = db
        .all::<(String, i64)>(
            "SELECT page_id, count(*) FROM reconcile_rounds GROUP BY page_id",
            &[],
        )
        .await
        .into_iter()
        .collect();
    assert_eq!(per_page.keys().collect::<Vec<_>>(), [&POLLED.to_owned()]);
    itoc.stop().await;
    status.stop().await;
}

/// A TCP relay in front of PostgreSQL that the test can make stall (the
/// network drops everything: connections open, nothing answers) or refuse
/// (the server is down), and then restore.
struct Relay {
    port: u16,
    mode: tokio::sync::watch::Sender<u8>,
    relays: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
    accept: tokio::task::JoinHandle<()>,
}

/// The relay's mode once `done` holds for it.
async fn until(watch: &mut tokio::sync::watch::Receiver<u8>, done: impl Fn(u8) -> bool) -> u8 {
    match watch.wait_for(|m| done(*m)).await {
        Ok(m) => *m,
        Err(_) => PASS,
    }
}

const PASS: u8 = 0;
const STALL: u8 = 1;
const REFUSE: u8 = 2;

impl Relay {
    async fn start(upstream: String) -> Relay {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (mode, watch) = tokio::sync::watch::channel(PASS);
        let relays: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>> = Arc::default();
        let r = relays.clone();
        let accept = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let mut watch = watch.clone();
                let now = *watch.borrow_and_update();
                match now {
                    REFUSE => drop(client),
                    // Held open, never answered, until restored.
                    STALL => r.lock().unwrap().push(tokio::spawn(async move {
                        let _held = client;
                        until(&mut watch, |m| m != STALL).await;
                    })),
                    _ => {
                        let upstream = upstream.clone();
                        r.lock().unwrap().push(tokio::spawn(async move {
                            let Ok(server) = tokio::net::TcpStream::connect(upstream).await else {
                                return;
                            };
                            let (mut c, mut s) = (client, server);
                            let cut = tokio::select! {
                                _ = tokio::io::copy_bidirectional(&mut c, &mut s) => None,
                                m = until(&mut watch, |m| m != PASS) => Some(m),
                            };
                            // Stalled: both sockets stay open and nothing
                            // passes, until restored (then they close).
                            if cut == Some(STALL) {
                                until(&mut watch, |m| m != STALL).await;
                            }
                        }));
                    }
                }
            }
        });
        Relay {
            port,
            mode,
            relays,
            accept,
        }
    }

    /// Connections open now stop carrying anything (they stay open); new
    /// ones are accepted and held.
    fn stall(&self) {
        self.mode.send_replace(STALL);
    }

    /// Every connection closed; new ones refused.
    fn refuse(&self) {
        self.mode.send_replace(REFUSE);
    }

    /// Relays again; what was held is closed.
    fn restore(&self) {
        self.mode.send_replace(PASS);
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.accept.abort();
        for h in self.relays.lock().unwrap().drain(..) {
            h.abort();
        }
    }
}

/// `/healthz` and a webhook while PostgreSQL is out of reach: both 503 in
/// seconds (the webhook with `Retry-After`), nothing half-stored, and the
/// replica serves again by itself once the database is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_replica_that_loses_its_database_says_so_quickly_and_recovers_by_itself() {
    postgres_only!();
    let url = new_postgres_database();
    let (server, database) = url.rsplit_once('/').unwrap();
    let (credentials, address) = server.rsplit_once('@').unwrap();
    let relay = Relay::start(address.to_owned()).await;
    let through = format!("{credentials}@127.0.0.1:{}/{database}", relay.port);
    let app = spawn_app_with(move |s| {
        s.database.url = statuspage_bridge::config::Secret::new(through);
    })
    .await;
    assert_eq!(app.outcome(fixture(INC)).await, "triggered");
    assert_eq!(app.get("/healthz").await.0, 200);

    for (hour, what, cut) in [
        (10, "stalled", Relay::stall as fn(&Relay)),
        (11, "down", Relay::refuse),
    ] {
        let at = |minute: u32| format!("{hour}:{minute}");
        cut(&relay);
        let started = std::time::Instant::now();
        let (code, _) = app.get("/healthz").await;
        assert_eq!(code, 503, "{what}");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{what}: /healthz took {:?}",
            started.elapsed()
        );
        let started = std::time::Instant::now();
        let r = app.post(incident_update("identified", &at(30), &[])).await;
        assert_eq!(r.status().as_u16(), 503, "{what}");
        assert_eq!(r.headers().get("retry-after").unwrap(), "5", "{what}");
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{what}: the webhook took {:?}",
            started.elapsed()
        );

        relay.restore();
        // The pool replaces the connections it lost on its next use; a
        // request or two may still meet one.
        let mut healthy = false;
        for _ in 0..5 {
            if app.get("/healthz").await.0 == 200 {
                healthy = true;
                break;
            }
        }
        assert!(healthy, "{what}: healthy again once the database is back");
        // Statuspage's retry is stored and applied, once.
        assert_ne!(
            app.outcome(incident_update("identified", &at(30), &[]))
                .await,
            "duplicate",
            "{what}: the refused webhook left nothing behind"
        );
        assert_eq!(
            app.outcome(incident_update("identified", &at(30), &[]))
                .await,
            "duplicate"
        );
        // The next round starts from a fresh incident.
        assert_eq!(
            app.outcome(incident_update("resolved", &at(40), &[])).await,
            "resolved"
        );
        assert_eq!(
            app.outcome(incident_update("investigating", &at(50), &[]))
                .await,
            "triggered"
        );
    }
    app.stop().await;
}

const INC: &str = "01_incident_created_investigating_critical.json";

/// Replicas starting together on a new database: one applies the
/// migrations, the others wait for it and find nothing left to do.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replicas_starting_at_once_migrate_once() {
    postgres_only!();
    let url = new_postgres_database();
    let starts: Vec<_> = (0..4)
        .map(|_| {
            let url = url.clone();
            tokio::spawn(
                async move { statuspage_bridge::storage::postgres::migrate(&url, false).await },
            )
        })
        .collect();
    for s in starts {
        s.await.unwrap().expect("every replica starts");
    }
    let mut settings = test_settings(tempfile::tempdir().unwrap().path());
    settings.database.url = statuspage_bridge::config::Secret::new(url);
    let db = test_db(&settings).await;
    let applied: Vec<(i32, String)> = db
        .all(
            "SELECT version, name FROM refinery_schema_history ORDER BY version",
            &[],
        )
        .await;
    // Each migration of the folder once, in order.
    let mut expected: Vec<(i32, String)> =
        std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/postgres"))
            .unwrap()
            .map(|f| {
                let name = f.unwrap().file_name().into_string().unwrap();
                let (version, rest) = name[1..].split_once("__").unwrap();
                let name = rest.strip_suffix(".sql").unwrap().to_owned();
                (version.parse().unwrap(), name)
            })
            .collect();
    expected.sort();
    assert_eq!(expected[0], (1, "schema".to_owned()));
    assert_eq!(applied, expected);
    // Every table and view of the SQLite file, with the same columns in the
    // same order: analysts' queries and the README mean the same on both.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("schema.db");
    statuspage_bridge::storage::migrate_quietly(&file).unwrap();
    let lite = rusqlite::Connection::open(&file).unwrap();
    let objects: Vec<String> = lite
        .prepare(
            "SELECT name FROM sqlite_schema WHERE type IN ('table', 'view')
               AND name NOT LIKE 'sqlite_%' AND name NOT LIKE 'entity_names_trigram%'
             ORDER BY name",
        )
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert!(objects.len() >= 15, "{objects:?}");
    for object in objects {
        let sqlite: Vec<String> = lite
            .prepare(&format!(
                "SELECT name FROM pragma_table_info('{object}') ORDER BY cid"
            ))
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let postgres: Vec<String> = db
            .values(
                "SELECT column_name::text FROM information_schema.columns
                 WHERE table_schema = current_schema() AND table_name = ?
                 ORDER BY ordinal_position",
                &[Bind::from(object.as_str())],
            )
            .await;
        let (mut a, mut b) = (sqlite.clone(), postgres.clone());
        // Columns added by later SQLite migrations come last there.
        a.sort();
        b.sort();
        assert_eq!(a, b, "{object}: SQLite {sqlite:?}, PostgreSQL {postgres:?}");
    }
}
