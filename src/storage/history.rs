//! The stored history read back in the order the writer stored it, into a
//! scratch database, for `replay`: one consistent copy of the live database
//! (SQLite's backup API; unchecked and unsynced, as it is read once and
//! removed), then every webhook and heal in rowid order, its body already
//! parsed on a second thread, handed to the caller together with a fresh,
//! migrated scratch database to ingest it into. The live database is only
//! read; the scratch folder is removed afterwards.

use std::path::Path;

use anyhow::Context as _;
use rusqlite::types::ValueRef;
use rusqlite::{Connection, Transaction};

use crate::rules::domain::Origin;
use crate::rules::plan::{Context, Plan, Reading};
use crate::rules::platform::Platform;
use crate::rules::time::parse_time;
use crate::storage::ingest::{self, Job};
use crate::storage::{migrate_quietly, upkeep};

/// One stored webhook with what was recorded for it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub job: Job,
    pub kind: String,
    pub page_id: Option<String>,
    pub entity_id: Option<String>,
    pub outcome: String,
    pub action: Option<String>,
    pub priority: Option<String>,
    /// The events it decided for ITOC360: (destination, action, priority),
    /// in order, held and cancelled ones too.
    pub events: Vec<(String, String, String)>,
    /// What the rules read of its body.
    pub reading: Reading,
}

/// The scratch database a replay writes into.
pub struct Scratch<'a> {
    tx: Transaction<'a>,
}

impl Scratch<'_> {
    /// Read → plan → write, as the live writer does, without durability,
    /// and keeping only what later decisions read: no webhook row (so no
    /// raw body: `reading` holds what was read of it) and no transitions.
    pub fn ingest(
        &mut self,
        job: &Job,
        reading: &Reading,
        decide: impl Fn(&Reading, &Context) -> Plan,
    ) -> anyhow::Result<Plan> {
        Ok(ingest::ingest_keeping(
            super::sqlite::conn(&self.tx),
            job,
            reading,
            decide,
            ingest::Record::Decisions,
        )?)
    }
}

/// What only the audit pages, the delivery worker and retention read: the
/// scratch copy is only written and read by the write path, which walks
/// primary keys, `applied_events`' key and `incident_components_component`.
/// Without these a replay writes about half as many B-tree entries.
const AUDIT_ONLY: &str = "
    DROP TRIGGER IF EXISTS webhooks_entity_name;
    DROP INDEX IF EXISTS webhooks_received;
    DROP INDEX IF EXISTS webhooks_kind;
    DROP INDEX IF EXISTS webhooks_outcome;
    DROP INDEX IF EXISTS webhooks_entity;
    DROP INDEX IF EXISTS webhooks_name;
    DROP INDEX IF EXISTS webhooks_origin;
    DROP INDEX IF EXISTS transitions_entity;
    DROP INDEX IF EXISTS transitions_webhook;
    DROP INDEX IF EXISTS applied_events_webhook;
    DROP INDEX IF EXISTS outbox_state;
    DROP INDEX IF EXISTS outbox_leased;
    DROP INDEX IF EXISTS outbox_webhook;
    DROP INDEX IF EXISTS outbox_held;
    DROP INDEX IF EXISTS outbox_lane;
    DROP INDEX IF EXISTS incidents_open;
    DROP INDEX IF EXISTS components_open;";

/// The stored history as a SQLite file `replay` reads: the live file, or a
/// read-only snapshot of PostgreSQL copied into a scratch file (removed
/// when this is dropped).
pub struct Snapshot {
    path: std::path::PathBuf,
    _scratch: Option<tempfile::TempDir>,
}

impl Snapshot {
    /// The live SQLite file itself.
    pub(super) fn live(path: std::path::PathBuf) -> Snapshot {
        Snapshot {
            path,
            _scratch: None,
        }
    }

