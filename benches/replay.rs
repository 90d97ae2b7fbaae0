//! Replay benchmark: builds a stored history of N webhooks (default
//! 200 000: the ingest bench's outage mix — incidents of 3–8 updates,
//! flapping components, 10 % repeats — with half as many unique-id bodies
//! beside it), through the bridge's own write path into a database file,
//! then times `replay` over it: the backup of the live file, the scratch
//! copy's migrations and every webhook through the rules again.
//!
//!     cargo bench --bench replay [-- WEBHOOKS]
//!
//! `REPLAY_BENCH_HISTORY=<file>` keeps the history in that file and, when
//! it already exists, replays it as it is instead of building a new one
//! (to compare builds on the same history).
//!
//! Prints the build and replay rates, and checks that the replay found no
//! difference (the same rules decide the same; exit 1 if not).

use std::sync::Arc;
use std::time::Instant;

use chrono::{Duration, TimeZone, Utc};
use statuspage_bridge::pipeline;
use statuspage_bridge::replay;
use statuspage_bridge::rules::domain::Origin;
use statuspage_bridge::rules::machine::Rules;
use statuspage_bridge::rules::plan::{Delivery, Reading};
use statuspage_bridge::rules::platform::Platform;
use statuspage_bridge::storage::{self, ingest};

mod common;
use common::{body, outage_bodies};

/// Webhooks per generated chunk (and per transaction while building).
const CHUNK: usize = 20_000;

fn main() {
    let total: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(200_000);
    let base = std::env::var("REPLAY_BENCH_DIR").unwrap_or(env!("CARGO_TARGET_TMPDIR").into());
    let dir = tempfile::tempdir_in(base).unwrap();
    let kept = std::env::var_os("REPLAY_BENCH_HISTORY").map(std::path::PathBuf::from);
    let live = kept
        .clone()
        .unwrap_or_else(|| dir.path().join("history.db"));
    let total = match &kept {
        Some(file) if file.exists() => {
            storage::migrate_quietly(file).unwrap();
            let conn = rusqlite::Connection::open(file).unwrap();
            let n: i64 = conn
                .query_row("SELECT count(*) FROM webhooks", [], |r| r.get(0))
                .unwrap();
            println!("history: {n} webhooks, kept in {}", file.display());
            n as usize
        }
        _ => build(&live, total),
    };

    let started = Instant::now();
    let mut differences = 0u64;
    let replayed = replay::run(&live, Rules::default(), dir.path(), |_| differences += 1).unwrap();
    let secs = started.elapsed().as_secs_f64();
    println!(
        "replay: {replayed} webhooks in {secs:.1} s ({:.0}/s; 1 000 000 would take {:.0} s), {differences} differences",
        replayed as f64 / secs,
        1e6 * secs / replayed as f64
    );
    if replayed as usize != total || differences != 0 {
        eprintln!("MISMATCH: the replay should see every webhook and decide each as recorded");
        std::process::exit(1);
    }
}

/// Writes a history of `total` webhooks into `live`, as the bridge writes
/// it (no durability needed).
fn build(live: &std::path::Path, total: usize) -> usize {
    let started = Instant::now();
    storage::migrate_quietly(live).unwrap();
    let conn = rusqlite::Connection::open(live).unwrap();
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = OFF; PRAGMA cache_size = -64000;",
    )
    .unwrap();
    conn.set_prepared_statement_cache_capacity(storage::sqlite::STATEMENT_CACHE);
    let t0 = Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap();
    let policy = Arc::default();
    let mut n = 0usize;
    let mut chunk = 0usize;
    while n < total {
        let size = CHUNK.min(total - n);
        let tag = format!("k{chunk}x");
        let mut bodies = outage_bodies(&tag, size * 2 / 3);
        bodies.extend((0..size - bodies.len()).map(|i| body(&tag, i)));
        let tx = conn.unchecked_transaction().unwrap();
        for b in bodies {
            let at = t0 + Duration::milliseconds(n as i64 * 10);
            let job = ingest::Job {
                id: format!("w{n:09}"),
                source: "statuspage".into(),
                remote_addr: None,
                body: b,
                received_at: at,
                origin: Origin::Webhook,
                shape: Platform::Statuspage,
            };
            let decide = pipeline::decide(
                Rules::default(),
                Delivery::DryRun,
                Arc::clone(&policy),
                at,
                Origin::Webhook,
                Platform::Statuspage,
            );
            ingest::ingest(
                statuspage_bridge::storage::sqlite::conn(&tx),
                &job,
                &Reading::of(job.shape, &job.body, &job.origin),
                decide,
            )
            .unwrap();
            n += 1;
        }
        tx.commit().unwrap();
        chunk += 1;
    }
    drop(conn);
    let built = started.elapsed().as_secs_f64();
    let size_mb = std::fs::metadata(live).map_or(0, |m| m.len()) as f64 / 1e6;
    println!(
        "history: {total} webhooks written in {built:.1} s ({:.0}/s), {size_mb:.0} MB",
        total as f64 / built
    );

    total
}
