//! The real binary: command line, configuration, the listening line,
//! signals, crash recovery, the outbox commands, and what reaches the logs.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;

use crate::delivery::statuses_for;
use crate::fake_itoc360::{FakeItoc360, Reply};
use crate::helpers::{TOKEN, fixture, fixture_with, sqlite_only};

const BIN: &str = env!("CARGO_BIN_EXE_statuspage-bridge");

pub(crate) struct Proc {
    child: Child,
    pub(crate) address: String,
    log: Arc<Mutex<String>>,
}

fn write_config(dir: &Path, itoc: Option<(&str, &str)>) -> PathBuf {
    let (base, token) = itoc.unwrap_or(("http://127.0.0.1:9", ""));
    let text = format!(
        r#"
[server]
listen = "127.0.0.1:0"

[database]
path = "{db}"

[itoc360]
base_url = "{base}"
token = "{token}"

[delivery]
retry_base_ms = 20
retry_max_secs = 1
lease_secs = 3
timeout_ms = 2000

[[sources]]
name = "statuspage"
token = "{TOKEN}"
"#,
        db = dir.join("bridge.db").display()
    );
    let path = dir.join("config.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn bridge(config: &Path) -> Command {
    let mut c = Command::new(BIN);
    c.arg("--config")
        .arg(config)
        .env_remove("ITOC360_TOKEN")
        .env_remove("ITOC360_BASE_URL")
        .env_remove("BRIDGE_LISTEN")
        .env_remove("BRIDGE_DATABASE")
        .env("RUST_LOG", "debug")
        .stdin(Stdio::null());
    c
}

/// Starts `serve` and waits for its `listening on` line.
pub(crate) fn start(config: &Path) -> Proc {
    start_with(config, &[])
}

/// `start` with extra environment variables.
fn start_with(config: &Path, env: &[(&str, &str)]) -> Proc {
    let mut command = bridge(config);
    command.envs(env.iter().copied());
    let mut child = command
        .arg("serve")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let log = Arc::new(Mutex::new(String::new()));
    let (tx, rx) = mpsc::channel();
    let sink = log.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(rest) = line.split("listening on ").nth(1) {
                // Ends at a space, or at the quote closing a JSON string.
                let address = rest.split(|c: char| c.is_whitespace() || c == '"').next();
                let _ = tx.send(address.unwrap_or("").to_owned());
            }
            let mut l = sink.lock().unwrap();
            l.push_str(&line);
            l.push('\n');
        }
    });
    let address = rx
        .recv_timeout(Duration::from_secs(30))
        .unwrap_or_else(|_| panic!("no listening line; log:\n{}", log.lock().unwrap()));
    assert!(
        address.starts_with("http://127.0.0.1:") && !address.ends_with(":0"),
        "{address}"
    );
    Proc {
        child,
        address,
        log,
    }
}

impl Proc {
    pub(crate) fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(ok.success());
    }

    /// Waits for exit (30 s at most) and returns the exit code and log.
    pub(crate) fn wait(mut self) -> (Option<i32>, String) {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let status = self.child.wait().unwrap();
            let _ = tx.send(status);
        });
        let status = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("process exits");
        // The reader thread sees EOF once the process is gone; its last
        // lines are in by the time the pipe closes.
        let log = self.log.lock().unwrap().clone();
        (status.code(), log)
    }

    async fn post(&self, body: String) -> (u16, serde_json::Value) {
        let r = reqwest::Client::new()
            .post(format!(
                "{}/webhooks/statuspage?token={TOKEN}",
                self.address
            ))
            .body(body)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap())
    }
}

#[tokio::test]
async fn serve_answers_logs_no_secrets_and_stops_on_sigterm() {
    sqlite_only!();
    let dir = tempfile::tempdir().unwrap();
    let p = start(&write_config(dir.path(), None));
    let (status, v) = p
        .post(fixture("01_incident_created_investigating_critical.json"))
        .await;
    assert_eq!((status, v["outcome"].as_str()), (200, Some("triggered")));
    let r = reqwest::Client::new()
        .post(format!(
            "{}/webhooks/statuspage?token=wrong-{TOKEN}",
            p.address
        ))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    // Payload text cannot forge log lines.
    let forged = fixture_with(
        "03_component_major_outage.json",
        &[
            (
                "component.name",
                json!("API\nFORGED ERROR everything is fine"),
            ),
            ("component_update.new_status", json!("on\nFORGED fire")),
        ],
    );
    assert_eq!(p.post(forged).await.0, 200);
    let health = reqwest::get(format!("{}/healthz", p.address))
        .await
        .unwrap();
    assert_eq!(health.status().as_u16(), 200);
    p.signal("TERM");
    let (code, log) = p.wait();
    assert_eq!(code, Some(0), "{log}");
    assert!(log.contains("listening on http://127.0.0.1:"), "{log}");
    assert!(log.contains("dry run"), "{log}");
    assert!(log.contains("outcome=triggered"), "{log}");
    assert!(log.contains("database closed"), "{log}");
    assert!(log.contains("FORGED ERROR"), "the name is logged");
    assert!(
        !log.lines().any(|l| l.starts_with("FORGED")),
        "a payload started a log line:\n{log}"
    );
    assert!(!log.contains(TOKEN), "source token in the log:\n{log}");
    assert!(
        !log.contains("q4m2x8r1v7kp"),
        "unsubscribe secret in the log:\n{log}"
    );
    assert!(!log.contains("unsubscribe"), "{log}");
}

