//! Spawning the bridge for a test and talking to it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use actix_web::dev::ServerHandle;
use serde_json::{Value, json};
use sqlx::postgres::PgPoolOptions;
use statuspage_bridge::config::{Secret, Settings, Source};
use statuspage_bridge::startup::Application;
use statuspage_bridge::storage::sql::{Arg, Col, FromRow};
use statuspage_bridge::storage::{Console, ReadError};
use tempfile::TempDir;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub const TOKEN: &str = "test-source-token-0123456789";

/// Whether this binary runs the suite on PostgreSQL (`api_postgres`) or on
/// SQLite (`api`): one source, two test targets.
pub fn postgres() -> bool {
    env!("CARGO_CRATE_NAME") == "api_postgres"
}

/// The cluster the PostgreSQL half runs on (`bash .ci/postgres start`).
fn cluster_url() -> Option<String> {
    std::env::var("BRIDGE_TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
}

/// True (and says so once) when this is the PostgreSQL half and no
/// cluster is set: the test is skipped, not failed.
pub fn skipped() -> bool {
    if !postgres() || cluster_url().is_some() {
        return false;
    }
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        use std::io::Write;
        // Straight to the terminal: libtest hides what passing tests print.
        let _ = writeln!(
            std::io::stderr(),
            "\nPostgreSQL half of the API suite SKIPPED: BRIDGE_TEST_DATABASE_URL is not set \
             (start a throwaway cluster with `eval \"$(bash .ci/postgres start)\"`)\n"
        );
    });
    true
}

/// First line of every test: on PostgreSQL without a cluster, skip it.
macro_rules! needs_database {
    () => {
        if $crate::helpers::skipped() {
            return;
        }
    };
}
pub(crate) use needs_database;

/// First line of a test about the SQLite file itself (locks, backup, a
/// full disk …): it runs on SQLite only.
macro_rules! sqlite_only {
    () => {
        if $crate::helpers::postgres() {
            return;
        }
    };
}
pub(crate) use sqlite_only;

/// First line of a test of several replicas on one database: it runs on
/// PostgreSQL only (and is skipped there without a cluster).
macro_rules! postgres_only {
    () => {
        if !$crate::helpers::postgres() || $crate::helpers::skipped() {
            return;
        }
    };
}
pub(crate) use postgres_only;

/// A new, empty database on the test cluster; its URL.
pub fn new_postgres_database() -> String {
    let base = cluster_url().expect("BRIDGE_TEST_DATABASE_URL is set");
    let name = format!("t_{}", uuid::Uuid::new_v4().simple());
    let admin = base.clone();
    let create = name.clone();
    // Its own thread and runtime: callers may be sync or async.
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(async {
                let pool = PgPoolOptions::new()
                    .max_connections(1)
                    .connect(&admin)
                    .await
                    .expect("the test cluster answers");
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {create}")))
                    .execute(&pool)
                    .await
                    .expect("a test database is created");
                pool.close().await;
            })
    })
    .join()
    .unwrap();
    let (server, _) = base.rsplit_once('/').expect("a URL with a database");
    format!("{server}/{name}")
}

/// The test's own connection to the bridge's database, on either engine:
/// the bridge's [`Console`], as an analyst would open it.
#[derive(Clone, Debug)]
pub struct TestDb {
    console: Console,
    /// The SQLite file, for a test about the file itself.
    path: PathBuf,
}

/// A value bound to a test query.
#[derive(Clone, Debug)]
pub enum Bind {
    Text(String),
    Int(i64),
}
impl From<&str> for Bind {
    fn from(v: &str) -> Self {
        Bind::Text(v.to_owned())
    }
}
impl From<&String> for Bind {
    fn from(v: &String) -> Self {
        Bind::Text(v.clone())
    }
}
impl From<String> for Bind {
    fn from(v: String) -> Self {
        Bind::Text(v)
    }
}
impl From<i64> for Bind {
    fn from(v: i64) -> Self {
        Bind::Int(v)
    }
}

fn args(binds: &[Bind]) -> Vec<Arg<'_>> {
    binds
        .iter()
        .map(|b| match b {
            Bind::Text(v) => Arg::Text(Some(v.as_str().into())),
            Bind::Int(v) => Arg::Int(Some(*v)),
        })
        .collect()
}

impl TestDb {
    /// Which SQL to write where the engines differ.
    pub fn is_postgres(&self) -> bool {
        self.console.engine_name() == "PostgreSQL"
    }

