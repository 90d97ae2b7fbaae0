//! Spawning the bridge for a test and talking to it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use actix_web::dev::ServerHandle;
use serde_json::{Value, json};
use sqlx::SqlitePool;
use sqlx::sqlite::SqlitePoolOptions;
use statuspage_bridge::config::{Secret, Settings, Source};
use statuspage_bridge::startup::Application;
use tempfile::TempDir;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub const TOKEN: &str = "test-source-token-0123456789";

pub struct TestApp {
    pub address: String,
    pub dir: TempDir,
    pub settings: Settings,
    pub client: reqwest::Client,
    handle: ServerHandle,
    join: JoinHandle<anyhow::Result<()>>,
    progress: Option<watch::Receiver<u64>>,
    pool: SqlitePool,
    /// Reconcile rounds, when `[[pages]]` are set.
    pub reconcile: Option<statuspage_bridge::reconcile::Handle>,
    /// Finished daily prunes, when `database.retention_days` is set.
    pub retention: Option<watch::Receiver<u64>>,
}

/// Settings for a test: port 0, a database in `dir`, one source, dry run.
pub fn test_settings(dir: &Path) -> Settings {
    let mut s = Settings::default();
    s.server.listen = "127.0.0.1:0".into();
    s.database.path = dir.join("db").join("bridge.db");
    s.sources = vec![Source {
        name: "statuspage".into(),
        token: Secret::new(TOKEN),
    }];
    s.delivery.retry_base_ms = 20;
    s.delivery.retry_max_secs = 1;
    s.delivery.timeout_ms = 2000;
    s.delivery.lease_secs = 5;
    s.delivery.shutdown_grace_secs = 5;
    s
}

/// A bridge that delivers to `base_url` (a fake ITOC360) with `token`.
pub async fn spawn_delivering(base_url: &str, token: &str) -> TestApp {
    let (base, token) = (base_url.to_owned(), token.to_owned());
    spawn_app_with(move |s| {
        s.itoc360.base_url = base;
        s.itoc360.token = Secret::new(token);
    })
    .await
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub async fn spawn_app_with(configure: impl FnOnce(&mut Settings)) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = test_settings(dir.path());
    configure(&mut settings);
    spawn_in(dir, settings).await
}

/// Starts the bridge on an existing folder (for restarts).
pub async fn spawn_in(dir: TempDir, settings: Settings) -> TestApp {
    settings.validate().expect("test settings are valid");
    let app = Application::build(settings.clone())
        .await
        .expect("bridge starts");
    let address = format!("http://127.0.0.1:{}", app.port());
    let handle = app.server_handle();
    let progress = app.delivery_progress();
    let reconcile = app.reconcile();
    let retention = app.retention_runs();
    let join = tokio::spawn(app.run_until_stopped());
    let pool = SqlitePoolOptions::new()
        .max_connections(2)
        .connect_with(
            sqlx::sqlite::SqliteConnectOptions::new()
                .filename(&settings.database.path)
                .busy_timeout(Duration::from_secs(5)),
        )
        .await
        .unwrap();
    TestApp {
        address,
        dir,
        settings,
        client: reqwest::Client::new(),
        handle,
        join,
        progress,
        pool,
        reconcile,
        retention,
    }
}

pub fn fixture(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    std::fs::read_to_string(path).unwrap()
}

/// A fixture with some fields replaced (dotted paths).
pub fn fixture_with(name: &str, edits: &[(&str, Value)]) -> String {
    let mut v: Value = serde_json::from_str(&fixture(name)).unwrap();
    for (path, value) in edits {
        let mut cur = &mut v;
        let parts: Vec<&str> = path.split('.').collect();
        for p in &parts[..parts.len() - 1] {
            cur = match p.parse::<usize>() {
                Ok(i) => &mut cur[i],
                Err(_) => &mut cur[*p],
            };
        }
        cur[parts[parts.len() - 1]] = value.clone();
    }
    serde_json::to_string(&v).unwrap()
}

impl TestApp {
    pub fn webhook_url(&self) -> String {
        format!("{}/webhooks/statuspage?token={TOKEN}", self.address)
    }

