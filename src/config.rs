//! Typed settings, loaded and validated once: built-in defaults →
//! `config.toml` → environment variables → `validate()`. Nothing else in the
//! bridge reads the environment. Secrets are wrapped so `Debug` never prints
//! them.

use std::borrow::Cow;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::rules::domain::Priority;

/// The token in the repository's development `config.toml` and the built-in
/// defaults. Refused on a non-loopback address.
pub const DEV_TOKEN: &str = "dev-token-change-me";
/// Shortest source token accepted on a non-loopback address.
pub const MIN_PUBLIC_TOKEN_LEN: usize = 24;

/// A configuration problem, naming the key.
#[derive(Debug, thiserror::Error)]
#[error("configuration error: {0}")]
pub struct ConfigError(pub String);

fn err(key: &str, what: impl fmt::Display) -> ConfigError {
    ConfigError(format!("{key}: {what}"))
}

/// A string that must never reach a log or a page.
#[derive(Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_empty() {
            "\"\""
        } else {
            "\"[redacted]\""
        })
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(from = "RawSettings")]
pub struct Settings {
    pub server: Server,
    pub database: Database,
    pub itoc360: Itoc360,
    pub delivery: Delivery,
    pub maintenance: Maintenance,
    pub audit: Audit,
    pub sources: Vec<Source>,
    pub reconcile: Reconcile,
    /// When a page the bridge can no longer see pages someone.
    pub health: Health,
    /// The bridge proves it is alive to a dead-man's switch.
    pub heartbeat: Heartbeat,
    /// Statuspage pages whose status API is polled; none: reconcile is off.
    pub pages: Vec<Page>,
    pub log: Log,
    /// Page names and filters (from `[[pages]]`) and `[[routes]]`
    /// (docs/ROUTING.md).
    pub routing: Routing,
}

/// The file as written: `[[pages]]` entries carry both what reconcile needs
/// (`Page`) and the page's routing rules (`PageRules`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawSettings {
    server: Server,
    database: Database,
    itoc360: Itoc360,
    delivery: Delivery,
    maintenance: Maintenance,
    audit: Audit,
    sources: Vec<Source>,
    reconcile: Reconcile,
    health: Health,
    heartbeat: Heartbeat,
    pages: Vec<PageEntry>,
    routes: Vec<Route>,
    log: Log,
}

impl Default for RawSettings {
    fn default() -> Self {
        let s = Settings::default();
        RawSettings {
            server: s.server,
            database: s.database,
            itoc360: s.itoc360,
            delivery: s.delivery,
            maintenance: s.maintenance,
            audit: s.audit,
            sources: s.sources,
            reconcile: s.reconcile,
            health: s.health,
            heartbeat: s.heartbeat,
            pages: Vec::new(),
            routes: Vec::new(),
            log: s.log,
        }
    }
}

impl From<RawSettings> for Settings {
    fn from(r: RawSettings) -> Settings {
        let (pages, rules) = r
            .pages
            .into_iter()
            .map(|e| {
                let rules = PageRules {
                    page_id: e.id.clone(),
                    name: e.name,
                    components: e.components,
                    ignore_components: e.ignore_components,
                    min_priority: e.min_priority,
                    incidents: e.incidents,
                    page_after_secs: e.page_after_secs,
                    resolve_after_secs: e.resolve_after_secs,
                    maintenance: e.maintenance,
                };
                let page = Page {
                    id: e.id,
                    source: e.source,
                    base_url: e.base_url,
                    api_key: e.api_key,
                    webhooks: e.webhooks,
                };
                (page, rules)
            })
            .unzip();
        Settings {
            server: r.server,
            database: r.database,
            itoc360: r.itoc360,
            delivery: r.delivery,
            maintenance: r.maintenance,
            audit: r.audit,
            sources: r.sources,
            reconcile: r.reconcile,
            health: r.health,
            heartbeat: r.heartbeat,
            pages,
            log: r.log,
            routing: Routing {
                pages: rules,
                routes: r.routes,
            },
        }
    }
}

/// One `[[pages]]` entry as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PageEntry {
    id: String,
    #[serde(default)]
    source: String,
    #[serde(default)]
    base_url: String,
    #[serde(default)]
    api_key: Secret,
    #[serde(default = "yes")]
    webhooks: bool,
    #[serde(default)]
    name: String,
    #[serde(default)]
    components: Vec<String>,
    #[serde(default)]
    ignore_components: Vec<String>,
    #[serde(default)]
    min_priority: Option<String>,
    #[serde(default)]
    incidents: Option<String>,
    #[serde(default)]
    page_after_secs: Option<u64>,
    #[serde(default)]
    resolve_after_secs: Option<u64>,
    #[serde(default)]
    maintenance: Option<String>,
}

/// Page names, page filters and routes (docs/ROUTING.md). Empty: every
/// decision goes to `[itoc360]`, as without routing.
#[derive(Debug, Clone, Default)]
pub struct Routing {
    pub pages: Vec<PageRules>,
    pub routes: Vec<Route>,
}

/// What a `[[pages]]` entry says about paging.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageRules {
    pub page_id: String,
    /// Shown in titles and on the audit pages; empty: none configured.
    pub name: String,
    /// Only these (ids, names or groups) may page; empty: all.
    pub components: Vec<String>,
    /// These never page; wins over `components`.
    pub ignore_components: Vec<String>,
    /// `low` (default) | `medium` | `high` | `critical`: gates opening.
    pub min_priority: Option<String>,
    /// `all` (default) | `matching` | `none`.
    pub incidents: Option<String>,
    /// Grace periods for every destination of the page (docs/ROUTING.md).
    pub page_after_secs: Option<u64>,
    pub resolve_after_secs: Option<u64>,
    /// `notify` or `off`: whether the page's scheduled maintenances are
    /// followed; unset: `[maintenance] notify`.
    pub maintenance: Option<String>,
}

