//! The README's SQL is a test: every ```sql block runs against a database
//! filled by a real lifecycle, so the README cannot drift from the schema.

use serde_json::json;
use statuspage_bridge::config::Secret;

use crate::fake_itoc360::{FakeItoc360, Reply};
use crate::helpers::*;

/// The statements of every ```sql block in the README, each with the
/// comment lines that precede it (its title).
fn readme_queries() -> Vec<String> {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let mut queries = Vec::new();
    let mut in_sql = false;
    let mut current = String::new();
    for line in readme.lines() {
        match (in_sql, line.trim()) {
            (false, "```sql") => in_sql = true,
            (true, "```") => in_sql = false,
            (true, l) => {
                current.push_str(line);
                current.push('\n');
                if l.ends_with(';') {
                    queries.push(std::mem::take(&mut current));
                }
            }
            _ => {}
        }
    }
    assert!(
        current.trim().is_empty(),
        "a README query lacks its ';':\n{current}"
    );
    queries
}

#[tokio::test]
async fn every_readme_query_runs_and_answers_on_a_real_lifecycle() {
    let queries = readme_queries();
    assert!(queries.len() >= 6, "found {} queries", queries.len());

    let fake = FakeItoc360::start("itoc-token").await;
    // ITOC360 refuses the first attempt, so the failure query has a row.
    fake.script([Reply::Status(503)]);
    let base = fake.base_url.clone();
    let mut app = spawn_app_with(move |s| {
        s.itoc360.base_url = base;
        s.itoc360.token = Secret::new("itoc-token");
    })
    .await;
    assert_eq!(
        app.outcome(component_change("operational", "major_outage", "10:14"))
            .await,
        "triggered"
    );
    assert_eq!(
        app.outcome(fixture("01_incident_created_investigating_critical.json"))
            .await,
        "triggered"
    );
    app.drain().await;
    assert_eq!(
        app.outcome(incident_update("resolved", "11:00", &[])).await,
        "resolved"
    );
    assert_eq!(
        app.outcome(json!({"incident": {"status": 7}}).to_string())
            .await,
        "unrecognized"
    );
    app.drain().await;

    for q in &queries {
        let rows = sqlx::query(sqlx::AssertSqlSafe(q.as_str()))
            .fetch_all(app.db())
            .await
            .unwrap_or_else(|e| panic!("README query failed: {e}\n{q}"));
        assert!(
            !rows.is_empty(),
            "README query answered nothing on a full lifecycle:\n{q}"
        );
    }
    app.stop().await;
    fake.stop().await;
}