#[tokio::test]
async fn sigint_stops_cleanly_too() {
    sqlite_only!();
    let dir = tempfile::tempdir().unwrap();
    let p = start(&write_config(dir.path(), None));
    p.signal("INT");
    let (code, log) = p.wait();
    assert_eq!(code, Some(0), "{log}");
}

#[tokio::test]
async fn a_public_url_without_audit_credentials_is_warned_about() {
    sqlite_only!();
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), None);
    let text = std::fs::read_to_string(&config).unwrap().replace(
        "listen = \"127.0.0.1:0\"",
        "listen = \"127.0.0.1:0\"\npublic_url = \"https://bridge.example.com\"",
    );
    std::fs::write(&config, text).unwrap();
    let p = start(&config);
    p.signal("TERM");
    let (code, log) = p.wait();
    assert_eq!(code, Some(0), "{log}");
    assert!(
        log.lines()
            .any(|l| l.contains("WARN") && l.contains("every audit route answers 403")),
        "{log}"
    );

    // On a loopback public_url (the default) there is nothing to warn about.
    let p = start(&write_config(dir.path(), None));
    p.signal("TERM");
    let (_, log) = p.wait();
    assert!(!log.contains("every audit route answers 403"), "{log}");
}

#[test]
fn configuration_errors_name_the_key_and_exit_non_zero() {
    sqlite_only!();
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[server]\nlisten = \"not-an-address\"\n").unwrap();
    let out = bridge(&bad).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("server.listen"), "{err}");

    std::fs::write(&bad, "[server]\nlisten = \"0.0.0.0:0\"\n").unwrap();
    let out = bridge(&bad).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("statuspage") && err.contains("development token"),
        "{err}"
    );

    let out = bridge(&dir.path().join("missing.toml")).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.toml"));

    // Health and heartbeat keys: an unknown one, or a bad value, names it.
    for (text, key) in [
        (
            "[heartbeat]
urll = \"http://x\"\n",
            "urll",
        ),
        (
            "[heartbeat]
url = \"ftp://hc/k3y\"\n",
            "heartbeat.url",
        ),
        (
            "[heartbeat]
interval_secs = 0\n",
            "heartbeat.interval_secs",
        ),
        (
            "[health]
priority = \"urgent\"\n",
            "health.priority",
        ),
        (
            "[health]
page_after = 5\n",
            "page_after",
        ),
        (
            "[health]
failed_rounds = 0\n",
            "health.failed_rounds",
        ),
    ] {
        std::fs::write(&bad, text).unwrap();
        let out = bridge(&bad).arg("check-config").output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{text}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(key), "{text}: {err}");
        assert!(!err.contains("k3y"), "a heartbeat URL is a secret: {err}");
    }
}

#[tokio::test]
async fn killed_mid_queue_then_restarted_delivers_every_event_once() {
    sqlite_only!();
    let fake = FakeItoc360::start("itoc-token").await;
    // ITOC360 is down while the first process runs.
    fake.script(std::iter::repeat_n(Reply::Status(503), 1000));
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), Some((&fake.base_url, "itoc-token")));
    let p = start(&config);
    for n in 0..3 {
        let body = fixture_with(
            "01_incident_created_investigating_critical.json",
            &[("incident.id", json!(format!("crash{n}")))],
        );
        assert_eq!(p.post(body).await.1["outcome"], "triggered");
    }
    fake.wait_for_requests(3).await;
    p.signal("KILL");
    let _ = p.wait();

    // ITOC360 is back; a new process picks up where the old one left off.
    assert!(fake.accepted().is_empty());
    fake.clear_script();
    let p = start(&config);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while fake.accepted().len() < 3 {
        let seen = fake.received().len();
        tokio::time::timeout_at(deadline, fake.wait_for_requests(seen + 1))
            .await
            .expect("delivered after restart");
    }
    p.signal("TERM");
    let (code, log) = p.wait();
    assert_eq!(code, Some(0), "{log}");
    let got = fake.accepted();
    for n in 0..3 {
        let fp = format!("statuspage:x1y2z3a4b5c6:incident:crash{n}");
        assert_eq!(
            statuses_for(&got, &fp),
            ["trigger"],
            "{fp} delivered exactly once"
        );
    }
    fake.stop().await;
}

#[tokio::test]
async fn dead_rows_are_listed_and_delivered_after_retry_with_a_fixed_token() {
    sqlite_only!();
    let fake = FakeItoc360::start("right-token").await;
    let dir = tempfile::tempdir().unwrap();
    let wrong = write_config(dir.path(), Some((&fake.base_url, "wrong-token")));
    let p = start(&wrong);
    assert_eq!(
        p.post(fixture("01_incident_created_investigating_critical.json"))
            .await
            .1["outcome"],
        "triggered"
    );
    fake.wait_for_requests(1).await;
    assert_eq!(fake.received()[0].status, 404, "source not found");
    p.signal("TERM");
    let (code, log) = p.wait();
    assert_eq!(code, Some(0), "{log}");
    assert!(
        !log.contains("wrong-token"),
        "ITOC360 token in the log:\n{log}"
    );

    let list = bridge(&wrong).args(["outbox", "list"]).output().unwrap();
    let listed = String::from_utf8_lossy(&list.stdout);
    assert!(list.status.success());
    assert!(
        listed.contains("\tdead\t") && listed.contains("source not found"),
        "{listed}"
    );

    // Fix the token, run the server, and requeue while it runs.
    let right = write_config(dir.path(), Some((&fake.base_url, "right-token")));
    let p = start(&right);
    let retry = bridge(&right)
        .args(["outbox", "retry", "--dead"])
        .output()
        .unwrap();
    assert!(retry.status.success());
    assert!(String::from_utf8_lossy(&retry.stdout).contains("1 event(s) queued again"));
    fake.wait_for_requests(2).await;
    p.signal("TERM");
    let (code, log) = p.wait();
    assert_eq!(code, Some(0), "{log}");
    assert_eq!(fake.received()[1].status, 202);
    let list = bridge(&right).args(["outbox", "list"]).output().unwrap();
    assert!(String::from_utf8_lossy(&list.stdout).contains("no pending or dead events"));
    // The ITOC360 tokens never reach the database (nor its WAL).
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        if path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("bridge.db")
        {
            let bytes = std::fs::read(&path).unwrap();
            for secret in [&b"wrong-token"[..], b"right-token"] {
                assert!(
                    !bytes.windows(secret.len()).any(|w| w == secret),
                    "{} holds a token",
                    path.display()
                );
            }
        }
    }
    fake.stop().await;
}

