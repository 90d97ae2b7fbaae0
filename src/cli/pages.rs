//! `pages components PAGE`: the page's components as its status API lists
//! them (any platform, through its adapter), with what the current filters and routes would do with
//! each (docs/ROUTING.md) — the ids and names to filter on.

use serde_json::json;

use crate::config::{Page, Secret, Settings};
use crate::reconcile;
use crate::rules::catalog::{self, Catalog, Verdict};
use crate::rules::route::Policy;

/// PAGE as configured (by id or name), else any page id with the default
/// status API address.
fn page_of(settings: &Settings, policy: &Policy, page: &str) -> Page {
    let wanted = page.trim();
    let named = |p: &&Page| {
        policy
            .page_name(&p.id)
            .is_some_and(|n| n.trim().eq_ignore_ascii_case(wanted))
    };
    settings
        .pages
        .iter()
        .find(|p| p.id == wanted)
        .or_else(|| settings.pages.iter().find(named))
        .cloned()
        .unwrap_or_else(|| Page {
            id: wanted.to_owned(),
            source: String::new(),
            base_url: String::new(),
            api_key: Secret::default(),
            webhooks: true,
            kind: Default::default(),
            feed: None,
        })
}

pub(super) async fn components(
    settings: &Settings,
    page: &str,
    as_json: bool,
) -> anyhow::Result<()> {
    let policy = settings.policy();
    let page = page_of(settings, &policy, page);
    let client = reconcile::client(&settings.reconcile)?;
    let summary = reconcile::fetch_summary(&client, &page, chrono::Utc::now())
        .await?
        .summary;
    let found = catalog::read_catalog(&summary, &page.id)
        .map_err(|e| anyhow::anyhow!("{} ({}): {e}", page.api_base(), page.kind.as_str()))?;
    let verdicts: Vec<Verdict> = found
        .components
        .iter()
        .map(|c| catalog::verdict(&policy, &found, c))
        .collect();
    if as_json {
        println!(
            "{}",
            serde_json::to_string_pretty(&as_value(&found, &verdicts, &policy))?
        );
    } else {
        // Names come from the page: nothing in them reaches the terminal
        // raw (an escape sequence, a bidi override).
        for line in table(&found, &verdicts, &policy).lines() {
            println!("{}", crate::redact::terminal_line(line));
        }
    }
    Ok(())
}

fn as_value(found: &Catalog, verdicts: &[Verdict], policy: &Policy) -> serde_json::Value {
    let components: Vec<serde_json::Value> = found
        .components
        .iter()
        .zip(verdicts)
        .map(|(c, v)| {
            json!({
                "id": c.id,
                "name": c.name,
                "group": c.is_group,
                "group_id": c.group_id,
                "group_name": c.group_name,
                "status": c.status,
                "pages": v.pages,
                "destinations": v.destinations,
                "why": v.why,
            })
        })
        .collect();
    json!({
        "page": {"id": found.page_id, "name": found.label(policy)},
        "components": components,
    })
}

/// Columns padded to their widest cell.
fn table(found: &Catalog, verdicts: &[Verdict], policy: &Policy) -> String {
    let mut rows = vec![[
        "ID".to_owned(),
        "NAME".to_owned(),
        "GROUP".to_owned(),
        "STATUS".to_owned(),
        "PAGES".to_owned(),
    ]];
    for (c, v) in found.components.iter().zip(verdicts) {
        let group = if c.is_group {
            "(a group)".to_owned()
        } else {
            c.group_name
                .clone()
                .or_else(|| c.group_id.clone())
                .unwrap_or_else(|| "—".into())
        };
        let pages = match (&v.why, v.pages) {
            (_, true) => format!("yes → {}", v.destinations.join(", ")),
            (Some(why), false) => format!("no: {why}"),
            (None, false) => "no".to_owned(),
        };
        rows.push([
            c.id.clone(),
            c.name.clone().unwrap_or_else(|| "—".into()),
            group,
            c.status.clone().unwrap_or_else(|| "—".into()),
            pages,
        ]);
    }
    let mut widths = [0usize; 4];
    for r in &rows {
        for (w, cell) in widths.iter_mut().zip(r.iter()) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = format!(
        "Page {} ({}): {} components, as the current filters and routes would page each one alone (at {})\n",
        found.label(policy),
        found.page_id,
        found.components.len(),
        catalog::COMPONENT_PRIORITY
    );
    for r in rows {
        let mut line = String::new();
        for (w, cell) in widths.iter().zip(r.iter()) {
            line.push_str(cell);
            line.push_str(&" ".repeat(w - cell.chars().count() + 2));
        }
        line.push_str(&r[4]);
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}
