//! The command line, a file per command group: `serve` (the default),
//! `check-config`, `sources new`, `outbox list|retry`, and the history
//! commands `replay`, `backup` and `prune`. Every command but `serve` works
//! on the database while the server runs.

mod check;
mod history;
mod outbox;
mod pages;
mod serve;
pub mod silence;
mod sources;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::config::Settings;

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
    /// Keep triggers matching a page, component, incident or route from
    /// ITOC360 for a while; resolves are always sent.
    #[command(subcommand)]
    Silence(SilenceCommand),
    /// A page's components, to filter and route on.
    #[command(subcommand)]
    Pages(PagesCommand),
}

#[derive(Subcommand, Debug)]
pub enum PagesCommand {
    /// Read the page's summary.json and print every component: id, name,
    /// group, status, and whether the current filters and routes let it
    /// page, and to which destination.
    Components {
        /// A page id or name from [[pages]], or any page id.
        page: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum SilenceCommand {
    /// Add a silence; prints its id.
    Add(SilenceAddArgs),
    /// Every silence: id, state, matchers, from, until, reason, who and when.
    List,
    /// End a silence now; the triggers it held go out within a few seconds.
    Expire {
        /// The silence's id (from `silence add` or `silence list`).
        id: String,
    },
}

#[derive(Args, Debug)]
pub struct SilenceAddArgs {
    /// A page id or name.
    #[arg(long)]
    pub page: Option<String>,
    /// A component id, name or group.
    #[arg(long)]
    pub component: Option<String>,
    /// An incident id.
    #[arg(long)]
    pub incident: Option<String>,
    /// A destination: a route's name, or `default`.
    #[arg(long)]
    pub route: Option<String>,
    /// When it starts (default: now); RFC 3339 or YYYY-MM-DD, UTC.
    #[arg(long, value_name = "TIME")]
    pub from: Option<String>,
    /// When it ends; RFC 3339 (2026-12-01T18:00Z) or YYYY-MM-DD, UTC.
    #[arg(long, value_name = "TIME")]
    pub until: String,
    /// Why, for whoever reads the audit later.
    #[arg(long)]
    pub reason: Option<String>,
}

/// Bad input to a command: exit 2, like a configuration error.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Usage(pub String);

#[derive(Args, Debug)]
pub struct ReplayArgs {
    /// One JSON object per difference, then a summary object.
    #[arg(long)]
    pub json: bool,
    /// Override a configuration key for the replay, e.g.
    /// `--set maintenance.page=true` (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Replay under this whole configuration file instead (its filters,
    /// routes, delays and maintenance; its [database] is ignored) and list
    /// every event whose destination, action or priority would differ.
    #[arg(long, value_name = "PATH")]
    pub candidate: Option<PathBuf>,
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
            Command::Serve => serve::serve(settings).await,
            Command::CheckConfig => {
                check::check_config(&settings).map(|summary| print!("{summary}"))
            }
            Command::Outbox(cmd) => outbox::outbox(settings, cmd).await,
            Command::Sources(SourcesCommand::New { name }) => {
                print!("{}", sources::new_source(&settings, &name));
                Ok(())
            }
            Command::Replay(args) => match &args.candidate {
                None => history::replay(&settings, args.json, None).await,
                Some(path) => {
                    let candidate =
                        Settings::load_with(Some(path), |k| std::env::var(k).ok(), &args.set)
                            .map_err(|e| Usage(format!("--candidate {}: {e}", path.display())))?;
                    history::replay(&settings, args.json, Some(&candidate)).await
                }
            },
            Command::Backup { path } => history::backup(&settings, &path),
            Command::Prune(args) => history::prune(settings, args).await,
            Command::Silence(cmd) => silence::silence(settings, cmd).await,
            Command::Pages(PagesCommand::Components { page, json }) => {
                pages::components(&settings, &page, json).await
            }
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.downcast_ref::<Usage>().is_some() => {
            eprintln!("statuspage-bridge: {e:#}");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("statuspage-bridge: {e:#}");
            ExitCode::FAILURE
        }
    }
}