    /// Every row of `sql` (`?` placeholders).
    pub async fn all<T: FromRow>(&self, sql: &str, binds: &[Bind]) -> Vec<T> {
        self.console
            .all(sql, &args(binds))
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    /// The one row of `sql`.
    pub async fn one<T: FromRow>(&self, sql: &str, binds: &[Bind]) -> T {
        self.console
            .optional(sql, &args(binds))
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
            .unwrap_or_else(|| panic!("{sql}: no row"))
    }

    /// The first column of the one row of `sql`.
    pub async fn value<T: Col>(&self, sql: &str, binds: &[Bind]) -> T {
        self.console
            .value(sql, &args(binds))
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    /// Every first column of `sql`.
    pub async fn values<T: Col>(&self, sql: &str, binds: &[Bind]) -> Vec<T> {
        self.all::<(T,)>(sql, binds)
            .await
            .into_iter()
            .map(|(v,)| v)
            .collect()
    }

    /// Runs a statement; the rows it changed, or the database's error.
    pub async fn execute(&self, sql: &str, binds: &[Bind]) -> Result<u64, ReadError> {
        self.console.execute(sql, &args(binds)).await
    }

    /// How many rows `sql` answers, or the database's error.
    pub async fn try_count_rows(&self, sql: &str) -> Result<usize, ReadError> {
        self.console.count_rows(sql).await
    }

    /// A connection of another process to the SQLite file (a test about
    /// the file's locks).
    pub async fn other_sqlite_connection(&self) -> sqlx::SqliteConnection {
        assert!(!self.is_postgres(), "a SQLite-only test ran on PostgreSQL");
        use sqlx::ConnectOptions;
        sqlx::sqlite::SqliteConnectOptions::new()
            .filename(&self.path)
            .busy_timeout(Duration::from_secs(5))
            .connect()
            .await
            .unwrap()
    }

    async fn close(&self) {
        self.console.close().await
    }
}

/// A connection of the test's own to the database of `settings`.
pub async fn test_db(settings: &Settings) -> TestDb {
    TestDb {
        console: Console::open(&settings.database).await.unwrap(),
        path: settings.database.path.clone(),
    }
}

pub struct TestApp {
    pub address: String,
    pub dir: TempDir,
    pub settings: Settings,
    pub client: reqwest::Client,
    handle: ServerHandle,
    join: JoinHandle<anyhow::Result<()>>,
    progress: Option<watch::Receiver<u64>>,
    pool: TestDb,
    /// Reconcile rounds, when `[[pages]]` are set.
    pub reconcile: Option<statuspage_bridge::reconcile::Rounds>,
    /// Finished daily prunes, when `database.retention_days` is set.
    pub retention: Option<watch::Receiver<u64>>,
    /// Beats the heartbeat now, when `[heartbeat]` is set.
    pub heartbeat: Option<statuspage_bridge::heartbeat::Beater>,
}

/// Settings for a test: port 0, a database in `dir`, one source, dry run.
pub fn test_settings(dir: &Path) -> Settings {
    let mut s = Settings::default();
    s.server.listen = "127.0.0.1:0".into();
    s.database.path = dir.join("db").join("bridge.db");
    if postgres() && cluster_url().is_some() {
        s.database.url = Secret::new(new_postgres_database());
    }
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
    // The bridge's warnings and errors, shown with a failing test's output.
    let _ = tracing_subscriber::fmt()
        .with_test_writer()
        .with_env_filter("warn")
        .try_init();
    settings.validate().expect("test settings are valid");
    let app = Application::build(settings.clone())
        .await
        .expect("bridge starts");
    let address = format!("http://127.0.0.1:{}", app.port());
    let handle = app.server_handle();
    let progress = app.delivery_progress();
    let reconcile = app.reconcile();
    let retention = app.retention_runs();
    let heartbeat = app.heartbeat();
    let join = tokio::spawn(app.run_until_stopped());
    let pool = test_db(&settings).await;
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
        heartbeat,
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

    pub fn db(&self) -> &TestDb {
        &self.pool
    }

    pub async fn count(&self, sql: &'static str) -> i64 {
        self.pool.value(sql, &[]).await
    }

    /// (action, priority, fingerprint) of every outbox row, in order.
    pub async fn outbox(&self) -> Vec<(String, String, String)> {
        self.pool
            .all(
                "SELECT action, priority, fingerprint FROM outbox ORDER BY id",
                &[],
            )
            .await
    }

    /// Waits, without sleeping, until the delivery worker has no pending
    /// rows left but those held for later (a grace period, a silence):
    /// each check runs after the worker reports progress.
    pub async fn drain(&mut self) {
        let progress = self.progress.as_mut().expect("not a dry run");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let now = statuspage_bridge::rules::time::format_time(chrono::Utc::now());
            let pending: i64 = self
                .pool
                .value(
                    "SELECT count(*) FROM outbox WHERE state = 'pending'
                       AND (held_until IS NULL OR held_until <= ?)",
                    &[now.into()],
                )
                .await;
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
