//! Keeping the database: consistent copies (`backup`) and deleting old
//! history (`prune`) while the server runs.

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use rusqlite::{Connection, OpenFlags, backup};

use super::sql::{self, Conn, args};

/// Copies the live database at `from` to `to` with SQLite's backup API, in
/// one step under one read transaction: a consistent snapshot even while
/// the server writes (WAL lets the writer go on). Rowids are kept, so the
/// copy stores webhooks in the same order. Refuses to overwrite `to`; the
/// copy is written beside it and renamed when complete. Returns its size.
/// What `backup` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backup {
    /// The SQLite file copied; the copy's size.
    Copied(u64),
    /// Not a file to copy: how to back this database up instead.
    UseTheEngine(String),
}

/// `backup` of the configured database: the SQLite file is copied; for
/// PostgreSQL, the answer says to use `pg_dump`.
pub fn backup_configured(db: &crate::config::DatabaseConfig, to: &Path) -> anyhow::Result<Backup> {
    super::engine::configured(db).backup(db, to)
}

pub fn backup(from: &Path, to: &Path) -> anyhow::Result<u64> {
    copy(from, to, Keep::Checked)
}

/// What a copy is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Keep {
    /// A backup: checked (`quick_check`) and on the disk before it is named.
    Checked,
    /// A scratch copy read once and removed (replay): neither checked nor
    /// synced; a copy that cannot be read fails the replay instead.
    Scratch,
}

/// One consistent copy of the database at `from` in a new file `to`.
pub(crate) fn copy(from: &Path, to: &Path, keep: Keep) -> anyhow::Result<u64> {
    anyhow::ensure!(
        !to.exists(),
        "{} already exists; choose a new path",
        to.display()
    );
    anyhow::ensure!(from.is_file(), "no database at {}", from.display());
    let src = Connection::open_with_flags(
        from,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .with_context(|| format!("opening {} for reading", from.display()))?;
    src.busy_timeout(Duration::from_secs(30))?;
    let partial = to.with_file_name(format!(
        ".{}.partial",
        to.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    ));
    let _ = std::fs::remove_file(&partial);
    let copied = (|| -> anyhow::Result<()> {
        let mut dst = Connection::open(&partial)
            .with_context(|| format!("creating {}", partial.display()))?;
        if keep == Keep::Scratch {
            // Written once, read once, removed: no journal, no sync.
            dst.execute_batch("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;")?;
        }
        {
            let b = backup::Backup::new(&src, &mut dst)?;
            let mut waited = Duration::ZERO;
            loop {
                match b.step(-1)? {
                    backup::StepResult::Done => break,
                    backup::StepResult::More => {}
                    backup::StepResult::Busy | backup::StepResult::Locked => {
                        anyhow::ensure!(
                            waited < Duration::from_secs(30),
                            "the database stayed locked for 30 s"
                        );
                        std::thread::sleep(Duration::from_millis(50));
                        waited += Duration::from_millis(50);
                    }
                    _ => {}
                }
            }
        }
        // A copy that needs no -wal file beside it.
        dst.pragma_update(None, "journal_mode", "DELETE")?;
        if keep == Keep::Checked {
            let ok: String = dst.query_row("PRAGMA quick_check", [], |r| r.get(0))?;
            anyhow::ensure!(ok == "ok", "the copy failed its check: {ok}");
        }
        dst.close().map_err(|(_, e)| e)?;
        if keep == Keep::Checked {
            std::fs::File::open(&partial)?.sync_all()?;
        }
        Ok(())
    })();
    if let Err(e) = copied {
        let _ = std::fs::remove_file(&partial);
        return Err(e.context(format!("copying {} to {}", from.display(), to.display())));
    }
    std::fs::rename(&partial, to).with_context(|| format!("renaming to {}", to.display()))?;
    Ok(std::fs::metadata(to)?.len())
}

/// What one or more prune batches deleted (or would delete).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    pub webhooks: u64,
    pub transitions: u64,
    pub outbox: u64,
    pub attempts: u64,
    pub rounds: u64,
}

impl Pruned {
    pub fn add(&mut self, o: Pruned) {
        self.webhooks += o.webhooks;
        self.transitions += o.transitions;
        self.outbox += o.outbox;
        self.attempts += o.attempts;
        self.rounds += o.rounds;
    }

    pub fn is_empty(&self) -> bool {
        *self == Pruned::default()
    }
}

impl std::fmt::Display for Pruned {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} webhooks, {} transitions, {} outbox rows, {} delivery attempts, {} reconcile rounds",
            self.webhooks, self.transitions, self.outbox, self.attempts, self.rounds
        )
    }
}

