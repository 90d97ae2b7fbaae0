//! The checkpointer: a thread of its own that copies the WAL into the
//! database, so the writer's batches are not held up by it (the writer's
//! part is in `after_commit`; see `writer`'s notes).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};

use rusqlite::Connection;

use super::writer::{CHECKPOINT_PAGES, Opener, RESTART_PAGES};

/// The checkpointer as the writer sees it.
pub(super) struct Checkpoints {
    /// Wakes the checkpointer (a full channel: it is already at work).
    start: std::sync::mpsc::SyncSender<()>,
    /// Set by the checkpointer when a pass has finished.
    done: Arc<AtomicBool>,
    /// Frames of the WAL copied into the database as of the last pass.
    copied: Arc<AtomicI64>,
}

impl Checkpoints {
    /// Starts the checkpointer thread on its own connection.
    pub(super) fn spawn(
        opener: &Opener,
    ) -> std::io::Result<(Checkpoints, std::thread::JoinHandle<()>)> {
        let (start, wake) = std::sync::mpsc::sync_channel::<()>(1);
        let done = Arc::new(AtomicBool::new(false));
        let copied = Arc::new(AtomicI64::new(0));
        let (finished, backfilled) = (done.clone(), copied.clone());
        let opener = opener.clone();
        let thread = std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || {
                let mut conn = None;
                while wake.recv().is_ok() {
                    if conn.is_none() {
                        conn = opener
                            .open_checkpointer()
                            .inspect_err(|e| tracing::warn!(error = %e, "opening the checkpoint connection failed; the writer checkpoints"))
                            .ok();
                    }
                    match conn.as_ref().map(checkpoint) {
                        Some(Ok(frames)) => backfilled.store(frames, Ordering::Relaxed),
                        Some(Err(e)) => {
                            tracing::warn!(error = %e, "a WAL checkpoint failed; retried at the next");
                        }
                        None => {}
                    }
                    finished.store(true, Ordering::Release);
                }
            })?;
        Ok((
            Checkpoints {
                start,
                done,
                copied,
            },
            thread,
        ))
    }

    /// Between two batches, with `frames` in the WAL. The checkpointer is
    /// woken whenever `CHECKPOINT_PAGES` frames wait to be copied. Once the
    /// WAL holds `RESTART_PAGES` and a pass has just finished, the writer
    /// copies the few frames appended during that pass, so that its next
    /// transaction starts the WAL over; far behind (twice that), it
    /// checkpoints whatever the checkpointer is doing.
    pub(super) fn after_commit(&self, conn: &Connection, frames: i64) {
        let finished = self.done.swap(false, Ordering::Acquire);
        let copy_here = frames >= 2 * RESTART_PAGES || (finished && frames >= RESTART_PAGES);
        if copy_here {
            match checkpoint(conn) {
                // The next transaction starts the WAL over: nothing of the
                // new one is copied yet.
                Ok(_) => self.copied.store(0, Ordering::Relaxed),
                Err(e) => {
                    tracing::warn!(error = %e, "a WAL checkpoint failed; retried at the next")
                }
            }
        } else if frames - self.copied.load(Ordering::Relaxed) >= CHECKPOINT_PAGES {
            let _ = self.start.try_send(());
        }
    }
}

/// Copies what it can of the WAL into the database without waiting for
/// anyone; the frames of the WAL copied so far.
pub(super) fn checkpoint(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get(2))
}
