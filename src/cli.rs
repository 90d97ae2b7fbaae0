//! The command line: `serve` (the default), `check-config`, and
//! `outbox list|retry` for operators, which work on the database while the
//! server runs.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::config::Settings;
use crate::startup::Application;

#[derive(Parser, Debug)]
#[command(
    name = "statuspage-bridge",
    version,
    about = "Statuspage webhooks in, ITOC360 triggers and resolves out"
)]
pub struct Cli {
    /// Configuration file (default: ./config.toml, else built-in defaults).
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the server (the default).
    Serve,
    /// Load and validate the configuration and the database path without
    /// serving; print `ok` and a summary.
    CheckConfig,
    /// Inspect and requeue events for ITOC360.
    #[command(subcommand)]
    Outbox(OutboxCommand),
    /// Webhook sources.
    #[command(subcommand)]
    Sources(SourcesCommand),
    /// Run every stored webhook through the current rules on a scratch copy
    /// (the live database is only read) and report what would be decided
    /// differently. Nothing is sent to ITOC360.
    Replay(ReplayArgs),
    /// Copy the live database to PATH, consistently, while the server runs.
    Backup {
        /// Where the copy goes (must not exist yet).
        path: PathBuf,
    },
    /// Delete history older than a date, except that of alerts still open.
    Prune(PruneArgs),
}

#[derive(Args, Debug)]
pub struct ReplayArgs {
    /// One JSON object per difference, then a summary object.
    #[arg(long)]
    pub json: bool,
    /// Override a configuration key for the replay, e.g.
    /// `--set maintenance.page=true` (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
}

#[derive(Args, Debug)]
pub struct PruneArgs {
    /// Delete what was received or decided before this time (UTC):
    /// `YYYY-MM-DD` or RFC 3339.
    #[arg(long, value_name = "DATE", value_parser = parse_before)]
    pub before: String,
    /// Only count what would be deleted.
    #[arg(long)]
    pub dry_run: bool,
}

/// `--before`: a date (its midnight) or a time, UTC, as stored text.
fn parse_before(s: &str) -> Result<String, String> {
    crate::rules::time::parse_moment(s)
        .map(crate::rules::time::format_time)
        .ok_or_else(|| "expected YYYY-MM-DD or an RFC 3339 time (2025-03-04T10:00:00Z)".to_owned())
}

