//! Any RSS 2.0 or Atom feed (AWS, Azure and many vendors): each entry is
//! an incident — or, with `by_title`, each run of entries of one subject,
//! for feeds that post every update as an entry of its own. An incident is
//! over when its newest entry's title or text holds one of the page's
//! resolved words; else it is open while that entry is recent, at the
//! impact its words give (minor when it names none). Parsed with
//! `feed-rs`.

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

/// What the page's words make of its entries (`[pages.feed]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedWords {
    /// An entry holding one of these is over.
    pub resolved: Vec<String>,
    /// Impact by word, most severe first; an entry naming none is `minor`.
    pub critical: Vec<String>,
    pub major: Vec<String>,
    pub none: Vec<String>,
    /// An entry not over and last updated longer ago than this is history,
    /// not an incident going on.
    pub max_age: Duration,
    /// Entries of one subject (the title without a leading `Label: ` and
    /// without the resolved words) are one incident, named by its subject.
    pub by_title: bool,
}

impl Default for FeedWords {
    fn default() -> FeedWords {
        FeedWords {
            resolved: vec!["resolved".into(), "completed".into()],
            critical: Vec::new(),
            major: Vec::new(),
            none: Vec::new(),
            max_age: Duration::hours(24),
            by_title: false,
        }
    }
}

/// Whether `text` holds `word` (any case) between non-alphanumerics.
fn holds(text: &str, word: &str) -> bool {
    let (text, word) = (text.to_lowercase(), word.trim().to_lowercase());
    if word.is_empty() {
        return false;
    }
    text.match_indices(&word).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + word.len()..].chars().next();
        !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
    })
}

fn holds_any(text: &str, words: &[String]) -> bool {
    words.iter().any(|w| holds(text, w))
}

/// The impact an entry's words give.
fn impact(text: &str, w: &FeedWords) -> &'static str {
    if holds_any(text, &w.critical) {
        "critical"
    } else if holds_any(text, &w.major) {
        "major"
    } else if holds_any(text, &w.none) {
        "none"
    } else {
        "minor"
    }
}

/// An entry's subject: its title after the last `Label: ` prefix, without
/// the resolved words or brackets, in lower case, spaces collapsed.
fn subject(title: &str, w: &FeedWords) -> String {
    let after = title.rsplit_once(": ").map_or(title, |(_, t)| t);
    let mut words: Vec<String> = Vec::new();
    for word in after.split_whitespace() {
        let bare: String = word
            .chars()
            .filter(|c| !matches!(c, '[' | ']' | '(' | ')'))
            .collect::<String>()
            .to_lowercase();
        if !bare.is_empty()
            && !w
                .resolved
                .iter()
                .any(|r| r.trim().eq_ignore_ascii_case(&bare))
        {
            words.push(bare);
        }
    }
    words.join(" ")
}

/// An entry's id: its own (`guid`, Atom `id`), else its link, else its
/// title; one longer than an id may be is named by its hash.
fn entry_id(id: &str) -> String {
    if id.chars().count() <= 200 {
        return id.to_owned();
    }
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(id.as_bytes());
    let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// The feed as Statuspage's `summary.json` of page `page_id` at `now`,
/// and the entries that are over as its recent list.
pub fn summary(
    page_id: &str,
    body: &[u8],
    words: &FeedWords,
    now: DateTime<Utc>,
) -> Result<(Value, Vec<Value>), String> {
    // Entries without an id of their own are named by their link (else
    // their title), never by a random id: the same entry keeps its name
    // from round to round.
    let parser = feed_rs::parser::Builder::new()
        .id_generator(|links, title, _| {
            links
                .first()
                .map(|l| l.href.clone())
                .or_else(|| title.as_ref().map(|t| t.content.clone()))
                .unwrap_or_else(|| "entry".into())
        })
        .build();
    let feed = parser
        .parse(body)
        .map_err(|e| format!("not an RSS or Atom feed: {e}"))?;
    let mut open = Vec::new();
    let mut ended = Vec::new();
    // Newest first, so that of a subject's entries the newest speaks.
    let mut entries: Vec<&feed_rs::model::Entry> = feed.entries.iter().collect();
    entries.sort_by_key(|e| std::cmp::Reverse(e.updated.or(e.published)));
    let mut subjects: Vec<String> = Vec::new();
    for e in entries {
        let title = e.title.as_ref().map(|t| t.content.trim().to_owned());
        let html = e
            .content
            .as_ref()
            .and_then(|c| c.body.clone())
            .or_else(|| e.summary.as_ref().map(|s| s.content.clone()))
            .unwrap_or_default();
        let text = nanohtml2text::html2text(&html).trim().to_owned();
        let all = format!("{} {text}", title.as_deref().unwrap_or(""));
        let at = e.updated.or(e.published);
        let over = holds_any(&all, &words.resolved);
        if !over && at.is_none_or(|t| now - t > words.max_age) {
            continue;
        }
        let id = if words.by_title {
            let s = subject(title.as_deref().unwrap_or(""), words);
            if subjects.contains(&s) {
                continue;
            }
            subjects.push(s.clone());
            entry_id(&format!("subject:{s}"))
        } else {
            entry_id(&e.id)
        };
        let at_text = at.map(crate::rules::time::format_time);
        let status = if over { "resolved" } else { "investigating" };
        let incident = json!({
            "id": id,
            "name": title,
            "status": status,
            "impact": impact(&all, words),
            "created_at": e.published.or(e.updated).map(crate::rules::time::format_time),
            "updated_at": at_text,
            "resolved_at": if over { at_text.clone() } else { None },
            "shortlink": e.links.first().map(|l| l.href.clone()),
            "incident_updates": [{
                "id": at_text.as_ref().map(|t| format!("{id}@{t}")),
                "status": status,
                "body": (!text.is_empty()).then_some(text),
                "created_at": at_text,
            }],
            "components": [],
        });
        if over {
            ended.push(incident);
        } else {
            open.push(incident);
        }
    }
    Ok((
        json!({
            "page": {"id": page_id, "name": feed.title.map(|t| t.content.trim().to_owned())},
            "components": [],
            "incidents": open,
            "scheduled_maintenances": [],
        }),
        ended,
    ))
}

#[cfg(test)]
#[path = "feed_table.rs"]
mod table;
