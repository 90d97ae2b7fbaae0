//! Delivery benchmark: webhooks in, events out to a local fake ITOC360 that
//! answers every request after 5 ms. Prints webhook ingest rate, events
//! delivered per second, and the latency from a webhook's receipt (its
//! decision is committed right after) to ITOC360 seeing the request.
//!
//!     cargo bench --bench delivery [-- EVENTS [CLIENTS]]

use std::collections::HashMap;
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{App, HttpResponse, HttpServer, web};
use chrono::{DateTime, Utc};
use statuspage_bridge::config::{Secret, Settings, Source};
use statuspage_bridge::startup::Application;

type Arrivals = Arc<Mutex<HashMap<String, DateTime<Utc>>>>;

async fn fake(body: web::Json<serde_json::Value>, seen: web::Data<Arrivals>) -> HttpResponse {
    let at = Utc::now();
    let id = body["id"].as_str().unwrap_or_default().to_owned();
    seen.lock().unwrap().entry(id).or_insert(at);
    tokio::time::sleep(Duration::from_millis(5)).await;
    HttpResponse::Accepted().json(serde_json::json!({"type": "ALERT"}))
}

fn incident(n: usize) -> String {
    serde_json::json!({
        "meta": {"unsubscribe": "https://example.test/?unsubscribe=x", "generated_at": "2025-03-04T10:15:03Z"},
        "page": {"id": "benchpage"},
        "incident": {
            "id": format!("inc{n}"), "name": format!("Incident {n}"), "status": "investigating",
            "impact": "major", "updated_at": "2025-03-04T10:15:02Z", "started_at": "2025-03-04T10:15:00Z",
            "incident_updates": [{"id": format!("u{n}"), "status": "investigating", "body": "Looking into it",
                                  "created_at": "2025-03-04T10:15:01Z"}]
        }
    })
    .to_string()
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let events = args.first().copied().unwrap_or(5000);
    let clients = args.get(1).copied().unwrap_or(16);

    let seen: Arrivals = Arc::default();
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let fake_url = format!("http://{}", listener.local_addr()?);
    let data = web::Data::new(seen.clone());
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .route("/functions/v1/events", web::post().to(fake))
    })
    .workers(2)
    .disable_signals()
    .listen(listener)?
    .run();
    tokio::spawn(server);

    let dir = tempfile::tempdir()?;
    let mut s = Settings::default();
    s.server.listen = "127.0.0.1:0".into();
    s.database.path = dir.path().join("bench.db");
    s.sources = vec![Source {
        name: "statuspage".into(),
        token: Secret::new("bench-token-0123456789abcdef"),
    }];
    s.itoc360.base_url = fake_url;
    s.itoc360.token = Secret::new("itoc");
    let concurrency = s.delivery.concurrency;
    let app = Application::build(s.clone()).await?;
    let base = format!(
        "http://127.0.0.1:{}/webhooks/statuspage?token=bench-token-0123456789abcdef",
        app.port()
    );
    let handle = app.server_handle();
    let run = tokio::spawn(app.run_until_stopped());

    let client = reqwest::Client::new();
    let start = Instant::now();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (client, base, next) = (client.clone(), base.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if n >= events {
                    break;
                }
                let r = client
                    .post(&base)
                    .body(incident(n))
                    .send()
                    .await
                    .expect("post");
                assert_eq!(r.status().as_u16(), 200);
            }
        }));
    }
    for t in tasks {
        t.await?;
    }
    let ingest = start.elapsed();
    while seen.lock().unwrap().len() < events {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let all_sent = start.elapsed();

    // Receipt time of each decision, from the database.
    let pool = sqlx::SqlitePool::connect_with(
        sqlx::sqlite::SqliteConnectOptions::new().filename(&s.database.path),
    )
    .await?;
    let decided: Vec<(String, String)> =
        sqlx::query_as("SELECT fingerprint, created_at FROM outbox")
            .fetch_all(&pool)
            .await?;
    let arrivals = seen.lock().unwrap().clone();
    let mut lat: Vec<f64> = decided
        .iter()
        .filter_map(|(fp, created)| {
            let t0 = DateTime::parse_from_rfc3339(created)
                .ok()?
                .with_timezone(&Utc);
            let t1 = arrivals.get(fp)?;
            Some((*t1 - t0).num_microseconds()? as f64 / 1000.0)
        })
        .collect();
    lat.sort_by(|a, b| a.partial_cmp(b).unwrap());
    // Let the last attempts be recorded before stopping.
    loop {
        let pending: i64 =
            sqlx::query_scalar("SELECT count(*) FROM outbox WHERE state != 'delivered'")
                .fetch_one(&pool)
                .await?;
        if pending == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let delivered = start.elapsed();
    handle.stop(true).await;
    run.await??;

    println!(
        "delivery benchmark: {events} webhooks, {clients} concurrent senders, fake ITOC360 answering in 5 ms, delivery.concurrency = {concurrency}"
    );
    println!(
        "  ingest: {:.0} webhooks/s ({:.2} s for all, each committed with synchronous=FULL before its 2xx)",
        events as f64 / ingest.as_secs_f64(),
        ingest.as_secs_f64()
    );
    println!(
        "  delivery: {:.0} events/s end to end (last request seen after {:.2} s, all recorded delivered after {:.2} s)",
        events as f64 / all_sent.as_secs_f64(),
        all_sent.as_secs_f64(),
        delivered.as_secs_f64()
    );
    println!(
        "  receipt → ITOC360 request latency: p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms (n = {})",
        pct(&lat, 0.5),
        pct(&lat, 0.9),
        pct(&lat, 0.99),
        lat.last().copied().unwrap_or_default(),
        lat.len()
    );
    Ok(())
}