/// Where the next batch starts: after this (received_at, id).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cursor {
    pub received_at: String,
    pub id: String,
}

/// One batch's result; `next` is `None` when nothing older is left.
#[derive(Debug)]
pub struct Batch {
    pub pruned: Pruned,
    pub next: Option<Cursor>,
}

/// Webhooks looked at per batch: one batch holds the writer for a few
/// milliseconds, so webhooks keep being answered while a prune runs.
pub const BATCH: i64 = 500;

/// True when the entity (`kind`, `source`, `page`, `entity` are SQL
/// expressions) has an open alert.
fn open_alert(kind: &str, source: &str, page: &str, entity: &str) -> String {
    format!(
        "(({kind}) = 'incident' AND EXISTS (SELECT 1 FROM incidents i WHERE i.source = {source}
            AND i.page_id = {page} AND i.incident_id = {entity} AND i.alert_open = 1))
         OR (({kind}) = 'component' AND EXISTS (SELECT 1 FROM components c WHERE c.source = {source}
            AND c.page_id = {page} AND c.component_id = {entity} AND c.alert_open = 1))"
    )
}

/// Deletes the history received before `before` (stored time text) of the
/// next `limit` webhooks after `cursor`: each webhook with its transitions,
/// outbox rows, their attempts and its duplicate keys — unless any of them
/// belongs to an entity whose alert is open, or an outbox row is still
/// pending. Entity rows stay (their `last_webhook_id` is cleared), so a late
/// copy of a pruned event is still judged against the entity's state.
/// With `dry_run`, counts and rolls back. Reconcile rounds older than
/// `before` go in the last batch.
pub fn prune_batch(
    conn: Conn<'_>,
    before: &str,
    cursor: &Cursor,
    limit: i64,
    dry_run: bool,
) -> sql::Result<Batch> {
    let keep = format!(
        "({own})
         OR EXISTS (SELECT 1 FROM outbox o WHERE o.webhook_id = w.id
             AND (o.state = 'pending' OR o.created_at >= ?1 OR {outbox_open}))
         OR EXISTS (SELECT 1 FROM transitions t WHERE t.webhook_id = w.id AND ({transition_open}))",
        own = open_alert("w.kind", "w.source", "w.page_id", "w.entity_id"),
        outbox_open = open_alert("o.kind", "w.source", "o.page_id", "o.entity_id"),
        transition_open = open_alert("t.kind", "t.source", "t.page_id", "t.entity_id"),
    );
    let sql = format!(
        "SELECT w.id, w.received_at, CASE WHEN {keep} THEN 0 ELSE 1 END
         FROM webhooks w
         WHERE w.received_at < ?1 AND (w.received_at, w.id) > (?2, ?3)
         ORDER BY w.received_at, w.id LIMIT ?4"
    );
    let mut next = None;
    let mut ids = Vec::new();
    let rows = conn.query(
        &sql,
        &args![before, cursor.received_at, cursor.id, limit],
        |r| Ok((r.get::<String>(0)?, r.get::<String>(1)?, r.get::<i64>(2)?)),
    )?;
    let seen = rows.len() as i64;
    for (id, received_at, prune) in rows {
        if prune == 1 {
            ids.push(id.clone());
        }
        next = Some(Cursor { received_at, id });
    }
    if seen < limit {
        next = None;
    }
    conn.execute_batch("SAVEPOINT prune")?;
    let result = (|| -> sql::Result<Pruned> {
        let ids = serde_json::to_string(&ids).expect("strings serialize");
        let batch = conn.engine().json_text_list();
        let mut p = Pruned {
            attempts: conn.execute(
                &format!(
                    "DELETE FROM delivery_attempts WHERE outbox_id IN
                       (SELECT id FROM outbox WHERE webhook_id IN {batch})"
                ),
                &args![ids],
            )? as u64,
            ..Pruned::default()
        };
        p.outbox = conn.execute(
            &format!("DELETE FROM outbox WHERE webhook_id IN {batch}"),
            &args![ids],
        )? as u64;
        p.transitions = conn.execute(
            &format!("DELETE FROM transitions WHERE webhook_id IN {batch}"),
            &args![ids],
        )? as u64;
        conn.execute(
            &format!("DELETE FROM applied_events WHERE webhook_id IN {batch}"),
            &args![ids],
        )?;
        for table in ["incidents", "components"] {
            conn.execute(
                &format!(
                    "UPDATE {table} SET last_webhook_id = NULL WHERE last_webhook_id IN {batch}"
                ),
                &args![ids],
            )?;
        }
        p.webhooks = conn.execute(
            &format!("DELETE FROM webhooks WHERE id IN {batch}"),
            &args![ids],
        )? as u64;
        if next.is_none() {
            p.rounds = conn.execute(
                "DELETE FROM reconcile_rounds WHERE started_at < ?1",
                &args![before],
            )? as u64;
        }
        Ok(p)
    })();
    let end = if dry_run || result.is_err() {
        "ROLLBACK TO prune; RELEASE prune"
    } else {
        "RELEASE prune"
    };
    conn.execute_batch(end)?;
    Ok(Batch {
        pruned: result?,
        next,
    })
}

