//! Who may read the audit routes (docs/ACCESS.md).
//!
//! With `[audit]` credentials set, HTTP Basic auth decides, through a proxy
//! too. Without them the bridge serves the audit log only while it is
//! **private**: `server.public_url` names a loopback host. A bridge whose
//! `public_url` names a public host is reached through something — and a
//! reverse proxy with a bare `proxy_pass` adds no header at all, so its
//! requests look exactly like `curl` on the box. Such a bridge refuses every
//! audit route until credentials are set.
//!
//! On a private bridge, "on the machine itself" needs every one of these: the
//! peer is loopback; no proxy header says the request came from further
//! away; the `Host` header (and an absolute-form request target) names this
//! machine exactly (DNS rebinding reaches 127.0.0.1 under another name); and
//! the browser does not say the request comes from another site (a page
//! elsewhere can make a browser on this machine ask).

use std::net::IpAddr;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderMap, WWW_AUTHENTICATE};
use actix_web::middleware::Next;
use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::auth;
use crate::config::Secret;

/// Headers a reverse proxy adds; any one of them means the peer address is
/// the proxy's, not the client's.
pub const PROXY_HEADERS: [&str; 8] = [
    "forwarded",
    "x-forwarded-for",
    "x-real-ip",
    "x-forwarded-host",
    "x-forwarded-proto",
    "x-forwarded-port",
    "x-forwarded-server",
    "via",
];

/// Host names that always mean "this machine".
const LOOPBACK_HOSTS: [&str; 3] = ["localhost", "127.0.0.1", "[::1]"];

/// The audit routes' access settings.
#[derive(Clone)]
pub struct Guard {
    pub credentials: Option<(String, Secret)>,
    /// `server.public_url` names a host other than this machine: without
    /// credentials, nothing is served.
    pub public: bool,
    /// `server.public_url`'s origin (`https://host[:port]`), which pages
    /// reached through a proxy send as `Origin`.
    pub public_origin: Option<String>,
}

impl Guard {
    pub fn new(credentials: Option<(String, Secret)>, public_url: &str) -> Guard {
        Guard {
            credentials,
            public: !is_loopback_url(public_url),
            public_origin: reqwest::Url::parse(public_url)
                .ok()
                .map(|u| u.origin().ascii_serialization()),
        }
    }
}

/// What the rule needs to know of one request.
#[derive(Debug, Clone, Copy, Default)]
pub struct Facts<'a> {
    pub peer: Option<IpAddr>,
    /// Whether any of `PROXY_HEADERS` is present.
    pub proxied: bool,
    pub host: Option<&'a str>,
    /// The authority of an absolute-form request target
    /// (`GET http://host/events`), if the request used one.
    pub target: Option<&'a str>,
    /// `Sec-Fetch-Site`, sent by browsers.
    pub fetch_site: Option<&'a str>,
    /// A person opening the page in a tab: a GET with `Sec-Fetch-Mode:
    /// navigate` and `Sec-Fetch-Dest: document` (a link followed from chat
    /// or an e-mail), as opposed to another site's script, image or frame.
    pub navigation: bool,
    /// `Origin`, sent by browsers on cross-origin and most non-GET requests.
    pub origin: Option<&'a str>,
    pub authorization: Option<&'a str>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Allow,
    /// Credentials are set and the request lacks the right ones: 401.
    Challenge,
    /// No credentials are set and the request may not be served: 403.
    Forbidden(Refusal),
}

/// Why a request without credentials was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// `server.public_url` is public and no credentials are set.
    Public,
    /// The peer is not a loopback address.
    NotLoopback,
    /// The peer is loopback but proxy headers say the client is elsewhere.
    Proxied,
    /// The `Host` header or the request target names another host.
    UnknownHost,
    /// The browser says another site asked.
    CrossSite,
    /// A change was asked for, and no credentials are set.
    NoCredentials,
}