/// True when any file of the database (main, WAL) holds `needle`.
fn database_holds(dir: &Path, needle: &str) -> bool {
    std::fs::read_dir(dir).unwrap().any(|entry| {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        name.starts_with("bridge.db")
            && std::fs::read(&path)
                .unwrap()
                .windows(needle.len())
                .any(|w| w == needle.as_bytes())
    })
}

#[tokio::test]
async fn an_itoc360_answer_echoing_the_token_and_a_token_in_a_name_are_masked_everywhere() {
    sqlite_only!();
    let itoc_token = "itoc-token-echoed-back-0123";
    let name_token = "n4m3t0k3n";
    let fake = FakeItoc360::start(itoc_token).await;
    fake.script([Reply::Echo(401)]);
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), Some((&fake.base_url, itoc_token)));
    let p = start(&config);
    let named = fixture_with(
        "01_incident_created_investigating_critical.json",
        &[(
            "incident.name",
            json!(format!("API down ?token={name_token}")),
        )],
    );
    let (status, v) = p.post(named).await;
    assert_eq!(status, 200);
    let id = v["id"].as_str().unwrap().to_owned();
    fake.wait_for_requests(1).await;
    assert!(
        fake.received()[0].status == 401,
        "the fake echoed the Authorization header"
    );
    // A graceful stop lets the worker record the dead row; the pages are
    // read from a second run on the same database.
    p.signal("TERM");
    let (code, mut log) = p.wait();
    assert_eq!(code, Some(0), "{log}");
    let p = start(&config);
    let client = reqwest::Client::new();
    let read = |path: String| {
        let client = client.clone();
        async move { client.get(path).send().await.unwrap().text().await.unwrap() }
    };
    let api_events = read(format!("{}/api/events", p.address)).await;
    let event_page = read(format!("{}/events/{id}", p.address)).await;
    p.signal("TERM");
    let (code, second_log) = p.wait();
    assert_eq!(code, Some(0), "{second_log}");
    log.push_str(&second_log);
    let list = bridge(&config).args(["outbox", "list"]).output().unwrap();
    let listed = String::from_utf8_lossy(&list.stdout).into_owned();
    assert!(listed.contains("\tdead\t"), "{listed}");

    assert!(
        log.contains("refused request with Authorization: Bearer ********"),
        "the error is logged, masked:\n{log}"
    );
    assert!(api_events.contains("refused request"), "{api_events}");
    assert!(event_page.contains("refused request"), "{event_page}");
    assert!(listed.contains("refused request"), "{listed}");
    for (what, text) in [
        ("the log", &log),
        ("/api/events", &api_events),
        ("/events/<id>", &event_page),
        ("outbox list", &listed),
    ] {
        assert!(
            !text.contains(itoc_token),
            "{what} holds the ITOC360 token:\n{text}"
        );
        assert!(
            !text.contains(name_token),
            "{what} holds the name's token:\n{text}"
        );
    }
    assert!(
        !database_holds(dir.path(), itoc_token),
        "the database holds the ITOC360 token"
    );
    fake.stop().await;
}

#[test]
fn sources_new_prints_a_strong_token_and_its_url() {
    sqlite_only!();
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), None);
    let run = || {
        let out = bridge(&config)
            .args(["sources", "new", "payments"])
            .output()
            .unwrap();
        assert!(out.status.success());
        String::from_utf8(out.stdout).unwrap()
    };
    let (a, b) = (run(), run());
    let token = |text: &str| {
        text.split("token = \"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .to_owned()
    };
    let t = token(&a);
    assert_eq!(t.len(), 40);
    assert!(t.chars().all(|c| c.is_ascii_hexdigit()));
    assert_ne!(t, token(&b), "random each time");
    assert!(a.contains("name = \"payments\""));
    assert!(a.contains(&format!(
        "http://127.0.0.1:8080/webhooks/statuspage?token={t}"
    )));
}

