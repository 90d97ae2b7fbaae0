//! The audit log: `/events` and entity timelines for people, `/api/events`
//! for tools. Only reads (the read reader); every value shown comes through an
//! auto-escaping template, with secrets redacted first.

mod access;
pub mod chart;
mod escape;
mod views;

pub use access::{Access, Facts, Guard, Refusal, decide as access_decision, require_change};

use actix_web::http::StatusCode;
use actix_web::http::header::{CACHE_CONTROL, ContentType};
use actix_web::middleware::from_fn;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;
use serde_json::json;

use crate::config::Settings;
use crate::redact;
use crate::rules::catalog;
use crate::rules::domain::EntityKind;
use crate::rules::route::Policy;
use crate::storage::Reader;
use crate::storage::audit::{self as query, Filters, ListError};
use views::{ErrorPage, EventPage, EventsPage, TimelinePage};

/// The audit routes' shared state.
pub struct AuditState {
    guard: Guard,
    /// Configured polled by reconcile: all of them, and those that also get
    /// webhooks (only those can look quarantined).
    pages: Configured,
}

#[derive(Clone, Default)]
struct Configured {
    all: Vec<String>,
    with_webhooks: Vec<String>,
    /// Configured destinations: `default` and every route.
    destinations: Vec<String>,
    /// Page names, filters and routes.
    policy: std::sync::Arc<Policy>,
    /// `[health]`'s thresholds, to show each page's health.
    health: Option<crate::rules::health::Thresholds>,
}

impl Configured {
    /// Every page known, named: configured name, else learned, else id.
    async fn names(&self, reader: &Reader) -> views::PageNames {
        let mut known = match reader.known_pages().await {
            Ok(k) => k,
            Err(e) => {
                tracing::warn!(error = %e, "reading the learned page names failed");
                Vec::new()
            }
        };
        for id in &self.all {
            if !known.iter().any(|(k, _)| k == id) {
                known.push((id.clone(), None));
            }
        }
        known.sort();
        views::PageNames(
            known
                .into_iter()
                .map(|(id, learned)| {
                    let name = self.policy.page_shown(&id, learned.as_deref()).to_owned();
                    (id, name)
                })
                .collect(),
        )
    }
}

impl AuditState {
    pub fn new(settings: &Settings) -> AuditState {
        let credentials = settings
            .audit_credentials()
            .map(|(u, p)| (u.to_owned(), p.clone()));
        if credentials.is_none() && !access::is_loopback_url(&settings.server.public_url) {
            tracing::warn!(
                public_url = %settings.server.public_url,
                "server.public_url names a public host and no [audit] credentials are set: every audit route answers 403 until [audit] username and password are set"
            );
        }
        AuditState {
            guard: Guard::new(credentials, &settings.server.public_url),
            pages: Configured {
                all: settings.pages.iter().map(|p| p.id.clone()).collect(),
                with_webhooks: settings
                    .pages
                    .iter()
                    .filter(|p| p.webhooks)
                    .map(|p| p.id.clone())
                    .collect(),
                destinations: std::iter::once(crate::rules::route::DEFAULT.to_owned())
                    .chain(settings.routing.routes.iter().map(|r| r.name.clone()))
                    .collect(),
                policy: std::sync::Arc::new(settings.policy()),
                health: Some(settings.health.thresholds()),
            },
        }
    }
}

/// Registers the audit routes, each behind the access rule.
pub fn routes(cfg: &mut web::ServiceConfig, state: &AuditState) {
    cfg.app_data(web::Data::new(state.guard.clone()))
        .app_data(web::Data::new(state.pages.clone()));
    let guarded = |path: &str, handler: actix_web::Route| {
        web::resource(path.to_owned())
            .wrap(from_fn(access::require))
            .route(handler)
    };
    cfg.service(guarded("/events", web::get().to(events_page)))
        .service(guarded("/events/{id}", web::get().to(event_page)))
        .service(guarded("/api/events", web::get().to(api_events)))
        .service(guarded("/reconcile", web::get().to(reconcile_page)))
        .service(guarded("/alerts", web::get().to(alerts_page)))
        .service(guarded("/silences", web::get().to(silences_page)))
        .service(guarded("/api/events/{id}", web::get().to(api_event)))
        .service(guarded(
            "/incidents/{page}/{id}",
            web::get().to(incident_page),
        ))
        .service(guarded(
            "/components/{page}/{id}",
            web::get().to(component_page),
        ))
        .route("/static/style.css", web::get().to(style))
        .route("/", web::get().to(home));
}