impl Refusal {
    pub fn message(self) -> &'static str {
        match self {
            Refusal::Public => {
                "the audit log needs credentials: server.public_url names a public host, so set [audit] username and password"
            }
            Refusal::NotLoopback => {
                "the audit log is served only to clients on this machine unless [audit] username and password are set"
            }
            Refusal::Proxied => {
                "the audit log is not served through a proxy without credentials: set [audit] username and password when the bridge is behind a reverse proxy"
            }
            Refusal::UnknownHost => {
                "the audit log is served without credentials only under the host names localhost, 127.0.0.1 or [::1]"
            }
            Refusal::CrossSite => "the audit log is not served to requests made by another site",
            Refusal::NoCredentials => {
                "changes from the audit pages need credentials: set [audit] username and password"
            }
        }
    }
}

/// The whole rule, pure.
pub fn decide(guard: &Guard, facts: Facts<'_>) -> Access {
    if let Some((user, pass)) = &guard.credentials {
        // A browser holding the credentials sends them whoever asks: another
        // site's script, image or frame gets nothing; a person following a
        // link from elsewhere still opens the page.
        let cross_site = facts
            .fetch_site
            .is_some_and(|s| s.eq_ignore_ascii_case("cross-site"));
        if cross_site && !facts.navigation {
            return Access::Forbidden(Refusal::CrossSite);
        }
        return if auth::basic_auth_matches(facts.authorization, user, pass) {
            Access::Allow
        } else {
            Access::Challenge
        };
    }
    if guard.public {
        return Access::Forbidden(Refusal::Public);
    }
    if !facts.peer.is_some_and(|ip| ip.to_canonical().is_loopback()) {
        return Access::Forbidden(Refusal::NotLoopback);
    }
    if facts.proxied {
        return Access::Forbidden(Refusal::Proxied);
    }
    if !facts.host.is_some_and(is_loopback_host) || !facts.target.is_none_or(is_loopback_host) {
        return Access::Forbidden(Refusal::UnknownHost);
    }
    let cross_fetch = facts.fetch_site.is_some_and(|s| {
        s.eq_ignore_ascii_case("cross-site") || s.eq_ignore_ascii_case("same-site")
    });
    if cross_fetch || facts.origin.is_some_and(|o| !is_loopback_origin(o)) {
        return Access::Forbidden(Refusal::CrossSite);
    }
    Access::Allow
}

/// The rule for changes made from the audit pages (redelivering an event):
/// credentials always, whoever asks, and never on another site's behalf —
/// the browser's `Origin` must be the bridge's own (the `Host` the request
/// was sent to, or `server.public_url`), so a page elsewhere cannot make an
/// on-call engineer's browser, which holds the credentials, press the
/// button.
pub fn decide_change(guard: &Guard, facts: Facts<'_>) -> Access {
    let Some((user, pass)) = &guard.credentials else {
        return Access::Forbidden(Refusal::NoCredentials);
    };
    let cross_fetch = facts
        .fetch_site
        .is_some_and(|s| s.eq_ignore_ascii_case("cross-site"));
    let foreign_origin = facts.origin.is_some_and(|o| {
        let own_host = facts
            .host
            .is_some_and(|h| origin_host(o).is_some_and(|a| a.eq_ignore_ascii_case(h)));
        let own_public = guard
            .public_origin
            .as_deref()
            .is_some_and(|p| p.eq_ignore_ascii_case(o));
        !own_host && !own_public
    });
    if cross_fetch || foreign_origin {
        return Access::Forbidden(Refusal::CrossSite);
    }
    if auth::basic_auth_matches(facts.authorization, user, pass) {
        Access::Allow
    } else {
        Access::Challenge
    }
}

/// The `host[:port]` of an http(s) `Origin` (`scheme://host[:port]`), as a
/// `Host` header would carry it; it must then equal the `Host` asked.
fn origin_host(origin: &str) -> Option<&str> {
    let (scheme, rest) = origin.split_once("://")?;
    let plain = scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https");
    plain.then_some(rest)
}

/// `localhost`, `127.0.0.1` or `[::1]`, with an optional `:digits`, and
/// nothing else.
fn is_loopback_host(host: &str) -> bool {
    LOOPBACK_HOSTS.iter().any(|name| {
        host.get(..name.len())
            .is_some_and(|h| h.eq_ignore_ascii_case(name))
            && match &host[name.len()..] {
                "" => true,
                rest => rest.strip_prefix(':').is_some_and(|port| {
                    !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit())
                }),
            }
    })
}

