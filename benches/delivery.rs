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

fn incident(id: &str) -> String {
    serde_json::json!({
        "meta": {"unsubscribe": "https://example.test/?unsubscribe=x", "generated_at": "2025-03-04T10:15:03Z"},
        "page": {"id": "benchpage"},
        "incident": {
            "id": id, "name": format!("Incident {id}"), "status": "investigating",
            "impact": "major", "updated_at": "2025-03-04T10:15:02Z", "started_at": "2025-03-04T10:15:00Z",
            "incident_updates": [{"id": format!("u-{id}"), "status": "investigating", "body": "Looking into it",
                                  "created_at": "2025-03-04T10:15:01Z"}]
        }
    })
    .to_string()
}

/// Milliseconds from each decision's receipt (`outbox.created_at`; its
/// commit follows within the same millisecond or two) to the fake's first
/// sight of its fingerprint, sorted.
async fn latencies(
    pool: &sqlx::SqlitePool,
    seen: &Arrivals,
    entity_like: &str,
) -> anyhow::Result<Vec<f64>> {
    let decided: Vec<(String, String)> =
        sqlx::query_as("SELECT fingerprint, created_at FROM outbox WHERE entity_id LIKE ?")
            .bind(entity_like)
            .fetch_all(pool)
            .await?;
    let arrivals = seen.lock().unwrap().clone();
    let mut lat: Vec<f64> = decided
        .iter()
        .filter_map(|(fp, created)| {
            let t0 = DateTime::parse_from_rfc3339(created)
                .ok()?
                .with_timezone(&Utc);
            Some((*arrivals.get(fp)? - t0).num_microseconds()? as f64 / 1000.0)
        })
        .collect();
    lat.sort_by(|a, b| a.partial_cmp(b).unwrap());
    Ok(lat)
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
    let pool = sqlx::SqlitePool::connect_with(
        sqlx::sqlite::SqliteConnectOptions::new().filename(&s.database.path),
    )
    .await?;

    // A healthy steady state: one webhook at a time, the next once ITOC360
    // has seen the previous one.
    let paced = 300;
    for n in 0..paced {
        let id = format!("paced{n}");
        let r = client.post(&base).body(incident(&id)).send().await?;
        assert_eq!(r.status().as_u16(), 200);
        let fp = format!("statuspage:benchpage:incident:{id}");
        while !seen.lock().unwrap().contains_key(&fp) {
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
    }
    let steady = latencies(&pool, &seen, "paced%").await?;

    // A burst: `events` webhooks from `clients` concurrent senders.
    let already = seen.lock().unwrap().len();
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
                    .body(incident(&format!("burst{n}")))
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
    while seen.lock().unwrap().len() < already + events {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let all_sent = start.elapsed();
    let burst = latencies(&pool, &seen, "burst%").await?;
    handle.stop(true).await;
    run.await??;

    println!(
        "delivery benchmark: fake ITOC360 answering in 5 ms, delivery.concurrency = {concurrency}"
    );
    let show = |name: &str, lat: &[f64]| {
        println!(
            "  receipt → ITOC360 request, {name}: p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms (n = {})",
            pct(lat, 0.5),
            pct(lat, 0.9),
            pct(lat, 0.99),
            lat.last().copied().unwrap_or_default(),
            lat.len()
        )
    };
    show("one webhook at a time", &steady);
    println!("  burst of {events} webhooks from {clients} concurrent senders:");
    println!(
        "    ingest {:.0} webhooks/s (each committed with synchronous=FULL before its 2xx)",
        events as f64 / ingest.as_secs_f64()
    );
    println!(
        "    delivery {:.0} events/s (last event reached ITOC360 {:.2} s after the first webhook)",
        events as f64 / all_sent.as_secs_f64(),
        all_sent.as_secs_f64()
    );
    show("during the burst (queueing)", &burst);
    Ok(())
}