/// One `[[routes]]` entry: who is told.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Route {
    /// Required, unique; the destination's name in the audit and SQL.
    pub name: String,
    /// Page ids or names; empty: every page.
    #[serde(default)]
    pub pages: Vec<String>,
    /// Component ids, names or groups; empty: every component.
    #[serde(default)]
    pub components: Vec<String>,
    /// `incident`, `component`; empty: both.
    #[serde(default)]
    pub kinds: Vec<String>,
    #[serde(default)]
    pub min_priority: Option<String>,
    /// This destination's ITOC360 source token; empty: dry run for it.
    #[serde(default)]
    pub token: Secret,
    /// Empty: `[itoc360] format`.
    #[serde(default)]
    pub format: Option<Format>,
    /// The alert also goes on to the next matching routes.
    #[serde(default, rename = "continue")]
    pub continue_matching: bool,
    /// A component's opening trigger waits this long (seconds).
    #[serde(default)]
    pub page_after_secs: Option<u64>,
    /// A resolve waits this long; a reopen meanwhile cancels it.
    #[serde(default)]
    pub resolve_after_secs: Option<u64>,
}

impl Route {
    /// `ITOC360_TOKEN_<NAME IN UPPER CASE, - as _>`.
    pub fn token_variable(&self) -> String {
        format!(
            "ITOC360_TOKEN_{}",
            self.name
                .chars()
                .map(|c| if c == '-' {
                    '_'
                } else {
                    c.to_ascii_uppercase()
                })
                .collect::<String>()
        )
    }
}

/// Priority names a filter or route accepts.
const PRIORITIES: [&str; 4] = ["low", "medium", "high", "critical"];

/// How log lines are written to stderr.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Log {
    /// "text" (the default) or "json": one JSON object per line.
    pub format: String,
}

impl Default for Log {
    fn default() -> Self {
        Log {
            format: "text".into(),
        }
    }
}

impl Log {
    pub fn json(&self) -> bool {
        self.format == "json"
    }
}

/// How often pages are polled, and when a vanished alert is given up.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Reconcile {
    /// Seconds between two rounds of one page (±10 % jitter).
    pub interval_secs: u64,
    /// Rounds in a row an open incident or component must be missing
    /// upstream before it is resolved.
    pub misses_to_resolve: u32,
    /// Timeout of one request to a status API.
    pub timeout_ms: u64,
    /// The most a status API answer may hold: a longer one is cut off and
    /// the round fails with the reason (a real `summary.json` is well under
    /// 1 MB).
    pub max_body_bytes: u64,
    /// The most components one round of one page pages one by one; beyond
    /// that, one alert of the page names the rest. 0: no limit.
    pub max_triggers_per_round: usize,
}

impl Default for Reconcile {
    fn default() -> Self {
        Reconcile {
            interval_secs: 300,
            misses_to_resolve: 2,
            timeout_ms: 10_000,
            max_body_bytes: 8 * 1024 * 1024,
            max_triggers_per_round: 20,
        }
    }
}

/// Page health (docs/RECONCILE.md, "Page health"): when a page the bridge
/// can no longer see — quarantined webhooks, an API that fails, moved or is
/// gone — opens an alert of its own.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Health {
    /// How long a page may be unhealthy before its alert opens.
    pub page_after_secs: u64,
    /// The alert's priority: `low`, `medium`, `high` or `critical`.
    pub priority: String,
    /// Failed rounds in a row before a page is unreachable, moved or gone.
    pub failed_rounds: u32,
    /// How old an upstream change may be, with no webhook since, before the
    /// page is stale (the quarantine signature).
    pub expect_webhook_within_secs: u64,
}

impl Default for Health {
    fn default() -> Self {
        Health {
            page_after_secs: 1800,
            priority: "high".into(),
            failed_rounds: 3,
            expect_webhook_within_secs: 900,
        }
    }
}

impl Health {
    pub fn thresholds(&self) -> crate::rules::health::Thresholds {
        crate::rules::health::Thresholds {
            failed_rounds: self.failed_rounds as usize,
            expect_webhook_within: chrono::Duration::seconds(
                self.expect_webhook_within_secs.min(i64::MAX as u64) as i64,
            ),
        }
    }

    /// The alert's priority (validated at load).
    pub fn priority(&self) -> Priority {
        Priority::parse(&self.priority).unwrap_or(Priority::High)
    }
}

/// The outgoing heartbeat (docs/OPERATING.md, "Proving it is alive"):
/// while the bridge is healthy it calls `url` every `interval_secs`, so a
/// dead-man's switch pages someone when the calls stop.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Heartbeat {
    /// Called with a POST while healthy; empty: no heartbeat. A secret
    /// (such URLs carry their check's key): never logged or shown.
    pub url: Secret,
    /// Called with a POST and the reason while the bridge is unhealthy
    /// (a Healthchecks-style `<url>/fail`); empty: the beat is only
    /// withheld.
    pub fail_url: Secret,
    pub interval_secs: u64,
    /// A dead event older than this makes the bridge unhealthy: something
    /// ITOC360 refused has waited too long for a person.
    pub max_dead_age_secs: u64,
    /// Also send ITOC360 an always-firing Alertmanager `Watchdog` alert
    /// each beat, for pipelines that page when it stops.
    pub watchdog: bool,
}

impl Default for Heartbeat {
    fn default() -> Self {
        Heartbeat {
            url: Secret::default(),
            fail_url: Secret::default(),
            interval_secs: 60,
            max_dead_age_secs: 3600,
            watchdog: false,
        }
    }
}

impl Heartbeat {
    /// Whether anything is sent at all.
    pub fn enabled(&self) -> bool {
        !self.url.is_empty() || self.watchdog
    }
}