#[derive(Subcommand, Debug)]
pub enum SourcesCommand {
    /// Make a random token for a new source and print its config entry and
    /// its webhook URL (the one place the full URL is shown).
    New {
        /// The source's name, e.g. the Statuspage page it is for.
        name: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum OutboxCommand {
    /// Show pending and dead events.
    List,
    /// Queue dead events again (e.g. after fixing the ITOC360 token).
    Retry(RetryArgs),
}

#[derive(Args, Debug)]
#[group(required = true, multiple = false)]
pub struct RetryArgs {
    /// Every dead event.
    #[arg(long)]
    pub dead: bool,
    /// One event by its outbox id.
    #[arg(long, value_name = "ID")]
    pub id: Option<i64>,
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let sets = match &cli.command {
        Some(Command::Replay(args)) => args.set.clone(),
        _ => Vec::new(),
    };
    let settings =
        match Settings::load_with(cli.config.as_deref(), |k| std::env::var(k).ok(), &sets) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("statuspage-bridge: {e}");
                return ExitCode::from(2);
            }
        };
    crate::redact::remember(settings.secrets());
    crate::telemetry::init(settings.log.json());
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("statuspage-bridge: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli.command.unwrap_or(Command::Serve) {
            Command::Serve => serve(settings).await,
            Command::CheckConfig => check_config(&settings).map(|summary| print!("{summary}")),
            Command::Outbox(cmd) => outbox_command(settings, cmd).await,
            Command::Sources(SourcesCommand::New { name }) => {
                print!("{}", new_source(&settings, &name));
                Ok(())
            }
            Command::Replay(args) => replay(&settings, args.json),
            Command::Backup { path } => backup(&settings, &path),
            Command::Prune(args) => prune(settings, args).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("statuspage-bridge: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    let app = Application::build(settings).await?;
    app.stop_on_signals()?;
    app.run_until_stopped().await
}

/// What `check-config` prints: `ok` and what the bridge would run with
/// (never a secret). Fails when the database cannot live at its path.
fn check_config(settings: &Settings) -> anyhow::Result<String> {
    use std::fmt::Write;
    check_database_path(&settings.database.path)?;
    let mut out = String::from("ok\n");
    let s = settings;
    let _ = writeln!(out, "listen: {}", s.server.listen);
    let _ = writeln!(out, "public_url: {}", s.server.public_url);
    let _ = writeln!(out, "database: {}", s.database.path.display());
    let _ = writeln!(
        out,
        "itoc360: {}",
        if s.dry_run() {
            "dry run (no token): decisions are recorded, nothing is sent".to_owned()
        } else {
            format!(
                "{} ({:?} format), token set",
                s.itoc360.base_url, s.itoc360.format
            )
        }
    );
    let names: Vec<&str> = s.sources.iter().map(|x| x.name.as_str()).collect();
    let _ = writeln!(out, "sources: {}", names.join(", "));
    let _ = writeln!(
        out,
        "audit: {}",
        if s.audit_credentials().is_some() {
            "HTTP Basic auth"
        } else {
            "this machine only (no [audit] credentials)"
        }
    );
    let _ = writeln!(
        out,
        "maintenance paging: {}",
        if s.maintenance.page { "on" } else { "off" }
    );
    if s.pages.is_empty() {
        let _ = writeln!(out, "reconcile: off (no [[pages]])");
    } else {
        let pages: Vec<String> = s
            .pages
            .iter()
            .map(|p| format!("{} ({})", p.id, p.api_base()))
            .collect();
        let _ = writeln!(
            out,
            "reconcile: every {} s: {}",
            s.reconcile.interval_secs,
            pages.join(", ")
        );
    }
    Ok(out)
}

/// The database file, or the folder that will hold it, must be usable:
/// an existing file must be a file, and the nearest existing folder on the
/// way to it must be a folder (it is created on start).
fn check_database_path(path: &std::path::Path) -> anyhow::Result<()> {
    if path.exists() {
        anyhow::ensure!(
            path.is_file(),
            "database.path: {} exists and is not a file",
            path.display()
        );
        std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map_err(|e| {
                anyhow::anyhow!(
                    "database.path: {} cannot be opened for writing: {e}",
                    path.display()
                )
            })?;
        return Ok(());
    }
    let mut dir = path.parent();
    while let Some(d) = dir {
        if d.as_os_str().is_empty() || d.exists() {
            let d = if d.as_os_str().is_empty() {
                std::path::Path::new(".")
            } else {
                d
            };
            anyhow::ensure!(
                d.is_dir(),
                "database.path: {} is not a folder, so {} cannot be created",
                d.display(),
                path.display()
            );
            return Ok(());
        }
        dir = d.parent();
    }
    Ok(())
}

/// A fresh source: 40 hex characters from the OS's random generator.
fn new_source(settings: &Settings, name: &str) -> String {
    let random = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    let token = &random[..40];
    format!(
        "Add to config.toml, then restart the bridge:\n\n[[sources]]\nname = {name:?}\ntoken = \"{token}\"\n\n\
         Statuspage webhook URL (keep it secret; it is shown only here):\n  {}/webhooks/statuspage?token={token}\n",
        settings.server.public_url.trim_end_matches('/')
    )
}

async fn outbox_command(settings: Settings, cmd: OutboxCommand) -> anyhow::Result<()> {
    let db = crate::storage::open(
        &settings.database.path,
        std::time::Duration::from_millis(settings.database.busy_timeout_ms),
    )
    .await?;
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
                println!("{}", crate::redact::mask(&line));
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

fn replay(settings: &Settings, json: bool) -> anyhow::Result<()> {
    use std::io::Write;
    let path = &settings.database.path;
    anyhow::ensure!(path.is_file(), "no database at {}", path.display());
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
    let webhooks = crate::replay::run(path, settings.rules(), &std::env::temp_dir(), |d| {
        differences += 1;
        let written = if json {
            writeln!(out, "{}", serde_json::to_string(d).expect("serializable"))
        } else {
            let entity = format!(
                "{}/{}",
                d.page_id.as_deref().unwrap_or("-"),
                d.entity_id.as_deref().unwrap_or("-")
            );
            writeln!(
                out,
                "{:<36}  {:<9}  {:<32}  {:<30}  {}",
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
    })?;
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
        writeln!(
            out,
            "replayed {webhooks} webhooks under the current rules: {differences} would be decided differently"
        )?;
    }
    Ok(())
}

/// `triggered trigger/critical`, or the outcome alone.
fn decision(d: &crate::replay::Decision) -> String {
    match (&d.action, &d.priority) {
        (Some(a), Some(p)) => format!("{} {a}/{p}", d.outcome),
        (Some(a), None) => format!("{} {a}", d.outcome),
        _ => d.outcome.clone(),
    }
}

fn backup(settings: &Settings, to: &std::path::Path) -> anyhow::Result<()> {
    let bytes = crate::storage::upkeep::backup(&settings.database.path, to)?;
    println!("{}\t{bytes} bytes", to.display());
    Ok(())
}

async fn prune(settings: Settings, args: PruneArgs) -> anyhow::Result<()> {
    let path = &settings.database.path;
    anyhow::ensure!(path.is_file(), "no database at {}", path.display());
    let db = crate::storage::open(
        path,
        std::time::Duration::from_millis(settings.database.busy_timeout_ms),
    )
    .await?;
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