    pub async fn post(&self, body: impl Into<reqwest::Body>) -> reqwest::Response {
        self.client
            .post(self.webhook_url())
            .header("Content-Type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap()
    }

    /// Posts and returns (status, JSON answer).
    pub async fn post_json(&self, body: impl Into<reqwest::Body>) -> (u16, Value) {
        let r = self.post(body).await;
        let status = r.status().as_u16();
        (status, r.json().await.unwrap())
    }

    /// Posts and returns the outcome, asserting a 200.
    pub async fn outcome(&self, body: impl Into<reqwest::Body>) -> String {
        let (status, v) = self.post_json(body).await;
        assert_eq!(status, 200, "{v}");
        v["outcome"].as_str().unwrap().to_owned()
    }

    /// GETs a path; returns (status, body text).
    pub async fn get(&self, path: &str) -> (u16, String) {
        let r = self
            .client
            .get(format!("{}{path}", self.address))
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }

    /// The delivery worker's progress counter; `None` in a dry run.
    pub fn progress(&self) -> Option<watch::Receiver<u64>> {
        self.progress.clone()
    }

    pub fn db(&self) -> &SqlitePool {
        &self.pool
    }

    pub async fn count(&self, sql: &'static str) -> i64 {
        sqlx::query_scalar(sql).fetch_one(&self.pool).await.unwrap()
    }

    /// (action, priority, fingerprint) of every outbox row, in order.
    pub async fn outbox(&self) -> Vec<(String, String, String)> {
        sqlx::query_as("SELECT action, priority, fingerprint FROM outbox ORDER BY id")
            .fetch_all(&self.pool)
            .await
            .unwrap()
    }

    /// Waits, without sleeping, until the delivery worker has no pending
    /// rows left but those held for later (a grace period, a silence):
    /// each check runs after the worker reports progress.
    pub async fn drain(&mut self) {
        let progress = self.progress.as_mut().expect("not a dry run");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let pending: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM outbox WHERE state = 'pending'
                   AND (held_until IS NULL OR held_until <= strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))",
            )
            .fetch_one(&self.pool)
            .await
            .unwrap();
            if pending == 0 {
                return;
            }
            tokio::time::timeout_at(deadline, progress.changed())
                .await
                .expect("outbox drained within 30 s")
                .expect("worker running");
        }
    }

    /// Graceful stop; returns the folder so the test can start again on it.
    pub async fn stop(self) -> (TempDir, Settings) {
        self.handle.stop(true).await;
        self.join.await.unwrap().unwrap();
        self.pool.close().await;
        (self.dir, self.settings)
    }
}

/// The sample incident (01) after a new update: `status` at `hh_mm` on the
/// sample's day (update id `u<hh_mm>`, and `resolved_at` when resolved),
/// plus any further `extra` edits.
pub fn incident_update(status: &str, hh_mm: &str, extra: &[(&str, Value)]) -> String {
    let at = format!("2025-03-04T{hh_mm}:00.000Z");
    let mut edits: Vec<(&str, Value)> = vec![
        ("incident.status", json!(status)),
        ("incident.updated_at", json!(at)),
        ("incident.incident_updates.0.id", json!(format!("u{hh_mm}"))),
        ("incident.incident_updates.0.status", json!(status)),
        ("incident.incident_updates.0.created_at", json!(at)),
    ];
    if status == "resolved" {
        edits.push(("incident.resolved_at", json!(at)));
    }
    edits.extend(extra.iter().cloned());
    fixture_with("01_incident_created_investigating_critical.json", &edits)
}

/// The sample component (03) after a change `old` → `new` at `hh_mm`.
pub fn component_change(old: &str, new: &str, hh_mm: &str) -> String {
    fixture_with(
        "03_component_major_outage.json",
        &[
            ("component_update.id", json!(format!("cu{hh_mm}"))),
            ("component_update.old_status", json!(old)),
            ("component_update.new_status", json!(new)),
            (
                "component_update.created_at",
                json!(format!("2025-03-04T{hh_mm}:00.000Z")),
            ),
            ("component.status", json!(new)),
        ],
    )
}

/// Another component of the sample's page (`id`, `name`) changing `old` →
/// `new` at `hh_mm`.
pub fn other_component(id: &str, name: &str, old: &str, new: &str, hh_mm: &str) -> String {
    fixture_with(
        "03_component_major_outage.json",
        &[
            ("component_update.id", json!(format!("{id}-{hh_mm}"))),
            ("component_update.component_id", json!(id)),
            ("component_update.old_status", json!(old)),
            ("component_update.new_status", json!(new)),
            (
                "component_update.created_at",
                json!(format!("2025-03-04T{hh_mm}:00.000Z")),
            ),
            ("component.id", json!(id)),
            ("component.name", json!(name)),
            ("component.status", json!(new)),
        ],
    )
}
