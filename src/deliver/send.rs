//! One request to ITOC360: build the body, send it, and classify the
//! answer into what becomes of the row. Recording is the worker's job.

use std::sync::Arc;
use std::time::Instant;

use chrono::Utc;

use super::retry::{self, Answered};
use super::{Sender, format};
use crate::redact;
use crate::storage::outbox::{After, Attempt, Event, Finished};

impl Sender {
    /// Sends one row and says what became of it; the worker records it.
    pub(super) async fn send(self: Arc<Self>, e: Event) -> Finished {
        let started_at = Utc::now();
        let t0 = Instant::now();
        let Some(to) = self
            .destinations
            .get(&e.destination)
            .filter(|d| !d.token.is_empty())
        else {
            // Its route was removed (or lost its token) since the event was
            // decided: dead, with the reason, until the route is back.
            let error = format!(
                "no destination named \"{}\" with a token is configured; restore its [[routes]] entry and run `outbox retry`",
                e.destination
            );
            tracing::error!(outbox_id = e.id, destination = %e.destination, "{error}");
            return Finished {
                id: e.id,
                attempt: Attempt {
                    started_at,
                    latency_ms: 0,
                    http_status: None,
                    error: Some(error),
                },
                after: After::Dead,
                at: Utc::now(),
            };
        };
        let body = format::body(to.format, &e);
        let sent = self
            .client
            .post(&self.url)
            .bearer_auth(to.token.expose())
            .header("Accept", "application/json")
            .json(&body)
            .send()
            .await;
        let (status, retry_after, error) = match sent {
            Ok(resp) => {
                let status = resp.status().as_u16();
                let retry_after = resp
                    .headers()
                    .get("Retry-After")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| retry::parse_retry_after(v, Utc::now()));
                let error = if resp.status().is_success() {
                    None
                } else if resp.status().is_redirection() {
                    // Never followed: the bearer token must not go to
                    // another address, and a moved API is a configuration
                    // to fix, not to guess.
                    let to = resp
                        .headers()
                        .get("Location")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("?");
                    Some(format!(
                        "HTTP {status}: redirected to {}, not followed (check itoc360.base_url)",
                        redact::mask_cut(to, ERROR_CHARS)
                    ))
                } else {
                    Some(error_text(status, error_body(resp).await))
                };
                (Some(status), retry_after, error)
            }
            Err(err) => (None, None, Some(transport_error(&err))),
        };
        let latency = t0.elapsed();
        let now = Utc::now();
        let attempt_no = e.attempts as u32 + 1;
        let queued_at = e.queued_at;
        let (after, error) = match retry::classify(status, retry_after) {
            Answered::Delivered => (After::Delivered, error),
            Answered::Dead => (After::Dead, error),
            Answered::Retry { retry_after } => {
                match self.schedule.next_attempt(
                    attempt_no,
                    retry_after,
                    fastrand::f64(),
                    now,
                    queued_at,
                ) {
                    Some(at) => (After::RetryAt(at), error),
                    None => (
                        After::Dead,
                        Some(format!(
                            "{} (gave up: still failing {}s after it was queued)",
                            error.unwrap_or_default(),
                            self.schedule.give_up_after.as_secs()
                        )),
                    ),
                }
            }
        };
        let ms = latency.as_millis() as u64;
        match after {
            After::Delivered => {
                self.metrics.attempt("delivered", latency.as_secs_f64());
                self.metrics.delivered_after(
                    (now - e.created_at)
                        .to_std()
                        .unwrap_or_default()
                        .as_secs_f64(),
                );
                tracing::info!(
                    status,
                    latency_ms = ms,
                    attempt = attempt_no,
                    "delivered to ITOC360"
                )
            }
            After::RetryAt(at) => {
                self.metrics.attempt("retry", latency.as_secs_f64());
                tracing::warn!(
                    status, latency_ms = ms, attempt = attempt_no,
                    error = error.as_deref().unwrap_or(""), retry_at = %at.to_rfc3339(),
                    "ITOC360 send failed; will retry"
                )
            }
            After::Dead => {
                self.metrics.attempt("dead", latency.as_secs_f64());
                tracing::error!(
                    status,
                    latency_ms = ms,
                    attempt = attempt_no,
                    error = error.as_deref().unwrap_or(""),
                    "ITOC360 refused the event; row is dead (see `statuspage-bridge outbox list`)"
                )
            }
        }
        Finished {
            id: e.id,
            attempt: Attempt {
                started_at,
                latency_ms: latency.as_millis() as i64,
                http_status: status,
                error,
            },
            after,
            at: now,
        }
    }
}

/// The most of an error answer read: enough for any message, never a
/// proxy's whole error page.
const ERROR_BODY_BYTES: usize = 64 * 1024;

/// The most of an error's text kept (stored, logged, shown): 2 KB of
/// ASCII, a little more of other text.
const ERROR_CHARS: usize = 2000;

/// How much of a proxy's answer that is not ITOC360's JSON is kept.
const PROXY_CHARS: usize = 300;

/// The start of an error answer's body, read as it streams in.
async fn error_body(mut resp: reqwest::Response) -> String {
    let mut bytes = Vec::new();
    while let Ok(Some(chunk)) = resp.chunk().await {
        bytes.extend_from_slice(&chunk);
        if bytes.len() >= ERROR_BODY_BYTES {
            bytes.truncate(ERROR_BODY_BYTES);
            break;
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// ITOC360's `{"error": "..."}` message, or the start of whatever a proxy
/// answered, masked before it is cut: an answer that echoes the request's
/// `Authorization` must not carry the token, or its start, into the log or
/// the database.
fn error_text(status: u16, body: String) -> String {
    let msg = match serde_json::from_str::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_owned))
    {
        Some(msg) => redact::mask_cut(&msg, ERROR_CHARS),
        None => redact::mask_cut(&body, PROXY_CHARS),
    };
    if msg.is_empty() {
        format!("HTTP {status}")
    } else {
        format!("HTTP {status}: {msg}")
    }
}

/// A transport failure in words, without the URL, masked.
fn transport_error(err: &reqwest::Error) -> String {
    let kind = if err.is_timeout() {
        "timed out"
    } else if err.is_connect() {
        "could not connect"
    } else if err.is_request() {
        "request failed"
    } else {
        "no answer"
    };
    let mut text = kind.to_owned();
    let mut source = std::error::Error::source(err);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    redact::mask_cut(&text, ERROR_CHARS)
}
