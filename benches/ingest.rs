//! Ingest benchmark: the bridge (the release binary, a child process, dry
//! run, FULL sync, its database on the real disk) beside a no-op actix
//! handler, both driven over loopback by the same load generator, at 1, 16
//! and 64 concurrent senders (keep-alive connections).
//!
//! Two workloads, each a real Statuspage sample edited:
//! - `unique`, the worst case: every body has fresh ids — half new
//!   incidents (investigating, critical, one component), half component
//!   outages — so every request walks the whole pipeline, writes an outbox
//!   row and dirties fresh index pages;
//! - `outage`, what a real outage looks like: a few hundred entities,
//!   incidents of 3–8 updates each listing one or two components,
//!   components that flap, and 10 % repeated deliveries.
//!
//! Prints requests/s, p50 and p99 per run, the bridge's share of the no-op
//! figure, the writer thread's CPU time per webhook and the mean batch
//! size, what the bridge wrote per webhook (KB and write calls: WAL frames,
//! checkpoints), then the batch-size distribution and the bridge's peak RSS, and
//! checks that the database holds exactly the webhooks answered 2xx, and an
//! outbox row for each of the unique ones (exit 1 if not).
//!
//!     cargo bench --bench ingest [-- REQUESTS_AT_64]
//!
//! `INGEST_BENCH_WORKLOADS=outage` (or `unique`) runs only that workload;
//! `INGEST_BENCH_DIR=/dev/shm` puts the database on tmpfs.
//!
//! `INGEST_BENCH_ROUTING=1` runs the bridge with a realistic routing
//! configuration (a page with filters, three routes) instead of none.
//!
//! `INGEST_BENCH_DATABASE_URL=postgres://…` runs it on PostgreSQL instead
//! (a new database is made on that server for the run), and
//! `INGEST_BENCH_REPLICAS=2` starts two bridges on it, each sender talking
//! to one of them. The writer thread's CPU time is SQLite's only. Before
//! each phase the bench runs `ANALYZE` there, as autovacuum does in a
//! database in service: the replicas plan each statement once, and plans
//! made on a new database's empty tables, before any analyze, can read a
//! table through the wrong index until autovacuum gets to it.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

mod common;
use common::{body, outage_bodies};

const TOKEN: &str = "bench-source-token-0123456789abcdef";
/// CPU seconds the bridge's `sqlite-writer` thread has used so far.
fn writer_cpu_secs(pid: u32) -> f64 {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0.0;
    };
    for t in tasks.flatten() {
        let comm = std::fs::read_to_string(t.path().join("comm")).unwrap_or_default();
        if comm.trim() != "sqlite-writer" {
            continue;
        }
        let stat = std::fs::read_to_string(t.path().join("stat")).unwrap_or_default();
        // Fields after the ")" closing the name: state is field 3, utime 14.
        let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
        let f: Vec<&str> = rest.split_whitespace().collect();
        let ticks: f64 = f.get(11).and_then(|v| v.parse().ok()).unwrap_or(0.0)
            + f.get(12).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
        return ticks / 100.0; // USER_HZ
    }
    0.0
}

/// Bytes the bridge has written with `write`-like calls (WAL frames,
/// checkpoints, logs) and how many such calls, from `/proc/PID/io`.
fn written(pid: u32) -> (f64, f64) {
    let io = std::fs::read_to_string(format!("/proc/{pid}/io")).unwrap_or_default();
    let field = |name: &str| {
        io.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (field("wchar:"), field("syscw:"))
}

/// `GET /metrics` of the bridge.
fn metrics(addr: SocketAddr) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    let _ = stream.read_to_string(&mut text);
    text
}

/// (batches, jobs) the writer has committed, from `/metrics`.
fn batches(text: &str) -> (f64, f64) {
    let value = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0.0)
    };
    (
        value("statuspage_bridge_write_batch_size_count "),
        value("statuspage_bridge_write_batch_size_sum "),
    )
}