#[tokio::test]
async fn retry_leaves_a_dead_trigger_alone_once_its_resolve_was_delivered() {
    sqlite_only!();
    let fake = FakeItoc360::start("itoc-token").await;
    fake.script([Reply::Status(400)]);
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), Some((&fake.base_url, "itoc-token")));
    let p = start(&config);
    let inc = "01_incident_created_investigating_critical.json";
    assert_eq!(p.post(fixture(inc)).await.1["outcome"], "triggered");
    let resolved = crate::helpers::incident_update("resolved", "11:02", &[]);
    assert_eq!(p.post(resolved).await.1["outcome"], "resolved");
    fake.wait_for_requests(2).await;
    p.signal("TERM");
    let (code, log) = p.wait();
    assert_eq!(code, Some(0), "{log}");
    assert_eq!(
        fake.received().iter().map(|r| r.status).collect::<Vec<_>>(),
        [400, 202]
    );

    // Sending the old trigger now would reopen a resolved alert.
    let retry = bridge(&config)
        .args(["outbox", "retry", "--dead"])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&retry.stdout);
    assert!(out.contains("0 event(s) queued again"), "{out}");
    assert!(out.contains("1 dead event(s) left dead"), "{out}");
    let retry = bridge(&config)
        .args(["outbox", "retry", "--id", "1"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&retry.stdout).contains("0 event(s) queued again"));
    let list = bridge(&config).args(["outbox", "list"]).output().unwrap();
    let listed = String::from_utf8_lossy(&list.stdout);
    assert!(listed.starts_with("1\tdead\ttrigger"), "{listed}");
    fake.stop().await;
}

/// Senders post new incidents, each of a fresh id, to `p` until `enough`
/// are answered 2xx; then `p` is killed with SIGKILL under them. The ids
/// answered 2xx, in the order they were.
async fn acknowledged_until_killed(p: Proc, senders: usize, enough: usize) -> Vec<String> {
    let url = format!("{}/webhooks/statuspage?token={TOKEN}", p.address);
    let acknowledged = Arc::new(Mutex::new(Vec::<String>::new()));
    let reached = Arc::new(tokio::sync::Notify::new());
    let mut set = tokio::task::JoinSet::new();
    for s in 0..senders {
        let (url, acknowledged, reached) = (url.clone(), acknowledged.clone(), reached.clone());
        set.spawn(async move {
            let client = reqwest::Client::new();
            for n in 0.. {
                let id = format!("k{s}n{n}");
                let body = fixture_with(
                    "01_incident_created_investigating_critical.json",
                    &[
                        ("incident.id", json!(id)),
                        ("incident.incident_updates.0.id", json!(format!("u-{id}"))),
                    ],
                );
                let Ok(r) = client.post(&url).body(body).send().await else {
                    return;
                };
                if r.status().is_success() {
                    let v: serde_json::Value = match r.json().await {
                        Ok(v) => v,
                        Err(_) => return,
                    };
                    assert_eq!(v["outcome"], "triggered", "{v}");
                    let mut a = acknowledged.lock().unwrap();
                    a.push(id);
                    if a.len() == enough {
                        reached.notify_one();
                    }
                }
            }
        });
    }
    tokio::time::timeout(Duration::from_secs(120), reached.notified())
        .await
        .unwrap_or_else(|_| panic!("{enough} webhooks acknowledged"));
    p.signal("KILL");
    let _ = p.wait();
    while set.join_next().await.is_some() {}
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(acknowledged.len() >= enough);
    acknowledged
}

