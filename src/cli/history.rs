//! The history commands: `replay` under the current rules, `backup` while
//! the server runs, and `prune` of what is old and closed.

use super::PruneArgs;
use crate::config::Settings;

pub(super) async fn replay(
    settings: &Settings,
    json: bool,
    candidate: Option<&Settings>,
) -> anyhow::Result<()> {
    use std::io::Write;
    // The stored history as replay reads it (a snapshot, if the database
    // cannot be read in place; removed afterwards).
    let history =
        crate::storage::history::snapshot(&settings.database, &std::env::temp_dir()).await?;
    let path = history.path();
    let mut out = std::io::stdout().lock();
    let mut differences = 0u64;
    let mut failed = None;
    if !json {
        let _ = writeln!(
            out,
            "{:<36}  {:<9}  {:<32}  {:<30}  replayed",
            "webhook", "kind", "entity", "recorded"
        );
    }
    let under = candidate.unwrap_or(settings);
    let run = if candidate.is_some() {
        crate::replay::run_candidate
    } else {
        crate::replay::run_routed
    };
    let webhooks = run(
        path,
        under.rules(),
        std::sync::Arc::new(under.policy()),
        &std::env::temp_dir(),
        |d: &crate::replay::Difference| {
            differences += 1;
            let written = if json {
                writeln!(out, "{}", serde_json::to_string(d).expect("serializable"))
            } else {
                let entity = format!(
                    "{}/{}",
                    d.page_id.as_deref().unwrap_or("-"),
                    d.entity_id.as_deref().unwrap_or("-")
                );
                let at = d
                    .destination
                    .as_deref()
                    .map(|d| format!("  at {d}"))
                    .unwrap_or_default();
                writeln!(
                    out,
                    "{:<36}  {:<9}  {:<32}  {:<30}  {}{at}",
                    d.webhook_id,
                    d.kind,
                    entity,
                    decision(&d.recorded),
                    decision(&d.replayed)
                )
            };
            if let Err(e) = written {
                failed.get_or_insert(e);
            }
        },
    )?;
    if let Some(e) = failed {
        return Err(e.into());
    }
    if json {
        writeln!(
            out,
            "{}",
            serde_json::json!({"webhooks": webhooks, "differences": differences})
        )?;
    } else {
        let rules = if candidate.is_some() {
            "the candidate configuration"
        } else {
            "the current rules"
        };
        writeln!(
            out,
            "replayed {webhooks} webhooks under {rules}: {differences} would be decided differently"
        )?;
    }
    Ok(())
}

/// `triggered trigger/critical`, or the outcome alone.
fn decision(d: &crate::replay::Decided) -> String {
    match (&d.action, &d.priority) {
        (Some(a), Some(p)) => format!("{} {a}/{p}", d.outcome),
        (Some(a), None) => format!("{} {a}", d.outcome),
        _ => d.outcome.clone(),
    }
}

pub(super) fn backup(settings: &Settings, to: &std::path::Path) -> anyhow::Result<()> {
    use crate::storage::upkeep::{Backup, backup_configured};
    let bytes = match backup_configured(&settings.database, to)? {
        Backup::Copied(bytes) => bytes,
        // Not a file to copy: the database's own tools do it.
        Backup::UseTheEngine(how) => return Err(super::Usage(how).into()),
    };
    println!("{}\t{bytes} bytes", to.display());
    Ok(())
}

pub(super) async fn prune(settings: Settings, args: PruneArgs) -> anyhow::Result<()> {
    crate::storage::ensure_exists(&settings.database)?;
    let db = crate::storage::open_configured(&settings.database).await?;
    let pruned = crate::storage::upkeep::prune(&db.writer, args.before.clone(), args.dry_run).await;
    db.close().await;
    let pruned = pruned?;
    if args.dry_run {
        println!("would delete, from before {}: {pruned}", args.before);
    } else {
        println!("deleted, from before {}: {pruned}", args.before);
    }
    Ok(())
}
