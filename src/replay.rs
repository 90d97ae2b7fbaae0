//! `replay`: every stored webhook (and heal), in the order it was stored,
//! through the current rules on a scratch database, compared with what was
//! recorded. The live database is only read, by one backup; nothing is
//! sent to ITOC360.

use std::path::Path;

use anyhow::Context;
use rusqlite::Connection;
use rusqlite::types::ValueRef;
use serde::Serialize;

use crate::pipeline::{self, Incoming, Origin};
use crate::rules::machine::Rules;
use crate::rules::time::parse_time;
use crate::storage::{self, upkeep};

/// What was decided for one webhook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    pub outcome: String,
    pub action: Option<String>,
    pub priority: Option<String>,
}

/// A webhook the current rules decide differently.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Difference {
    pub webhook_id: String,
    pub kind: String,
    pub page_id: Option<String>,
    pub entity_id: Option<String>,
    pub recorded: Decision,
    pub replayed: Decision,
}

/// Webhooks applied per scratch transaction.
const CHUNK: u64 = 1000;

/// Replays the database at `live` under `rules`, in a scratch folder made
/// inside `scratch_dir` (removed afterwards). Calls `on_difference` for
/// each difference as it is found; returns how many webhooks were replayed.
pub fn run(
    live: &Path,
    rules: Rules,
    scratch_dir: &Path,
    mut on_difference: impl FnMut(&Difference),
) -> anyhow::Result<u64> {
    let scratch = tempfile::Builder::new()
        .prefix("statuspage-bridge-replay-")
        .tempdir_in(scratch_dir)
        .with_context(|| format!("making a scratch folder in {}", scratch_dir.display()))?;
    let copy = scratch.path().join("recorded.db");
    upkeep::backup(live, &copy)?;
    let fresh = scratch.path().join("replayed.db");
    storage::migrate_quietly(&fresh)?;

    let copy_db = Connection::open(&copy)?;
    let mut scratch_db = Connection::open(&fresh)?;
    scratch_db.execute_batch(
        "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA foreign_keys = ON;
         PRAGMA temp_store = MEMORY; PRAGMA cache_size = -16000;",
    )?;

    // rowid order is the order the writer stored them (received_at is taken
    // before the writer's queue, so it can differ for simultaneous webhooks).
    let mut st = copy_db.prepare(
        "SELECT id, received_at, source, remote_addr, body, origin, reason,
                kind, page_id, entity_id, outcome, action, priority
         FROM webhooks ORDER BY rowid",
    )?;
    let mut rows = st.query([])?;
    let mut count = 0u64;
    let mut tx = scratch_db.transaction()?;
    while let Some(r) = rows.next()? {
        let id: String = r.get(0)?;
        let received_at: String = r.get(1)?;
        let body = match r.get_ref(4)? {
            ValueRef::Text(b) | ValueRef::Blob(b) => b.to_vec(),
            _ => Vec::new(),
        };
        let origin = match r.get::<_, String>(5)?.as_str() {
            "reconcile" => Origin::Reconcile {
                why: reconcile_why(&r.get::<_, String>(6)?),
            },
            _ => Origin::Webhook,
        };
        let incoming = Incoming {
            source: r.get(2)?,
            remote_addr: r.get(3)?,
            body,
            received_at: parse_time(&received_at)
                .with_context(|| format!("webhook {id}: unreadable received_at {received_at:?}"))?,
            origin,
        };
        let recorded = Decision {
            outcome: r.get(10)?,
            action: r.get(11)?,
            priority: r.get(12)?,
        };
        let step = pipeline::reapply(&tx, id.clone(), incoming, rules)
            .with_context(|| format!("replaying webhook {id}"))?;
        let replayed = Decision {
            outcome: step.outcome.to_string(),
            action: step.emit.map(|e| e.action.to_string()),
            priority: step.emit.map(|e| e.priority.to_string()),
        };
        if replayed != recorded {
            on_difference(&Difference {
                webhook_id: id,
                kind: r.get(7)?,
                page_id: r.get(8)?,
                entity_id: r.get(9)?,
                recorded,
                replayed,
            });
        }
        count += 1;
        if count.is_multiple_of(CHUNK) {
            tx.commit()?;
            tx = scratch_db.transaction()?;
        }
    }
    tx.commit()?;
    Ok(count)
}

/// The part of a heal's stored reason that reconcile wrote
/// (`reconcile: <why>; <the machine's reason>`).
fn reconcile_why(reason: &str) -> String {
    reason
        .strip_prefix("reconcile: ")
        .and_then(|r| r.split_once("; "))
        .map(|(why, _)| why.to_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_why_of_a_heal_is_read_back() {
        assert_eq!(
            reconcile_why("reconcile: missed webhook; investigating: alert opens at critical"),
            "missed webhook"
        );
        assert_eq!(reconcile_why("investigating: alert opens"), "");
    }
}
