//! The file as written: every section and its built-in defaults. A
//! `[[pages]]` entry is split into what reconcile polls (`Page`) and the
//! page's routing rules (`PageRules`). Closed sets (priorities, kinds,
//! `incidents`, a page's `maintenance`, `log.format`) are parsed here, once,
//! into their types; a value outside the set is refused by name.

use std::borrow::Cow;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use serde::de::Error as _;

use super::{Secret, Settings};
use crate::rules::domain::{EntityKind, Priority};
use crate::rules::platform::{FeedWords, Platform};
use crate::rules::route::Incidents;

/// The file as written: `[[pages]]` entries carry both what reconcile needs
/// (`Page`) and the page's routing rules (`PageRules`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawSettings {
    server: ServerConfig,
    database: DatabaseConfig,
    itoc360: Itoc360Config,
    delivery: DeliveryConfig,
    maintenance: MaintenanceConfig,
    audit: AuditConfig,
    sources: Vec<Source>,
    reconcile: ReconcileConfig,
    health: HealthConfig,
    heartbeat: HeartbeatConfig,
    pages: Vec<PageEntry>,
    routes: Vec<Route>,
    log: LogConfig,
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
                    webhooks: e.webhooks.unwrap_or(e.kind.pushes()),
                    kind: e.kind,
                    feed: e.feed.map(FeedWords::from),
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
    #[serde(default)]
    webhooks: Option<bool>,
    #[serde(default, deserialize_with = "platform")]
    kind: Platform,
    #[serde(default)]
    feed: Option<FeedEntry>,
    #[serde(default)]
    name: String,
    #[serde(default)]
    components: Vec<String>,
    #[serde(default)]
    ignore_components: Vec<String>,
    #[serde(default, deserialize_with = "some_priority")]
    min_priority: Option<Priority>,
    #[serde(default, deserialize_with = "incidents")]
    incidents: Incidents,
    #[serde(default)]
    page_after_secs: Option<u64>,
    #[serde(default)]
    resolve_after_secs: Option<u64>,
    #[serde(default, deserialize_with = "page_maintenance")]
    maintenance: Option<PageMaintenance>,
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
    pub min_priority: Option<Priority>,
    /// `all` (default) | `matching` | `none`.
    pub incidents: Incidents,
    /// Grace periods for every destination of the page (docs/ROUTING.md).
    pub page_after_secs: Option<u64>,
    pub resolve_after_secs: Option<u64>,
    /// `notify` or `off`: whether the page's scheduled maintenances are
    /// followed; unset: `[maintenance] notify`.
    pub maintenance: Option<PageMaintenance>,
}

/// A page's `maintenance`: whether its scheduled maintenances are followed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageMaintenance {
    Notify,
    Off,
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
    #[serde(default, deserialize_with = "kinds")]
    pub kinds: Vec<EntityKind>,
    #[serde(default, deserialize_with = "some_priority")]
    pub min_priority: Option<Priority>,
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

/// How log lines are written to stderr.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// `text` (the default) or `json`: one JSON object per line.
    #[serde(deserialize_with = "log_format")]
    pub format: LogFormat,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            format: LogFormat::Text,
        }
    }
}

impl LogConfig {
    pub fn json(&self) -> bool {
        self.format == LogFormat::Json
    }
}

/// How often pages are polled, and when a vanished alert is given up.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReconcileConfig {
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