/// One Statuspage page to reconcile.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Page {
    /// The page id (`page.id` in webhooks).
    pub id: String,
    /// The `[[sources]]` name whose state it heals; default the first.
    #[serde(default)]
    pub source: String,
    /// Default `https://<id>.statuspage.io`; a custom domain works too.
    #[serde(default)]
    pub base_url: String,
    /// Private pages only: sent as `Authorization: OAuth <key>`.
    #[serde(default)]
    pub api_key: Secret,
    /// False for a page followed by polling alone: no quarantine banner.
    #[serde(default = "yes")]
    pub webhooks: bool,
}

fn yes() -> bool {
    true
}

impl Page {
    /// Where its status API lives, without a trailing slash.
    pub fn api_base(&self) -> String {
        if self.base_url.is_empty() {
            format!("https://{}.statuspage.io", self.id)
        } else {
            self.base_url.trim_end_matches('/').to_owned()
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Server {
    pub listen: String,
    pub public_url: String,
    pub max_body_bytes: usize,
    /// Seconds to let in-flight requests finish on shutdown.
    pub shutdown_timeout_secs: u64,
    /// Open connections at most, all workers together; more wait in the
    /// listen backlog.
    pub max_connections: usize,
    /// How long a client may take to send a request's head (then 408).
    pub request_timeout_ms: u64,
    /// How long a client may take to send a request's body (then 408).
    pub body_timeout_ms: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Database {
    pub path: PathBuf,
    /// `postgres://…`: PostgreSQL instead of the file at `path` (several
    /// replicas may share it). Its password is a secret.
    pub url: Secret,
    /// How long a write waits for a lock held by another process.
    pub busy_timeout_ms: u64,
    /// Prune history older than this many days, daily (0: keep everything).
    pub retention_days: u32,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Generic,
    Alertmanager,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Itoc360 {
    pub base_url: String,
    pub token: Secret,
    pub format: Format,
}

/// How the delivery worker sends and retries.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Delivery {
    /// Timeout of one request to ITOC360, in milliseconds.
    pub timeout_ms: u64,
    /// Different fingerprints sent at once.
    pub concurrency: usize,
    /// First retry delay; doubles each attempt, with jitter.
    pub retry_base_ms: u64,
    /// Longest delay between two attempts.
    pub retry_max_secs: u64,
    /// A row still failing this long after it was decided is marked dead.
    pub give_up_after_secs: u64,
    /// How long a claimed row is held before another worker may take it.
    pub lease_secs: u64,
    /// Seconds to let in-flight sends finish on shutdown.
    pub shutdown_grace_secs: u64,
}

/// Scheduled maintenance (docs/BEHAVIOUR.md; docs/RECONCILE.md,
/// "Maintenance").
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Maintenance {
    /// Page for maintenance in progress (`in_progress`, `verifying`,
    /// `under_maintenance`).
    pub page: bool,
    /// Follow every page's scheduled maintenances: a heads-up before, a
    /// note at start and end, components held while it runs, an alert on
    /// overrun. A `[[pages]] maintenance` says it per page.
    pub notify: bool,
    /// How long before a maintenance starts its heads-up goes out.
    pub lead_secs: u64,
    /// How long a maintenance may run past its scheduled end before it
    /// overran.
    pub overrun_grace_secs: u64,
}

impl Default for Maintenance {
    fn default() -> Self {
        Maintenance {
            page: false,
            notify: false,
            lead_secs: 3600,
            overrun_grace_secs: 900,
        }
    }
}

impl Maintenance {
    pub fn settings(&self) -> crate::rules::maintenance::Settings {
        let secs = |s: u64| chrono::Duration::seconds(s.min(i64::MAX as u64 / 1000) as i64);
        crate::rules::maintenance::Settings {
            lead: secs(self.lead_secs),
            overrun_grace: secs(self.overrun_grace_secs),
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Audit {
    pub username: String,
    pub password: Secret,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    pub name: String,
    pub token: Secret,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            server: Server::default(),
            database: Database::default(),
            itoc360: Itoc360::default(),
            delivery: Delivery::default(),
            maintenance: Maintenance::default(),
            audit: Audit::default(),
            sources: vec![Source {
                name: "statuspage".into(),
                token: Secret::new(DEV_TOKEN),
            }],
            reconcile: Reconcile::default(),
            health: Health::default(),
            heartbeat: Heartbeat::default(),
            pages: Vec::new(),
            log: Log::default(),
            routing: Routing::default(),
        }
    }
}

impl Default for Server {
    fn default() -> Self {
        Server {
            listen: "127.0.0.1:8080".into(),
            public_url: "http://127.0.0.1:8080".into(),
            max_body_bytes: 1024 * 1024,
            shutdown_timeout_secs: 30,
            max_connections: 1024,
            request_timeout_ms: 5000,
            body_timeout_ms: 10_000,
        }
    }
}

impl Database {
    /// PostgreSQL when a URL is set; the SQLite file at `path` otherwise.
    pub fn is_postgres(&self) -> bool {
        !self.url.is_empty()
    }

    /// Every credential the URL carries, as written and decoded: secrets
    /// to keep out of logs. libpq takes a password in the userinfo
    /// (`postgres://user:password@host`) and as the `password` (or a client
    /// key's `sslpassword`) parameter of the query; a `passfile` is a path
    /// and stays visible.
    fn url_password(&self) -> impl Iterator<Item = Cow<'_, str>> {
        let raw = self.url.expose();
        let mut found: Vec<&str> = Vec::new();
        // postgres://user:password@host…: after the first ':' of the part
        // between "//" and the last '@' before the path.
        let rest = raw.split_once("://").map_or("", |(_, r)| r);
        let auth = rest.split(['/', '?']).next().unwrap_or("");
        if let Some((_, p)) = auth
            .rsplit_once('@')
            .and_then(|(userinfo, _)| userinfo.split_once(':'))
        {
            found.push(p);
        }
        found.extend(url_query_secrets(raw).map(|(_, v)| v));
        found
            .into_iter()
            .flat_map(|p| {
                let decoded = percent_encoding::percent_decode_str(&p.replace('+', " "))
                    .decode_utf8()
                    .ok()
                    .map(|d| Cow::Owned(d.into_owned()))
                    .filter(|d| d != p);
                [Some(Cow::Borrowed(p)), decoded]
            })
            .flatten()
            .filter(|p| !p.is_empty())
    }

    /// Where the data lives, fit to print: the file's path, or the URL with
    /// every credential replaced by `****`.
    pub fn shown(&self) -> String {
        if !self.is_postgres() {
            return self.path.display().to_string();
        }
        let raw = self.url.expose();
        let mut shown = raw.to_owned();
        let rest = raw.split_once("://").map_or("", |(_, r)| r);
        let auth = rest.split(['/', '?']).next().unwrap_or("");
        if let Some((_, p)) = auth
            .rsplit_once('@')
            .and_then(|(userinfo, _)| userinfo.split_once(':'))
        {
            shown = shown.replacen(&format!(":{p}@"), ":****@", 1);
        }
        for (key, value) in url_query_secrets(raw) {
            shown = shown.replace(&format!("{key}={value}"), &format!("{key}=****"));
        }
        shown
    }
}

/// The `password` and `sslpassword` parameters of a URL's query, as
/// written: (key, value).
fn url_query_secrets(url: &str) -> impl Iterator<Item = (&str, &str)> {
    let query = url.split_once('?').map_or("", |(_, q)| q);
    let query = query.split('#').next().unwrap_or("");
    query.split('&').filter_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        let name = percent_encoding::percent_decode_str(key)
            .decode_utf8()
            .ok()?;
        matches!(
            name.to_ascii_lowercase().as_str(),
            "password" | "sslpassword"
        )
        .then_some((key, value))
    })
}

impl Default for Database {
    fn default() -> Self {
        Database {
            path: PathBuf::from("data/statuspage-bridge.db"),
            url: Secret::default(),
            busy_timeout_ms: 5000,
            retention_days: 0,
        }
    }
}

impl Default for Itoc360 {
    fn default() -> Self {
        Itoc360 {
            base_url: "https://api.itoc360.app".into(),
            token: Secret::default(),
            format: Format::Generic,
        }
    }
}

impl Default for Delivery {
    fn default() -> Self {
        Delivery {
            timeout_ms: 10_000,
            concurrency: 8,
            retry_base_ms: 1000,
            retry_max_secs: 300,
            give_up_after_secs: 24 * 3600,
            lease_secs: 60,
            shutdown_grace_secs: 10,
        }
    }
}

impl Settings {
    /// Loads `path`, or `config.toml` in the working directory when `path`
    /// is `None` (built-in defaults when that file does not exist), then
    /// applies the environment overrides read through `env`, then validates.
    pub fn load(
        path: Option<&Path>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Settings, ConfigError> {
        Self::load_with(path, env, &[])
    }

    /// `load`, with `KEY=VALUE` overrides (`maintenance.page=true`) applied
    /// to the file before it is read; a value is TOML (`true`, `5`,
    /// `"text"`), or else taken as a string.
    pub fn load_with(
        path: Option<&Path>,
        env: impl Fn(&str) -> Option<String>,
        sets: &[String],
    ) -> Result<Settings, ConfigError> {
        let path = path.or_else(|| {
            let default = Path::new("config.toml");
            default.exists().then_some(default)
        });
        let mut settings = match path {
            Some(p) if sets.is_empty() => Self::from_file(p)?,
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .map_err(|e| ConfigError(format!("cannot read {}: {e}", p.display())))?;
                let table: toml::Table = toml::from_str(&text).map_err(|e| {
                    ConfigError(format!("{}: {}", p.display(), e.to_string().trim_end()))
                })?;
                Self::from_table(table, sets)?
            }
            None if sets.is_empty() => Settings::default(),
            None => Self::from_table(toml::Table::new(), sets)?,
        };
        settings.apply_env(env);
        settings.validate()?;
        Ok(settings)
    }

    fn from_table(mut table: toml::Table, sets: &[String]) -> Result<Settings, ConfigError> {
        for set in sets {
            let (key, value) = set
                .split_once('=')
                .ok_or_else(|| err(set, "an override is KEY=VALUE, e.g. maintenance.page=true"))?;
            let value = toml::from_str::<toml::Table>(&format!("v = {value}"))
                .ok()
                .and_then(|mut t| t.remove("v"))
                .unwrap_or_else(|| toml::Value::String(value.to_owned()));
            let parts: Vec<&str> = key.trim().split('.').collect();
            let (last, parents) = parts.split_last().expect("split yields one part");
            let mut cur = &mut table;
            for p in parents {
                cur = cur
                    .entry(p.to_string())
                    .or_insert_with(|| toml::Value::Table(toml::Table::new()))
                    .as_table_mut()
                    .ok_or_else(|| err(key, format!("{p} is not a table")))?;
            }
            cur.insert(last.to_string(), value);
        }
        toml::Value::Table(table)
            .try_into()
            .map_err(|e: toml::de::Error| ConfigError(e.to_string().trim_end().to_owned()))
    }

    pub fn from_file(path: &Path) -> Result<Settings, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError(format!("cannot read {}: {e}", path.display())))?;
        Self::from_toml(&text).map_err(|e| ConfigError(format!("{}: {}", path.display(), e.0)))
    }

