//! What reconcile learns from a page's `summary.json` (docs/ROUTING.md):
//! the page's name in titles and on the audit pages, groups named by name
//! in filters, the warning for a filter naming nothing the page has, and
//! `pages components`.

use serde_json::{Value, json};
use statuspage_bridge::config::{Page, PageRules, Route, Secret, Settings};

use crate::fake_itoc360::FakeItoc360;
use crate::fake_status::{Answer, FakeStatus};
use crate::helpers::*;

const PAGE: &str = "x1y2z3a4b5c6";
const TOKEN: &str = "default-token-0123456789";

fn leaf(id: &str, name: &str, group: Option<&str>, status: &str) -> Value {
    json!({"id": id, "name": name, "status": status, "group": false, "group_id": group,
           "page_id": PAGE, "position": 1, "updated_at": "2025-03-04T10:00:00.000Z"})
}

/// The page as its status API shows it: named "Vendor Cloud", with the
/// sample's API component, and a group "Core" holding Billing.
fn serve_vendor_page(fake: &FakeStatus) {
    let components = vec![
        leaf("r7p3k9d2m5w1", "API", None, "operational"),
        json!({"id": "grp1", "name": "Core", "status": "operational", "group": true,
               "group_id": null, "page_id": PAGE, "position": 2, "components": ["bil1"]}),
        leaf("bil1", "Billing", Some("grp1"), "operational"),
    ];
    fake.set(
        "summary.json",
        Answer::json(json!({
            "page": {"id": PAGE, "name": "Vendor Cloud", "url": "https://status.example.com"},
            "components": components, "incidents": [], "scheduled_maintenances": []})),
    );
}

/// The vendor page served, a fake ITOC360 taking `TOKEN`, and a bridge that
/// reconciles the page (its first round done) with the routing `f` sets.
async fn spawn_learning(
    f: impl FnOnce(&mut Settings) + Send + 'static,
) -> (FakeStatus, FakeItoc360, TestApp) {
    let status = FakeStatus::start().await;
    serve_vendor_page(&status);
    let itoc = FakeItoc360::start_many(&[TOKEN]).await;
    let (status_url, itoc_url) = (status.base_url.clone(), itoc.base_url.clone());
    let app = spawn_app_with(move |s| {
        s.itoc360.base_url = itoc_url;
        s.itoc360.token = Secret::new(TOKEN);
        s.pages = vec![Page {
            id: PAGE.into(),
            source: String::new(),
            base_url: status_url,
            api_key: Secret::default(),
            webhooks: true,
            kind: Default::default(),
            feed: None,
        }];
        s.reconcile.interval_secs = 3600;
        f(s);
    })
    .await;
    app.reconcile.clone().unwrap().wait_for(1).await;
    (status, itoc, app)
}