#[tokio::test]
async fn sigkill_under_concurrent_load_loses_no_acknowledged_webhook() {
    sqlite_only!();
    const SENDERS: usize = 16;
    let fake = FakeItoc360::start("itoc-token").await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), Some((&fake.base_url, "itoc-token")));
    let acknowledged = acknowledged_until_killed(start(&config), SENDERS, 200).await;

    // A new process finds every acknowledged webhook and delivers every
    // decided trigger — also those committed but killed before their answer,
    // and those in flight at the kill (sent again once their lease ends).
    let db = rusqlite::Connection::open(dir.path().join("bridge.db")).unwrap();
    let unfinished: i64 = db
        .query_row(
            "SELECT count(*) FROM outbox WHERE state = 'pending'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let leased: i64 = db
        .query_row(
            "SELECT count(*) FROM outbox WHERE state = 'pending' AND lease_until IS NOT NULL",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let before = fake.received().len();
    let p = start(&config);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    tokio::time::timeout_at(
        deadline,
        fake.wait_for_requests(before + unfinished as usize),
    )
    .await
    .expect("every unfinished trigger is sent after the restart");
    p.signal("TERM");
    let (code, log) = p.wait();
    assert_eq!(code, Some(0), "{log}");

    let stored: std::collections::HashSet<String> = db
        .prepare("SELECT entity_id FROM webhooks WHERE outcome = 'triggered'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    for id in &acknowledged {
        assert!(
            stored.contains(id),
            "acknowledged webhook {id} is not stored"
        );
    }
    let pending: i64 = db
        .query_row(
            "SELECT count(*) FROM outbox WHERE state != 'delivered'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(pending, 0, "every decided trigger was delivered");
    // Only rows held by the killed worker (leased: being sent, or sent and
    // not yet recorded) may go out twice.
    let got = fake.accepted();
    let mut per_fp = std::collections::HashMap::<&str, usize>::new();
    for b in &got {
        *per_fp.entry(b["id"].as_str().unwrap()).or_default() += 1;
    }
    let twice = per_fp.values().filter(|&&n| n > 1).count();
    assert!(per_fp.values().all(|&n| n <= 2), "{per_fp:?}");
    assert!(
        twice as i64 <= leased,
        "{twice} sent twice, but only {leased} rows were held at the kill"
    );
    fake.stop().await;
}

/// The power-cut disk of `powercut.c`, built for this run.
fn powercut_disk(dir: &Path) -> PathBuf {
    let src = dir.join("powercut.c");
    std::fs::write(&src, include_str!("powercut.c")).unwrap();
    let lib = dir.join("powercut.so");
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".to_owned());
    let out = Command::new(&cc)
        .args(["-shared", "-fPIC", "-O2", "-o"])
        .arg(&lib)
        .arg(&src)
        .arg("-ldl")
        .output()
        .unwrap_or_else(|e| panic!("running {cc}: {e}"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    lib
}

/// A power cut right after the kill: the database and its WAL are read back
/// as they were at their last sync, everything written after it lost. Every
/// webhook answered 2xx is in them, with the checkpoints (copies from the
/// WAL into the database, then the WAL starting over) that ran under the
/// load.
#[tokio::test]
async fn a_power_cut_under_load_loses_no_acknowledged_webhook() {
    sqlite_only!();
    let live = tempfile::tempdir().unwrap();
    let live_dir = live.path().canonicalize().unwrap();
    let synced = tempfile::tempdir().unwrap();
    let tools = tempfile::tempdir().unwrap();
    let disk = powercut_disk(tools.path());
    let config = write_config(&live_dir, None);
    let p = start_with(
        &config,
        &[
            ("LD_PRELOAD", disk.to_str().unwrap()),
            ("POWERCUT_WATCH", live_dir.to_str().unwrap()),
            ("POWERCUT_SHADOW", synced.path().to_str().unwrap()),
        ],
    );
    let acknowledged = acknowledged_until_killed(p, 16, 800).await;

    // The disk after the cut: each file as it was at its last sync.
    let cut = tempfile::tempdir().unwrap();
    for name in ["bridge.db", "bridge.db-wal"] {
        let from = synced.path().join(name);
        assert!(from.exists(), "{name} was never synced");
        std::fs::copy(&from, cut.path().join(name)).unwrap();
    }
    let stored = |db: &rusqlite::Connection| -> std::collections::HashSet<String> {
        db.prepare("SELECT entity_id FROM webhooks WHERE outcome = 'triggered'")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    // The database file alone already holds some: checkpoints ran and
    // were synced before the WAL started over.
    let checkpointed = tempfile::tempdir().unwrap();
    std::fs::copy(
        synced.path().join("bridge.db"),
        checkpointed.path().join("bridge.db"),
    )
    .unwrap();
    let alone = stored(&rusqlite::Connection::open(checkpointed.path().join("bridge.db")).unwrap());
    assert!(!alone.is_empty(), "no checkpoint reached the disk");

    let db = rusqlite::Connection::open(cut.path().join("bridge.db")).unwrap();
    let check: String = db
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    let stored = stored(&db);
    let lost: Vec<&String> = acknowledged
        .iter()
        .filter(|id| !stored.contains(*id))
        .collect();
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged webhooks lost in the power cut: {:?}",
        lost.len(),
        acknowledged.len(),
        &lost[..lost.len().min(5)]
    );
}

#[tokio::test]
async fn a_private_pages_api_key_is_sent_but_never_logged_or_stored() {
    sqlite_only!();
    const KEY: &str = "page-api-key-5f3c9a1e7b2d";
    let fake = crate::fake_status::FakeStatus::start().await;
    fake.page(
        "x1y2z3a4b5c6",
        vec![],
        vec![
            json!({"id": "leaf1", "name": "API", "status": "major_outage",
                    "updated_at": "2025-03-04T10:20:00.000Z", "page_id": "x1y2z3a4b5c6",
                    "group": false}),
        ],
        vec![],
    );
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), None);
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str(&format!(
        "\n[reconcile]\ninterval_secs = 3600\n\n[[pages]]\nid = \"x1y2z3a4b5c6\"\nbase_url = \"{}\"\napi_key = \"{KEY}\"\n",
        fake.base_url
    ));
    std::fs::write(&config, text).unwrap();
    let p = start(&config);
    fake.wait_for_requests(1).await;
    // A webhook beside the heal, so the log has both kinds of line.
    let (status, _) = p
        .post(fixture("01_incident_created_investigating_critical.json"))
        .await;
    assert_eq!(status, 200);
    p.signal("TERM");
    let (code, log) = p.wait();
    assert_eq!(code, Some(0), "{log}");
    let seen = fake.seen();
    assert_eq!(seen[0].0, "summary.json");
    assert_eq!(seen[0].1.as_deref(), Some(format!("OAuth {KEY}").as_str()));
    assert!(log.contains("reconcile started"), "{log}");
    assert!(
        !log.contains(KEY),
        "the page's API key is in the log:\n{log}"
    );
    for f in std::fs::read_dir(dir.path()).unwrap() {
        let path = f.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap_or_default();
        assert!(
            !bytes.windows(KEY.len()).any(|w| w == KEY.as_bytes()),
            "{} holds the API key",
            path.display()
        );
    }
    let db = rusqlite::Connection::open(dir.path().join("bridge.db")).unwrap();
    let origin: String = db
        .query_row(
            "SELECT origin FROM webhooks WHERE entity_id = 'leaf1'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(origin, "reconcile");
    fake.stop().await;
}

#[test]
fn check_config_and_version() {
    sqlite_only!();
    let run = |args: &[&str]| {
        let out = Command::new(BIN)
            .args(args)
            .env_remove("ITOC360_TOKEN")
            .env_remove("BRIDGE_DATABASE")
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, out, _) = run(&["--version"]);
    assert_eq!(code, Some(0));
    assert_eq!(
        out.trim(),
        format!("statuspage-bridge {}", env!("CARGO_PKG_VERSION"))
    );

    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        Some(("http://127.0.0.1:9", "itoc-secret-token")),
    );
    let path = config.to_str().unwrap();
    let (code, out, err) = run(&["check-config", "--config", path]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.starts_with("ok\n"), "{out}");
    assert!(
        out.contains("bridge.db") && out.contains("sources: statuspage"),
        "{out}"
    );
    assert!(
        !out.contains("itoc-secret-token") && !out.contains(TOKEN),
        "{out}"
    );
    assert!(
        !dir.path().join("bridge.db").exists(),
        "checking creates nothing"
    );

    // A database path under a file cannot be created: exit 1, naming the key.
    let blocked = dir.path().join("blocker");
    std::fs::write(&blocked, "x").unwrap();
    let text = std::fs::read_to_string(&config).unwrap().replace(
        &dir.path().join("bridge.db").display().to_string(),
        &blocked.join("bridge.db").display().to_string(),
    );
    std::fs::write(&config, text).unwrap();
    let (code, _, err) = run(&["check-config", "--config", path]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("database.path"), "{err}");

    // A configuration error: exit 2, naming the key, as serve would.
    std::fs::write(&config, "[server]\nlisten = \"nowhere\"\n").unwrap();
    let (code, _, err) = run(&["check-config", "--config", path]);
    assert_eq!(code, Some(2));
    assert!(err.contains("server.listen"), "{err}");
}

/// Ids, names and texts from outside cannot forge a line of the text log,
/// colour it or reverse it: CR/LF, ANSI escapes and bidirectional controls
/// are spelled out.
#[tokio::test]
async fn text_logs_spell_out_control_characters_from_outside() {
    sqlite_only!();
    let fake = FakeItoc360::start("itoc-token-for-forged-ids").await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        Some((&fake.base_url, "itoc-token-for-forged-ids")),
    );
    let p = start_with(&config, &[("RUST_LOG", "info")]);
    let forged = "i1\r\n2025-01-01T00:00:00Z ERROR forged line \u{1b}[31mred\u{202e}gnp.exe";
    let body = fixture_with(
        "01_incident_created_investigating_critical.json",
        &[
            ("incident.id", json!(forged)),
            ("page.id", json!("page\nFORGED")),
            ("incident.page_id", json!("page\nFORGED")),
        ],
    );
    let (status, v) = p.post(body).await;
    assert_eq!((status, v["outcome"].as_str()), (200, Some("triggered")));
    // Its delivery logs the fingerprint, which holds the incident's id.
    fake.wait_for_requests(1).await;
    p.signal("TERM");
    let (code, log) = p.wait();
    assert_eq!(code, Some(0), "{log}");
    assert!(log.contains("webhook stored"), "{log}");
    assert!(log.contains("fingerprint=statuspage:page"), "{log}");
    for line in log.lines() {
        assert!(
            !line.trim_start().starts_with("2025-01-01") && !line.starts_with("FORGED"),
            "a forged line:\n{log}"
        );
    }
    assert!(!log.contains('\u{1b}'), "an ANSI escape reached the log");
    assert!(!log.contains('\u{202e}'), "a bidi override reached the log");
    assert!(!log.contains('\r'), "a carriage return reached the log");
    assert!(log.contains(r"i1\r\n2025-01-01"), "{log}");
    assert!(log.contains(r"\u{1b}[31mred\u{202e}gnp"), "{log}");
    fake.stop().await;
}

#[tokio::test]
async fn json_logs_are_one_object_per_line_with_the_same_fields_and_redaction() {
    sqlite_only!();
    let dir = tempfile::tempdir().unwrap();
    let p = start_with(
        &write_config(dir.path(), None),
        &[("BRIDGE_LOG_FORMAT", "json"), ("RUST_LOG", "info")],
    );
    let (status, v) = p
        .post(fixture("01_incident_created_investigating_critical.json"))
        .await;
    assert_eq!((status, v["outcome"].as_str()), (200, Some("triggered")));
    // A name whose `token=` value ends in a quote: masked after encoding,
    // the mask would swallow the escaping backslashes and break the line.
    let quoted = fixture_with(
        "01_incident_created_investigating_critical.json",
        &[
            ("incident.id", json!("quoted1")),
            ("incident.name", json!("see ?token=abc\\\" and \\ more")),
        ],
    );
    assert_eq!(p.post(quoted).await.0, 200);
    p.signal("TERM");
    let (code, log) = p.wait();
    assert_eq!(code, Some(0), "{log}");
    assert!(log.contains("quoted1"), "{log}");
    assert!(!log.contains("abc"), "the token= value is masked:\n{log}");
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert!(
        lines
            .iter()
            .all(|l| l.is_object() && l["level"].is_string())
    );
    let stored = lines
        .iter()
        .find(|l| l["message"] == "webhook stored")
        .expect("the webhook's line");
    assert_eq!(stored["outcome"], "triggered");
    assert!(stored["subject"].as_str().unwrap().contains("lq0v6n2c9t4h"));
    assert!(lines.iter().any(|l| {
        l["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("listening on http://127.0.0.1:"))
    }));
    assert!(!log.contains(TOKEN), "source token in the log:\n{log}");
    assert!(
        !log.contains("q4m2x8r1v7kp"),
        "unsubscribe secret in the log"
    );
}

#[tokio::test]
async fn killed_during_a_grace_period_the_held_trigger_goes_out_once_after_restart() {
    sqlite_only!();
    let fake = FakeItoc360::start("itoc-token").await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), Some((&fake.base_url, "itoc-token")));
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str("\n[[routes]]\nname = \"ops\"\ntoken = \"itoc-token\"\npage_after_secs = 3\n");
    std::fs::write(&config, text).unwrap();
    let p = start(&config);
    let (status, v) = p.post(fixture("03_component_major_outage.json")).await;
    assert_eq!(
        (status, v["outcome"].as_str()),
        (200, Some("triggered")),
        "{v}"
    );
    p.signal("KILL");
    let _ = p.wait();
    assert!(fake.received().is_empty(), "held, not sent before the kill");

    let p = start(&config);
    fake.wait_for_requests(1).await;
    p.signal("TERM");
    let (code, log) = p.wait();
    assert_eq!(code, Some(0), "{log}");
    let got = fake.accepted();
    assert_eq!(
        statuses_for(&got, "statuspage:x1y2z3a4b5c6:component:r7p3k9d2m5w1"),
        ["trigger"],
        "sent once, after the restart"
    );
    fake.stop().await;
}