    pub fn from_toml(text: &str) -> Result<Settings, ConfigError> {
        toml::from_str(text).map_err(|e| ConfigError(e.to_string().trim_end().to_owned()))
    }

    fn apply_env(&mut self, env: impl Fn(&str) -> Option<String>) {
        if let Some(v) = env("ITOC360_TOKEN") {
            self.itoc360.token = Secret::new(v);
        }
        if let Some(v) = env("ITOC360_BASE_URL") {
            self.itoc360.base_url = v;
        }
        if let Some(v) = env("BRIDGE_LISTEN") {
            self.server.listen = v;
        }
        if let Some(v) = env("BRIDGE_DATABASE") {
            self.database.path = PathBuf::from(v);
        }
        if let Some(v) = env("BRIDGE_DATABASE_URL") {
            self.database.url = Secret::new(v);
        }
        if let Some(v) = env("BRIDGE_LOG_FORMAT") {
            self.log.format = v;
        }
        for route in &mut self.routing.routes {
            if let Some(v) = env(&route.token_variable()) {
                route.token = Secret::new(v);
            }
        }
    }

    /// The listen address, parsed.
    pub fn listen_addr(&self) -> SocketAddr {
        self.server
            .listen
            .parse()
            .expect("validated: server.listen is an address:port")
    }

