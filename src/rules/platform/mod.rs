//! Status platforms: each adapter turns a platform's push body or poll
//! answer into the bridge's one model — the shape of an Atlassian
//! Statuspage webhook or `summary.json` — so dedupe, lifecycles, routing,
//! silences, audit and replay read every platform alike. Each adapter maps
//! the platform's values onto the bridge's statuses and impacts in one
//! table, value by value; a value the table does not know stays unknown
//! (stored and shown, never guessed). Pure: the documents come in, values
//! go out.

pub mod betterstack;
pub mod feed;
pub mod gcp;
pub mod incidentio;
pub mod instatus;
pub mod slack;

use chrono::{DateTime, Utc};
use serde_json::Value;

pub use feed::FeedWords;

/// A page's `kind`: the platform it runs on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Platform {
    /// Atlassian Statuspage.
    #[default]
    Statuspage,
    /// incident.io status pages.
    Incidentio,
    /// Google Cloud's status dashboard.
    Gcp,
    /// Better Stack status pages.
    Betterstack,
    /// Any RSS 2.0 or Atom feed.
    Feed,
    /// Instatus status pages.
    Instatus,
    /// Slack's own status page.
    Slack,
}

impl Platform {
    pub const ALL: [Platform; 7] = [
        Platform::Statuspage,
        Platform::Incidentio,
        Platform::Gcp,
        Platform::Betterstack,
        Platform::Feed,
        Platform::Instatus,
        Platform::Slack,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Statuspage => "statuspage",
            Platform::Incidentio => "incidentio",
            Platform::Gcp => "gcp",
            Platform::Betterstack => "betterstack",
            Platform::Feed => "feed",
            Platform::Instatus => "instatus",
            Platform::Slack => "slack",
        }
    }

    pub fn parse(s: &str) -> Option<Platform> {
        Platform::ALL.into_iter().find(|p| p.as_str() == s)
    }

    /// Its name, at the start of the titles sent for its pages.
    pub fn label(self) -> &'static str {
        match self {
            Platform::Statuspage => "Statuspage",
            Platform::Incidentio => "incident.io",
            Platform::Gcp => "Google Cloud",
            Platform::Betterstack => "Better Stack",
            Platform::Feed => "Feed",
            Platform::Instatus => "Instatus",
            Platform::Slack => "Slack",
        }
    }

    /// "an Instatus", for sentences.
    pub fn article(self) -> &'static str {
        match self {
            Platform::Statuspage => "a Statuspage",
            Platform::Incidentio => "an incident.io",
            Platform::Gcp => "a Google Cloud",
            Platform::Betterstack => "a Better Stack",
            Platform::Feed => "a feed",
            Platform::Instatus => "an Instatus",
            Platform::Slack => "a Slack",
        }
    }

    /// Whether the platform posts webhooks (`POST /webhooks/<kind>`); the
    /// others are followed by polling alone.
    pub fn pushes(self) -> bool {
        match self {
            Platform::Statuspage | Platform::Instatus | Platform::Betterstack => true,
            Platform::Incidentio | Platform::Gcp | Platform::Slack | Platform::Feed => false,
        }
    }

    /// The documents a round reads, by path below the page's address, in
    /// the order [`summary`] takes them.
    pub fn documents(self) -> &'static [&'static str] {
        match self {
            Platform::Statuspage | Platform::Incidentio => &["/api/v2/summary.json"],
            Platform::Instatus => &["/summary.json", "/v2/components.json"],
            Platform::Slack => &["/api/v2.0.0/current"],
            Platform::Gcp => &["/incidents.json"],
            Platform::Betterstack => &["/index.json"],
            // The feed's address is the page's `base_url` itself.
            Platform::Feed => &[""],
        }
    }

    /// Whether the platform lists its recent incidents, resolved ones
    /// included, in a document of their own (Statuspage's
    /// `incidents.json`): an incident that left the summary is looked up
    /// there before its misses count.
    pub fn lists_recent(self) -> bool {
        matches!(self, Platform::Statuspage | Platform::Incidentio)
    }

    /// Where a page of this platform lives when `base_url` is not set;
    /// `None`: it must be set.
    pub fn default_base(self, page_id: &str) -> Option<String> {
        match self {
            Platform::Statuspage => Some(format!("https://{page_id}.statuspage.io")),
            Platform::Slack => Some("https://slack-status.com".into()),
            Platform::Gcp => Some("https://status.cloud.google.com".into()),
            Platform::Incidentio | Platform::Instatus | Platform::Betterstack | Platform::Feed => {
                None
            }
        }
    }

    /// Whether its documents are read as they are (XML), not as JSON.
    pub fn raw(self) -> bool {
        self == Platform::Feed
    }
}

crate::rules::domain::serialize_as_str!(Platform);

/// A push body of `platform` as the Statuspage webhook the parser reads;
/// `Err` says why it is not one of the platform's webhooks.
pub fn webhook(platform: Platform, json: Value) -> Result<Value, String> {
    match platform {
        Platform::Statuspage => Ok(json),
        Platform::Instatus => instatus::webhook(&json),
        Platform::Betterstack => betterstack::webhook(&json),
        Platform::Incidentio | Platform::Gcp | Platform::Slack | Platform::Feed => Err(format!(
            "{} pages are polled, not pushed",
            platform.as_str()
        )),
    }
}