fn request(addr: SocketAddr, body: &[u8]) -> Vec<u8> {
    let mut r = format!(
        "POST /webhooks/statuspage?token={TOKEN} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    r.extend_from_slice(body);
    r
}

/// Reads one HTTP/1.1 response; returns its status.
fn read_response(stream: &mut TcpStream, buf: &mut Vec<u8>) -> std::io::Result<u16> {
    buf.clear();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = std::str::from_utf8(&buf[..head_end]).unwrap_or("");
    let status: u16 = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .unwrap_or(0);
    while buf.len() < head_end + length {
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Ok(status)
}

struct Figures {
    ok: usize,
    refused: usize,
    per_sec: f64,
    p50_ms: f64,
    p99_ms: f64,
}

/// Sends every prepared request from `senders` threads, one keep-alive
/// connection each (to the replicas in turn), taking the next request
/// from a shared counter.
fn drive(addrs: &[SocketAddr], requests: Arc<Vec<Vec<u8>>>, senders: usize) -> Figures {
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let threads: Vec<_> = (0..senders)
        .map(|i| {
            let (requests, next) = (requests.clone(), next.clone());
            let addr = addrs[i % addrs.len()];
            std::thread::spawn(move || {
                let mut stream = TcpStream::connect(addr).unwrap();
                stream.set_nodelay(true).unwrap();
                let mut buf = Vec::with_capacity(8192);
                let (mut lat, mut ok, mut refused) = (Vec::new(), 0, 0);
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(req) = requests.get(i) else { break };
                    let t = Instant::now();
                    stream.write_all(req).unwrap();
                    let status = read_response(&mut stream, &mut buf).unwrap();
                    lat.push(t.elapsed().as_micros() as u32);
                    if (200..300).contains(&status) {
                        ok += 1;
                    } else {
                        refused += 1;
                    }
                }
                (lat, ok, refused)
            })
        })
        .collect();
    let (mut lat, mut ok, mut refused) = (Vec::new(), 0, 0);
    for t in threads {
        let (l, o, r) = t.join().unwrap();
        lat.extend(l);
        ok += o;
        refused += r;
    }
    let secs = started.elapsed().as_secs_f64();
    lat.sort_unstable();
    let pct = |p: f64| lat[((lat.len() - 1) as f64 * p).round() as usize] as f64 / 1000.0;
    Figures {
        ok,
        refused,
        per_sec: (ok + refused) as f64 / secs,
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
    }
}

/// A no-op handler on its own thread: the HTTP layer's ceiling.
fn start_noop() -> SocketAddr {
    use actix_web::{App, HttpResponse, HttpServer, web};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            HttpServer::new(|| {
                App::new()
                    .route(
                        "/webhooks/statuspage",
                        web::post().to(|body: web::Bytes| async move {
                            HttpResponse::Ok().json(
                                json!({"id": "noop", "outcome": "ignored", "bytes": body.len()}),
                            )
                        }),
                    )
                    .route(
                        "/api/v2/summary.json",
                        web::get().to(|| async { HttpResponse::Ok().json(summary()) }),
                    )
            })
            .workers(2)
            .listen(listener)
            .unwrap()
            .run()
            .await
            .unwrap()
        })
    });
    addr
}

/// The page's `summary.json` for the routing run: a vendor-sized page of
/// 60 components in 6 groups, all operational, nothing going on, so the
/// bridge learns its name and groups and heals nothing.
fn summary() -> Value {
    let mut components = Vec::new();
    for g in 0..6 {
        components.push(
            json!({"id": format!("grp{g}"), "name": format!("Group {g}"),
            "status": "operational", "group": true, "group_id": null}),
        );
        for c in 0..10 {
            components.push(
                json!({"id": format!("c{g}x{c}"), "name": format!("Service {g}.{c}"),
                "status": "operational", "group": false, "group_id": format!("grp{g}")}),
            );
        }
    }
    json!({"page": {"id": "x1y2z3a4b5c6", "name": "Example Cloud"},
           "components": components, "incidents": [], "scheduled_maintenances": []})
}

/// Starts the bridge binary; its log goes to a file (read for the
/// listening line), so the bench does not pay for reading it. With
/// routing, `status_api` serves the page's `summary.json`.
#[allow(clippy::zombie_processes)] // waited for at the end of `main`
fn start_bridge(
    dir: &Path,
    status_api: SocketAddr,
    url: Option<&str>,
    name: &str,
) -> (Child, SocketAddr) {
    let db = dir.join("bench.db");
    let config = dir.join(format!("{name}.toml"));
    let mut text = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\n\n[database]\npath = \"{}\"\nurl = \"{}\"\n\n[[sources]]\nname = \"statuspage\"\ntoken = \"{TOKEN}\"\n",
        db.display(),
        url.unwrap_or_default()
    );
    if std::env::var_os("INGEST_BENCH_ROUTING").is_some() {
        text.push_str(&ROUTING.replace("STATUS_API", &status_api.to_string()));
    }
    std::fs::write(&config, text).unwrap();
    let log_path = dir.join(format!("{name}.log"));
    let log = std::fs::File::create(&log_path).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_statuspage-bridge"))
        .args(["serve", "--config"])
        .arg(&config)
        .env_remove("ITOC360_TOKEN")
        .env_remove("BRIDGE_LISTEN")
        .env_remove("BRIDGE_DATABASE")
        .env_remove("BRIDGE_DATABASE_URL")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let text = std::fs::read_to_string(&log_path).unwrap_or_default();
        if let Some(rest) = text.split("listening on http://").nth(1) {
            let addr = rest.split_whitespace().next().unwrap().parse().unwrap();
            return (child, addr);
        }
        assert!(
            Instant::now() < deadline,
            "the bridge did not start:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A realistic routing configuration (`INGEST_BENCH_ROUTING=1`): a page
/// with filters (by name and by a group learned from its summary.json,
/// read once at start) and three routes. Every body of the bench still
/// makes exactly one event: the first route takes the API and stops.
const ROUTING: &str = r#"
[reconcile]
interval_secs = 86400

[[pages]]
id = "x1y2z3a4b5c6"
webhooks = false
base_url = "http://STATUS_API"
ignore_components = ["Codespaces", "Group 3"]
min_priority = "low"
incidents = "all"

[[routes]]
name = "api-team"
components = ["API", "API Requests"]

[[routes]]
name = "incidents"
kinds = ["incident"]

[[routes]]
name = "everything-else"
pages = ["x1y2z3a4b5c6"]
"#;

/// Peak resident set of a process so far, in MB.
fn peak_rss_mb(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// A new database on the PostgreSQL server at `server`; its URL.
fn new_database(server: &str) -> String {
    let name = format!("bench_{}", std::process::id());
    let admin = server.to_owned();
    let create = name.clone();
    on_runtime(async move {
        let pool = sqlx::PgPool::connect(&admin).await.unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {create}"
        )))
        .execute(&pool)
        .await
        .unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {create}")))
            .execute(&pool)
            .await
            .unwrap();
    });
    let (base, _) = server.rsplit_once('/').unwrap();
    format!("{base}/{name}")
}