impl Default for ReconcileConfig {
    fn default() -> Self {
        ReconcileConfig {
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
pub struct HealthConfig {
    /// How long a page may be unhealthy before its alert opens.
    pub page_after_secs: u64,
    /// The alert's priority: `low`, `medium`, `high` or `critical`.
    #[serde(deserialize_with = "priority")]
    pub priority: Priority,
    /// Failed rounds in a row before a page is unreachable, moved or gone.
    pub failed_rounds: u32,
    /// How old an upstream change may be, with no webhook since, before the
    /// page is stale (the quarantine signature).
    pub expect_webhook_within_secs: u64,
}

impl Default for HealthConfig {
    fn default() -> Self {
        HealthConfig {
            page_after_secs: 1800,
            priority: Priority::High,
            failed_rounds: 3,
            expect_webhook_within_secs: 900,
        }
    }
}

/// The outgoing heartbeat (docs/OPERATING.md, "Proving it is alive"):
/// while the bridge is healthy it calls `url` every `interval_secs`, so a
/// dead-man's switch pages someone when the calls stop.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HeartbeatConfig {
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

impl Default for HeartbeatConfig {
    fn default() -> Self {
        HeartbeatConfig {
            url: Secret::default(),
            fail_url: Secret::default(),
            interval_secs: 60,
            max_dead_age_secs: 3600,
            watchdog: false,
        }
    }
}

impl HeartbeatConfig {
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
    /// Default: whether its platform pushes.
    #[serde(default = "yes")]
    pub webhooks: bool,
    /// The platform the page runs on (default `statuspage`).
    #[serde(default, deserialize_with = "platform")]
    pub kind: Platform,
    /// A feed page's words (`[pages.feed]`); `None`: not given.
    #[serde(skip)]
    pub feed: Option<FeedWords>,
}

/// `[pages.feed]` as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FeedEntry {
    #[serde(default)]
    resolved: Option<Vec<String>>,
    #[serde(default)]
    critical: Vec<String>,
    #[serde(default)]
    major: Vec<String>,
    #[serde(default)]
    none: Vec<String>,
    #[serde(default)]
    max_age_secs: Option<u64>,
    #[serde(default)]
    by_title: bool,
}

impl From<FeedEntry> for FeedWords {
    fn from(f: FeedEntry) -> FeedWords {
        let d = FeedWords::default();
        FeedWords {
            resolved: f.resolved.unwrap_or(d.resolved),
            critical: f.critical,
            major: f.major,
            none: f.none,
            max_age: f.max_age_secs.map_or(d.max_age, |s| {
                chrono::Duration::seconds(s.min(i64::MAX as u64) as i64)
            }),
            by_title: f.by_title,
        }
    }
}

fn yes() -> bool {
    true
}

impl Page {
    /// Where its status API lives, without a trailing slash.
    pub fn api_base(&self) -> String {
        if self.base_url.is_empty() {
            self.kind.default_base(&self.id).unwrap_or_default()
        } else {
            self.base_url.trim_end_matches('/').to_owned()
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
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
pub struct DatabaseConfig {
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
pub struct Itoc360Config {
    pub base_url: String,
    pub token: Secret,
    pub format: Format,
}

/// How the delivery worker sends and retries.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeliveryConfig {
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
pub struct MaintenanceConfig {
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

impl Default for MaintenanceConfig {
    fn default() -> Self {
        MaintenanceConfig {
            page: false,
            notify: false,
            lead_secs: 3600,
            overrun_grace_secs: 900,
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuditConfig {
    pub username: String,
    pub password: Secret,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    pub name: String,
    pub token: Secret,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
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

impl DatabaseConfig {
    /// PostgreSQL when a URL is set; the SQLite file at `path` otherwise.
    pub fn is_postgres(&self) -> bool {
        !self.url.is_empty()
    }

    /// Every credential the URL carries, as written and decoded: secrets
    /// to keep out of logs. libpq takes a password in the userinfo
    /// (`postgres://user:password@host`) and as the `password` (or a client
    /// key's `sslpassword`) parameter of the query; a `passfile` is a path
    /// and stays visible.
    pub(super) fn url_password(&self) -> impl Iterator<Item = Cow<'_, str>> {
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

impl Default for DatabaseConfig {
    fn default() -> Self {
        DatabaseConfig {
            path: PathBuf::from("data/statuspage-bridge.db"),
            url: Secret::default(),
            busy_timeout_ms: 5000,
            retention_days: 0,
        }
    }
}

impl Default for Itoc360Config {
    fn default() -> Self {
        Itoc360Config {
            base_url: "https://api.itoc360.app".into(),
            token: Secret::default(),
            format: Format::Generic,
        }
    }
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        DeliveryConfig {
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

impl DeliveryConfig {
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

impl LogFormat {
    pub fn parse(s: &str) -> Result<LogFormat, String> {
        match s {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            _ => Err(format!("\"{s}\" is neither \"text\" nor \"json\"")),
        }
    }
}

/// Reads a string and parses it with `parse`, whose error names the set.
fn parsed<'de, D, T>(d: D, parse: impl Fn(&str) -> Result<T, String>) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
{
    let s = String::deserialize(d)?;
    parse(&s).map_err(D::Error::custom)
}

fn to_priority(s: &str) -> Result<Priority, String> {
    Priority::parse(s)
        .ok_or_else(|| format!("\"{s}\" is not a priority (low, medium, high, critical)"))
}

fn priority<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Priority, D::Error> {
    parsed(d, to_priority)
}

fn some_priority<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Priority>, D::Error> {
    parsed(d, to_priority).map(Some)
}

fn platform<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Platform, D::Error> {
    parsed(d, |s| {
        Platform::parse(s).ok_or_else(|| {
            let all: Vec<&str> = Platform::ALL.into_iter().map(Platform::as_str).collect();
            format!("\"{s}\" is not one of {}", all.join(", "))
        })
    })
}

fn incidents<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Incidents, D::Error> {
    parsed(d, |s| match s {
        "all" => Ok(Incidents::All),
        "matching" => Ok(Incidents::Matching),
        "none" => Ok(Incidents::None),
        _ => Err(format!("\"{s}\" is not one of all, matching, none")),
    })
}

fn page_maintenance<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<PageMaintenance>, D::Error> {
    parsed(d, |s| match s {
        "notify" => Ok(PageMaintenance::Notify),
        "off" => Ok(PageMaintenance::Off),
        _ => Err(format!("\"{s}\" is neither \"notify\" nor \"off\"")),
    })
    .map(Some)
}

fn kinds<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<EntityKind>, D::Error> {
    Vec::<String>::deserialize(d)?
        .iter()
        .map(|k| {
            EntityKind::parse(k).ok_or_else(|| {
                D::Error::custom(format!("\"{k}\" is neither \"incident\" nor \"component\""))
            })
        })
        .collect()
}

fn log_format<'de, D: serde::Deserializer<'de>>(d: D) -> Result<LogFormat, D::Error> {
    parsed(d, LogFormat::parse)
}
