//! Who may read the audit routes. With `[audit]` credentials set, HTTP Basic
//! auth (through a proxy too); with none, only a browser or tool on the
//! machine itself — so a default install never exposes incident data.
//!
//! "On the machine itself" needs three facts, not one: the peer is loopback,
//! no proxy header says the request came from further away (a reverse proxy
//! on the same host connects from 127.0.0.1 on behalf of anyone), and the
//! `Host` header names this machine (a page using DNS rebinding reaches
//! 127.0.0.1 under the attacker's host name).

use std::net::IpAddr;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{AUTHORIZATION, HOST, HeaderMap, WWW_AUTHENTICATE};
use actix_web::middleware::Next;
use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::auth;
use crate::config::Secret;

/// Headers a reverse proxy adds; any one of them means the peer address is
/// the proxy's, not the client's.
pub const PROXY_HEADERS: [&str; 4] = [
    "forwarded",
    "x-forwarded-for",
    "x-real-ip",
    "x-forwarded-host",
];

/// Host names that always mean "this machine".
const LOOPBACK_HOSTS: [&str; 3] = ["localhost", "127.0.0.1", "[::1]"];

/// The audit routes' access settings.
#[derive(Clone)]
pub struct Guard {
    pub credentials: Option<(String, Secret)>,
    /// The host of `server.public_url`, lower-cased, also accepted in `Host`
    /// when no credentials are set.
    pub public_host: Option<String>,
}

impl Guard {
    pub fn new(credentials: Option<(String, Secret)>, public_url: &str) -> Guard {
        Guard {
            credentials,
            public_host: host_of_url(public_url),
        }
    }
}

/// What the rule needs to know of one request.
#[derive(Debug, Clone, Copy)]
pub struct Facts<'a> {
    pub peer: Option<IpAddr>,
    /// Whether any of `PROXY_HEADERS` is present.
    pub proxied: bool,
    pub host: Option<&'a str>,
    pub authorization: Option<&'a str>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Allow,
    /// Credentials are set and the request lacks the right ones: 401.
    Challenge,
    /// No credentials are set and the request is not from this machine: 403.
    Forbidden(Refusal),
}

/// Why a request without credentials was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The peer is not a loopback address.
    NotLoopback,
    /// The peer is loopback but proxy headers say the client is elsewhere.
    Proxied,
    /// The `Host` header names neither this machine nor `server.public_url`.
    UnknownHost,
}

impl Refusal {
    pub fn message(self) -> &'static str {
        match self {
            Refusal::NotLoopback => {
                "the audit log is served only to clients on this machine unless [audit] username and password are set"
            }
            Refusal::Proxied => {
                "the audit log is not served through a proxy without credentials: set [audit] username and password when the bridge is behind a reverse proxy"
            }
            Refusal::UnknownHost => {
                "the audit log is served without credentials only under the host names localhost, 127.0.0.1, [::1] or that of server.public_url"
            }
        }
    }
}

/// The whole rule, pure.
pub fn decide(guard: &Guard, facts: Facts<'_>) -> Access {
    if let Some((user, pass)) = &guard.credentials {
        return if auth::basic_auth_matches(facts.authorization, user, pass) {
            Access::Allow
        } else {
            Access::Challenge
        };
    }
    if !facts.peer.is_some_and(|ip| ip.is_loopback()) {
        return Access::Forbidden(Refusal::NotLoopback);
    }
    if facts.proxied {
        return Access::Forbidden(Refusal::Proxied);
    }
    match facts.host.map(strip_port) {
        Some(h)
            if LOOPBACK_HOSTS.iter().any(|l| l.eq_ignore_ascii_case(h))
                || guard
                    .public_host
                    .as_deref()
                    .is_some_and(|p| p.eq_ignore_ascii_case(h)) =>
        {
            Access::Allow
        }
        _ => Access::Forbidden(Refusal::UnknownHost),
    }
}

/// `host[:port]` or `[v6][:port]` → the host part, brackets kept for v6.
fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        return match host.find(']') {
            Some(end) => &host[..=end],
            None => host,
        };
    }
    match host.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    }
}

