//! `POST /api/silences` and `DELETE /api/silences/{id}`: what `silence add`
//! and `silence expire` do, for tools and for the form on `/silences`
//! (docs/ROUTING.md, "Silences"). They change what pages, so they sit
//! behind `audit::require_change`: credentials always, same origin only.
//!
//! A JSON body is answered with JSON (201 and the silence; 400 naming what
//! is wrong, with nothing stored). The page's form posts are answered with
//! a redirect back to `/silences`; a browser cannot send DELETE, so the
//! page's Expire button posts `expire=1` to `/api/silences/{id}`.

use actix_web::http::header::{CACHE_CONTROL, CONTENT_TYPE, LOCATION};
use actix_web::middleware::from_fn;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use crate::audit::require_change;
use crate::auth;
use crate::redeliver::RedeliverState;
use crate::rules::silence::{Request, Silence};
use crate::rules::time::{format_time, parse_moment};

/// A new silence's id, short enough to type: 12 hex digits of a v4 UUID
/// (the API, `silence add` and maintenance holds alike).
pub fn new_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..12].to_owned()
}
use crate::storage::silences::Expired;

/// Registers the routes behind the change rule.
pub fn routes(cfg: &mut web::ServiceConfig, state: RedeliverState) {
    let data = web::Data::new(state);
    cfg.service(
        web::resource("/api/silences")
            .app_data(data.clone())
            .wrap(from_fn(require_change))
            .route(web::post().to(add)),
    )
    .service(
        web::resource("/api/silences/{id}")
            .app_data(data)
            .wrap(from_fn(require_change))
            .route(web::delete().to(expire))
            .route(web::post().to(expire_form)),
    );
}

/// The POST body: matchers (at least one), times as RFC 3339.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Body {
    page: Option<String>,
    component: Option<String>,
    incident: Option<String>,
    route: Option<String>,
    starts_at: Option<String>,
    ends_at: Option<String>,
    #[serde(default)]
    reason: String,
}

impl Body {
    /// JSON takes RFC 3339; the page's form also takes what a
    /// `datetime-local` field sends (`2026-12-01T18:00`, read as UTC).
    fn request(&self, lenient: bool) -> Result<Request, String> {
        let time = |key: &str, v: &Option<String>| match v.as_deref().map(str::trim) {
            None | Some("") => Ok(None),
            Some(v) => {
                let t = if lenient {
                    parse_moment(v)
                } else {
                    chrono::DateTime::parse_from_rfc3339(v)
                        .ok()
                        .map(|t| t.to_utc())
                };
                t.map(Some)
                    .ok_or_else(|| format!("{key}: {v:?} is not an RFC 3339 time"))
            }
        };
        Ok(Request {
            page: self.page.clone(),
            component: self.component.clone(),
            incident: self.incident.clone(),
            route: self.route.clone(),
            starts_at: time("starts_at", &self.starts_at)?,
            ends_at: time("ends_at", &self.ends_at)?,
            reason: self.reason.clone(),
        })
    }
}

fn is_form(req: &HttpRequest) -> bool {
    req.headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/x-www-form-urlencoded"))
}

fn who(req: &HttpRequest) -> String {
    format!("api:{}", auth::user_of(req))
}

fn bad(message: String) -> HttpResponse {
    HttpResponse::BadRequest()
        .insert_header((CACHE_CONTROL, "no-store"))
        .json(json!({ "error": message }))
}

fn unavailable(e: impl std::fmt::Display) -> HttpResponse {
    tracing::error!(error = %e, "a silence could not be stored");
    HttpResponse::ServiceUnavailable()
        .insert_header(("Retry-After", "5"))
        .json(json!({"error": "the database could not take the change; retry later"}))
}

fn back_to_page() -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((LOCATION, "/silences"))
        .finish()
}

/// The silence as JSON (`id`, matchers, times, reason, state).
pub fn as_json(s: &Silence, now: chrono::DateTime<chrono::Utc>) -> serde_json::Value {
    let mut v = json!({
        "id": s.id,
        "page": s.page,
        "component": s.component,
        "incident": s.incident,
        "route": s.route,
        "starts_at": format_time(s.starts_at),
        "ends_at": format_time(s.ends_at),
        "expired_at": s.expired_at.map(format_time),
        "reason": s.reason,
        "active": s.is_active(now),
    });
    crate::redact::mask_json(&mut v);
    v
}

async fn add(req: HttpRequest, body: web::Bytes, state: web::Data<RedeliverState>) -> HttpResponse {
    let form = is_form(&req);
    let parsed: Result<Body, String> = if form {
        serde_urlencoded::from_bytes(&body).map_err(|e| format!("form: {e}"))
    } else {
        serde_json::from_slice(&body).map_err(|e| format!("body: {e}"))
    };
    let now = chrono::Utc::now();
    let silence = match parsed.and_then(|b| b.request(form)?.silence(new_id(), now)) {
        Ok(s) => s,
        Err(e) => return bad(e),
    };
    let by = who(&req);
    match state.writer.add_silence(silence, by.clone(), now).await {
        Ok(s) => {
            tracing::info!(silence = %s.id, matchers = %s.matchers(), until = %format_time(s.ends_at), by = %by, "silence added");
            if form {
                return back_to_page();
            }
            HttpResponse::Created()
                .insert_header((CACHE_CONTROL, "no-store"))
                .insert_header((LOCATION, format!("/api/silences/{}", s.id)))
                .json(as_json(&s, now))
        }
        Err(e) => unavailable(e),
    }
}

async fn expire(
    req: HttpRequest,
    id: web::Path<String>,
    state: web::Data<RedeliverState>,
) -> HttpResponse {
    let id = id.into_inner();
    let now = chrono::Utc::now();
    let by = who(&req);
    match state
        .writer
        .expire_silence(id.clone(), by.clone(), now)
        .await
    {
        Ok(Expired::Now { released }) => {
            state.wake.notify_one();
            tracing::info!(silence = %id, released, by = %by, "silence expired by hand");
            if is_form(&req) {
                return back_to_page();
            }
            HttpResponse::Ok()
                .insert_header((CACHE_CONTROL, "no-store"))
                .json(json!({"id": id, "expired_at": format_time(now), "released": released}))
        }
        Ok(Expired::AlreadyEnded) => {
            if is_form(&req) {
                return back_to_page();
            }
            HttpResponse::Ok()
                .insert_header((CACHE_CONTROL, "no-store"))
                .json(json!({"id": id, "released": 0, "note": "the silence had already ended"}))
        }
        Ok(Expired::NotFound) => {
            HttpResponse::NotFound().json(json!({"error": "no silence has this id"}))
        }
        Err(e) => unavailable(e),
    }
}

/// The page's Expire button: a form post with `expire=1`.
async fn expire_form(
    req: HttpRequest,
    id: web::Path<String>,
    body: web::Bytes,
    state: web::Data<RedeliverState>,
) -> HttpResponse {
    let fields: Vec<(String, String)> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    if !is_form(&req) || !fields.iter().any(|(k, v)| k == "expire" && v == "1") {
        return bad("to expire a silence, send DELETE /api/silences/<id>".to_owned());
    }
    expire(req, id, state).await
}