    /// A copy at `path` in `dir`, removed with it.
    pub(super) fn scratch(path: std::path::PathBuf, dir: tempfile::TempDir) -> Snapshot {
        Snapshot {
            path,
            _scratch: Some(dir),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// The history of the configured database, as a file; a scratch copy goes
/// in `scratch_dir`.
pub async fn snapshot(
    db: &crate::config::DatabaseConfig,
    scratch_dir: &Path,
) -> anyhow::Result<Snapshot> {
    let engine = super::engine::configured(db);
    engine.ensure_exists(db)?;
    engine.snapshot(db, scratch_dir).await
}

/// Webhooks applied per scratch transaction.
const CHUNK: u64 = 20_000;

/// Webhooks the reading thread hands over at once: one wake-up of the
/// other thread per this many, not one per webhook.
const HANDOVER: usize = 256;

/// Hand-overs read ahead of the one being replayed.
const READ_AHEAD: usize = 4;

/// Hands every webhook of the database at `live`, oldest stored first, to
/// `each` with the scratch database (made in `scratch_dir`); returns how
/// many there were.
///
/// Two threads: one reads the history and parses each body (`Reading`),
/// the caller's applies them to the scratch copy in order; the read-ahead
/// is bounded.
pub fn replay(
    live: &Path,
    scratch_dir: &Path,
    mut each: impl FnMut(Recorded, &mut Scratch<'_>) -> anyhow::Result<()>,
) -> anyhow::Result<u64> {
    super::sqlite::configure_sqlite();
    let scratch = tempfile::Builder::new()
        .prefix("statuspage-bridge-replay-")
        .tempdir_in(scratch_dir)
        .with_context(|| format!("making a scratch folder in {}", scratch_dir.display()))?;
    let copy = scratch.path().join("recorded.db");
    upkeep::copy(live, &copy, upkeep::Keep::Scratch)?;
    // A database last opened by an older bridge lacks the newer tables
    // the scratch copy is filled from.
    migrate_quietly(&copy)?;
    let fresh = scratch.path().join("replayed.db");
    migrate_quietly(&fresh)?;

    let scratch_db = Connection::open(&fresh)?;
    scratch_db.set_prepared_statement_cache_capacity(super::sqlite::STATEMENT_CACHE);
    scratch_db.execute_batch(AUDIT_ONLY)?;
    // No durability, and no foreign-key lookups: the copy is thrown away,
    // and it is written by the write path that the live database's
    // constraints already hold to.
    scratch_db.execute_batch(
        "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA foreign_keys = OFF;
         PRAGMA temp_store = MEMORY; PRAGMA cache_size = -64000;",
    )?;
    // Silences as they were stored: each is in force in the replay over
    // the times it was in force then (docs/ROUTING.md). Pages as last
    // learned: their names and groups.
    scratch_db.execute("ATTACH DATABASE ?1 AS recorded", [copy.to_string_lossy()])?;
    scratch_db.execute_batch(
        "INSERT INTO silences SELECT * FROM recorded.silences;
         INSERT INTO learned_pages SELECT * FROM recorded.learned_pages;
         INSERT INTO learned_components SELECT * FROM recorded.learned_components;
         DETACH DATABASE recorded;",
    )?;

    std::thread::scope(|threads| {
        let (tx, rx) = std::sync::mpsc::sync_channel(READ_AHEAD);
        let reader = threads.spawn(move || {
            let mut batch = Vec::with_capacity(HANDOVER);
            read_history(&copy, |r| {
                batch.push(r);
                batch.len() < HANDOVER
                    || tx
                        .send(std::mem::replace(&mut batch, Vec::with_capacity(HANDOVER)))
                        .is_ok()
            })?;
            // The last, partial hand-over (the caller may have stopped).
            let _ = tx.send(batch);
            anyhow::Ok(())
        });
        let mut count = 0u64;
        let mut out = Scratch {
            tx: scratch_db.unchecked_transaction()?,
        };
        // Ends when the reader has sent everything (or stopped on an error).
        for recorded in rx.into_iter().flatten() {
            each(recorded, &mut out)?;
            count += 1;
            if count.is_multiple_of(CHUNK) {
                out.tx.commit()?;
                out = Scratch {
                    tx: scratch_db.unchecked_transaction()?,
                };
            }
        }
        out.tx.commit()?;
        reader
            .join()
            .map_err(|_| anyhow::anyhow!("reading the history panicked"))??;
        Ok(count)
    })
}

/// Sends every webhook of the copy at `path` to `send`, in the order the
/// writer stored them, each with its body read (`Recorded::reading`) and
/// the events recorded for it; stops early when `send` returns false.
fn read_history(path: &Path, mut send: impl FnMut(Recorded) -> bool) -> anyhow::Result<()> {
    let copy_db = Connection::open_with_flags(
        path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    let mut events = copy_db.prepare(
        "SELECT destination, action, priority FROM outbox WHERE webhook_id = ? ORDER BY id",
    )?;
    // rowid order is the order the writer stored them (received_at is taken
    // before the writer's queue, so it can differ for simultaneous webhooks).
    let mut st = copy_db.prepare(
        "SELECT id, received_at, source, remote_addr, body, origin, reconcile_note,
                kind, page_id, entity_id, outcome, action, priority, body_shape
         FROM webhooks ORDER BY rowid",
    )?;
    let mut rows = st.query([])?;
    while let Some(r) = rows.next()? {
        let id: String = r.get(0)?;
        let received_at: String = r.get(1)?;
        let body = match r.get_ref(4)? {
            ValueRef::Text(b) | ValueRef::Blob(b) => b.to_vec(),
            _ => Vec::new(),
        };
        let origin = match r.get::<_, String>(5)?.as_str() {
            "reconcile" => Origin::Reconcile {
                why: r.get::<_, Option<String>>(6)?.unwrap_or_default(),
            },
            _ => Origin::Webhook,
        };
        let shape_text: String = r.get(13)?;
        let shape = Platform::parse(&shape_text)
            .with_context(|| format!("webhook {id}: unknown body_shape {shape_text:?}"))?;
        let events = events
            .query_map([&id], |e| Ok((e.get(0)?, e.get(1)?, e.get(2)?)))?
            .collect::<rusqlite::Result<_>>()?;
        let recorded = Recorded {
            reading: Reading::of(shape, &body, &origin),
            job: Job {
                received_at: parse_time(&received_at).with_context(|| {
                    format!("webhook {id}: unreadable received_at {received_at:?}")
                })?,
                id,
                source: r.get(2)?,
                remote_addr: r.get(3)?,
                body,
                origin,
                shape,
            },
            kind: r.get(7)?,
            page_id: r.get(8)?,
            entity_id: r.get(9)?,
            outcome: r.get(10)?,
            action: r.get(11)?,
            priority: r.get(12)?,
            events,
        };
        if !send(recorded) {
            break;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A live database holding webhooks of these ids, stored in this
    /// order, of bodies the rules do not read.
    fn history_of(ids: &[String]) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let live = dir.path().join("live.db");
        crate::storage::migrate_quietly(&live).unwrap();
        let conn = Connection::open(&live).unwrap();
        for (i, id) in ids.iter().enumerate() {
            conn.execute(
                "INSERT INTO webhooks (id, received_at, source, body, body_bytes, kind, outcome,
                    reason)
                 VALUES (?1, ?2, 's', 'not json', 8, 'unknown', 'ignored', 'r')",
                rusqlite::params![id, format!("2025-01-01T00:00:{:02}.000Z", i % 60)],
            )
            .unwrap();
        }
        (dir, live)
    }

    #[test]
    fn every_webhook_is_handed_over_once_in_stored_order() {
        // Two full hand-overs and a partial one; ids not in rowid order, so
        // the order seen is the stored one, not the ids'.
        let n = 2 * HANDOVER + 3;
        let ids: Vec<String> = (0..n).map(|i| format!("w{:05}", (i * 7919) % n)).collect();
        let (dir, live) = history_of(&ids);
        let mut seen = Vec::new();
        let count = replay(&live, dir.path(), |r, _| {
            seen.push(r.job.id);
            Ok(())
        })
        .unwrap();
        assert_eq!(count, n as u64);
        assert_eq!(seen, ids);
    }

    #[test]
    fn a_failing_caller_stops_the_replay_and_its_error_is_returned() {
        let ids: Vec<String> = (0..3 * HANDOVER).map(|i| format!("w{i}")).collect();
        let (dir, live) = history_of(&ids);
        let mut calls = 0;
        let err = replay(&live, dir.path(), |_, _| {
            calls += 1;
            anyhow::ensure!(calls < 10, "stop here");
            Ok(())
        })
        .unwrap_err();
        assert_eq!(err.to_string(), "stop here");
        assert_eq!(calls, 10);
    }
}
