//! `replay`, `backup` and `prune` as subprocesses against the database of a
//! running bridge, and `[database] retention_days` in the server.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::fake_itoc360::FakeItoc360;
use crate::helpers::*;

const BIN: &str = env!("CARGO_BIN_EXE_statuspage-bridge");

/// A config file for the commands, pointing at the running app's database.
pub(crate) fn config_for(app: &TestApp) -> PathBuf {
    let path = app.dir.path().join("commands.toml");
    std::fs::write(
        &path,
        format!(
            "[database]\npath = \"{}\"\nurl = \"{}\"\n\n[[sources]]\nname = \"statuspage\"\ntoken = \"{TOKEN}\"\n",
            app.settings.database.path.display(),
            app.settings.database.url.expose(),
        ),
    )
    .unwrap();
    path
}

/// Runs the binary with `args`; scratch files go to `tmp`.
pub(crate) fn run(config: &Path, tmp: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("--config")
        .arg(config)
        .args(args)
        .env("TMPDIR", tmp)
        .env_remove("BRIDGE_DATABASE")
        .env_remove("BRIDGE_DATABASE_URL")
        .env_remove("ITOC360_TOKEN")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

pub(crate) fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Row counts and the newest rowids (on PostgreSQL: the newest writing
/// transaction) of the live tables: equal before and after means nothing
/// was written.
async fn fingerprint(app: &TestApp) -> Vec<i64> {
    let mut v = Vec::new();
    for table in [
        "webhooks",
        "incidents",
        "components",
        "transitions",
        "applied_events",
        "outbox",
        "delivery_attempts",
    ] {
        let (n, max): (i64, Option<i64>) = app
            .db()
            .one(
                &if app.db().is_postgres() {
                    format!("SELECT count(*), max(xmin::text::bigint) FROM {table}")
                } else {
                    format!("SELECT count(*), max(rowid) FROM {table}")
                },
                &[],
            )
            .await;
        v.extend([n, max.unwrap_or(0)]);
    }
    v
}

fn maintenance_in_progress() -> String {
    fixture_with(
        "05_scheduled_maintenance_scheduled.json",
        &[
            ("incident.status", json!("in_progress")),
            ("incident.incident_updates.0.id", json!("m2")),
        ],
    )
}

#[tokio::test]
async fn replay_is_deterministic_and_shows_what_a_rule_change_would_do() {
    needs_database!();
    let app = spawn_app().await;
    let maintenance_id = {
        let (status, v) = app.post_json(maintenance_in_progress()).await;
        assert_eq!((status, v["outcome"].as_str()), (200, Some("ignored")));
        v["id"].as_str().unwrap().to_owned()
    };
    for (body, outcome) in [
        (
            fixture("01_incident_created_investigating_critical.json"),
            "triggered",
        ),
        (
            fixture("01_incident_created_investigating_critical.json"),
            "duplicate",
        ),
        (
            component_change("operational", "major_outage", "10:14"),
            "triggered",
        ),
        (incident_update("identified", "10:40", &[]), "deduplicated"),
        (incident_update("investigating", "10:30", &[]), "stale"),
        (json!({"hello": 1}).to_string(), "unrecognized"),
        (incident_update("resolved", "11:00", &[]), "resolved"),
    ] {
        assert_eq!(app.outcome(body).await, outcome);
    }
    let (status, v) = app.post_json("{not json").await;
    assert_eq!((status, v["outcome"].as_str()), (400, Some("rejected")));
    let stored = app.count("SELECT count(*) FROM webhooks").await;
    assert_eq!(stored, 9);
    let config = config_for(&app);
    let tmp = tempfile::tempdir().unwrap();
    let before = fingerprint(&app).await;

    // The determinism check: same binary, same rules, no differences.
    let out = run(&config, tmp.path(), &["replay", "--json"]);
    assert!(out.status.success(), "{out:?}");
    let lines: Vec<Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines, vec![json!({"webhooks": 9, "differences": 0})]);

    // Turning maintenance paging on would page for the maintenance.
    let out = run(
        &config,
        tmp.path(),
        &["replay", "--json", "--set", "maintenance.page=true"],
    );
    assert!(out.status.success(), "{out:?}");
    let lines: Vec<Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        lines,
        vec![
            json!({
                "webhook_id": maintenance_id,
                "kind": "incident",
                "page_id": "x1y2z3a4b5c6",
                "entity_id": "m8d4q1z6w2nb",
                "recorded": {"outcome": "ignored", "action": null, "priority": null},
                "replayed": {"outcome": "triggered", "action": "trigger", "priority": "low"},
            }),
            json!({"webhooks": 9, "differences": 1}),
        ]
    );

    // The readable form.
    let out = run(
        &config,
        tmp.path(),
        &["replay", "--set", "maintenance.page=true"],
    );
    let text = stdout(&out);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains(&maintenance_id)
            && text.contains("ignored")
            && text.contains("triggered trigger/low"),
        "{text}"
    );
    assert!(
        text.trim_end().ends_with(
            "replayed 9 webhooks under the current rules: 1 would be decided differently"
        ),
        "{text}"
    );

    // The live database was not written, and no scratch copy is left.
    assert_eq!(fingerprint(&app).await, before);
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0);

    // An unknown key is a configuration error (2); no database is 1.
    let out = run(
        &config,
        tmp.path(),
        &["replay", "--set", "maintenance.pages=true"],
    );
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("pages"),
        "{out:?}"
    );
    let elsewhere = tmp.path().join("none.toml");
    std::fs::write(
        &elsewhere,
        "[database]\npath = \"/nonexistent/bridge.db\"\n",
    )
    .unwrap();
    let out = run(&elsewhere, tmp.path(), &["replay"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    app.stop().await;
}

#[tokio::test]
async fn backup_copies_consistently_while_webhooks_arrive() {
    sqlite_only!();
    let app = spawn_app().await;
    assert_eq!(
        app.outcome(fixture("01_incident_created_investigating_critical.json"))
            .await,
        "triggered"
    );
    let config = config_for(&app);
    let tmp = tempfile::tempdir().unwrap();
    let copy = tmp.path().join("copy.db");

    // Webhooks keep arriving while the copy is made.
    let url = app.webhook_url();
    let senders: Vec<_> = (0..200)
        .map(|i| {
            let (url, client) = (url.clone(), app.client.clone());
            let body = fixture_with(
                "03_component_major_outage.json",
                &[
                    ("component_update.id", json!(format!("b{i}"))),
                    ("component.id", json!(format!("comp{i}"))),
                    ("component_update.component_id", json!(format!("comp{i}"))),
                ],
            );
            tokio::spawn(async move {
                let r = client.post(url).body(body).send().await.unwrap();
                assert_eq!(r.status(), 200);
            })
        })
        .collect();
    let (config2, copy2) = (config.clone(), copy.clone());
    let tmp_path = tmp.path().to_owned();
    let out = tokio::task::spawn_blocking(move || {
        run(&config2, &tmp_path, &["backup", copy2.to_str().unwrap()])
    })
    .await
    .unwrap();
    for s in senders {
        s.await.unwrap();
    }
    assert!(out.status.success(), "{out:?}");
    let size = std::fs::metadata(&copy).unwrap().len();
    assert_eq!(
        stdout(&out).trim(),
        format!("{}\t{size} bytes", copy.display())
    );

    // The copy stands alone and is consistent: every stored webhook that
    // triggered has its state and outbox row, whatever moment it caught.
    let c = rusqlite::Connection::open(&copy).unwrap();
    let check: String = c
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    let (webhooks, triggered, outbox, components): (i64, i64, i64, i64) = c
        .query_row(
            "SELECT (SELECT count(*) FROM webhooks),
                    (SELECT count(*) FROM webhooks WHERE outcome = 'triggered'),
                    (SELECT count(*) FROM outbox),
                    (SELECT count(*) FROM components WHERE alert_open = 1)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .unwrap();
    assert!((1..=201).contains(&webhooks), "{webhooks}");
    assert_eq!((triggered, outbox), (webhooks, webhooks));
    assert_eq!(components, webhooks - 1);
    drop(c);
    assert!(!tmp.path().join("copy.db-wal").exists());

    // It never overwrites.
    let out = run(&config, tmp.path(), &["backup", copy.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("already exists"));
    assert_eq!(std::fs::metadata(&copy).unwrap().len(), size);
    app.stop().await;
}

/// Moves everything stored so far back to 2025-06-01.
async fn age_everything(app: &TestApp) {
    for sql in [
        "UPDATE webhooks SET received_at = '2025-06-01T00:00:00.000Z'",
        "UPDATE outbox SET created_at = '2025-06-01T00:00:00.000Z'",
        "UPDATE reconcile_rounds SET started_at = '2025-06-01T00:00:00.000Z'",
    ] {
        app.db().execute(sql, &[]).await.unwrap();
    }
}

#[tokio::test]
async fn prune_deletes_closed_history_keeps_open_alerts_and_still_knows_stale() {
    needs_database!();
    let fake = FakeItoc360::start("itoc-token").await;
    let mut app = spawn_delivering(&fake.base_url, "itoc-token").await;
    let opened = fixture("01_incident_created_investigating_critical.json");
    // The incident opens and resolves (closed); the component stays open.
    for (body, outcome) in [
        (opened.clone(), "triggered"),
        (incident_update("resolved", "11:00", &[]), "resolved"),
        (
            other_component("web", "Web", "operational", "major_outage", "10:20"),
            "triggered",
        ),
        (json!({"hello": 1}).to_string(), "unrecognized"),
    ] {
        assert_eq!(app.outcome(body).await, outcome);
    }
    app.drain().await;
    age_everything(&app).await;
    // A webhook of today stays whatever the entity.
    assert_eq!(
        app.outcome(other_component(
            "web",
            "Web",
            "major_outage",
            "partial_outage",
            "10:30"
        ))
        .await,
        "deduplicated"
    );
    app.drain().await;
    let config = config_for(&app);
    let tmp = tempfile::tempdir().unwrap();
    let before = fingerprint(&app).await;

    let out = run(
        &config,
        tmp.path(),
        &["prune", "--before", "2026-01-01", "--dry-run"],
    );
    assert!(out.status.success(), "{out:?}");
    let expected =
        "3 webhooks, 2 transitions, 2 outbox rows, 2 delivery attempts, 0 reconcile rounds";
    assert_eq!(
        stdout(&out).trim(),
        format!("would delete, from before 2026-01-01T00:00:00.000Z: {expected}")
    );
    assert_eq!(fingerprint(&app).await, before, "a dry run deletes nothing");

    let out = run(
        &config,
        tmp.path(),
        &["prune", "--before", "2026-01-01T00:00:00Z"],
    );
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        stdout(&out).trim(),
        format!("deleted, from before 2026-01-01T00:00:00.000Z: {expected}")
    );
    let left: Vec<(String, String)> = app
        .db()
        .all(
            "SELECT kind, outcome FROM webhooks ORDER BY received_at, id",
            &[],
        )
        .await;
    assert_eq!(
        left,
        vec![
            ("component".to_owned(), "triggered".to_owned()),
            ("component".to_owned(), "deduplicated".to_owned())
        ],
        "the open component keeps its whole history"
    );
    assert_eq!(
        app.count("SELECT count(*) FROM incidents").await,
        1,
        "state stays"
    );
    assert_eq!(
        app.count("SELECT count(*) FROM outbox WHERE kind = 'incident'")
            .await,
        0
    );
    // (PostgreSQL checks every foreign key as rows change.)
    if !app.db().is_postgres() {
        let broken: Vec<(String,)> = app
            .db()
            .all("SELECT \"table\" FROM pragma_foreign_key_check", &[])
            .await;
        assert!(broken.is_empty(), "{broken:?}");
    }

    // A late copy of the pruned opening webhook does not page again.
    let outbox = app.outbox().await.len();
    assert_eq!(app.outcome(opened).await, "stale");
    assert_eq!(app.outbox().await.len(), outbox);

    // Nothing older is left: a second prune finds nothing.
    let out = run(&config, tmp.path(), &["prune", "--before", "2026-01-01"]);
    assert!(
        stdout(&out).contains(": 0 webhooks, 0 transitions, 0 outbox rows"),
        "{out:?}"
    );
    let out = run(&config, tmp.path(), &["prune", "--before", "last week"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    app.stop().await;
    fake.stop().await;
}

#[tokio::test]
async fn retention_days_prunes_on_start() {
    needs_database!();
    let app = spawn_app().await;
    for (body, outcome) in [
        (
            fixture("01_incident_created_investigating_critical.json"),
            "triggered",
        ),
        (incident_update("resolved", "11:00", &[]), "resolved"),
    ] {
        assert_eq!(app.outcome(body).await, outcome);
    }
    age_everything(&app).await;
    // An incident of today, closed too: within the 30 days, it stays.
    let recent =
        |status: &str, at: &str| incident_update(status, at, &[("incident.id", json!("recent1"))]);
    assert_eq!(
        app.outcome(recent("investigating", "12:00")).await,
        "triggered"
    );
    assert_eq!(app.outcome(recent("resolved", "12:30")).await, "resolved");
    let (dir, mut settings) = app.stop().await;
    settings.database.retention_days = 30;
    let mut app = spawn_in(dir, settings).await;
    let mut runs = app.retention.take().expect("retention is on");
    tokio::time::timeout(Duration::from_secs(30), runs.wait_for(|n| *n >= 1))
        .await
        .expect("a prune ran at start")
        .unwrap();
    let left: Vec<(String,)> = app.db().all("SELECT entity_id FROM webhooks", &[]).await;
    assert_eq!(left, [("recent1".to_owned(),), ("recent1".to_owned(),)]);
    assert_eq!(app.count("SELECT count(*) FROM incidents").await, 2);
    app.stop().await;
}

#[tokio::test]
async fn replay_candidate_lists_what_another_configuration_would_have_paged_and_where() {
    needs_database!();
    let fake = FakeItoc360::start("itoc-token-0123456789").await;
    let mut app = spawn_delivering(&fake.base_url, "itoc-token-0123456789").await;
    let api_down = other_component("api1", "API", "operational", "major_outage", "10:00");
    let api_up = other_component("api1", "API", "major_outage", "operational", "10:05");
    let billing = other_component("bil1", "Billing", "operational", "major_outage", "10:01");
    for body in [api_down, billing, api_up] {
        let (status, v) = app.post_json(body).await;
        assert_eq!(status, 200, "{v}");
    }
    app.drain().await;
    assert_eq!(
        fake.accepted().len(),
        3,
        "the API paged and resolved; billing paged"
    );
    let config = config_for(&app);
    let tmp = tempfile::tempdir().unwrap();

    // The same configuration: nothing would differ.
    let same = app.dir.path().join("same.toml");
    std::fs::copy(&config, &same).unwrap();
    let out = run(
        &config,
        tmp.path(),
        &["replay", "--candidate", same.to_str().unwrap()],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .contains("replayed 3 webhooks under the candidate configuration: 0 would"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    // A candidate that ignores the API and sends billing to a team.
    let candidate = app.dir.path().join("candidate.toml");
    std::fs::write(
        &candidate,
        "[database]\npath = \"/nowhere/ignored.db\"\n\n[[sources]]\nname = \"statuspage\"\n\
         token = \"test-source-token-0123456789\"\n\n[itoc360]\ntoken = \"d-token-0123456789\"\n\n\
         [[pages]]\nid = \"x1y2z3a4b5c6\"\nbase_url = \"http://127.0.0.1:9\"\n\
         ignore_components = [\"API\"]\n\n[[routes]]\nname = \"billing-team\"\n\
         components = [\"Billing\"]\ntoken = \"b-token-0123456789\"\n",
    )
    .unwrap();
    let out = run(
        &config,
        tmp.path(),
        &[
            "replay",
            "--json",
            "--candidate",
            candidate.to_str().unwrap(),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let differences: Vec<(String, String, Value, Value)> = lines[..lines.len() - 1]
        .iter()
        .map(|d| {
            (
                d["entity_id"].as_str().unwrap().to_owned(),
                d["destination"].as_str().unwrap().to_owned(),
                d["recorded"]["action"].clone(),
                d["replayed"]["action"].clone(),
            )
        })
        .collect();
    assert_eq!(
        differences,
        [
            (
                "api1".into(),
                "default".into(),
                json!("trigger"),
                Value::Null
            ),
            (
                "bil1".into(),
                "billing-team".into(),
                Value::Null,
                json!("trigger")
            ),
            (
                "bil1".into(),
                "default".into(),
                json!("trigger"),
                Value::Null
            ),
            (
                "api1".into(),
                "default".into(),
                json!("resolve"),
                Value::Null
            ),
        ]
    );
    assert_eq!(lines[0]["replayed"]["outcome"], "filtered");
    assert_eq!(lines[0]["replayed"]["destination"], "default");
    assert_eq!(
        lines[lines.len() - 1],
        json!({"webhooks": 3, "differences": 4})
    );
    // The live history is untouched, and nothing more was sent.
    assert_eq!(app.count("SELECT count(*) FROM outbox").await, 3);
    assert_eq!(fake.accepted().len(), 3);

    // A candidate that does not load: exit 2, the key named.
    std::fs::write(&candidate, "[[routes]]\nname = \"x\"\ncolour = \"red\"\n").unwrap();
    let out = run(
        &config,
        tmp.path(),
        &["replay", "--candidate", candidate.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("colour"));
    fake.stop().await;
}

/// `database.url` (or `BRIDGE_DATABASE_URL`) chooses PostgreSQL; its
/// password is a secret like the tokens: masked by `check-config`, never
/// printed when the database cannot be reached, and `backup` says to use
/// `pg_dump`.
#[test]
fn a_database_url_is_shown_masked_and_backup_points_to_pg_dump() {
    // The password in the userinfo, and as libpq's `password` parameter.
    for (url, shown) in [
        (
            "postgres://bridge:s3cret-pa%40ss@127.0.0.1:9/sb",
            "postgres://bridge:****@127.0.0.1:9/sb",
        ),
        (
            "postgres://bridge@127.0.0.1:9/sb?password=s3cret-q%40ery&sslmode=disable",
            "postgres://bridge@127.0.0.1:9/sb?password=****&sslmode=disable",
        ),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let config = tmp.path().join("pg.toml");
        // Nothing listens on port 9: every connection is refused at once.
        std::fs::write(
            &config,
            format!(
                "[database]\nurl = \"{url}\"\n\n\
                 [[sources]]\nname = \"statuspage\"\ntoken = \"{TOKEN}\"\n"
            ),
        )
        .unwrap();
        let out = run(&config, tmp.path(), &["check-config"]);
        assert!(out.status.success(), "{out:?}");
        let text = stdout(&out);
        assert!(
            text.contains(&format!("database: {shown} (PostgreSQL")),
            "{text}"
        );

        let out = run(&config, tmp.path(), &["backup", "copy.db"]);
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("pg_dump"), "{err}");

        let out = run(&config, tmp.path(), &["outbox", "list"]);
        assert_eq!(out.status.code(), Some(1));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(shown), "{err}");

        for o in [&out, &run(&config, tmp.path(), &["check-config"])] {
            for text in [&o.stdout, &o.stderr] {
                let text = String::from_utf8_lossy(text);
                assert!(!text.contains("s3cret"), "{text}");
            }
        }
    }
}