/// An `Origin` (`scheme://host[:port]`) of this machine.
fn is_loopback_origin(origin: &str) -> bool {
    ["http://", "https://"].iter().any(|scheme| {
        origin
            .get(..scheme.len())
            .is_some_and(|s| s.eq_ignore_ascii_case(scheme))
            && is_loopback_host(&origin[scheme.len()..])
    })
}

/// The host of a URL as it appears in a `Host` header (v6 in brackets).
fn host_of_url(url: &str) -> Option<String> {
    let parsed = reqwest::Url::parse(url).ok()?;
    // `host_str` keeps the brackets of a v6 address, as `Host` does.
    Some(parsed.host_str()?.to_ascii_lowercase())
}

/// True when `public_url` names a loopback host: the bridge is private and
/// may serve the audit pages without credentials.
pub fn is_loopback_url(public_url: &str) -> bool {
    host_of_url(public_url).is_some_and(|h| {
        LOOPBACK_HOSTS.contains(&h.as_str())
            || h.trim_matches(|c| c == '[' || c == ']')
                .parse::<IpAddr>()
                .is_ok_and(|ip| ip.to_canonical().is_loopback())
    })
}

fn has_proxy_header(headers: &HeaderMap) -> bool {
    PROXY_HEADERS.iter().any(|h| headers.contains_key(*h))
}

/// Middleware for every audit route that reads.
pub async fn require(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    enforce(decide, req, next).await
}

/// Middleware for every route that changes something from the audit pages.
pub async fn require_change(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    enforce(decide_change, req, next).await
}

