//! Status platforms: each adapter turns a platform's push body or poll
//! answer into the bridge's one model — the shape of an Atlassian
//! Statuspage webhook or `summary.json` — so dedupe, lifecycles, routing,
//! silences, audit and replay read every platform alike. Each adapter maps
//! the platform's values onto the bridge's statuses and impacts in one
//! table, value by value; a value the table does not know stays unknown
//! (stored and shown, never guessed). Pure: the documents come in, values
//! go out.

pub mod instatus;

use serde_json::Value;

/// A page's `kind`: the platform it runs on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Platform {
    /// Atlassian Statuspage.
    #[default]
    Statuspage,
    Instatus,
}

impl Platform {
    pub const ALL: [Platform; 2] = [Platform::Statuspage, Platform::Instatus];

    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Statuspage => "statuspage",
            Platform::Instatus => "instatus",
        }
    }

    pub fn parse(s: &str) -> Option<Platform> {
        Platform::ALL.into_iter().find(|p| p.as_str() == s)
    }

    /// "an Instatus", for sentences.
    pub fn article(self) -> &'static str {
        match self {
            Platform::Statuspage => "a Statuspage",
            Platform::Instatus => "an Instatus",
        }
    }

    /// Whether the platform posts webhooks (`POST /webhooks/<kind>`); the
    /// others are followed by polling alone.
    pub fn pushes(self) -> bool {
        match self {
            Platform::Statuspage | Platform::Instatus => true,
        }
    }

    /// The documents a round reads, by path below the page's address, in
    /// the order [`summary`] takes them.
    pub fn documents(self) -> &'static [&'static str] {
        match self {
            Platform::Statuspage => &["/api/v2/summary.json"],
            Platform::Instatus => &["/summary.json", "/v2/components.json"],
        }
    }

    /// Whether the platform lists its recent incidents, resolved ones
    /// included (Statuspage's `incidents.json`): an incident that left the
    /// summary is looked up there before its misses count.
    pub fn lists_recent(self) -> bool {
        self == Platform::Statuspage
    }
}

crate::rules::domain::serialize_as_str!(Platform);

/// A push body of `platform` as the Statuspage webhook the parser reads;
/// `Err` says why it is not one of the platform's webhooks.
pub fn webhook(platform: Platform, json: Value) -> Result<Value, String> {
    match platform {
        Platform::Statuspage => Ok(json),
        Platform::Instatus => instatus::webhook(&json),
    }
}

/// A round's documents (in the order of [`Platform::documents`]) as a
/// Statuspage `summary.json` of page `page_id`; `Err` says why they are not
/// the platform's answers.
pub fn summary(platform: Platform, page_id: &str, docs: Vec<Value>) -> Result<Value, String> {
    match platform {
        Platform::Statuspage => docs
            .into_iter()
            .next()
            .ok_or_else(|| "no summary.json".to_owned()),
        Platform::Instatus => instatus::summary(page_id, &docs),
    }
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
        assert_eq!(mapped(&[("A", "b")], "A"), "b");
        assert_eq!(mapped(&[("A", "b")], "NEWVALUE"), "newvalue");
    }
}
