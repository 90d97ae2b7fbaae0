//! `POST /api/outbox/{id}/retry`: an on-call engineer puts a dead or failing
//! event back in the queue from the audit pages — what `outbox retry --id`
//! does on the server's shell. Behind `audit::require_change` (credentials
//! always, same origin only); the attempt history records who asked.
//!
//! A browser's form post is answered with a redirect to the webhook's page,
//! where the new attempts appear; anything else gets 202 and the event as
//! JSON.

use std::sync::Arc;

use actix_web::http::header::{CACHE_CONTROL, CONTENT_TYPE, LOCATION};
use actix_web::middleware::from_fn;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;
use tokio::sync::Notify;

use crate::audit::require_change;
use crate::rules::time::format_time;
use crate::storage::Writer;
use crate::storage::outbox::{Event, Redelivery, State};
use crate::{auth, redact};

/// What the route needs: the writer, and the delivery worker's wake-up.
#[derive(Clone)]
pub struct RedeliverState {
    pub writer: Writer,
    pub wake: Arc<Notify>,
}

/// Registers the route behind the change rule.
pub fn routes(cfg: &mut web::ServiceConfig, state: RedeliverState) {
    cfg.service(
        web::resource("/api/outbox/{id}/retry")
            .app_data(web::Data::new(state))
            .wrap(from_fn(require_change))
            .route(web::post().to(retry)),
    );
}

async fn retry(
    req: HttpRequest,
    id: web::Path<String>,
    state: web::Data<RedeliverState>,
) -> HttpResponse {
    let not_found =
        || HttpResponse::NotFound().json(json!({"error": "no event for ITOC360 has this id"}));
    let Ok(id) = id.parse::<i64>() else {
        return not_found();
    };
    let by = auth::user_of(&req);
    let now = chrono::Utc::now();
    let done = state.writer.redeliver(id, by.clone(), now).await;
    match done {
        Ok(Redelivery::Queued(event)) => {
            state.wake.notify_one();
            tracing::info!(outbox_id = id, fingerprint = %event.fingerprint, by = %by, "event queued again from the audit pages");
            let form = req
                .headers()
                .get(CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|t| t.starts_with("application/x-www-form-urlencoded"));
            if form {
                return HttpResponse::SeeOther()
                    .insert_header((LOCATION, format!("/events/{}", event.webhook_id)))
                    .finish();
            }
            HttpResponse::Accepted()
                .insert_header((CACHE_CONTROL, "no-store"))
                .json(masked(&event))
        }
        Ok(Redelivery::Refused(event)) => {
            let why = match event.state {
                State::Dead => {
                    "a later event of this alert was already delivered; sending this one would undo it"
                }
                State::Delivered => "this event was delivered",
                State::Skipped => "this event was recorded in a dry run and is never sent",
                State::Pending => "this event cannot be queued again",
                State::Cancelled => {
                    "this event was held and then cancelled: the alert recovered or reopened before it was due"
                }
            };
            HttpResponse::Conflict().json(json!({"error": why, "event": masked(&event)}))
        }
        Ok(Redelivery::Held { event, by, until }) => HttpResponse::Conflict().json(json!({
            "error": format!(
                "this event is held by {by} until {until} and goes out by itself then; \
                 expire the silence to release it sooner"
            ),
            "event": masked(&event),
        })),
        Ok(Redelivery::AlreadyQueued(event)) => HttpResponse::TooManyRequests()
            .insert_header(("Retry-After", "5"))
            .json(json!({
                "error": "this event is already queued again and not yet tried; wait for that attempt",
                "event": masked(&event),
            })),
        Ok(Redelivery::Unknown) => not_found(),
        Err(e) => {
            tracing::error!(outbox_id = id, error = %e, "queueing an event again failed");
            HttpResponse::ServiceUnavailable()
                .insert_header(("Retry-After", "5"))
                .json(json!({"error": "the database could not take the change; retry later"}))
        }
    }
}

/// The event as JSON, its text masked like every audit answer.
fn masked(e: &Event) -> serde_json::Value {
    let time = |t: chrono::DateTime<chrono::Utc>| format_time(t);
    let mut v = json!({
        "id": e.id,
        "webhook_id": e.webhook_id,
        "created_at": time(e.created_at),
        "fingerprint": e.fingerprint,
        "kind": e.kind.as_str(),
        "page_id": e.page_id,
        "entity_id": e.entity_id,
        "action": e.action.as_str(),
        "priority": e.priority.as_str(),
        "title": e.title,
        "message": e.message,
        "status": e.status,
        "impact": e.impact,
        "link": e.link,
        "starts_at": time(e.starts_at),
        "ends_at": e.ends_at.map(time),
        "state": e.state.as_str(),
        "attempts": e.attempts,
        "next_attempt_at": time(e.next_attempt_at),
        "queued_at": time(e.queued_at),
        "last_status": e.last_status,
        "last_error": e.last_error,
    });
    redact::mask_json(&mut v);
    v
}