/// What a round read, in Statuspage's shapes.
#[derive(Debug, Clone, PartialEq)]
pub struct Polled {
    /// As `summary.json`: the page, its components, its open incidents and
    /// its scheduled maintenances.
    pub summary: Value,
    /// Incidents that ended and that the documents still list, as
    /// `incidents.json` lists them: an incident that left the summary is
    /// looked up here first. `None`: the documents list none (Statuspage's
    /// are read from `incidents.json` when needed).
    pub recent: Option<Vec<Value>>,
}

/// One document a round read: JSON, or the bytes of a platform that is
/// [`Platform::raw`].
#[derive(Debug, Clone, PartialEq)]
pub enum Doc {
    Json(Value),
    Raw(Vec<u8>),
}

impl Doc {
    fn json(&self) -> &Value {
        match self {
            Doc::Json(v) => v,
            Doc::Raw(_) => &Value::Null,
        }
    }
}

/// What a round knows besides its documents.
#[derive(Debug, Clone, Copy)]
pub struct Round<'a> {
    /// The configured page id: the summary's `page.id`.
    pub page_id: &'a str,
    /// When the round read them (a feed's entries age).
    pub now: DateTime<Utc>,
    /// A feed page's words.
    pub feed: &'a FeedWords,
}

/// A round's documents (in the order of [`Platform::documents`]) as the
/// page's; `Err` says why they are not the platform's answers.
pub fn summary(platform: Platform, round: &Round<'_>, docs: Vec<Doc>) -> Result<Polled, String> {
    let page_id = round.page_id;
    let null = Doc::Json(Value::Null);
    let first = docs.first().unwrap_or(&null);
    let with_recent = |(summary, ended): (Value, Vec<Value>)| Polled {
        summary,
        recent: Some(ended),
    };
    let summary = match platform {
        Platform::Gcp => return gcp::summary(page_id, first.json()).map(with_recent),
        Platform::Betterstack => {
            return betterstack::summary(page_id, first.json()).map(with_recent);
        }
        Platform::Feed => {
            let Doc::Raw(body) = first else {
                return Err("a feed is read as it is, not as JSON".into());
            };
            return feed::summary(page_id, body, round.feed, round.now).map(with_recent);
        }
        Platform::Statuspage => first.json().clone(),
        Platform::Incidentio => incidentio::summary(page_id, first.json())?,
        Platform::Instatus => {
            let json: Vec<Value> = docs.iter().map(|d| d.json().clone()).collect();
            instatus::summary(page_id, &json)?
        }
        Platform::Slack => slack::summary(page_id, first.json())?,
    };
    Ok(Polled {
        summary,
        recent: None,
    })
}

/// `/api/v2/incidents.json` of a platform that [`Platform::lists_recent`],
/// as Statuspage's.
pub fn recent(platform: Platform, page_id: &str, doc: Value) -> Result<Value, String> {
    match platform {
        Platform::Incidentio => Ok(serde_json::json!({
            "page": {"id": page_id},
            "incidents": incidentio::recent(&doc)?,
        })),
        _ => Ok(doc),
    }
}

/// A string at `key` that says something (not blank).
pub(crate) fn text<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
}

/// One row of an adapter's table: the platform's value and the bridge's.
pub(crate) type Mapping = (&'static str, &'static str);

/// `value` through `table`; a value the table does not have is kept, in
/// lower case, and so reads as unknown.
pub(crate) fn mapped(table: &[Mapping], value: &str) -> String {
    table
        .iter()
        .find(|(from, _)| *from == value)
        .map_or_else(|| value.to_lowercase(), |(_, to)| (*to).to_owned())
}

/// A captured body of `tests/fixtures/<kind>/`, for the adapters' tables.
#[cfg(test)]
fn fixture_bytes(kind: &str, name: &str) -> Vec<u8> {
    let path = format!(
        "{}/tests/fixtures/{kind}/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// [`fixture_bytes`], as JSON.
#[cfg(test)]
fn fixture(kind: &str, name: &str) -> Value {
    serde_json::from_slice(&fixture_bytes(kind, name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// The component `id` of a summary, for the adapters' tables.
#[cfg(test)]
fn component<'a>(summary: &'a Value, id: &str) -> Option<&'a Value> {
    summary["components"]
        .as_array()?
        .iter()
        .find(|c| c["id"] == id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_read_back_and_only_statuspage_lists_recent_incidents() {
        for p in Platform::ALL {
            assert_eq!(Platform::parse(p.as_str()), Some(p));
            assert!(!p.documents().is_empty());
        }
        assert_eq!(Platform::parse("atlassian"), None);
        assert!(Platform::Statuspage.lists_recent());
        assert!(!Platform::Instatus.lists_recent());
        assert!(Platform::Incidentio.lists_recent());
        assert!(!Platform::Incidentio.pushes());
        assert_eq!(mapped(&[("A", "b")], "A"), "b");
        assert_eq!(mapped(&[("A", "b")], "NEWVALUE"), "newvalue");
    }
}