/// `ANALYZE` of every table of the database at `url`.
fn analyze(url: &str) {
    let url = url.to_owned();
    on_runtime(async move {
        let pool = sqlx::PgPool::connect(&url).await.unwrap();
        sqlx::query("ANALYZE").execute(&pool).await.unwrap();
    });
}

fn count_postgres(url: &str, sql: &str) -> usize {
    let (url, sql) = (url.to_owned(), sql.to_owned());
    on_runtime(async move {
        let pool = sqlx::PgPool::connect(&url).await.unwrap();
        let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .fetch_one(&pool)
            .await
            .unwrap();
        n as usize
    })
}

fn on_runtime<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

fn main() {
    let at_64: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(60_000);
    // The database on the real disk (the target folder), not on tmpfs;
    // INGEST_BENCH_DIR puts it elsewhere (e.g. /dev/shm, to see what the
    // disk costs).
    let base = std::env::var("INGEST_BENCH_DIR").unwrap_or(env!("CARGO_TARGET_TMPDIR").into());
    let dir = tempfile::tempdir_in(base).unwrap();
    let noop = start_noop();
    let postgres = std::env::var("INGEST_BENCH_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
        .map(|server| new_database(&server));
    let replicas: usize = std::env::var("INGEST_BENCH_REPLICAS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(1)
        .max(1);
    assert!(
        replicas == 1 || postgres.is_some(),
        "several replicas need INGEST_BENCH_DATABASE_URL"
    );
    let mut bridges = Vec::new();
    for r in 0..replicas {
        bridges.push(start_bridge(
            dir.path(),
            noop,
            postgres.as_deref(),
            &format!("bridge{r}"),
        ));
    }
    let addrs: Vec<SocketAddr> = bridges.iter().map(|(_, a)| *a).collect();
    let addr = addrs[0];
    let pid = bridges[0].0.id();
    println!(
        "engine: {}",
        match &postgres {
            Some(_) => format!("PostgreSQL, {replicas} replica(s)"),
            None => "SQLite".to_owned(),
        }
    );

    let plan = [(1usize, at_64 / 20), (16, at_64 / 2), (64, at_64)];
    println!(
        "{:>8} {:>8} {:>10} {:>10} {:>9} {:>9} {:>9} {:>12} {:>7} {:>9} {:>9}",
        "workload",
        "senders",
        "target",
        "req/s",
        "p50 ms",
        "p99 ms",
        "non-2xx",
        "writer µs/wh",
        "batch",
        "KB/wh",
        "writes/wh"
    );
    let (mut answered_2xx, mut bridge_requests, mut unique_2xx) = (0usize, 0usize, 0usize);
    // Warm-up: connections, caches, the database file's first pages.
    let warm: Vec<Vec<u8>> = (0..2000).map(|n| request(addr, &body("warm", n))).collect();
    let w = drive(&addrs, Arc::new(warm), 16);
    answered_2xx += w.ok;
    unique_2xx += w.ok;
    bridge_requests += w.ok + w.refused;
    // INGEST_BENCH_WORKLOADS=outage runs one of them (e.g. to profile it).
    let only = std::env::var("INGEST_BENCH_WORKLOADS").unwrap_or_default();
    for workload in ["unique", "outage"]
        .into_iter()
        .filter(|w| only.is_empty() || only.split(',').any(|o| o == *w))
    {
        for (run, (senders, count)) in plan.into_iter().enumerate() {
            let count = count.max(200);
            if let Some(url) = &postgres {
                analyze(url);
            }
            let noop_reqs: Vec<Vec<u8>> =
                (0..count).map(|n| request(noop, &body("n", n))).collect();
            let n = drive(&[noop], Arc::new(noop_reqs), senders);
            let tag = format!("r{run}x");
            let bodies: Vec<Vec<u8>> = if workload == "unique" {
                (0..count).map(|n| body(&tag, n)).collect()
            } else {
                outage_bodies(&tag, count)
            };
            let reqs: Vec<Vec<u8>> = bodies.iter().map(|b| request(addr, b)).collect();
            let (cpu_before, (batches_before, jobs_before), io_before) =
                (writer_cpu_secs(pid), batches(&metrics(addr)), written(pid));
            let b = drive(&addrs, Arc::new(reqs), senders);
            let (cpu_after, (batches_after, jobs_after), io_after) =
                (writer_cpu_secs(pid), batches(&metrics(addr)), written(pid));
            answered_2xx += b.ok;
            if workload == "unique" {
                unique_2xx += b.ok;
            }
            bridge_requests += b.ok + b.refused;
            let writer_us = 1e6 * (cpu_after - cpu_before) / (b.ok.max(1) as f64);
            let mean_batch = (jobs_after - jobs_before) / (batches_after - batches_before).max(1.0);
            let per_webhook = |after: f64, before: f64| (after - before) / (b.ok.max(1) as f64);
            let kb = per_webhook(io_after.0, io_before.0) / 1024.0;
            let writes = per_webhook(io_after.1, io_before.1);
            for (name, f) in [("no-op", &n), ("bridge", &b)] {
                let (cpu, batch, kb, writes) = if name == "bridge" && postgres.is_none() {
                    (
                        format!("{writer_us:.0}"),
                        format!("{mean_batch:.1}"),
                        format!("{kb:.1}"),
                        format!("{writes:.1}"),
                    )
                } else {
                    Default::default()
                };
                println!(
                    "{workload:>8} {senders:>8} {name:>10} {:>10.0} {:>9.2} {:>9.2} {:>9} {cpu:>12} {batch:>7} {kb:>9} {writes:>9}",
                    f.per_sec, f.p50_ms, f.p99_ms, f.refused
                );
            }
            println!(
                "{workload:>8} {senders:>8} {:>10} {:>9.1} %",
                "share",
                100.0 * b.per_sec / n.per_sec
            );
        }
    }
    let text = metrics(addr);
    println!("batch sizes (committed batches holding at most N jobs, cumulative):");
    for l in text
        .lines()
        .filter(|l| l.starts_with("statuspage_bridge_write_batch_size_bucket"))
    {
        println!("  {l}");
    }
    println!("bridge peak RSS: {:.1} MB", peak_rss_mb(pid));

    // Stop the bridges cleanly, then count what they stored.
    for (mut bridge, _) in bridges {
        let _ = Command::new("kill")
            .args(["-TERM", &bridge.id().to_string()])
            .status();
        let _ = bridge.wait();
    }
    if let Ok(keep) = std::env::var("INGEST_BENCH_LOG") {
        let _ = std::fs::copy(dir.path().join("bridge0.log"), keep);
    }
    let count = |sql: &str| -> usize {
        match &postgres {
            Some(url) => count_postgres(url, sql),
            None => {
                let conn = rusqlite::Connection::open(dir.path().join("bench.db")).unwrap();
                conn.query_row(sql, [], |r| r.get::<_, i64>(0)).unwrap() as usize
            }
        }
    };
    let webhooks = count("SELECT count(*) FROM webhooks");
    let outbox = count(
        "SELECT count(*) FROM outbox o JOIN webhooks w ON w.id = o.webhook_id
         WHERE w.entity_id NOT LIKE 'o%'",
    );
    if std::env::var_os("INGEST_BENCH_ROUTING").is_some() {
        let learned = count("SELECT count(*) FROM learned_components");
        println!("routing: components learned from summary.json: {learned}");
        if learned == 0 {
            eprintln!("the page was not learned: the routing run did not measure what it should");
            std::process::exit(1);
        }
    }
    println!(
        "requests to the bridge: {bridge_requests}, answered 2xx: {answered_2xx}, webhooks stored: {webhooks}, outbox rows of the unique workload: {outbox} (of {unique_2xx} answered)"
    );
    if webhooks != answered_2xx || outbox != unique_2xx {
        eprintln!("MISMATCH: the database does not hold exactly the webhooks answered 2xx");
        std::process::exit(1);
    }
    println!(
        "ok: the database holds exactly the webhooks answered 2xx, each unique one with its outbox row"
    );
}
