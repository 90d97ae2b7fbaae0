//! Who may read the audit routes. With `[audit]` credentials set, HTTP Basic
//! auth; with none, loopback clients only — so a default install never
//! exposes incident data.

use std::net::IpAddr;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use actix_web::middleware::Next;
use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::auth;
use crate::config::Secret;

/// The audit routes' access settings.
#[derive(Clone)]
pub struct Guard {
    pub credentials: Option<(String, Secret)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Allow,
    /// Credentials are set and the request lacks the right ones: 401.
    Challenge,
    /// No credentials are set and the client is not on loopback: 403.
    Forbidden,
}

/// The whole rule, pure.
pub fn decide(guard: &Guard, peer: Option<IpAddr>, authorization: Option<&str>) -> Access {
    match &guard.credentials {
        Some((user, pass)) => {
            if auth::basic_auth_matches(authorization, user, pass) {
                Access::Allow
            } else {
                Access::Challenge
            }
        }
        None if peer.is_some_and(|ip| ip.is_loopback()) => Access::Allow,
        None => Access::Forbidden,
    }
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
    let authorization = req
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    match decide(&guard, peer, authorization) {
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
        Access::Forbidden => {
            tracing::warn!(peer = ?peer, path = req.path(), "audit route refused: not a loopback client and no [audit] credentials are set");
            let res = HttpResponse::Forbidden().json(json!({
                "error": "the audit log is served only to loopback clients unless [audit] username and password are set"
            }));
            Ok(req.into_response(res))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    #[test]
    fn the_rule() {
        let open = Guard { credentials: None };
        let locked = Guard {
            credentials: Some(("oncall".into(), Secret::new("pw"))),
        };
        let lo4: IpAddr = "127.0.0.1".parse().unwrap();
        let lo6: IpAddr = "::1".parse().unwrap();
        let lan: IpAddr = "10.1.2.3".parse().unwrap();
        let good = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("oncall:pw")
        );
        let bad = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("oncall:no")
        );
        let rows = [
            (&open, Some(lo4), None, Access::Allow),
            (&open, Some(lo6), None, Access::Allow),
            (&open, Some(lan), None, Access::Forbidden),
            (&open, None, None, Access::Forbidden),
            (&open, Some(lan), Some(good.as_str()), Access::Forbidden),
            (&locked, Some(lan), Some(good.as_str()), Access::Allow),
            (&locked, Some(lo4), Some(good.as_str()), Access::Allow),
            (&locked, Some(lo4), None, Access::Challenge),
            (&locked, Some(lan), Some(bad.as_str()), Access::Challenge),
        ];
        for (guard, peer, header, want) in rows {
            assert_eq!(decide(guard, peer, header), want, "{peer:?} {header:?}");
        }
    }
}
