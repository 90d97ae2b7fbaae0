//! Operational routes: `/healthz` for load balancers and `/metrics` for
//! Prometheus, plus the request log middleware (paths only: the query
//! string can carry a source token and is never logged).

use std::time::Instant;

use crate::metrics::Metrics;
use crate::storage::Reader;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{HttpResponse, web};
use serde_json::json;

/// `GET /healthz`: 200 when the database answers a query, else 503.
pub async fn healthz(reader: web::Data<Reader>) -> HttpResponse {
    match reader.ping().await {
        Ok(_) => HttpResponse::Ok().json(json!({ "status": "ok" })),
        Err(e) => {
            tracing::error!(error = %e, "health check: database does not answer");
            HttpResponse::ServiceUnavailable()
                .json(json!({ "status": "error", "error": "database does not answer" }))
        }
    }
}

/// `GET /metrics`: the registry's metrics, the database writer's batches
/// among them.
pub async fn metrics(metrics: web::Data<Metrics>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
        .body(metrics.render())
}

/// Logs one line per request: method, path (never the query), status,
/// latency and peer.
pub async fn log_requests(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let start = Instant::now();
    let method = req.method().clone();
    let path = req.path().to_owned();
    let peer = req
        .peer_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_default();
    let res = next.call(req).await?;
    let status = res.status().as_u16();
    let ms = start.elapsed().as_secs_f64() * 1000.0;
    if status >= 500 {
        tracing::warn!(%method, %path, status, latency_ms = format!("{ms:.1}"), %peer, "request");
    } else {
        tracing::debug!(%method, %path, status, latency_ms = format!("{ms:.1}"), %peer, "request");
    }
    Ok(res)
}

/// `HEAD` is answered like `GET` on every route: the request is routed as a
/// `GET`, and the HTTP layer (which saw the `HEAD`) sends the head with the
/// body's length and no body.
pub async fn head_as_get(
    mut req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    if req.method() == actix_web::http::Method::HEAD {
        req.head_mut().method = actix_web::http::Method::GET;
    }
    next.call(req).await
}