async fn enforce(
    rule: fn(&Guard, Facts<'_>) -> Access,
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let guard = req
        .app_data::<web::Data<Guard>>()
        .expect("audit guard registered")
        .clone();
    let peer = req.peer_addr().map(|a| a.ip());
    let headers = req.headers();
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let facts = Facts {
        peer,
        proxied: has_proxy_header(headers),
        host: header("host"),
        target: req.uri().authority().map(|a| a.as_str()),
        fetch_site: header("sec-fetch-site"),
        navigation: matches!(
            *req.method(),
            actix_web::http::Method::GET | actix_web::http::Method::HEAD
        ) && header("sec-fetch-mode")
            .is_some_and(|m| m.eq_ignore_ascii_case("navigate"))
            && header("sec-fetch-dest").is_some_and(|d| d.eq_ignore_ascii_case("document")),
        origin: header("origin"),
        authorization: header("authorization"),
    };
    match rule(&guard, facts) {
        Access::Allow => Ok(next.call(req).await?.map_into_boxed_body()),
        Access::Challenge => {
            let res = HttpResponse::Unauthorized()
                .insert_header((
                    WWW_AUTHENTICATE,
                    "Basic realm=\"statuspage-bridge audit\", charset=\"UTF-8\"",
                ))
                .json(json!({"error": "authentication required"}));
            Ok(req.into_response(res))
        }
        Access::Forbidden(why) => {
            tracing::warn!(peer = ?peer, path = req.path(), refusal = ?why, "audit route refused: {}", why.message());
            let res = HttpResponse::Forbidden().json(json!({ "error": why.message() }));
            Ok(req.into_response(res))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    fn basic(s: &str) -> String {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(s)
        )
    }

    const LO4: Option<IpAddr> = Some(IpAddr::V4(std::net::Ipv4Addr::LOCALHOST));

    /// A plain request from this machine to `host`.
    fn local(host: &'static str) -> Facts<'static> {
        Facts {
            peer: LO4,
            host: Some(host),
            ..Facts::default()
        }
    }

    #[test]
    fn the_rule_on_a_private_bridge() {
        let private = Guard::new(None, "http://127.0.0.1:8080");
        let lo6: IpAddr = "::1".parse().unwrap();
        let mapped: IpAddr = "::ffff:127.0.0.9".parse().unwrap();
        let lan: IpAddr = "10.1.2.3".parse().unwrap();
        let mapped_lan: IpAddr = "::ffff:10.1.2.3".parse().unwrap();
        let good = basic("oncall:pw");
        use Access::*;
        use Refusal::*;
        let rows: Vec<(Facts, Access)> = vec![
            // Loopback peer, no proxy headers, one of the three names.
            (local("127.0.0.1:8080"), Allow),
            (local("localhost:8080"), Allow),
            (local("LOCALHOST"), Allow),
            (local("localhost"), Allow),
            (local("[::1]:8080"), Allow),
            (
                Facts {
                    peer: Some(lo6),
                    ..local("[::1]")
                },
                Allow,
            ),
            (
                Facts {
                    peer: Some(mapped),
                    ..local("localhost")
                },
                Allow,
            ),
            // Every other Host form.
            (
                local("rebind.attacker.example:8080"),
                Forbidden(UnknownHost),
            ),
            (local("localhost.attacker.example"), Forbidden(UnknownHost)),
            (local("127.0.0.1.nip.io"), Forbidden(UnknownHost)),
            (local("[::2]:8080"), Forbidden(UnknownHost)),
            (local("[::1]evil.com"), Forbidden(UnknownHost)),
            (local("[::1]:x"), Forbidden(UnknownHost)),
            (local("[::1]]"), Forbidden(UnknownHost)),
            (local("[::1]@evil.com"), Forbidden(UnknownHost)),
            (local("[::1]:"), Forbidden(UnknownHost)),
            (local("localhost:abc"), Forbidden(UnknownHost)),
            (local("localhost:80:80"), Forbidden(UnknownHost)),
            (local("127.0.0.1:8080 "), Forbidden(UnknownHost)),
            (local("user@localhost"), Forbidden(UnknownHost)),
            (local("127.0.0.2"), Forbidden(UnknownHost)),
            (local(""), Forbidden(UnknownHost)),
            (
                Facts {
                    host: None,
                    ..local("")
                },
                Forbidden(UnknownHost),
            ),
            // An absolute-form target names the host too.
            (
                Facts {
                    target: Some("localhost:8080"),
                    ..local("localhost")
                },
                Allow,
            ),
            (
                Facts {
                    target: Some("evil.example"),
                    ..local("localhost")
                },
                Forbidden(UnknownHost),
            ),
            (
                Facts {
                    target: Some("x@localhost"),
                    ..local("localhost")
                },
                Forbidden(UnknownHost),
            ),
            // Another site asking through this machine's browser.
            (
                Facts {
                    fetch_site: Some("cross-site"),
                    ..local("localhost")
                },
                Forbidden(CrossSite),
            ),
            (
                Facts {
                    fetch_site: Some("Same-Site"),
                    ..local("localhost")
                },
                Forbidden(CrossSite),
            ),
            (
                Facts {
                    fetch_site: Some("same-origin"),
                    ..local("localhost")
                },
                Allow,
            ),
            (
                Facts {
                    fetch_site: Some("none"),
                    ..local("localhost")
                },
                Allow,
            ),
            (
                Facts {
                    origin: Some("https://evil.example"),
                    ..local("localhost")
                },
                Forbidden(CrossSite),
            ),
            (
                Facts {
                    origin: Some("null"),
                    ..local("localhost")
                },
                Forbidden(CrossSite),
            ),
            (
                Facts {
                    origin: Some("http://localhost.evil.example"),
                    ..local("localhost")
                },
                Forbidden(CrossSite),
            ),
            (
                Facts {
                    origin: Some("http://127.0.0.1:8080"),
                    ..local("localhost")
                },
                Allow,
            ),
            (
                Facts {
                    origin: Some("HTTPS://[::1]"),
                    ..local("localhost")
                },
                Allow,
            ),
            // Through a proxy on this machine: refused whatever the host.
            (
                Facts {
                    proxied: true,
                    ..local("127.0.0.1:8080")
                },
                Forbidden(Proxied),
            ),
            (
                Facts {
                    proxied: true,
                    authorization: Some(good.as_str()),
                    ..local("localhost")
                },
                Forbidden(Proxied),
            ),
            // Not loopback: refused whatever else.
            (
                Facts {
                    peer: Some(lan),
                    ..local("127.0.0.1:8080")
                },
                Forbidden(NotLoopback),
            ),
            (
                Facts {
                    peer: Some(mapped_lan),
                    ..local("localhost")
                },
                Forbidden(NotLoopback),
            ),
            (
                Facts {
                    peer: Some(lan),
                    proxied: true,
                    ..local("localhost")
                },
                Forbidden(NotLoopback),
            ),
            (
                Facts {
                    peer: None,
                    ..local("localhost")
                },
                Forbidden(NotLoopback),
            ),
        ];
        for (facts, want) in rows {
            assert_eq!(decide(&private, facts), want, "{facts:?}");
        }
    }

    #[test]
    fn a_public_bridge_without_credentials_serves_nobody() {
        let public = Guard::new(None, "https://status-bridge.example.com/");
        assert!(public.public);
        for facts in [
            local("127.0.0.1:8080"),
            local("localhost"),
            local("status-bridge.example.com"),
        ] {
            assert_eq!(
                decide(&public, facts),
                Access::Forbidden(Refusal::Public),
                "{facts:?}"
            );
        }
        assert!(
            Refusal::Public
                .message()
                .contains("[audit] username and password")
        );
    }

    #[test]
    fn credentials_alone_decide_when_set() {
        let locked = Guard::new(
            Some(("oncall".into(), Secret::new("pw"))),
            "https://status-bridge.example.com/",
        );
        let good = basic("oncall:pw");
        let lower = good.replacen("Basic", "basic", 1);
        let bad = basic("oncall:no");
        let lan: IpAddr = "10.1.2.3".parse().unwrap();
        use Access::*;
        let rows: Vec<(Facts, Access)> = vec![
            (
                Facts {
                    peer: Some(lan),
                    authorization: Some(&good),
                    ..local("status-bridge.example.com")
                },
                Allow,
            ),
            (
                Facts {
                    proxied: true,
                    authorization: Some(&good),
                    ..local("anything.example")
                },
                Allow,
            ),
            (
                Facts {
                    peer: None,
                    host: None,
                    proxied: true,
                    authorization: Some(&lower),
                    ..Facts::default()
                },
                Allow,
            ),
            (local("localhost"), Challenge),
            // Another site's script, image or frame: refused, credentials or
            // not; a person following a link from elsewhere: served.
            (
                Facts {
                    fetch_site: Some("cross-site"),
                    authorization: Some(&good),
                    ..local("localhost")
                },
                Forbidden(Refusal::CrossSite),
            ),
            (
                Facts {
                    fetch_site: Some("Cross-Site"),
                    ..local("localhost")
                },
                Forbidden(Refusal::CrossSite),
            ),
            (
                Facts {
                    fetch_site: Some("cross-site"),
                    navigation: true,
                    authorization: Some(&good),
                    ..local("localhost")
                },
                Allow,
            ),
            (
                Facts {
                    fetch_site: Some("same-site"),
                    authorization: Some(&good),
                    ..local("localhost")
                },
                Allow,
            ),
            (
                Facts {
                    proxied: true,
                    ..local("localhost")
                },
                Challenge,
            ),
            (
                Facts {
                    peer: Some(lan),
                    authorization: Some(&bad),
                    ..local("localhost")
                },
                Challenge,
            ),
            (
                Facts {
                    authorization: Some("Bearer x"),
                    ..local("localhost")
                },
                Challenge,
            ),
        ];
        for (facts, want) in rows {
            assert_eq!(decide(&locked, facts), want, "{facts:?}");
        }
    }

    #[test]
    fn every_combination_without_credentials() {
        // Allowed exactly when every fact says "this machine".
        let private = Guard::new(None, "http://localhost:8080");
        let peers: [Option<IpAddr>; 4] = [
            LO4,
            Some("::1".parse().unwrap()),
            Some("192.168.1.9".parse().unwrap()),
            None,
        ];
        let hosts = [
            (Some("localhost:1"), true),
            (Some("127.0.0.1"), true),
            (Some("[::1]:9"), true),
            (Some("bridge.internal:8080"), false),
            (None, false),
        ];
        let sites = [
            (None, true),
            (Some("same-origin"), true),
            (Some("cross-site"), false),
        ];
        for peer in peers {
            for proxied in [false, true] {
                for (host, local_host) in hosts {
                    for (fetch_site, same_site) in sites {
                        let facts = Facts {
                            peer,
                            proxied,
                            host,
                            fetch_site,
                            ..Facts::default()
                        };
                        let local_peer = peer.is_some_and(|p| p.is_loopback());
                        assert_eq!(
                            decide(&private, facts) == Access::Allow,
                            local_peer && !proxied && local_host && same_site,
                            "{facts:?}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn changes_need_credentials_and_the_bridges_own_origin() {
        let open = Guard::new(None, "http://127.0.0.1:8080");
        let locked = Guard::new(
            Some(("oncall".into(), Secret::new("pw"))),
            "https://bridge.example.com",
        );
        let good = basic("oncall:pw");
        let bad = basic("oncall:no");
        let with = |origin, fetch_site, authorization| Facts {
            origin,
            fetch_site,
            authorization,
            ..local("127.0.0.1:8080")
        };
        use Access::*;
        use Refusal::*;
        // No credentials configured: refused even from this machine.
        assert_eq!(
            decide_change(&open, local("localhost")),
            Forbidden(NoCredentials)
        );
        assert_eq!(
            decide_change(&open, with(None, None, Some(&good))),
            Forbidden(NoCredentials)
        );
        let rows: Vec<(Facts, Access)> = vec![
            (with(None, None, Some(&good)), Allow),
            (
                with(
                    Some("http://127.0.0.1:8080"),
                    Some("same-origin"),
                    Some(&good),
                ),
                Allow,
            ),
            (
                with(Some("https://bridge.example.com"), None, Some(&good)),
                Allow,
            ),
            (
                with(Some("HTTPS://Bridge.Example.com"), None, Some(&good)),
                Allow,
            ),
            (with(None, None, None), Challenge),
            (with(None, None, Some(&bad)), Challenge),
            (
                with(Some("http://127.0.0.1:8080"), None, Some(&bad)),
                Challenge,
            ),
            (
                with(Some("https://evil.example"), None, Some(&good)),
                Forbidden(CrossSite),
            ),
            (
                with(Some("http://127.0.0.1:9999"), None, Some(&good)),
                Forbidden(CrossSite),
            ),
            (with(Some("null"), None, Some(&good)), Forbidden(CrossSite)),
            (
                with(Some("ftp://127.0.0.1:8080"), None, Some(&good)),
                Forbidden(CrossSite),
            ),
            (
                with(Some("http://127.0.0.1:8080@evil"), None, Some(&good)),
                Forbidden(CrossSite),
            ),
            (
                with(Some("https://bridge.example.com.evil"), None, Some(&good)),
                Forbidden(CrossSite),
            ),
            (
                with(None, Some("cross-site"), Some(&good)),
                Forbidden(CrossSite),
            ),
            (with(None, Some("Cross-Site"), None), Forbidden(CrossSite)),
        ];
        for (facts, want) in rows {
            assert_eq!(decide_change(&locked, facts), want, "{facts:?}");
        }
    }

    #[test]
    fn proxy_headers_are_seen() {
        for name in PROXY_HEADERS {
            let mut h = HeaderMap::new();
            h.insert(
                actix_web::http::header::HeaderName::from_static(name),
                actix_web::http::header::HeaderValue::from_static("203.0.113.5"),
            );
            assert!(has_proxy_header(&h), "{name}");
        }
        assert!(!has_proxy_header(&HeaderMap::new()));
    }

    #[test]
    fn hosts_and_urls() {
        assert_eq!(
            host_of_url("https://Bridge.Example.com/x").as_deref(),
            Some("bridge.example.com")
        );
        assert_eq!(host_of_url("http://[::1]:8080").as_deref(), Some("[::1]"));
        assert!(is_loopback_url("http://127.0.0.1:8080"));
        assert!(is_loopback_url("http://127.0.0.2:8080"));
        assert!(is_loopback_url("http://localhost:8080"));
        assert!(is_loopback_url("http://[::1]:8080"));
        assert!(is_loopback_url("http://[::ffff:127.0.0.1]:8080"));
        assert!(!is_loopback_url("https://bridge.example.com"));
        assert!(!is_loopback_url("http://[::2]:8080"));
        assert!(!is_loopback_url("not a url"));
    }
}
