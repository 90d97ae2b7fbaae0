//! `silence add|list|expire`: a person says "not now" (docs/ROUTING.md,
//! "Silences"). The running server sees a new silence on the next webhook,
//! and the triggers an expired one held within a few seconds.

use super::{SilenceAddArgs, SilenceCommand, Usage};
use crate::config::Settings;
use crate::rules::silence::Request;
use crate::rules::time::parse_moment;
use crate::storage::silences::{Expired, SilenceRecord};

pub(super) async fn silence(settings: Settings, cmd: SilenceCommand) -> anyhow::Result<()> {
    // Bad input changes nothing: check it before opening the database.
    let now = chrono::Utc::now();
    let new = match &cmd {
        SilenceCommand::Add(args) => Some(
            request(args)?
                .silence(crate::silences::new_id(), now)
                .map_err(Usage)?,
        ),
        _ => None,
    };
    let db = crate::storage::open_configured(&settings.database).await?;
    let result = run(&db, cmd, new, now).await;
    db.close().await;
    result
}

async fn run(
    db: &crate::storage::Database,
    cmd: SilenceCommand,
    new: Option<crate::rules::silence::Silence>,
    now: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<()> {
    match (cmd, new) {
        (SilenceCommand::Add(_), Some(s)) => {
            let s = db.writer.add_silence(s, who(), now).await?;
            println!("{}", s.id);
            eprintln!(
                "silenced {} from {} until {}: {}",
                s.matchers(),
                s.starts_at.to_rfc3339(),
                s.ends_at.to_rfc3339(),
                s.reason
            );
        }
        (SilenceCommand::List, _) => {
            let all = db.read.silences().await?;
            if all.is_empty() {
                println!("no silences");
            }
            for l in all {
                println!("{}", crate::redact::terminal_line(&line(&l, now)));
            }
        }
        (SilenceCommand::Expire { id }, _) => {
            match db.writer.expire_silence(id.clone(), who(), now).await? {
                Expired::Now { released } => {
                    println!("silence {id} expired; {released} held trigger(s) go out now")
                }
                Expired::AlreadyEnded => println!("silence {id} had already ended"),
                Expired::NotFound => return Err(Usage(format!("no silence with id {id}")).into()),
            }
        }
        (SilenceCommand::Add(_), None) => unreachable!("checked before"),
    }
    Ok(())
}

fn request(a: &SilenceAddArgs) -> Result<Request, Usage> {
    let time = |flag: &str, v: &Option<String>| match v {
        None => Ok(None),
        Some(v) => parse_moment(v).map(Some).ok_or_else(|| {
            Usage(format!(
                "{flag} {v:?}: expected RFC 3339 (2026-12-01T18:00Z) or YYYY-MM-DD"
            ))
        }),
    };
    Ok(Request {
        page: a.page.clone(),
        component: a.component.clone(),
        incident: a.incident.clone(),
        route: a.route.clone(),
        starts_at: time("--from", &a.from)?,
        ends_at: time("--until", &Some(a.until.clone()))?,
        reason: a.reason.clone().unwrap_or_default(),
    })
}

/// `id  state  matchers  from  until  reason  created by/at`.
fn line(l: &SilenceRecord, now: chrono::DateTime<chrono::Utc>) -> String {
    let s = &l.silence;
    let state = s.state(now).as_str();
    let t = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    format!(
        "{}\t{state}\t{}\t{}\t{}\t{:?}\tby {} at {}{}",
        s.id,
        s.matchers(),
        t(s.starts_at),
        t(s.end()),
        s.reason,
        l.created_by,
        t(l.created_at),
        l.expired_by
            .as_deref()
            .map(|b| format!("; expired by {b}"))
            .unwrap_or_default()
    )
}

fn who() -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown".to_owned());
    format!("cli:{user}")
}