    /// The rules the pipeline decides by (what `replay --set` can change).
    pub fn rules(&self) -> crate::rules::machine::Rules {
        crate::rules::machine::Rules {
            page_maintenance: self.maintenance.page,
        }
    }

    /// No destination has a token: decisions are recorded, nothing is sent.
    pub fn dry_run(&self) -> bool {
        self.itoc360.token.is_empty() && self.routing.routes.iter().all(|r| r.token.is_empty())
    }

    /// The routing settings as the rules use them (validated: every
    /// priority, kind and incidents value parses).
    pub fn policy(&self) -> crate::rules::route::Policy {
        use crate::rules::domain::{EntityKind, Priority};
        use crate::rules::route::{Delays, Incidents, PagePolicy, Policy, RoutePolicy};
        let priority = |p: &Option<String>| {
            p.as_deref()
                .and_then(Priority::parse)
                .unwrap_or(Priority::Low)
        };
        Policy {
            pages: self
                .routing
                .pages
                .iter()
                .map(|p| PagePolicy {
                    page_id: p.page_id.clone(),
                    name: (!p.name.trim().is_empty()).then(|| p.name.trim().to_owned()),
                    components: p.components.clone(),
                    ignore_components: p.ignore_components.clone(),
                    min_priority: priority(&p.min_priority),
                    incidents: match p.incidents.as_deref() {
                        Some("matching") => Incidents::Matching,
                        Some("none") => Incidents::None,
                        _ => Incidents::All,
                    },
                    delays: Delays {
                        page_after_secs: p.page_after_secs,
                        resolve_after_secs: p.resolve_after_secs,
                    },
                })
                .collect(),
            routes: self
                .routing
                .routes
                .iter()
                .map(|r| RoutePolicy {
                    name: r.name.clone(),
                    pages: r.pages.clone(),
                    components: r.components.clone(),
                    kinds: r
                        .kinds
                        .iter()
                        .filter_map(|k| EntityKind::parse(k))
                        .collect(),
                    min_priority: priority(&r.min_priority),
                    continue_matching: r.continue_matching,
                    has_token: !r.token.is_empty(),
                    delays: Delays {
                        page_after_secs: r.page_after_secs,
                        resolve_after_secs: r.resolve_after_secs,
                    },
                })
                .collect(),
            default_has_token: !self.itoc360.token.is_empty(),
        }
    }