/// The host of a URL as it appears in a `Host` header (v6 in brackets).
fn host_of_url(url: &str) -> Option<String> {
    let parsed = reqwest::Url::parse(url).ok()?;
    // `host_str` keeps the brackets of a v6 address, as `Host` does.
    Some(parsed.host_str()?.to_ascii_lowercase())
}

/// True when `public_url` names a loopback host (then the audit pages are
/// reachable there without credentials).
pub fn is_loopback_url(public_url: &str) -> bool {
    host_of_url(public_url).is_some_and(|h| {
        LOOPBACK_HOSTS.contains(&h.as_str()) || h.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
    })
}

fn has_proxy_header(headers: &HeaderMap) -> bool {
    PROXY_HEADERS.iter().any(|h| headers.contains_key(*h))
}

/// Middleware for every audit route.
pub async fn require(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let guard = req
        .app_data::<web::Data<Guard>>()
        .expect("audit guard registered")
        .clone();
    let peer = req.peer_addr().map(|a| a.ip());
    let headers = req.headers();
    let facts = Facts {
        peer,
        proxied: has_proxy_header(headers),
        host: headers.get(HOST).and_then(|v| v.to_str().ok()),
        authorization: headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()),
    };
    match decide(&guard, facts) {
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

    #[test]
    fn the_rule() {
        let open = Guard::new(None, "https://status-bridge.example.com/");
        let locked = Guard::new(
            Some(("oncall".into(), Secret::new("pw"))),
            "https://status-bridge.example.com/",
        );
        let lo4: IpAddr = "127.0.0.1".parse().unwrap();
        let lo6: IpAddr = "::1".parse().unwrap();
        let lan: IpAddr = "10.1.2.3".parse().unwrap();
        let good = basic("oncall:pw");
        let bad = basic("oncall:no");
        use Access::*;
        use Refusal::*;
        // (guard, peer, proxied, host, authorization) → access
        #[rustfmt::skip]
        type Row<'a> = (&'a Guard, Option<IpAddr>, bool, Option<&'a str>, Option<&'a str>, Access);
        let rows: &[Row] = &[
            // No credentials: loopback peer, no proxy headers, a local host name.
            (&open, Some(lo4), false, Some("127.0.0.1:8080"), None, Allow),
            (&open, Some(lo4), false, Some("localhost:8080"), None, Allow),
            (&open, Some(lo4), false, Some("LOCALHOST"), None, Allow),
            (&open, Some(lo4), false, Some("localhost"), None, Allow),
            (&open, Some(lo6), false, Some("[::1]:8080"), None, Allow),
            (&open, Some(lo6), false, Some("[::1]"), None, Allow),
            (
                &open,
                Some(lo4),
                false,
                Some("status-bridge.example.com"),
                None,
                Allow,
            ),
            (
                &open,
                Some(lo4),
                false,
                Some("Status-Bridge.Example.com:443"),
                None,
                Allow,
            ),
            // DNS rebinding and other names.
            (
                &open,
                Some(lo4),
                false,
                Some("rebind.attacker.example:8080"),
                None,
                Forbidden(UnknownHost),
            ),
            (
                &open,
                Some(lo4),
                false,
                Some("localhost.attacker.example"),
                None,
                Forbidden(UnknownHost),
            ),
            (
                &open,
                Some(lo4),
                false,
                Some("127.0.0.1.nip.io"),
                None,
                Forbidden(UnknownHost),
            ),
            (
                &open,
                Some(lo4),
                false,
                Some("[::2]:8080"),
                None,
                Forbidden(UnknownHost),
            ),
            (
                &open,
                Some(lo4),
                false,
                Some(""),
                None,
                Forbidden(UnknownHost),
            ),
            (&open, Some(lo4), false, None, None, Forbidden(UnknownHost)),
            // Through a proxy on this machine: refused whatever the host.
            (
                &open,
                Some(lo4),
                true,
                Some("127.0.0.1:8080"),
                None,
                Forbidden(Proxied),
            ),
            (
                &open,
                Some(lo6),
                true,
                Some("status-bridge.example.com"),
                None,
                Forbidden(Proxied),
            ),
            (
                &open,
                Some(lo4),
                true,
                Some("rebind.attacker.example"),
                None,
                Forbidden(Proxied),
            ),
            (
                &open,
                Some(lo4),
                true,
                Some("localhost"),
                Some(good.as_str()),
                Forbidden(Proxied),
            ),
            // Not loopback: refused whatever else.
            (
                &open,
                Some(lan),
                false,
                Some("127.0.0.1:8080"),
                None,
                Forbidden(NotLoopback),
            ),
            (
                &open,
                Some(lan),
                true,
                Some("localhost"),
                None,
                Forbidden(NotLoopback),
            ),
            (
                &open,
                Some(lan),
                false,
                Some("localhost"),
                Some(good.as_str()),
                Forbidden(NotLoopback),
            ),
            (
                &open,
                None,
                false,
                Some("localhost"),
                None,
                Forbidden(NotLoopback),
            ),
            // Credentials set: Basic auth alone decides, through a proxy too.
            (
                &locked,
                Some(lan),
                false,
                Some("status-bridge.example.com"),
                Some(good.as_str()),
                Allow,
            ),
            (
                &locked,
                Some(lo4),
                true,
                Some("status-bridge.example.com"),
                Some(good.as_str()),
                Allow,
            ),
            (
                &locked,
                Some(lo4),
                false,
                Some("anything.example"),
                Some(good.as_str()),
                Allow,
            ),
            (&locked, None, true, None, Some(good.as_str()), Allow),
            (
                &locked,
                Some(lo4),
                false,
                Some("localhost"),
                None,
                Challenge,
            ),
            (&locked, Some(lo4), true, Some("localhost"), None, Challenge),
            (
                &locked,
                Some(lan),
                false,
                Some("localhost"),
                Some(bad.as_str()),
                Challenge,
            ),
            (
                &locked,
                Some(lan),
                true,
                Some("status-bridge.example.com"),
                Some("Bearer x"),
                Challenge,
            ),
        ];
        for &(guard, peer, proxied, host, authorization, want) in rows {
            let facts = Facts {
                peer,
                proxied,
                host,
                authorization,
            };
            assert_eq!(decide(guard, facts), want, "{facts:?}");
        }
    }

    #[test]
    fn every_combination_without_credentials() {
        // Allowed exactly when all three facts say "this machine".
        let open = Guard::new(None, "http://bridge.internal:8080");
        let peers: [Option<IpAddr>; 4] = [
            Some("127.0.0.1".parse().unwrap()),
            Some("::1".parse().unwrap()),
            Some("192.168.1.9".parse().unwrap()),
            None,
        ];
        let hosts = [
            (Some("localhost:1"), true),
            (Some("127.0.0.1"), true),
            (Some("[::1]:9"), true),
            (Some("bridge.internal:8080"), true),
            (Some("evil.example"), false),
            (None, false),
        ];
        for peer in peers {
            for proxied in [false, true] {
                for (host, local_host) in hosts {
                    let got = decide(
                        &open,
                        Facts {
                            peer,
                            proxied,
                            host,
                            authorization: None,
                        },
                    );
                    let local_peer = peer.is_some_and(|p| p.is_loopback());
                    assert_eq!(
                        got == Access::Allow,
                        local_peer && !proxied && local_host,
                        "{peer:?} {proxied} {host:?}"
                    );
                }
            }
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
        assert_eq!(strip_port("a.example:80"), "a.example");
        assert_eq!(strip_port("[::1]:80"), "[::1]");
        assert_eq!(strip_port("[::1]"), "[::1]");
        assert_eq!(strip_port("localhost"), "localhost");
        assert_eq!(strip_port("localhost:x"), "localhost:x", "not a port");
        assert_eq!(
            host_of_url("https://Bridge.Example.com/x").as_deref(),
            Some("bridge.example.com")
        );
        assert_eq!(host_of_url("http://[::1]:8080").as_deref(), Some("[::1]"));
        assert!(is_loopback_url("http://127.0.0.1:8080"));
        assert!(is_loopback_url("http://127.0.0.2:8080"));
        assert!(is_loopback_url("http://localhost:8080"));
        assert!(is_loopback_url("http://[::1]:8080"));
        assert!(!is_loopback_url("https://bridge.example.com"));
        assert!(!is_loopback_url("not a url"));
    }
}