#[test]
fn silence_commands_add_list_and_expire_and_refuse_bad_input_with_exit_2() {
    sqlite_only!();
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), None);
    let run = |args: &[&str]| {
        let out = bridge(&config).args(args).output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, _, err) = run(&["silence", "add", "--until", "2099-01-01T00:00Z"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("matcher"), "{err}");
    let (code, _, err) = run(&[
        "silence",
        "add",
        "--page",
        "GitHub",
        "--from",
        "2099-02-01",
        "--until",
        "2099-01-01",
    ]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("ends_at"), "{err}");
    let (code, _, err) = run(&["silence", "add", "--page", "GitHub", "--until", "soon"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--until"), "{err}");
    let (code, out, _) = run(&["silence", "list"]);
    assert_eq!(
        (code, out.trim()),
        (Some(0), "no silences"),
        "bad input stored nothing"
    );

    // A silence is at most a year long.
    let (code, _, err) = run(&[
        "silence",
        "add",
        "--page",
        "GitHub",
        "--until",
        "2099-01-01",
    ]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("at most a year"), "{err}");

    let day = (chrono::Utc::now() + chrono::Duration::days(30)).format("%Y-%m-%d");
    let until = format!("{day}T18:00Z");
    let (code, id, err) = run(&[
        "silence",
        "add",
        "--page",
        "GitHub",
        "--component",
        "Git Operations",
        "--until",
        &until,
        "--reason",
        "known, vendor ticket 4411",
    ]);
    assert_eq!(code, Some(0), "{err}");
    let id = id.trim().to_owned();
    assert_eq!(id.len(), 12, "{id}");
    let (code, out, _) = run(&["silence", "list"]);
    assert_eq!(code, Some(0));
    assert!(
        out.contains(&id)
            && out.contains("active")
            && out.contains("component=\"Git Operations\"")
            && out.contains(&format!("{day}T18:00:00Z"))
            && out.contains("known, vendor ticket 4411"),
        "{out}"
    );
    let (code, out, _) = run(&["silence", "expire", &id]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("expired"), "{out}");
    let (_, out, _) = run(&["silence", "list"]);
    assert!(
        out.contains("expired") && out.contains("expired by cli:"),
        "{out}"
    );
    let (code, _, err) = run(&["silence", "expire", "nope"]);
    assert_eq!(code, Some(2), "{err}");
}

#[tokio::test]
async fn pages_components_lists_what_the_page_has_and_what_the_rules_do_with_each() {
    sqlite_only!();
    let fake = crate::fake_status::FakeStatus::start().await;
    let leaf = |id: &str, name: &str, group: Option<&str>, status: &str| {
        json!({"id": id, "name": name, "status": status, "group": false, "group_id": group,
               "page_id": "x1y2z3a4b5c6", "position": 1})
    };
    fake.set(
        "summary.json",
        crate::fake_status::Answer::json(json!({
            "page": {"id": "x1y2z3a4b5c6", "name": "Vendor Cloud"},
            "components": [
                leaf("api1", "API", None, "major_outage"),
                {"id": "grp1", "name": "Core", "status": "operational", "group": true,
                 "group_id": null, "page_id": "x1y2z3a4b5c6", "components": ["bil1", "pay1"]},
                leaf("bil1", "Billing", Some("grp1"), "operational"),
                leaf("pay1", "Payments", Some("grp1"), "degraded_performance"),
            ],
            "incidents": []})),
    );
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), None);
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str(&format!(
        "\n[[pages]]\nid = \"x1y2z3a4b5c6\"\nname = \"Vendor\"\nbase_url = \"{}\"\nignore_components = [\"Billing\"]\n\n\
         [[routes]]\nname = \"payments\"\ncomponents = [\"Core\"]\ntoken = \"payments-token-0123456789\"\n",
        fake.base_url
    ));
    std::fs::write(&config, text).unwrap();
    let run = |args: &'static [&'static str]| {
        let config = config.clone();
        tokio::task::spawn_blocking(move || {
            let out = bridge(&config).args(args).output().unwrap();
            (
                out.status.code(),
                String::from_utf8_lossy(&out.stdout).into_owned(),
                String::from_utf8_lossy(&out.stderr).into_owned(),
            )
        })
    };

    // By the configured name; the table lines up and says why.
    let (code, out, err) = run(&["pages", "components", "vendor"]).await.unwrap();
    assert_eq!(code, Some(0), "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].starts_with("Page Vendor (x1y2z3a4b5c6): 4 components"),
        "{out}"
    );
    let cells = |l: &str| {
        l.split("  ")
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    assert_eq!(cells(lines[1]), ["ID", "NAME", "GROUP", "STATUS", "PAGES"]);
    assert_eq!(
        cells(lines[2]),
        [
            "api1",
            "API",
            "—",
            "major_outage",
            "no: unrouted: no route matches this alert and [itoc360] has no token"
        ]
    );
    assert_eq!(
        cells(lines[3])[..4],
        ["grp1", "Core", "(a group)", "operational"]
    );
    assert!(lines[3].contains("no: a group"), "{out}");
    assert_eq!(
        cells(lines[4]),
        [
            "bil1",
            "Billing",
            "Core",
            "operational",
            "no: filtered: component \"Billing\" is ignored on page Vendor"
        ]
    );
    assert_eq!(
        cells(lines[5]),
        [
            "pay1",
            "Payments",
            "Core",
            "degraded_performance",
            "yes → payments"
        ]
    );
    assert_eq!(lines.len(), 6, "{out}");

    // --json, by the page id.
    let (code, out, err) = run(&["pages", "components", "x1y2z3a4b5c6", "--json"])
        .await
        .unwrap();
    assert_eq!(code, Some(0), "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["page"], json!({"id": "x1y2z3a4b5c6", "name": "Vendor"}));
    let pay = &v["components"][3];
    assert_eq!(pay["id"], "pay1");
    assert_eq!(pay["group_name"], "Core");
    assert_eq!(pay["pages"], true);
    assert_eq!(pay["destinations"], json!(["payments"]));
    assert_eq!(v["components"][2]["pages"], false);
    assert_eq!(v["components"][1]["group"], true);

    // A page that is not there: a clear error, exit 1.
    fake.set(
        "summary.json",
        crate::fake_status::Answer {
            status: 404,
            body: "no".into(),
        },
    );
    let (code, out, err) = run(&["pages", "components", "Vendor"]).await.unwrap();
    assert_eq!(code, Some(1), "{out}");
    assert!(err.contains("summary.json: HTTP 404"), "{err}");
    fake.stop().await;
}

#[tokio::test]
async fn a_filter_naming_nothing_the_page_has_is_warned_about_once() {
    sqlite_only!();
    let fake = crate::fake_status::FakeStatus::start().await;
    fake.page(
        "x1y2z3a4b5c6",
        vec![],
        vec![
            json!({"id": "api1", "name": "API", "status": "operational", "group": false,
                    "group_id": null, "page_id": "x1y2z3a4b5c6"}),
        ],
        vec![],
    );
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), None);
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str(&format!(
        "\n[reconcile]\ninterval_secs = 1\n\n[[pages]]\nid = \"x1y2z3a4b5c6\"\nbase_url = \"{}\"\ncomponents = [\"API\", \"Codespacs\"]\n",
        fake.base_url
    ));
    std::fs::write(&config, text).unwrap();
    let p = start(&config);
    // Three rounds (each reads summary.json; nothing is missing upstream).
    fake.wait_for_requests(3).await;
    p.signal("TERM");
    let (code, log) = p.wait();
    assert_eq!(code, Some(0), "{log}");
    let warned: Vec<&str> = log.lines().filter(|l| l.contains("Codespacs")).collect();
    assert_eq!(warned.len(), 1, "{log}");
    assert!(warned[0].contains("WARN"), "{}", warned[0]);
    assert!(
        warned[0].contains("[[pages]] Example: components names \"Codespacs\", which is no component or group of page Example"),
        "{}",
        warned[0]
    );
    assert!(!log.contains("\"API\", which"), "{log}");
    fake.stop().await;
}