/// `GET /`: the audit log is the bridge's front page (it is guarded there).
async fn home() -> HttpResponse {
    HttpResponse::Found()
        .insert_header((actix_web::http::header::LOCATION, "/events"))
        .finish()
}

const STYLE: &str = include_str!("../../static/style.css");

async fn style() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header((CACHE_CONTROL, "public, max-age=3600"))
        .body(STYLE)
}

fn html(status: StatusCode, t: &impl Template) -> HttpResponse {
    match t.render() {
        Ok(body) => HttpResponse::build(status)
            .content_type(ContentType::html())
            .insert_header((CACHE_CONTROL, "no-store"))
            .insert_header((
                "Content-Security-Policy",
                "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'",
            ))
            .insert_header(("X-Content-Type-Options", "nosniff"))
            .insert_header(("X-Frame-Options", "DENY"))
            .body(body),
        Err(e) => {
            tracing::error!(error = %e, "rendering an audit page failed");
            HttpResponse::InternalServerError().body("rendering failed")
        }
    }
}

/// A JSON answer of audit data: every string in it masked like the pages'.
fn masked_json(data: &impl serde::Serialize) -> HttpResponse {
    let mut v = serde_json::to_value(data).unwrap_or_default();
    redact::mask_json(&mut v);
    HttpResponse::Ok()
        .insert_header((CACHE_CONTROL, "no-store"))
        .json(v)
}

fn error_page(status: StatusCode, title: &str, message: String) -> HttpResponse {
    html(
        status,
        &ErrorPage {
            title: title.to_owned(),
            message,
        },
    )
}

fn db_error(e: impl std::fmt::Display) -> HttpResponse {
    tracing::error!(error = %e, "audit query failed");
    error_page(
        StatusCode::SERVICE_UNAVAILABLE,
        "Database unavailable",
        "The audit log could not be read; try again shortly.".into(),
    )
}

/// `?refresh=1` turns on the page's auto-refresh.
#[derive(Deserialize)]
struct Refresh {
    refresh: Option<String>,
}

impl Refresh {
    fn refreshing(&self) -> bool {
        self.refresh
            .as_deref()
            .is_some_and(|r| !r.is_empty() && r != "0")
    }
}

/// The likely-quarantine banners (docs/RECONCILE.md), one per page.
async fn banners(reader: &Reader, pages: &Configured) -> Vec<String> {
    match query::unannounced(reader, &pages.with_webhooks).await {
        Ok(rows) => rows
            .iter()
            .map(|u| {
                format!(
                    "{} change(s) on page {} reached the bridge only by polling; the last webhook came at {}. If the subscription was quarantined, subscribe again.",
                    u.changes,
                    u.page_id,
                    u.last_webhook.as_deref().unwrap_or("never")
                )
            })
            .collect(),
        Err(e) => {
            tracing::error!(error = %e, "reading the quarantine banner failed");
            Vec::new()
        }
    }
}

/// `GET /reconcile`
async fn reconcile_page(reader: web::Data<Reader>, pages: web::Data<Configured>) -> HttpResponse {
    let catalogs = match reader.catalogs().await {
        Ok(c) => c,
        Err(e) => return db_error(e),
    };
    match query::rounds(&reader, 100).await {
        Ok(rounds) => {
            let mut view =
                views::ReconcilePage::new(&rounds, &pages.all, banners(&reader, &pages).await);
            view.unknown = catalog::unknown_selectors(&pages.policy, &catalogs)
                .iter()
                .map(ToString::to_string)
                .collect();
            view.health = page_health(&reader, &pages).await;
            html(StatusCode::OK, &view)
        }
        Err(e) => db_error(e),
    }
}

/// Each configured page's health, as reconcile decides it.
async fn page_health(reader: &Reader, pages: &Configured) -> Vec<views::HealthView> {
    let Some(thresholds) = pages.health else {
        return Vec::new();
    };
    let now = chrono::Utc::now();
    let mut out = Vec::new();
    for page in &pages.all {
        let webhooks = pages.with_webhooks.contains(page);
        match reader.page_evidence(page, webhooks).await {
            Ok(e) => {
                let h = crate::rules::health::health(&e, thresholds, now);
                out.push(views::HealthView::new(page, &e, &h));
            }
            Err(e) => tracing::error!(page = %page, error = %e, "reading a page's health failed"),
        }
    }
    out
}

