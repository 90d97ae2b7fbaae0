//! `replay`: every stored webhook (and heal), in the order it was stored,
//! through the current rules on a scratch database, compared with what was
//! recorded. The live database is only read, by one backup; nothing is
//! sent to ITOC360.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use serde::Serialize;

use crate::pipeline;
use crate::rules::machine::Rules;
use crate::rules::plan::{Delivery, Plan};
use crate::rules::route::Policy;
use crate::storage::history;

/// What was decided for one webhook (at one destination, under
/// `--candidate`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decided {
    pub outcome: String,
    pub action: Option<String>,
    pub priority: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub destination: Option<String>,
}

/// A webhook the current rules decide differently.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Difference {
    pub webhook_id: String,
    pub kind: String,
    pub page_id: Option<String>,
    pub entity_id: Option<String>,
    /// Under `--candidate`: the destination whose events differ.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub destination: Option<String>,
    pub recorded: Decided,
    pub replayed: Decided,
}

/// Replays the database at `live` under a whole other configuration
/// (`replay --candidate`): its rules and routing, the silences as stored.
/// Reports, per webhook, each destination whose events (action, priority)
/// differ from those recorded: what the candidate would have paged, and
/// where.
pub fn run_candidate(
    live: &Path,
    rules: Rules,
    policy: Arc<Policy>,
    scratch_dir: &Path,
    mut on_difference: impl FnMut(&Difference),
) -> anyhow::Result<u64> {
    replay_planned(live, rules, policy, scratch_dir, |recorded, plan| {
        let job = &recorded.job;
        let replayed: Vec<(String, String, String)> = plan
            .drafts
            .iter()
            .map(|d| {
                (
                    d.destination.clone(),
                    d.action.to_string(),
                    d.priority.to_string(),
                )
            })
            .collect();
        let mut destinations: Vec<&String> = recorded
            .events
            .iter()
            .chain(&replayed)
            .map(|(d, _, _)| d)
            .collect();
        destinations.sort();
        destinations.dedup();
        for d in destinations {
            let at = |events: &[(String, String, String)]| -> Vec<(String, String)> {
                events
                    .iter()
                    .filter(|(dest, _, _)| dest == d)
                    .map(|(_, a, p)| (a.clone(), p.clone()))
                    .collect()
            };
            let (was, would) = (at(&recorded.events), at(&replayed));
            if was == would {
                continue;
            }
            let decision = |outcome: &str, events: &[(String, String)]| Decided {
                outcome: outcome.to_owned(),
                action: events.first().map(|e| e.0.clone()),
                priority: events.first().map(|e| e.1.clone()),
                destination: Some(d.clone()),
            };
            on_difference(&Difference {
                webhook_id: job.id.clone(),
                kind: recorded.kind.clone(),
                page_id: recorded.page_id.clone(),
                entity_id: recorded.entity_id.clone(),
                destination: Some(d.clone()),
                recorded: decision(&recorded.outcome, &was),
                replayed: decision(plan.step.outcome.as_str(), &would),
            });
        }
        Ok(())
    })
}

/// Replays the database at `live` under `rules` with no routing settings,
/// in a scratch folder made inside `scratch_dir` (removed afterwards).
/// Calls `on_difference` for each difference as it is found; returns how
/// many webhooks were replayed.
pub fn run(
    live: &Path,
    rules: Rules,
    scratch_dir: &Path,
    on_difference: impl FnMut(&Difference),
) -> anyhow::Result<u64> {
    run_routed(live, rules, Arc::default(), scratch_dir, on_difference)
}

/// `run`, under routing settings (`policy`) as well.
pub fn run_routed(
    live: &Path,
    rules: Rules,
    policy: Arc<Policy>,
    scratch_dir: &Path,
    mut on_difference: impl FnMut(&Difference),
) -> anyhow::Result<u64> {
    replay_planned(live, rules, policy, scratch_dir, |recorded, plan| {
        let step = plan.step;
        let replayed = Decided {
            outcome: step.outcome.to_string(),
            action: step.emit.map(|e| e.action.to_string()),
            priority: step.emit.map(|e| e.priority.to_string()),
            destination: None,
        };
        let recorded_decision = Decided {
            outcome: recorded.outcome,
            action: recorded.action,
            priority: recorded.priority,
            destination: None,
        };
        if replayed != recorded_decision {
            on_difference(&Difference {
                webhook_id: recorded.job.id,
                kind: recorded.kind,
                page_id: recorded.page_id,
                entity_id: recorded.entity_id,
                destination: None,
                recorded: recorded_decision,
                replayed,
            });
        }
        Ok(())
    })
}

/// Replays every stored webhook in order on a scratch copy (made inside
/// `scratch_dir`, removed afterwards) under `rules` and `policy`, nothing
/// sent, handing `each` the webhook as recorded and the plan replayed.
fn replay_planned(
    live: &Path,
    rules: Rules,
    policy: Arc<Policy>,
    scratch_dir: &Path,
    mut each: impl FnMut(history::Recorded, Plan) -> anyhow::Result<()>,
) -> anyhow::Result<u64> {
    history::replay(live, scratch_dir, |recorded, scratch| {
        let job = &recorded.job;
        let decide = pipeline::decide(
            rules,
            Delivery::DryRun,
            policy.clone(),
            job.received_at,
            job.origin.clone(),
            job.shape,
        );
        let plan = scratch
            .ingest(job, &recorded.reading, decide)
            .with_context(|| format!("replaying webhook {}", job.id))?;
        each(recorded, plan)
    })
}
