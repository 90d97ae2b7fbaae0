//! Durability: the syncer thread `fdatasync`s the WAL before a committed
//! batch's callers hear of it (see `writer`'s notes).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::storage::writer::Job;

/// Makes the WAL durable; shared by the writer and the syncer.
pub(super) type SyncWal = Arc<Mutex<Box<dyn FnMut() -> std::io::Result<()> + Send>>>;

/// How a committed batch is made durable before its callers hear of it.
pub(super) struct Durable {
    pub(super) sync: SyncWal,
    pub(super) syncer: std::sync::mpsc::Sender<Vec<Box<dyn Job>>>,
}

impl Durable {
    /// With nothing else waiting and no sync under way, the writer syncs
    /// the batch itself (no hand-over: one sender's latency stays as with
    /// `synchronous=FULL`); otherwise the syncer does while the writer goes
    /// on with the next batch.
    pub(super) fn answer(&self, jobs: Vec<Box<dyn Job>>, idle: bool) {
        if idle && let Ok(mut sync) = self.sync.try_lock() {
            answer_synced(jobs, &mut sync);
            return;
        }
        if let Err(back) = self.syncer.send(jobs) {
            // The syncer is gone (it never stops first): answer here.
            for job in back.0 {
                job.answer(Err("the syncer stopped"));
            }
        }
    }
}

/// Syncs, then answers `jobs` with how the sync went.
pub(super) fn answer_synced(
    jobs: impl IntoIterator<Item = Box<dyn Job>>,
    sync: &mut Box<dyn FnMut() -> std::io::Result<()> + Send>,
) {
    let synced = sync().map_err(|e| {
        tracing::error!(error = %e, "syncing the WAL failed: the batch's callers are told to retry");
        format!("syncing the WAL: {e}")
    });
    for job in jobs {
        job.answer(synced.as_ref().map(|_| ()).map_err(String::as_str));
    }
}

/// The database's WAL file, as the syncer makes it durable.
pub(super) struct Wal {
    path: PathBuf,
    /// Open on the WAL file (and its inode), reopened if it is replaced.
    file: Option<(std::fs::File, u64)>,
}

impl Wal {
    pub(super) fn new(db: &Path) -> Wal {
        let mut path = db.as_os_str().to_owned();
        path.push("-wal");
        Wal {
            path: path.into(),
            file: None,
        }
    }

    /// `fdatasync`s the WAL file: every frame written before the call is on
    /// the disk after it. A WAL file met for the first time has its folder
    /// synced too, so its name survives a power cut as well.
    pub(super) fn sync(&mut self) -> std::io::Result<()> {
        use std::os::unix::fs::MetadataExt;
        let inode = std::fs::metadata(&self.path)?.ino();
        if self.file.as_ref().is_none_or(|(_, i)| *i != inode) {
            let file = std::fs::File::open(&self.path)?;
            if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::File::open(dir)?.sync_all()?;
            }
            self.file = Some((file, inode));
        }
        let (file, _) = self.file.as_ref().expect("opened above");
        file.sync_data()
    }
}