    /// Every configured secret, for `redact::remember`: what must never
    /// reach a log, the database or a page.
    pub fn secrets(&self) -> impl Iterator<Item = Cow<'_, str>> {
        self.sources
            .iter()
            .map(|s| s.token.expose())
            .chain(self.pages.iter().map(|p| p.api_key.expose()))
            .chain(self.routing.routes.iter().map(|r| r.token.expose()))
            .chain([
                self.itoc360.token.expose(),
                self.audit.password.expose(),
                self.heartbeat.url.expose(),
                self.heartbeat.fail_url.expose(),
            ])
            .map(Cow::Borrowed)
            .chain(self.database.url_password())
    }

    /// Whether `page_id`'s scheduled maintenances are followed.
    pub fn maintenance_notify(&self, page_id: &str) -> bool {
        match self
            .routing
            .pages
            .iter()
            .find(|p| p.page_id == page_id)
            .and_then(|p| p.maintenance.as_deref())
        {
            Some(m) => m == "notify",
            None => self.maintenance.notify,
        }
    }

    pub fn audit_credentials(&self) -> Option<(&str, &Secret)> {
        (!self.audit.username.is_empty())
            .then_some((self.audit.username.as_str(), &self.audit.password))
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        let listen: SocketAddr = self.server.listen.parse().map_err(|_| {
            err(
                "server.listen",
                format!(
                    "\"{}\" is not an address:port such as 127.0.0.1:8080",
                    self.server.listen
                ),
            )
        })?;
        check_url("server.public_url", &self.server.public_url)?;
        for (key, v) in [
            ("server.max_body_bytes", self.server.max_body_bytes as u64),
            ("server.max_connections", self.server.max_connections as u64),
            ("server.request_timeout_ms", self.server.request_timeout_ms),
            ("server.body_timeout_ms", self.server.body_timeout_ms),
        ] {
            if v == 0 {
                return Err(err(key, "must be greater than 0"));
            }
        }
        if self.database.path.as_os_str().is_empty() {
            return Err(err("database.path", "must not be empty"));
        }
        if !self.database.url.is_empty() {
            let shown = self.database.shown();
            let u = url::Url::parse(self.database.url.expose()).map_err(|e| {
                err(
                    "database.url",
                    format!("is not a URL such as postgres://user:password@host:5432/db ({e})"),
                )
            })?;
            if !matches!(u.scheme(), "postgres" | "postgresql") {
                return Err(err(
                    "database.url",
                    format!(
                        "\"{shown}\" must start with postgres:// (PostgreSQL is the only engine besides the SQLite file at database.path)"
                    ),
                ));
            }
        }
        check_url("itoc360.base_url", &self.itoc360.base_url)?;
        let d = &self.delivery;
        for (key, v) in [
            ("delivery.timeout_ms", d.timeout_ms),
            ("delivery.concurrency", d.concurrency as u64),
            ("delivery.retry_base_ms", d.retry_base_ms),
            ("delivery.retry_max_secs", d.retry_max_secs),
            ("delivery.lease_secs", d.lease_secs),
        ] {
            if v == 0 {
                return Err(err(key, "must be greater than 0"));
            }
        }
        if d.lease_secs.saturating_mul(1000) <= d.timeout_ms {
            return Err(err(
                "delivery.lease_secs",
                "must be longer than delivery.timeout_ms, or a slow send could be claimed twice",
            ));
        }
        if self.audit.username.is_empty() != self.audit.password.is_empty() {
            return Err(err("audit", "set both username and password, or neither"));
        }
        if self.sources.is_empty() {
            return Err(err("sources", "at least one [[sources]] entry is needed"));
        }
        for (i, s) in self.sources.iter().enumerate() {
            let key = format!("sources[{i}]");
            if s.name.trim().is_empty() {
                return Err(err(&format!("{key}.name"), "must not be empty"));
            }
            if s.token.is_empty() {
                return Err(err(
                    &format!("{key}.token"),
                    format!("source \"{}\" has an empty token", s.name),
                ));
            }
            if self.sources[..i].iter().any(|o| o.name == s.name) {
                return Err(err(
                    &format!("{key}.name"),
                    format!("\"{}\" is used twice", s.name),
                ));
            }
            if self.sources[..i].iter().any(|o| o.token == s.token) {
                return Err(err(
                    &format!("{key}.token"),
                    format!("source \"{}\" shares its token with another source", s.name),
                ));
            }
            if !listen.ip().is_loopback() {
                if s.token.expose() == DEV_TOKEN {
                    return Err(err(
                        &format!("{key}.token"),
                        format!(
                            "source \"{}\" uses the development token and server.listen ({listen}) is not a loopback address; set a random token",
                            s.name
                        ),
                    ));
                }
                if s.token.expose().len() < MIN_PUBLIC_TOKEN_LEN {
                    return Err(err(
                        &format!("{key}.token"),
                        format!(
                            "source \"{}\" has a token shorter than {MIN_PUBLIC_TOKEN_LEN} characters and server.listen ({listen}) is not a loopback address",
                            s.name
                        ),
                    ));
                }
            }
        }
        if !matches!(self.log.format.as_str(), "text" | "json") {
            return Err(err(
                "log.format",
                format!("\"{}\" is neither \"text\" nor \"json\"", self.log.format),
            ));
        }
        if self.reconcile.interval_secs == 0 {
            return Err(err("reconcile.interval_secs", "must be 1 or more"));
        }
        if self.reconcile.misses_to_resolve == 0 {
            return Err(err("reconcile.misses_to_resolve", "must be 1 or more"));
        }
        if self.reconcile.timeout_ms == 0 {
            return Err(err("reconcile.timeout_ms", "must be greater than 0"));
        }
        if Priority::parse(&self.health.priority).is_none() {
            return Err(err(
                "health.priority",
                format!(
                    "\"{}\" is none of low, medium, high, critical",
                    self.health.priority
                ),
            ));
        }
        for (key, url) in [
            ("heartbeat.url", &self.heartbeat.url),
            ("heartbeat.fail_url", &self.heartbeat.fail_url),
        ] {
            let u = url.expose();
            if !(u.is_empty() || u.starts_with("http://") || u.starts_with("https://")) {
                return Err(err(key, "must be an http:// or https:// URL"));
            }
        }
        for (i, p) in self.routing.pages.iter().enumerate() {
            if let Some(m) = &p.maintenance
                && m != "notify"
                && m != "off"
            {
                return Err(err(
                    &format!("pages[{i}].maintenance"),
                    format!("\"{m}\" is neither \"notify\" nor \"off\""),
                ));
            }
        }
        if self.heartbeat.interval_secs == 0 {
            return Err(err("heartbeat.interval_secs", "must be 1 or more"));
        }
        if self.health.failed_rounds == 0 {
            return Err(err("health.failed_rounds", "must be 1 or more"));
        }
        if self.reconcile.max_body_bytes < 1024 {
            return Err(err("reconcile.max_body_bytes", "must be 1024 or more"));
        }
        for (i, p) in self.pages.iter().enumerate() {
            let key = format!("pages[{i}]");
            if p.id.trim().is_empty() || !p.id.chars().all(|c| c.is_ascii_alphanumeric()) {
                return Err(err(
                    &format!("{key}.id"),
                    format!("\"{}\" is not a Statuspage page id", p.id),
                ));
            }
            if self.pages[..i].iter().any(|o| o.id == p.id) {
                return Err(err(
                    &format!("{key}.id"),
                    format!("\"{}\" is listed twice", p.id),
                ));
            }
            if !p.source.is_empty() && !self.sources.iter().any(|s| s.name == p.source) {
                return Err(err(
                    &format!("{key}.source"),
                    format!("no [[sources]] entry is named \"{}\"", p.source),
                ));
            }
            if !p.base_url.is_empty() {
                check_url(&format!("{key}.base_url"), &p.base_url)?;
            }
        }
        self.validate_routing()
    }

    fn validate_routing(&self) -> Result<(), ConfigError> {
        let priority = |key: &str, p: &Option<String>| match p {
            Some(p) if !PRIORITIES.contains(&p.as_str()) => Err(err(
                key,
                format!("\"{p}\" is not a priority (low, medium, high, critical)"),
            )),
            _ => Ok(()),
        };
        for (i, p) in self.routing.pages.iter().enumerate() {
            let key = format!("pages[{i}]");
            priority(&format!("{key}.min_priority"), &p.min_priority)?;
            if let Some(v) = &p.incidents
                && !matches!(v.as_str(), "all" | "matching" | "none")
            {
                return Err(err(
                    &format!("{key}.incidents"),
                    format!("\"{v}\" is not one of all, matching, none"),
                ));
            }
            if !p.name.is_empty()
                && self.routing.pages[..i]
                    .iter()
                    .any(|o| o.name.eq_ignore_ascii_case(&p.name))
            {
                return Err(err(
                    &format!("{key}.name"),
                    format!("\"{}\" names two pages", p.name),
                ));
            }
        }
        for (i, r) in self.routing.routes.iter().enumerate() {
            let key = format!("routes[{i}]");
            if r.name.trim().is_empty() {
                return Err(err(&format!("{key}.name"), "every route needs a name"));
            }
            if r.name == "default" {
                return Err(err(
                    &format!("{key}.name"),
                    "\"default\" is the name of [itoc360], the destination of unmatched alerts",
                ));
            }
            if self.routing.routes[..i].iter().any(|o| o.name == r.name) {
                return Err(err(
                    &format!("{key}.name"),
                    format!("\"{}\" names two routes", r.name),
                ));
            }
            priority(&format!("{key}.min_priority"), &r.min_priority)?;
            if let Some(k) = r
                .kinds
                .iter()
                .find(|k| !matches!(k.as_str(), "incident" | "component"))
            {
                return Err(err(
                    &format!("{key}.kinds"),
                    format!("\"{k}\" is neither \"incident\" nor \"component\""),
                ));
            }
            for page in &r.pages {
                let named = self
                    .routing
                    .pages
                    .iter()
                    .any(|p| p.name.eq_ignore_ascii_case(page.trim()) || p.page_id == *page);
                let an_id = !page.is_empty()
                    && page
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
                if !named && !an_id {
                    return Err(err(
                        &format!("{key}.pages"),
                        format!(
                            "\"{page}\" is neither a page id nor the name of a [[pages]] entry"
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    /// The source a page heals: its own setting, else the first source.
    pub fn page_source<'a>(&'a self, page: &'a Page) -> &'a str {
        if page.source.is_empty() {
            self.sources.first().map_or("", |s| s.name.as_str())
        } else {
            &page.source
        }
    }
}

fn check_url(key: &str, v: &str) -> Result<(), ConfigError> {
    if v.starts_with("http://") || v.starts_with("https://") {
        Ok(())
    } else {
        Err(err(
            key,
            format!("\"{v}\" is not an http:// or https:// URL"),
        ))
    }
}

impl Delivery {
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn defaults_are_valid_and_dry() {
        let s = Settings::default();
        s.validate().unwrap();
        assert!(s.dry_run());
        assert_eq!(s.listen_addr().port(), 8080);
        assert_eq!(s.itoc360.format, Format::Generic);
    }

    #[test]
    fn repository_config_is_valid() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config.toml");
        let s = Settings::load(Some(&path), no_env).unwrap();
        assert!(s.listen_addr().ip().is_loopback());
        assert!(s.dry_run());
        assert_eq!(s.sources.len(), 1);
    }

    #[test]
    fn env_overrides_the_file() {
        let s = Settings::from_toml("[server]\nlisten = \"127.0.0.1:1\"").unwrap();
        let mut s2 = s.clone();
        s2.apply_env(|k| match k {
            "ITOC360_TOKEN" => Some("tok".into()),
            "BRIDGE_LISTEN" => Some("127.0.0.1:9".into()),
            "BRIDGE_DATABASE" => Some("/tmp/x.db".into()),
            "ITOC360_BASE_URL" => Some("http://127.0.0.1:7".into()),
            _ => None,
        });
        assert_eq!(s2.itoc360.token.expose(), "tok");
        assert_eq!(s2.server.listen, "127.0.0.1:9");
        assert_eq!(s2.database.path, PathBuf::from("/tmp/x.db"));
        assert_eq!(s2.itoc360.base_url, "http://127.0.0.1:7");
    }

    #[test]
    fn errors_name_the_key() {
        let cases = [
            ("[server]\nlisten = \"nowhere\"", "server.listen"),
            ("[server]\nlisten = \"127.0.0.1:1\"\nlisen = 1", "lisen"),
            ("[server]\nmax_body_bytes = 0", "server.max_body_bytes"),
            ("[itoc360]\nformat = \"xml\"", "xml"),
            ("[itoc360]\nbase_url = \"ftp://x\"", "itoc360.base_url"),
            ("[audit]\nusername = \"a\"", "audit"),
            ("sources = []", "sources"),
            ("[reconcile]\ninterval_secs = 0", "reconcile.interval_secs"),
            ("[log]\nformat = \"xml\"", "log.format"),
            (
                "[reconcile]\nmisses_to_resolve = 0",
                "reconcile.misses_to_resolve",
            ),
            ("[[pages]]\nid = \"a/b\"", "pages[0].id"),
            (
                "[[pages]]\nid = \"abc\"\nsource = \"nope\"",
                "pages[0].source",
            ),
            (
                "[[pages]]\nid = \"abc\"\nbase_url = \"x\"",
                "pages[0].base_url",
            ),
            (
                "[[sources]]\nname = \"a\"\ntoken = \"\"",
                "sources[0].token",
            ),
            (
                "[[sources]]\nname = \"a\"\ntoken = \"x\"\n[[sources]]\nname = \"a\"\ntoken = \"y\"",
                "sources[1].name",
            ),
            (
                "[delivery]\nlease_secs = 5\ntimeout_ms = 10000",
                "delivery.lease_secs",
            ),
        ];
        for (text, key) in cases {
            let e = Settings::from_toml(text)
                .and_then(|s| s.validate().map(|_| s))
                .unwrap_err();
            assert!(e.to_string().contains(key), "{text:?}: {e}");
        }
    }

    #[test]
    fn public_address_refuses_weak_tokens() {
        let dev = "[server]\nlisten = \"0.0.0.0:8080\"";
        let e = Settings::from_toml(dev)
            .unwrap()
            .validate()
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("statuspage") && e.contains("development token"),
            "{e}"
        );
        let short = "[server]\nlisten = \"0.0.0.0:8080\"\n[[sources]]\nname = \"sp\"\ntoken = \"short-token\"";
        let e = Settings::from_toml(short)
            .unwrap()
            .validate()
            .unwrap_err()
            .to_string();
        assert!(e.contains("\"sp\"") && e.contains("shorter than 24"), "{e}");
        assert!(
            !e.contains("short-token"),
            "the token itself is never printed: {e}"
        );
        let good = "[server]\nlisten = \"0.0.0.0:8080\"\n[[sources]]\nname = \"sp\"\ntoken = \"0123456789abcdef0123456789\"";
        Settings::from_toml(good).unwrap().validate().unwrap();
    }

    #[test]
    fn overrides_set_keys_and_name_what_is_wrong() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "[maintenance]\npage = false\n").unwrap();
        let sets = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let s = Settings::load_with(
            Some(&path),
            no_env,
            &sets(&[
                "maintenance.page=true",
                "delivery.concurrency=3",
                "server.public_url=http://x.test",
            ]),
        )
        .unwrap();
        assert!(s.maintenance.page);
        assert_eq!(s.delivery.concurrency, 3);
        assert_eq!(
            s.server.public_url, "http://x.test",
            "a bare value is a string"
        );
        let s = Settings::load_with(Some(&path), no_env, &[]).unwrap();
        assert!(!s.maintenance.page);
        let e = Settings::load_with(Some(&path), no_env, &sets(&["maintenance.pages=true"]))
            .unwrap_err();
        assert!(e.0.contains("pages"), "{e}");
        let e = Settings::load_with(Some(&path), no_env, &sets(&["nonsense"])).unwrap_err();
        assert!(e.0.contains("KEY=VALUE"), "{e}");
        let e =
            Settings::load_with(Some(&path), no_env, &sets(&["maintenance.page.x=1"])).unwrap_err();
        assert!(e.0.contains("page is not a table"), "{e}");
    }

    #[test]
    fn secrets_do_not_debug_print() {
        let s = Settings::from_toml("[itoc360]\ntoken = \"very-secret\"").unwrap();
        let printed = format!("{s:?}");
        assert!(!printed.contains("very-secret"));
        assert!(!printed.contains(DEV_TOKEN));
    }

    #[test]
    fn a_database_url_chooses_postgres_and_its_password_stays_secret() {
        let s = Settings::default();
        assert!(!s.database.is_postgres());
        assert_eq!(s.database.shown(), "data/statuspage-bridge.db");
        let s = Settings::from_toml(
            "[database]\nurl = \"postgres://bridge:p%40ss-word@db.internal:5432/sb?sslmode=require\"",
        )
        .unwrap();
        s.validate().unwrap();
        assert!(s.database.is_postgres());
        assert_eq!(
            s.database.shown(),
            "postgres://bridge:****@db.internal:5432/sb?sslmode=require"
        );
        let secrets: Vec<String> = s.secrets().map(|x| x.into_owned()).collect();
        assert!(secrets.contains(&"p%40ss-word".to_owned()), "{secrets:?}");
        assert!(secrets.contains(&"p@ss-word".to_owned()), "{secrets:?}");
        assert!(!format!("{s:?}").contains("ss-word"));

        let mut from_env = Settings::default();
        from_env.apply_env(|k| {
            (k == "BRIDGE_DATABASE_URL")
                .then(|| "postgresql://u:hunter22@/sb?host=/run/pg".to_owned())
        });
        assert!(from_env.database.is_postgres());
        assert_eq!(
            from_env.database.shown(),
            "postgresql://u:****@/sb?host=/run/pg"
        );
        assert!(from_env.secrets().any(|x| x == "hunter22"));

        let no_password =
            Settings::from_toml("[database]\nurl = \"postgres://localhost/sb\"").unwrap();
        assert_eq!(no_password.database.shown(), "postgres://localhost/sb");
        assert!(!no_password.secrets().any(|x| x.contains("localhost")));
    }

    /// Every credential form libpq accepts is masked: the userinfo's
    /// password and the `password` / `sslpassword` parameters, written
    /// plain or percent-encoded; a `passfile` path stays.
    #[test]
    fn every_credential_of_a_database_url_is_masked() {
        let url = "postgres://u@h:5432/sb?sslmode=require&password=pa%24s+word&PassFile=/etc/pgpass&sslpassword=keypass";
        let s = Settings::from_toml(&format!("[database]\nurl = \"{url}\"")).unwrap();
        assert_eq!(
            s.database.shown(),
            "postgres://u@h:5432/sb?sslmode=require&password=****&PassFile=/etc/pgpass&sslpassword=****"
        );
        let secrets: Vec<String> = s.secrets().map(|x| x.into_owned()).collect();
        for secret in ["pa%24s+word", "pa$s word", "keypass"] {
            assert!(secrets.iter().any(|x| x == secret), "{secret}: {secrets:?}");
        }
        assert!(!secrets.iter().any(|x| x.contains("pgpass")));
        let both = Settings::from_toml("[database]\nurl = \"postgres://u:one@h/sb?password=two\"")
            .unwrap();
        assert_eq!(
            both.database.shown(),
            "postgres://u:****@h/sb?password=****"
        );
    }

    #[test]
    fn a_database_url_of_another_engine_is_refused_without_its_password() {
        for url in ["mysql://u:topsecret@h/db", "not a url topsecret"] {
            let s = Settings::from_toml(&format!("[database]\nurl = \"{url}\"")).unwrap();
            let e = s.validate().unwrap_err().to_string();
            assert!(e.contains("database.url"), "{e}");
            assert!(e.contains("postgres://"), "{e}");
        }
        for url in ["mysql://u:topsecret@h/db", "not a url topsecret"] {
            let s = Settings::from_toml(&format!("[database]\nurl = \"{url}\"")).unwrap();
            let e = s.validate().unwrap_err().to_string();
            assert!(!e.contains("topsecret"), "{e}");
        }
    }
}