/// Prunes everything before `before` through the writer, one batch per
/// job, so webhooks queued meanwhile are stored between batches.
pub async fn prune(
    writer: &super::Writer,
    before: String,
    dry_run: bool,
) -> Result<Pruned, super::WriteError> {
    let mut total = Pruned::default();
    let mut cursor = Cursor::default();
    loop {
        let b = before.clone();
        let batch = writer
            .run(move |conn| prune_batch(conn, &b, &cursor, BATCH, dry_run))
            .await?;
        total.add(batch.pruned);
        match batch.next {
            Some(next) => cursor = next,
            None => return Ok(total),
        }
    }
}

/// `[database] retention_days`: prunes history older than that, once at
/// start and then every day.
pub struct Retention {
    runs: tokio::sync::watch::Receiver<u64>,
    task: tokio::task::JoinHandle<()>,
}

impl Retention {
    /// `None` when `days` is 0 (keep everything).
    /// Runs only while `poller` holds the lease (one replica of several).
    pub fn spawn(writer: super::Writer, days: u32, mut poller: super::Poller) -> Option<Retention> {
        if days == 0 {
            return None;
        }
        let (done, runs) = tokio::sync::watch::channel(0u64);
        let task = tokio::spawn(async move {
            loop {
                poller.wait_held().await;
                let before = chrono::Utc::now() - chrono::Duration::days(i64::from(days));
                let before = crate::rules::time::format_time(before);
                match prune(&writer, before.clone(), false).await {
                    Ok(p) if p.is_empty() => {
                        tracing::debug!(%before, retention_days = days, "retention: nothing to prune")
                    }
                    Ok(p) => {
                        tracing::info!(%before, retention_days = days, "retention: pruned {p}")
                    }
                    Err(e) => {
                        tracing::warn!(%before, error = %e, "retention: prune failed; tried again in a day")
                    }
                }
                done.send_modify(|n| *n += 1);
                tokio::time::sleep(Duration::from_secs(24 * 3600)).await;
            }
        });
        Some(Retention { runs, task })
    }

    /// How many daily runs have finished.
    pub fn runs(&self) -> tokio::sync::watch::Receiver<u64> {
        self.runs.clone()
    }

