//! Audit benchmark: renders `/events`, `/api/events` and `/alerts` (100 open
//! alerts) over a database of
//! one million stored webhooks (generated inside SQLite), with and without
//! filters and deep in the pagination. Prints median and p95 per request.
//!
//!     cargo bench --bench audit [-- ROWS]

use std::time::Instant;

use statuspage_bridge::config::{Secret, Settings, Source};
use statuspage_bridge::startup::Application;

const SEED: &str = "
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1)
INSERT INTO webhooks (id, received_at, source, remote_addr, body, body_bytes, kind, page_id, entity_id,
    entity_name, event_id, old_status, new_status, impact, event_at, outcome, reason, action, priority)
SELECT printf('%08x-0000-4000-8000-%012x', i, i),
       strftime('%Y-%m-%dT%H:%M:%fZ', '2025-01-01', printf('+%d seconds', i * 30)),
       'statuspage', '127.0.0.1',
       '{\"meta\":{\"unsubscribe\":\"https://x/?unsubscribe=abc\"},\"page\":{\"id\":\"p\"},\"incident\":{\"id\":\"i' || (i % 5000) || '\",\"name\":\"Incident ' || (i % 5000) || '\",\"status\":\"investigating\"}}',
       120,
       CASE WHEN i % 3 = 0 THEN 'component' ELSE 'incident' END,
       'p', 'e' || (i % 5000),
       CASE WHEN i % 3 = 0 THEN 'Component ' ELSE 'Incident ' END || (i % 5000),
       'u' || i, 'investigating', 'identified', 'major',
       strftime('%Y-%m-%dT%H:%M:%fZ', '2025-01-01', printf('+%d seconds', i * 30)),
       CASE i % 10 WHEN 0 THEN 'triggered' WHEN 1 THEN 'resolved' WHEN 2 THEN 'duplicate'
                   WHEN 3 THEN 'no_change' WHEN 9 THEN CASE WHEN i % 1000 = 9 THEN 'stale' ELSE 'deduplicated' END
                   ELSE 'deduplicated' END,
       'investigating → identified: alert already open at high', NULL, NULL
FROM n";

const OUTBOX: &str = "
INSERT INTO outbox (webhook_id, created_at, fingerprint, kind, page_id, entity_id, action, priority, title,
    message, status, impact, link, starts_at, ends_at, state, attempts, next_attempt_at, queued_at, finished_at)
SELECT id, received_at, 'statuspage:p:' || kind || ':' || entity_id, kind, 'p', entity_id,
       CASE outcome WHEN 'resolved' THEN 'resolve' ELSE 'trigger' END, 'high', 'title', 'message',
       new_status, 'major', NULL, received_at, NULL, 'delivered', 1, received_at, received_at, received_at
FROM webhooks WHERE outcome IN ('triggered', 'resolved')";

/// 5000 incidents, one in 50 with an open alert (for `/alerts`).
const INCIDENTS: &str = "
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 4999)
INSERT INTO incidents (source, page_id, incident_id, name, status, impact, started_at, alert_open,
    alert_priority, first_seen_at, updated_at)
SELECT 'statuspage', 'p', 'e' || i, 'Incident ' || i, 'investigating', 'major',
       '2025-01-01T00:00:00.000Z', CASE WHEN i % 50 = 0 THEN 1 ELSE 0 END, 'high',
       '2025-01-01T00:00:00.000Z', '2025-01-01T00:00:00.000Z'
FROM n";

fn pct(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let rows: i64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir()?;
    let mut s = Settings::default();
    s.server.listen = "127.0.0.1:0".into();
    s.database.path = dir.path().join("audit.db");
    s.sources = vec![Source {
        name: "statuspage".into(),
        token: Secret::new("bench-token-0123456789abcdef"),
    }];

    statuspage_bridge::storage::migrate(&s.database.path)?;
    let t = Instant::now();
    let pool = sqlx::SqlitePool::connect_with(
        sqlx::sqlite::SqliteConnectOptions::new().filename(&s.database.path),
    )
    .await?;
    sqlx::query(SEED).bind(rows).execute(&pool).await?;
    sqlx::query(OUTBOX).execute(&pool).await?;
    sqlx::query(INCIDENTS).execute(&pool).await?;
    sqlx::query("ANALYZE").execute(&pool).await?;
    pool.close().await;
    let size = std::fs::metadata(&s.database.path)?.len();
    println!(
        "seeded {rows} webhooks in {:.1} s ({} MB)",
        t.elapsed().as_secs_f64(),
        size / 1_000_000
    );

    let app = Application::build(s).await?;
    let base = format!("http://127.0.0.1:{}", app.port());
    let handle = app.server_handle();
    let run = tokio::spawn(app.run_until_stopped());
    let client = reqwest::Client::new();

    // A cursor about half-way down: 10 000 pages of 50 deep is not needed
    // to reach it, keyset pagination seeks straight there.
    let mid: serde_json::Value = client
        .get(format!("{base}/api/events?limit=1&to=2025-06-01"))
        .send()
        .await?
        .json()
        .await?;
    let deep = format!(
        "/events?before={}",
        mid["next_cursor"].as_str().unwrap_or_default()
    );

    let cases = [
        "/events".to_owned(),
        "/events?kind=component".to_owned(),
        "/events?outcome=resolved".to_owned(),
        "/events?outcome=stale".to_owned(),
        "/events?q=Incident%204242".to_owned(),
        "/events?q=Incident".to_owned(),
        "/events?q=nt%2042".to_owned(),
        "/events?q=zzz".to_owned(),
        "/events?from=2025-03-01&to=2025-03-02".to_owned(),
        deep,
        "/alerts".to_owned(),
        "/api/events".to_owned(),
        "/api/events?limit=500".to_owned(),
        "/api/events?kind=incident&outcome=triggered".to_owned(),
    ];
    println!(
        "{:<48} {:>10} {:>10} {:>8}",
        "request (50 rows a page unless said)", "median ms", "p95 ms", "bytes"
    );
    for path in &cases {
        let mut times = Vec::new();
        let mut bytes = 0;
        for _ in 0..30 {
            let t = Instant::now();
            let r = client.get(format!("{base}{path}")).send().await?;
            assert!(r.status().is_success(), "{path}: {}", r.status());
            bytes = r.bytes().await?.len();
            times.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        times.sort_by(|a, b| a.partial_cmp(b).unwrap());
        let shown: String = path.chars().take(48).collect();
        println!(
            "{shown:<48} {:>10.2} {:>10.2} {bytes:>8}",
            pct(&times, 0.5),
            pct(&times, 0.95)
        );
    }
    handle.stop(true).await;
    run.await??;
    Ok(())
}
