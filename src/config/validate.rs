//! What a file can be refused for once it parsed: values out of range,
//! names used twice, references to nothing, weak tokens on a public address.

use std::net::SocketAddr;

use super::{ConfigError, DEV_TOKEN, MIN_PUBLIC_TOKEN_LEN, Settings, err};

impl Settings {
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
        if self.reconcile.interval_secs == 0 {
            return Err(err("reconcile.interval_secs", "must be 1 or more"));
        }
        if self.reconcile.misses_to_resolve == 0 {
            return Err(err("reconcile.misses_to_resolve", "must be 1 or more"));
        }
        if self.reconcile.timeout_ms == 0 {
            return Err(err("reconcile.timeout_ms", "must be greater than 0"));
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
            } else if p.kind.default_base(&p.id).is_none() {
                return Err(err(
                    &format!("{key}.base_url"),
                    format!(
                        "a {} page has no default address: set the page's base_url",
                        p.kind.as_str()
                    ),
                ));
            }
            if p.feed.is_some() && p.kind != crate::rules::platform::Platform::Feed {
                return Err(err(
                    &format!("{key}.feed"),
                    format!(
                        "only a page of kind feed has words; this one is {}",
                        p.kind.as_str()
                    ),
                ));
            }
            if p.webhooks && !p.kind.pushes() {
                return Err(err(
                    &format!("{key}.webhooks"),
                    format!(
                        "{} does not post webhooks: its pages are polled",
                        p.kind.as_str()
                    ),
                ));
            }
        }
        self.validate_routing()
    }

    fn validate_routing(&self) -> Result<(), ConfigError> {
        for (i, p) in self.routing.pages.iter().enumerate() {
            let key = format!("pages[{i}]");
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
