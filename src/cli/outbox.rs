//! `outbox list|retry`: what waits for ITOC360, and queueing dead events
//! again (e.g. after fixing the token).

use super::OutboxCommand;
use crate::config::Settings;

pub(super) async fn outbox(settings: Settings, cmd: OutboxCommand) -> anyhow::Result<()> {
    let db = crate::storage::open_configured(&settings.database).await?;
    match cmd {
        OutboxCommand::List => {
            let rows = db.writer.unfinished().await?;
            if rows.is_empty() {
                println!("no pending or dead events");
            }
            for r in rows {
                let line = format!(
                    "{id}\t{state}\t{action}\t{priority}\t{fp}\tattempts={attempts}\tnext={next}\t{err}\t{title}",
                    id = r.id,
                    state = r.state.as_str(),
                    action = r.action,
                    priority = r.priority,
                    fp = r.fingerprint,
                    attempts = r.attempts,
                    next = crate::rules::time::format_time(r.next_attempt_at),
                    err = r.last_error.as_deref().unwrap_or("-"),
                    title = r.title,
                );
                println!("{}", crate::redact::terminal_line(&line));
            }
        }
        OutboxCommand::Retry(args) => {
            let id = if args.dead { None } else { args.id };
            let now = chrono::Utc::now();
            let done = db.writer.requeue(id, now).await?;
            println!("{} event(s) queued again", done.queued);
            if done.superseded > 0 {
                println!(
                    "{} dead event(s) left dead: a later event for the same alert was already delivered",
                    done.superseded
                );
            }
        }
    }
    db.close().await;
    Ok(())
}