/// What a command prints of text from outside (a component's name, an
/// incident's title) reaches the terminal with its escape sequences and
/// bidi overrides written out: nothing clears the screen or reverses a
/// column.
#[tokio::test]
async fn commands_print_no_raw_control_characters() {
    sqlite_only!();
    let hostile = "Evil\u{1b}[2J\u{202e}txt.exe\r";
    let fake = crate::fake_status::FakeStatus::start().await;
    fake.set(
        "summary.json",
        crate::fake_status::Answer::json(json!({
            "page": {"id": "x1y2z3a4b5c6", "name": "Vendor Cloud"},
            "components": [{"id": "api1", "name": hostile, "status": "major_outage",
                            "group": false, "group_id": null, "page_id": "x1y2z3a4b5c6",
                            "position": 1}],
            "incidents": []})),
    );
    let dir = tempfile::tempdir().unwrap();
    // ITOC360 at a closed port: the event stays pending, so it is listed.
    let config = write_config(
        dir.path(),
        Some(("http://127.0.0.1:9", "itoc-token-0123456789")),
    );
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str(&format!(
        "\n[[pages]]\nid = \"x1y2z3a4b5c6\"\nbase_url = \"{}\"\n",
        fake.base_url
    ));
    std::fs::write(&config, text).unwrap();
    let p = start(&config);
    let named = fixture_with(
        "01_incident_created_investigating_critical.json",
        &[("incident.name", json!(hostile))],
    );
    assert_eq!(p.post(named).await.0, 200);
    p.signal("TERM");
    let (code, log) = p.wait();
    assert_eq!(code, Some(0), "{log}");
    let run = |args: &'static [&'static str]| {
        let config = config.clone();
        tokio::task::spawn_blocking(move || {
            let out = bridge(&config).args(args).output().unwrap();
            assert_eq!(out.status.code(), Some(0), "{args:?}");
            String::from_utf8_lossy(&out.stdout).into_owned()
        })
    };
    for (args, shown) in [
        (&["outbox", "list"][..], "Evil\\u{1b}[2J\\u{202e}txt.exe\\r"),
        (
            &["pages", "components", "x1y2z3a4b5c6"][..],
            "Evil\\u{1b}[2J\\u{202e}txt.exe",
        ),
    ] {
        let out = run(args).await.unwrap();
        assert!(out.contains(shown), "{args:?}:\n{out}");
        assert!(
            !out.contains(['\u{1b}', '\u{202e}', '\r']),
            "{args:?} printed a raw control character:\n{out:?}"
        );
    }
    fake.stop().await;
}
