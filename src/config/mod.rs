//! Typed settings, loaded and validated once: built-in defaults →
//! `config.toml` → environment variables → `validate()`. Nothing else in the
//! bridge reads the environment. Secrets are wrapped so `Debug` never prints
//! them.

mod env;
mod policy;
mod raw;
mod validate;

pub use raw::*;

use std::borrow::Cow;
use std::fmt;
use std::net::SocketAddr;

use serde::Deserialize;

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
#[serde(from = "raw::RawSettings")]
pub struct Settings {
    pub server: ServerConfig,
    pub database: DatabaseConfig,
    pub itoc360: Itoc360Config,
    pub delivery: DeliveryConfig,
    pub maintenance: MaintenanceConfig,
    pub audit: AuditConfig,
    pub sources: Vec<Source>,
    pub reconcile: ReconcileConfig,
    /// When a page the bridge can no longer see pages someone.
    pub health: HealthConfig,
    /// The bridge proves it is alive to a dead-man's switch.
    pub heartbeat: HeartbeatConfig,
    /// Statuspage pages whose status API is polled; none: reconcile is off.
    pub pages: Vec<Page>,
    pub log: LogConfig,
    /// Page names and filters (from `[[pages]]`) and `[[routes]]`
    /// (docs/ROUTING.md).
    pub routing: Routing,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            server: ServerConfig::default(),
            database: DatabaseConfig::default(),
            itoc360: Itoc360Config::default(),
            delivery: DeliveryConfig::default(),
            maintenance: MaintenanceConfig::default(),
            audit: AuditConfig::default(),
            sources: vec![Source {
                name: "statuspage".into(),
                token: Secret::new(DEV_TOKEN),
            }],
            reconcile: ReconcileConfig::default(),
            health: HealthConfig::default(),
            heartbeat: HeartbeatConfig::default(),
            pages: Vec::new(),
            log: LogConfig::default(),
            routing: Routing::default(),
        }
    }
}

impl Settings {
    /// The listen address, parsed.
    pub fn listen_addr(&self) -> SocketAddr {
        self.server
            .listen
            .parse()
            .expect("validated: server.listen is an address:port")
    }

