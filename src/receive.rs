//! The webhook endpoints, `POST /webhooks/<kind>` for each platform that
//! pushes (`statuspage`, `instatus`, `betterstack`): authenticate, bound the body, hand it
//! to the pipeline with its platform, answer once it is committed.
//!
//! Statuspage quarantines a subscriber after repeated non-2xx answers, so any
//! authenticated JSON body gets a 2xx once stored — even one the bridge does
//! not understand. Only a wrong token (401), an oversized body (413), a body
//! that is not JSON (400, kept as `rejected`) or a database that cannot take
//! the write (503, Statuspage retries) get anything else. Another
//! platform's endpoint answers a body it cannot read as that platform's
//! webhook with 400 and the reason (stored as `unrecognized` all the same);
//! an unknown kind, or one that only polls, is 404.

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::http::header::{CONTENT_LENGTH, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use futures_util::StreamExt;
use serde_json::json;

use crate::auth;
use crate::config::Source;
use crate::metrics::Metrics;
use crate::pipeline::{Incoming, IngestError, Origin, Pipeline};
use crate::rules::domain::Outcome;
use crate::rules::platform::Platform;
use crate::storage::WriteError;

/// The header accepted in place of `?token=`.
pub const TOKEN_HEADER: &str = "X-ITOC360-Token";

pub struct ReceiveState {
    pub sources: Arc<Vec<Source>>,
    pub max_body_bytes: usize,
    /// A body not received within this long is refused with 408.
    pub body_timeout: std::time::Duration,
    pub pipeline: Pipeline,
    pub metrics: Metrics,
}

#[derive(Debug, thiserror::Error)]
pub enum ReceiveError {
    #[error("missing or invalid token")]
    Unauthorized,
    #[error("body is larger than the limit of {limit} bytes")]
    TooLarge { limit: usize },
    #[error("reading the request body failed: {0}")]
    Body(String),
    #[error("the request body took longer than {0} ms to arrive")]
    TooSlow(u128),
    #[error("the webhook could not be stored; retry later")]
    Unavailable,
    #[error("no webhook endpoint for \"{0}\": the platforms that push are {1}")]
    NoSuchKind(String, String),
}

impl ResponseError for ReceiveError {
    fn status_code(&self) -> StatusCode {
        match self {
            ReceiveError::Unauthorized => StatusCode::UNAUTHORIZED,
            ReceiveError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ReceiveError::Body(_) => StatusCode::BAD_REQUEST,
            ReceiveError::TooSlow(_) => StatusCode::REQUEST_TIMEOUT,
            ReceiveError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ReceiveError::NoSuchKind(..) => StatusCode::NOT_FOUND,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut r = HttpResponse::build(self.status_code());
        if matches!(self, ReceiveError::Unavailable) {
            r.insert_header(("Retry-After", "5"));
        }
        r.json(json!({ "error": self.to_string() }))
    }
}

/// The token a request offers. The query parameter wins over the header
/// whenever the query names `token` at all: a repeated or empty one offers
/// no token (so a 401), never a fall-back to the header.
fn given_token(query: &str, header: Option<&HeaderValue>) -> Option<String> {
    let mut in_query = form_urlencoded::parse(query.as_bytes()).filter(|(k, _)| k == "token");
    match (in_query.next(), in_query.next()) {
        (Some((_, v)), None) => Some(v.into_owned()).filter(|v| !v.is_empty()),
        (Some(_), Some(_)) => None,
        (None, _) => header.and_then(|v| v.to_str().ok()).map(str::to_owned),
    }
}

/// `POST /webhooks/{kind}`
pub async fn webhook(
    req: HttpRequest,
    kind: web::Path<String>,
    mut payload: web::Payload,
    state: web::Data<ReceiveState>,
) -> Result<HttpResponse, ReceiveError> {
    let Some(shape) = Platform::parse(&kind).filter(|p| p.pushes()) else {
        let pushing: Vec<&str> = Platform::ALL
            .into_iter()
            .filter(|p| p.pushes())
            .map(Platform::as_str)
            .collect();
        return Err(ReceiveError::NoSuchKind(
            crate::redact::printable(&kind).chars().take(40).collect(),
            pushing.join(", "),
        ));
    };
    let remote = req.peer_addr().map(|a| a.ip().to_string());
    let token = given_token(req.query_string(), req.headers().get(TOKEN_HEADER));
    let Some(source) = token
        .as_deref()
        .and_then(|t| auth::match_source(&state.sources, t))
    else {
        state.metrics.refused("unauthorized");
        tracing::warn!(
            remote = remote.as_deref().unwrap_or("?"),
            token_given = token.is_some(),
            "webhook refused: missing or invalid token"
        );
        return Err(ReceiveError::Unauthorized);
    };

    let limit = state.max_body_bytes;
    let too_large = |declared: Option<usize>| {
        state.metrics.refused("too_large");
        tracing::warn!(source = %source.name, limit, declared, "webhook refused: body over max_body_bytes");
        ReceiveError::TooLarge { limit }
    };
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large(declared));
    }
    // A client trickling its body ties up a connection: bound the time.
    let read = async {
        let mut body = Vec::with_capacity(declared.unwrap_or(0).min(limit));
        while let Some(chunk) = payload.next().await {
            let chunk = chunk.map_err(|e| ReceiveError::Body(e.to_string()))?;
            if body.len() + chunk.len() > limit {
                return Err(too_large(declared));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    };
    let body = match tokio::time::timeout(state.body_timeout, read).await {
        Ok(body) => body?,
        Err(_) => {
            state.metrics.refused("too_slow");
            tracing::warn!(source = %source.name, remote = remote.as_deref().unwrap_or("?"), timeout_ms = state.body_timeout.as_millis() as u64, "webhook refused: body too slow");
            return Err(ReceiveError::TooSlow(state.body_timeout.as_millis()));
        }
    };

    let incoming = Incoming {
        source: source.name.clone(),
        remote_addr: remote,
        body,
        received_at: chrono::Utc::now(),
        origin: Origin::Webhook,
        shape,
    };
    let ingested = state.pipeline.ingest(incoming).await.map_err(|e| {
        let IngestError::Write(write) = &e;
        if matches!(write, WriteError::Busy) {
            // Backpressure: the writer's queue is full. Statuspage retries.
            state.metrics.refused("busy");
            tracing::warn!(source = %source.name, "webhook refused: the database writer's queue is full");
        } else {
            state.metrics.refused("unavailable");
            tracing::error!(source = %source.name, error = %e, cause = ?std::error::Error::source(write), "webhook not stored");
        }
        ReceiveError::Unavailable
    })?;
    let body = json!({
        "id": ingested.id,
        "outcome": ingested.outcome.as_str(),
        "reason": ingested.reason,
    });
    let unreadable = shape != Platform::Statuspage && ingested.outcome == Outcome::Unrecognized;
    if ingested.outcome == Outcome::Rejected || unreadable {
        let mut body = body;
        body["error"] = json!(ingested.reason);
        return Ok(HttpResponse::BadRequest().json(body));
    }
    Ok(HttpResponse::Ok().json(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_token_wins_even_when_it_is_bad() {
        let h = HeaderValue::from_static("header-token");
        let rows: &[(&str, Option<&HeaderValue>, Option<&str>)] = &[
            ("token=q", Some(&h), Some("q")),
            ("token=q", None, Some("q")),
            ("", Some(&h), Some("header-token")),
            ("other=1", Some(&h), Some("header-token")),
            ("", None, None),
            ("token=a&token=b", Some(&h), None),
            ("token=a&token=a", Some(&h), None),
            ("token=", Some(&h), None),
            ("token", Some(&h), None),
            ("token=%ZZ", Some(&h), Some("%ZZ")),
            ("tok%65n=q", Some(&h), Some("q")),
            ("token=a%20b", None, Some("a b")),
        ];
        for &(query, header, want) in rows {
            assert_eq!(given_token(query, header).as_deref(), want, "{query}");
        }
    }
}