    /// Stops; a batch already handed to the writer still commits whole,
    /// the rest is left for the next run.
    pub async fn stop(self) {
        self.task.abort();
        let _ = self.task.await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::params;

    fn db() -> (tempfile::TempDir, Connection) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("u.db");
        super::super::migrate(&path).unwrap();
        let conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "foreign_keys", "ON").unwrap();
        (dir, conn)
    }

    fn webhook(conn: &Connection, id: &str, at: &str, entity: &str) {
        conn.execute(
            "INSERT INTO webhooks (id, received_at, source, body, body_bytes, kind, page_id,
                entity_id, outcome, reason)
             VALUES (?1, ?2, 's', '{}', 2, 'incident', 'p', ?3, 'triggered', 'r')",
            params![id, at, entity],
        )
        .unwrap();
    }

    fn outbox_row(conn: &Connection, webhook: &str, entity: &str, state: &str) -> i64 {
        conn.execute(
            "INSERT INTO outbox (webhook_id, created_at, fingerprint, kind, page_id, entity_id,
                action, priority, title, message, status, starts_at, state, next_attempt_at,
                queued_at)
             VALUES (?1, '2025-01-01T00:00:00.000Z', 'f', 'incident', 'p', ?2, 'trigger',
                'high', 't', 'm', 'investigating', 'x', ?3, 'x', 'x')",
            params![webhook, entity, state],
        )
        .unwrap();
        conn.last_insert_rowid()
    }

    fn remaining(conn: &Connection) -> Vec<String> {
        conn.prepare("SELECT id FROM webhooks ORDER BY id")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    fn prune_all(conn: &Connection, limit: i64, dry_run: bool) -> (Pruned, usize) {
        let mut total = Pruned::default();
        let mut cursor = Cursor::default();
        let mut batches = 0;
        loop {
            let b = prune_batch(
                crate::storage::sqlite::conn(conn),
                "2026-01-01T00:00:00.000Z",
                &cursor,
                limit,
                dry_run,
            )
            .unwrap();
            batches += 1;
            total.add(b.pruned);
            match b.next {
                Some(n) => cursor = n,
                None => return (total, batches),
            }
        }
    }

    #[test]
    fn prune_walks_in_batches_and_keeps_open_alerts_and_pending_rows() {
        let (_dir, conn) = db();
        for (id, at, entity) in [
            ("w1", "2025-01-01T00:00:00.000Z", "closed"),
            ("w2", "2025-01-02T00:00:00.000Z", "closed"),
            ("w3", "2025-01-03T00:00:00.000Z", "open"),
            ("w4", "2025-01-04T00:00:00.000Z", "closed"),
            ("w5", "2025-01-05T00:00:00.000Z", "closed"),
            ("w6", "2027-01-01T00:00:00.000Z", "closed"),
        ] {
            webhook(&conn, id, at, entity);
        }
        for (entity, open, last) in [("closed", 0, "w5"), ("open", 1, "w3")] {
            conn.execute(
                "INSERT INTO incidents (source, page_id, incident_id, alert_open, last_webhook_id,
                    first_seen_at, updated_at)
                 VALUES ('s', 'p', ?1, ?2, ?3, 'x', 'x')",
                params![entity, open, last],
            )
            .unwrap();
        }
        let delivered = outbox_row(&conn, "w1", "closed", "delivered");
        conn.execute(
            "INSERT INTO delivery_attempts (outbox_id, started_at, latency_ms, result)
             VALUES (?1, 'x', 1, 'delivered')",
            [delivered],
        )
        .unwrap();
        outbox_row(&conn, "w4", "closed", "pending");
        conn.execute(
            "INSERT INTO transitions (webhook_id, source, kind, page_id, entity_id, at, to_status,
                alert_before, alert_after, outcome)
             VALUES ('w2', 's', 'incident', 'p', 'closed', 'x', 'resolved', 'open:high', 'closed',
                'resolved')",
            [],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO applied_events (source, kind, page_id, entity_id, event_key, webhook_id)
             VALUES ('s', 'incident', 'p', 'closed', 'k2', 'w2')",
            [],
        )
        .unwrap();

        for at in ["2025-01-01T00:00:00.000Z", "2027-01-01T00:00:00.000Z"] {
            conn.execute(
                "INSERT INTO reconcile_rounds (page_id, source, started_at, duration_ms, result)
                 VALUES ('p', 's', ?1, 1, 'ok')",
                [at],
            )
            .unwrap();
        }

        let expected = Pruned {
            webhooks: 3,
            transitions: 1,
            outbox: 1,
            attempts: 1,
            rounds: 1,
        };
        assert!(!expected.is_empty() && Pruned::default().is_empty());
        assert_eq!(
            expected.to_string(),
            "3 webhooks, 1 transitions, 1 outbox rows, 1 delivery attempts, 1 reconcile rounds"
        );
        let (dry, _) = prune_all(&conn, 2, true);
        assert_eq!(dry, expected);
        assert_eq!(remaining(&conn).len(), 6, "a dry run deletes nothing");

        let (done, batches) = prune_all(&conn, 2, false);
        assert_eq!(done, expected);
        assert_eq!(batches, 3, "w1 w2 | w3 w4 | w5");
        assert_eq!(remaining(&conn), ["w3", "w4", "w6"]);
        let last: Option<String> = conn
            .query_row(
                "SELECT last_webhook_id FROM incidents WHERE incident_id = 'closed'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(
            last, None,
            "the state row stays, without its pruned webhook"
        );
        let keys: i64 = conn
            .query_row("SELECT count(*) FROM applied_events", [], |r| r.get(0))
            .unwrap();
        assert_eq!(keys, 0);
        assert_eq!(prune_all(&conn, 2, false).0, Pruned::default());
    }

    #[test]
    fn backup_refuses_to_overwrite_and_copies_what_is_there() {
        let (dir, conn) = db();
        webhook(&conn, "w1", "2025-01-01T00:00:00.000Z", "a");
        let to = dir.path().join("copy.db");
        let size = backup(&dir.path().join("u.db"), &to).unwrap();
        assert_eq!(size, std::fs::metadata(&to).unwrap().len());
        let copy = Connection::open(&to).unwrap();
        let n: i64 = copy
            .query_row("SELECT count(*) FROM webhooks", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 1);
        let e = backup(&dir.path().join("u.db"), &to).unwrap_err();
        assert!(e.to_string().contains("already exists"), "{e}");
        let e = backup(&dir.path().join("none.db"), &dir.path().join("c2.db")).unwrap_err();
        assert!(e.to_string().contains("no database"), "{e}");
    }
}