/// `GET /alerts`: what the bridge believes is open in ITOC360 now.
async fn alerts_page(
    reader: web::Data<Reader>,
    pages: web::Data<Configured>,
    r: web::Query<Refresh>,
) -> HttpResponse {
    let now = crate::rules::time::format_time(chrono::Utc::now());
    let closing = match query::held_resolves(&reader, &now).await {
        Ok(c) => c,
        Err(e) => return db_error(e),
    };
    match query::open_alerts(&reader, &now).await {
        Ok(rows) => html(
            StatusCode::OK,
            &views::AlertsPage::new(
                &rows,
                &closing,
                banners(&reader, &pages).await,
                r.refreshing(),
                &pages.destinations,
                &pages.names(&reader).await,
            ),
        ),
        Err(e) => db_error(e),
    }
}

/// `GET /silences`
async fn silences_page(
    reader: web::Data<Reader>,
    form: web::Query<views::SilenceForm>,
) -> HttpResponse {
    match reader.silences().await {
        Ok(all) => html(
            StatusCode::OK,
            &views::SilencesPage::new(&all, form.into_inner(), chrono::Utc::now()),
        ),
        Err(e) => db_error(e),
    }
}

/// `GET /events`
async fn events_page(
    reader: web::Data<Reader>,
    pages: web::Data<Configured>,
    q: web::Query<Filters>,
    r: web::Query<Refresh>,
) -> HttpResponse {
    let filters = q.into_inner();
    let refresh = r.refreshing();
    match query::list(&reader, &filters).await {
        Ok(page) => {
            let mut view = EventsPage::new(&page.events, filters, page.next_cursor, refresh, None)
                .with_pages(&pages.names(&reader).await);
            view.banners = banners(&reader, &pages).await;
            html(StatusCode::OK, &view)
        }
        Err(ListError::BadFilter(e)) => html(
            StatusCode::BAD_REQUEST,
            &EventsPage::new(&[], filters, None, false, Some(e.to_string()))
                .with_pages(&pages.names(&reader).await),
        ),
        Err(ListError::Database(e)) => db_error(e),
    }
}

/// `GET /events/{id}`
async fn event_page(
    reader: web::Data<Reader>,
    pages: web::Data<Configured>,
    id: web::Path<String>,
) -> HttpResponse {
    match query::detail(&reader, &id).await {
        Ok(Some(d)) => html(
            StatusCode::OK,
            &EventPage::new(&d, &pages.names(&reader).await, chrono::Utc::now()),
        ),
        Ok(None) => error_page(
            StatusCode::NOT_FOUND,
            "Not found",
            "No webhook has this id.".into(),
        ),
        Err(e) => db_error(e),
    }
}

/// `GET /api/events`
async fn api_events(reader: web::Data<Reader>, q: web::Query<Filters>) -> HttpResponse {
    match query::list(&reader, &q).await {
        Ok(page) => masked_json(&page),
        Err(ListError::BadFilter(e)) => {
            HttpResponse::BadRequest().json(json!({"error": e.to_string()}))
        }
        Err(ListError::Database(e)) => {
            tracing::error!(error = %e, "audit query failed");
            HttpResponse::ServiceUnavailable().json(json!({"error": "database unavailable"}))
        }
    }
}

/// `GET /api/events/{id}`
async fn api_event(reader: web::Data<Reader>, id: web::Path<String>) -> HttpResponse {
    match query::detail(&reader, &id).await {
        Ok(Some(d)) => {
            let mut v = serde_json::to_value(&d).unwrap_or_default();
            v["body"] = redact::body_for_api(&d.body);
            masked_json(&v)
        }
        Ok(None) => HttpResponse::NotFound().json(json!({"error": "no webhook has this id"})),
        Err(e) => {
            tracing::error!(error = %e, "audit query failed");
            HttpResponse::ServiceUnavailable().json(json!({"error": "database unavailable"}))
        }
    }
}

async fn timeline(reader: &Reader, kind: EntityKind, page: &str, id: &str) -> HttpResponse {
    match query::timeline(reader, kind, page, id).await {
        Ok(Some(t)) => html(StatusCode::OK, &TimelinePage::new(&t, chrono::Utc::now())),
        Ok(None) => error_page(
            StatusCode::NOT_FOUND,
            "Not found",
            format!("No {kind} with this page and id has been seen."),
        ),
        Err(e) => db_error(e),
    }
}

/// `GET /incidents/{page}/{id}`
async fn incident_page(
    reader: web::Data<Reader>,
    path: web::Path<(String, String)>,
) -> HttpResponse {
    timeline(&reader, EntityKind::Incident, &path.0, &path.1).await
}

/// `GET /components/{page}/{id}`
async fn component_page(
    reader: web::Data<Reader>,
    path: web::Path<(String, String)>,
) -> HttpResponse {
    timeline(&reader, EntityKind::Component, &path.0, &path.1).await
}
