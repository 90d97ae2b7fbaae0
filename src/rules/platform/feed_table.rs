//! The feed adapter against `tests/fixtures/feed/` (see PROVENANCE.md
//! there).

use super::*;
use crate::rules::heal;
use chrono::TimeZone;

fn fixture(name: &str) -> Vec<u8> {
    super::super::fixture_bytes("feed", name)
}

fn at(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, h, 0, 0).unwrap()
}

fn words(f: impl FnOnce(&mut FeedWords)) -> FeedWords {
    let mut w = FeedWords::default();
    f(&mut w);
    w
}

#[test]
fn words_match_whole_words_in_any_case() {
    assert!(holds(
        "Service is operating normally: [RESOLVED] Increased",
        "resolved"
    ));
    assert!(!holds("An unresolved issue", "resolved"));
    assert!(holds("Major Outage in eu-west-1", "major outage"));
    assert!(!holds("anything", " "));
    let w = words(|w| {
        w.critical = vec!["outage".into()];
        w.major = vec!["disruption".into()];
        w.none = vec!["informational".into()];
    });
    assert_eq!(impact("Partial OUTAGE", &w), "critical");
    assert_eq!(impact("Service disruption", &w), "major");
    assert_eq!(impact("Informational message: x", &w), "none");
    assert_eq!(impact("Increased error rates", &w), "minor");
    assert_eq!(
        subject(
            "Service is operating normally: [RESOLVED] Increased error rates",
            &w
        ),
        "increased error rates"
    );
    assert_eq!(
        subject("Informational message: Increased error rates", &w),
        "increased error rates"
    );
}

#[test]
fn an_atom_history_entry_is_an_incident_until_it_says_resolved() {
    let now = at(2026, 9, 23, 15);
    let (s, ended) = summary(
        "gh",
        &fixture("github_history_open.atom"),
        &FeedWords::default(),
        now,
    )
    .unwrap();
    assert_eq!(s["page"]["name"], "GitHub Status - Incident History");
    let i = &s["incidents"][0];
    assert_eq!(
        i["id"],
        "tag:www.githubstatus.com,2005:Incident/8zc63m64hy36"
    );
    assert_eq!(i["name"], "Incident across several services");
    assert_eq!(
        (i["status"].as_str(), i["impact"].as_str()),
        (Some("investigating"), Some("minor"))
    );
    assert_eq!(i["shortlink"], "https://stspg.io/m1ps7yrhp4n8");
    assert!(
        i["incident_updates"][0]["body"]
            .as_str()
            .unwrap()
            .contains("Users may experience stale Project search results."),
        "{i}"
    );
    assert_eq!(s["incidents"].as_array().unwrap().len(), 1);
    assert_eq!(ended.len(), 1, "the older incident says it is resolved");
    let read = heal::read_summary(&s, "gh").unwrap();
    assert_eq!(read.incidents.len(), 1);
    let (s, ended) = summary(
        "gh",
        &fixture("github_history_resolved.atom"),
        &FeedWords::default(),
        now,
    )
    .unwrap();
    assert_eq!(s["incidents"], json!([]));
    assert!(
        ended
            .iter()
            .any(|e| e["id"] == i["id"] && e["status"] == "resolved")
    );
}

#[test]
fn old_entries_are_history_and_an_rss_update_of_its_own_closes_its_subject() {
    // Exactly `max_age` old is still recent; a second more is history.
    let posted = at(2015, 4, 23, 10) + chrono::Duration::seconds(12 * 60 + 2);
    let w = words(|w| w.max_age = chrono::Duration::hours(1));
    let open =
        |now| summary("aws", &fixture("aws_open.rss"), &w, now).unwrap().0["incidents"].clone();
    assert_eq!(
        open(posted + chrono::Duration::hours(1))
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(open(posted + chrono::Duration::seconds(3601)), json!([]));
    // Read in 2026, the 2015 entry is history.
    let (s, _) = summary(
        "aws",
        &fixture("aws_open.rss"),
        &FeedWords::default(),
        at(2026, 1, 1, 0),
    )
    .unwrap();
    assert_eq!(s["incidents"], json!([]));
    let then = at(2015, 4, 23, 11);
    let (s, _) = summary("aws", &fixture("aws_open.rss"), &FeedWords::default(), then).unwrap();
    assert_eq!(
        s["incidents"][0]["id"],
        "http://status.aws.amazon.com/#sqs-eu-west-1_1429783922"
    );
    // Each update its own entry: without `by_title` the first stays open.
    let (s, _) = summary(
        "aws",
        &fixture("aws_resolved.rss"),
        &FeedWords::default(),
        then,
    )
    .unwrap();
    assert_eq!(s["incidents"].as_array().unwrap().len(), 1);
    // With it, the subject's newest entry speaks for both.
    let grouped = words(|w| w.by_title = true);
    let (open, _) = summary("aws", &fixture("aws_open.rss"), &grouped, then).unwrap();
    let id = open["incidents"][0]["id"].clone();
    assert_eq!(id, "subject:increased error rates");
    let (s, ended) = summary("aws", &fixture("aws_resolved.rss"), &grouped, then).unwrap();
    assert_eq!(s["incidents"], json!([]));
    assert_eq!(ended.len(), 1);
    assert_eq!(
        (&ended[0]["id"], ended[0]["status"].as_str()),
        (&id, Some("resolved"))
    );
}

#[test]
fn an_empty_feed_is_all_well_and_other_bodies_fail() {
    let (s, ended) = summary(
        "azure",
        &fixture("azure_empty.rss"),
        &FeedWords::default(),
        at(2026, 9, 23, 16),
    )
    .unwrap();
    assert_eq!((s["incidents"].clone(), ended.len()), (json!([]), 0));
    assert_eq!(s["page"]["name"], "Azure Status");
    assert!(
        summary(
            "x",
            b"<html><body>moved</body></html>",
            &FeedWords::default(),
            at(2026, 1, 1, 0)
        )
        .unwrap_err()
        .contains("not an RSS or Atom feed")
    );
    // Long ids are named by their hash.
    let long = "x".repeat(300);
    assert!(entry_id(&long).starts_with("sha256:"));
    assert_eq!(entry_id("short"), "short");
}