#[tokio::test]
async fn a_learned_page_name_leads_titles_names_audit_rows_and_groups_filter_by_name() {
    needs_database!();
    let (status, itoc, mut app) = spawn_learning(|s| {
        // No name configured; "Core" is a group only summary.json names,
        // "Codespacs" a typo, and the route's "Paymnets" too.
        s.routing.pages = vec![PageRules {
            page_id: PAGE.into(),
            ignore_components: vec!["core".into(), "Codespacs".into()],
            ..PageRules::default()
        }];
        s.routing.routes = vec![Route {
            name: "payments".into(),
            pages: vec![PAGE.into()],
            components: vec!["Paymnets".into()],
            kinds: vec![],
            min_priority: None,
            token: Secret::new("payments-token-0123456789"),
            format: None,
            continue_matching: false,
            page_after_secs: None,
            resolve_after_secs: None,
        }];
    })
    .await;

    // The API pages, its title led by the learned name.
    let api = component_change("operational", "major_outage", "10:16");
    assert_eq!(app.outcome(api).await, "triggered");
    // Billing's webhook names no group; the learned group "Core" is ignored.
    let billing = other_component("bil1", "Billing", "operational", "major_outage", "10:17");
    let (code, v) = app.post_json(billing).await;
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["outcome"], "filtered", "{v}");
    assert!(
        v["reason"]
            .as_str()
            .unwrap()
            .starts_with("filtered: component \"Billing\" is ignored on page Vendor Cloud"),
        "{v}"
    );
    app.drain().await;
    let sent = itoc.accepted_by(TOKEN);
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(
        sent[0]["title"],
        "[Vendor Cloud] Statuspage component \"API\": major_outage"
    );

    // The audit pages name the page; /events filters by it.
    let (code, events) = app.get("/events").await;
    assert_eq!(code, 200);
    assert!(
        events.contains(r#"<td data-label="Page">Vendor Cloud</td>"#),
        "{events}"
    );
    assert!(
        events.contains(&format!(
            r#"<option value="{PAGE}">Vendor Cloud ({PAGE})</option>"#
        )),
        "{events}"
    );
    let (_, only) = app.get(&format!("/events?page={PAGE}")).await;
    assert_eq!(only.matches(r#"<tr class="row">"#).count(), 2, "{only}");
    assert!(only.contains(" selected>Vendor Cloud"), "{only}");
    let (_, none) = app.get("/events?page=someotherpage").await;
    assert!(none.contains("No webhooks match."), "{none}");
    let (_, alerts) = app.get("/alerts").await;
    assert!(
        alerts.contains(r#"<td data-label="Page">Vendor Cloud</td>"#),
        "{alerts}"
    );

    // The typos are shown on /reconcile; the group and the API are not.
    let (code, rec) = app.get("/reconcile").await;
    assert_eq!(code, 200);
    assert!(rec.contains("Filter matches nothing"), "{rec}");
    assert!(
        rec.contains("ignore_components names &#34;Codespacs&#34;"),
        "{rec}"
    );
    assert!(
        rec.contains("[[routes]] payments: components names &#34;Paymnets&#34;"),
        "{rec}"
    );
    assert_eq!(rec.matches("Filter matches nothing").count(), 2, "{rec}");

    // What was learned is in the database for SQL too.
    let learned: Vec<(String, Option<String>, Option<String>)> = app
        .db()
        .all(
            "SELECT component_id, name, group_name FROM learned_components ORDER BY position",
            &[],
        )
        .await;
    assert_eq!(
        learned,
        [
            ("r7p3k9d2m5w1".into(), Some("API".into()), None),
            ("grp1".into(), Some("Core".into()), None),
            ("bil1".into(), Some("Billing".into()), Some("Core".into())),
        ]
    );
    status.stop().await;
}

#[tokio::test]
async fn a_configured_name_wins_and_an_unknown_page_keeps_its_titles() {
    needs_database!();
    let (status, itoc, mut app) = spawn_learning(|s| {
        s.routing.pages = vec![PageRules {
            page_id: PAGE.into(),
            name: "Ours".into(),
            ..PageRules::default()
        }];
    })
    .await;
    let api = component_change("operational", "major_outage", "10:16");
    assert_eq!(app.outcome(api).await, "triggered");
    // A page with no entry and no learned name: titles as ever.
    let elsewhere = fixture_with(
        "03_component_major_outage.json",
        &[
            ("page.id", json!("elsewhere000")),
            ("component.page_id", json!("elsewhere000")),
        ],
    );
    assert_eq!(app.outcome(elsewhere).await, "triggered");
    app.drain().await;
    let titles: Vec<String> = itoc
        .accepted_by(TOKEN)
        .iter()
        .map(|b| b["title"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        titles,
        [
            "[Ours] Statuspage component \"API\": major_outage",
            "Statuspage component \"API\": major_outage",
        ]
    );
    let (_, events) = app.get("/events").await;
    assert!(
        events.contains(r#"<td data-label="Page">Ours</td>"#),
        "{events}"
    );
    assert!(
        events.contains(r#"<td data-label="Page">elsewhere000</td>"#),
        "{events}"
    );
    status.stop().await;
}