    /// No destination has a token: decisions are recorded, nothing is sent.
    pub fn dry_run(&self) -> bool {
        self.itoc360.token.is_empty() && self.routing.routes.iter().all(|r| r.token.is_empty())
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

    pub fn audit_credentials(&self) -> Option<(&str, &Secret)> {
        (!self.audit.username.is_empty())
            .then_some((self.audit.username.as_str(), &self.audit.password))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::domain::Priority;
    use std::path::{Path, PathBuf};

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
        })
        .unwrap();
        assert_eq!(s2.itoc360.token.expose(), "tok");
        assert_eq!(s2.server.listen, "127.0.0.1:9");
        assert_eq!(s2.database.path, PathBuf::from("/tmp/x.db"));
        assert_eq!(s2.itoc360.base_url, "http://127.0.0.1:7");
        let json = |v: &'static str| {
            let mut s3 = s.clone();
            s3.apply_env(|k| (k == "BRIDGE_LOG_FORMAT").then(|| v.to_owned()))
                .map(|()| s3.log.json())
        };
        assert!(json("json").unwrap());
        assert!(!json("text").unwrap());
        let e = json("xml").unwrap_err().to_string();
        assert!(
            e.contains("BRIDGE_LOG_FORMAT") && e.contains("\"xml\""),
            "{e}"
        );
    }

    #[test]
    fn closed_sets_are_typed_at_load_and_refused_by_key_and_line() {
        let s = Settings::from_toml(
            "[health]\npriority = \"critical\"\n[log]\nformat = \"json\"\n\
             [[pages]]\nid = \"abc\"\nmin_priority = \"high\"\nincidents = \"matching\"\nmaintenance = \"off\"\n\
             [[routes]]\nname = \"r\"\nkinds = [\"component\"]\nmin_priority = \"medium\"\n",
        )
        .unwrap();
        assert_eq!(s.health.priority, Priority::Critical);
        assert!(s.log.json());
        let p = &s.routing.pages[0];
        assert_eq!(p.min_priority, Some(Priority::High));
        assert_eq!(p.incidents, crate::rules::route::Incidents::Matching);
        assert_eq!(p.maintenance, Some(PageMaintenance::Off));
        assert!(!s.maintenance_notify("abc"));
        let r = &s.routing.routes[0];
        assert_eq!(r.kinds, [crate::rules::domain::EntityKind::Component]);
        assert_eq!(r.min_priority, Some(Priority::Medium));

        let e = Settings::from_toml(
            "[[pages]]\nid = \"abc\"\n\n[[pages]]\nid = \"def\"\nmaintenance = \"sometimes\"\n",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("pages[1].maintenance"), "{e}");
        assert!(e.contains("line 6"), "{e}");
        assert!(
            e.contains("\"sometimes\" is neither \"notify\" nor \"off\""),
            "{e}"
        );
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
                "[[pages]]\nid = \"abc\"\nkind = \"atlassian\"",
                "pages[0].kind",
            ),
            (
                "[[pages]]\nid = \"abc\"\nkind = \"instatus\"",
                "pages[0].base_url",
            ),
            (
                "[[pages]]\nid = \"abc\"\nkind = \"gcp\"\nwebhooks = true",
                "pages[0].webhooks",
            ),
            (
                "[[pages]]\nid = \"abc\"\n[pages.feed]\ncritical = [\"outage\"]",
                "pages[0].feed",
            ),
            (
                "[[pages]]\nid = \"abc\"\nkind = \"feed\"\nbase_url = \"https://x/f.rss\"\n[pages.feed]\ncolour = 1",
                "colour",
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
    fn a_page_s_kind_sets_its_address_webhooks_and_words() {
        use crate::rules::platform::{FeedWords, Platform};
        let s = Settings::from_toml(
            "[[pages]]\nid = \"slack\"\nkind = \"slack\"\n\n\
             [[pages]]\nid = \"aws\"\nkind = \"feed\"\nbase_url = \"https://status.aws.amazon.com/rss/all.rss\"\n\
             [pages.feed]\ncritical = [\"outage\"]\nmax_age_secs = 3600\nby_title = true\n\n\
             [[pages]]\nid = \"wistia\"\nkind = \"instatus\"\nbase_url = \"https://status.wistia.com/\"\n\n\
             [[pages]]\nid = \"kctbh9vrtdwd\"",
        )
        .unwrap();
        s.validate().unwrap();
        let [slack, aws, wistia, sp] = &s.pages[..] else {
            panic!("four pages")
        };
        assert_eq!((slack.kind, slack.webhooks), (Platform::Slack, false));
        assert_eq!(slack.api_base(), "https://slack-status.com");
        assert_eq!(aws.api_base(), "https://status.aws.amazon.com/rss/all.rss");
        let words = aws.feed.as_ref().unwrap();
        assert_eq!(words.critical, ["outage"]);
        assert_eq!(words.resolved, FeedWords::default().resolved);
        assert_eq!(words.max_age, chrono::Duration::hours(1));
        assert!(words.by_title);
        assert_eq!((wistia.kind, wistia.webhooks), (Platform::Instatus, true));
        assert_eq!(wistia.api_base(), "https://status.wistia.com");
        assert_eq!((sp.kind, sp.webhooks), (Platform::Statuspage, true));
        assert_eq!(sp.api_base(), "https://kctbh9vrtdwd.statuspage.io");
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
        from_env
            .apply_env(|k| {
                (k == "BRIDGE_DATABASE_URL")
                    .then(|| "postgresql://u:hunter22@/sb?host=/run/pg".to_owned())
            })
            .unwrap();
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
