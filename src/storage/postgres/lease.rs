//! The poller lease: which replica runs reconcile and retention.

use std::time::Duration;

use super::connect::{ACQUIRE, options};

/// The advisory lock whose holder runs reconcile and retention.
const POLLER_LOCK: i64 = 0x5350_4252_504F_4C4C; // "SPBRPOLL"
/// How often a replica without the lease tries to take it, and the holder
/// checks that its session is alive.
pub const POLLER_RETRY: Duration = Duration::from_secs(2);

/// Holds (or keeps trying to take) the poller lease: a session advisory
/// lock on a connection of its own. PostgreSQL releases it when that
/// session ends — the replica stopped, died, or lost the database — and
/// another replica's next try takes it over. Sends `true` while held.
/// Returns once the first try has been made, so a lone replica starts out
/// holding it.
pub async fn hold_poller_lease(
    url: &str,
    held: tokio::sync::watch::Sender<bool>,
) -> anyhow::Result<()> {
    use sqlx::Connection as _;
    let options = options(url)?;
    let (tried_tx, tried) = tokio::sync::oneshot::channel::<()>();
    let mut tried_tx = Some(tried_tx);
    tokio::spawn(async move {
        let mut conn: Option<sqlx::PgConnection> = None;
        loop {
            if held.is_closed() {
                return;
            }
            let c = match conn.as_mut() {
                Some(c) => c,
                None => {
                    match tokio::time::timeout(ACQUIRE, sqlx::PgConnection::connect_with(&options))
                        .await
                    {
                        Ok(Ok(c)) => conn.insert(c),
                        _ => {
                            held.send_if_modified(|h| std::mem::replace(h, false));
                            if let Some(t) = tried_tx.take() {
                                let _ = t.send(());
                            }
                            tokio::time::sleep(POLLER_RETRY).await;
                            continue;
                        }
                    }
                }
            };
            let is_held = *held.borrow();
            let query = async {
                if is_held {
                    sqlx::query_scalar::<_, bool>("SELECT true")
                        .fetch_one(&mut *c)
                        .await
                } else {
                    sqlx::query_scalar::<_, bool>("SELECT pg_try_advisory_lock($1)")
                        .bind(POLLER_LOCK)
                        .fetch_one(&mut *c)
                        .await
                }
            };
            let check = tokio::time::timeout(ACQUIRE, query).await;
            match check {
                Ok(Ok(now_held)) => {
                    if held.send_if_modified(|h| std::mem::replace(h, now_held) != now_held)
                        && now_held
                    {
                        tracing::info!("this replica runs reconcile and retention now");
                    }
                }
                _ => {
                    if held.send_if_modified(|h| std::mem::replace(h, false)) {
                        tracing::warn!(
                            "lost the database session holding the poller lease; another replica may take over"
                        );
                    }
                    conn = None;
                }
            }
            if let Some(t) = tried_tx.take() {
                let _ = t.send(());
            }
            tokio::time::sleep(POLLER_RETRY).await;
        }
    });
    let _ = tokio::time::timeout(ACQUIRE * 2, tried).await;
    Ok(())
}
