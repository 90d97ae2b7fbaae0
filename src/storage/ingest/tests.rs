use std::cell::RefCell;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use rusqlite::Connection;
use serde_json::{Value, json};
use tokio::sync::oneshot;

use super::*;
use crate::config::Settings;
use crate::rules::machine::Rules;
use crate::rules::plan::Delivery;
use crate::rules::route::Policy;
use crate::storage::sql::{Arg, Row, Table, Tx};

const INCIDENT: &str =
    include_str!("../../../tests/fixtures/01_incident_created_investigating_critical.json");
const COMPONENT: &str = include_str!("../../../tests/fixtures/03_component_major_outage.json");

fn database(dir: &tempfile::TempDir, name: &str) -> Connection {
    let path = dir.path().join(name);
    crate::storage::sqlite::migrate(&path).unwrap();
    Connection::open(&path).unwrap()
}

/// A deterministic stream of small numbers.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

fn at(t: usize) -> DateTime<Utc> {
    "2025-03-04T10:00:00Z".parse::<DateTime<Utc>>().unwrap()
        + Duration::milliseconds(t as i64 * 400)
}

/// An outage on one page, crowded so that webhooks meet: 6 incidents of
/// 2–5 updates listing one or two of 10 components, those components
/// flapping, and one delivery in eight an earlier body again (a duplicate,
/// or by then a stale one).
fn outage(count: usize) -> Vec<Job> {
    let mut rng = Lcg(11);
    let time = |t: usize| crate::rules::time::format_time(at(t));
    let mut slots: Vec<(u32, u32, u32)> = (0..6).map(|k| (0, 0, 2 + k % 4)).collect();
    let mut down = [false; 10];
    let mut bodies: Vec<Vec<u8>> = Vec::new();
    while bodies.len() < count {
        let t = bodies.len();
        let roll = rng.below(100);
        if roll < 12 && t > 0 {
            let again = rng.below(t as u64) as usize;
            bodies.push(bodies[again].clone());
        } else if roll < 55 {
            let k = rng.below(6) as usize;
            let (generation, done, planned) = slots[k];
            let status = match done {
                n if n + 1 == planned => "resolved",
                0 => "investigating",
                1 => "identified",
                _ => "monitoring",
            };
            let id = format!("i{k}g{generation}");
            let listed: Vec<Value> = [k * 3 % 10, (k * 7 + 1 + done as usize) % 10]
                .iter()
                .take(1 + (k + done as usize) % 2)
                .map(|c| json!({"id": format!("c{c}"), "name": format!("Service {c}")}))
                .collect();
            let mut v: Value = serde_json::from_str(INCIDENT).unwrap();
            let i = &mut v["incident"];
            i["id"] = json!(id);
            i["status"] = json!(status);
            i["impact"] = json!(["minor", "major", "critical"][(k + done as usize) % 3]);
            i["updated_at"] = json!(time(t));
            i["resolved_at"] = if status == "resolved" {
                json!(time(t))
            } else {
                Value::Null
            };
            i["components"] = json!(listed);
            let u = &mut i["incident_updates"][0];
            u["id"] = json!(format!("{id}u{done}"));
            u["incident_id"] = json!(id);
            u["status"] = json!(status);
            u["created_at"] = json!(time(t));
            slots[k] = if done + 1 == planned {
                (generation + 1, 0, 2 + rng.below(4) as u32)
            } else {
                (generation, done + 1, planned)
            };
            bodies.push(serde_json::to_vec(&v).unwrap());
        } else {
            let j = rng.below(10) as usize;
            let (old, new) = if down[j] {
                ("major_outage", "operational")
            } else {
                (
                    "operational",
                    ["degraded_performance", "partial_outage", "major_outage"][j % 3],
                )
            };
            down[j] = !down[j];
            let id = format!("c{j}");
            let mut v: Value = serde_json::from_str(COMPONENT).unwrap();
            v["component"]["id"] = json!(id);
            v["component"]["name"] = json!(format!("Service {j}"));
            v["component"]["status"] = json!(new);
            let u = &mut v["component_update"];
            u["id"] = json!(format!("{id}u{t}"));
            u["component_id"] = json!(id);
            u["old_status"] = json!(old);
            u["new_status"] = json!(new);
            u["created_at"] = json!(time(t));
            bodies.push(serde_json::to_vec(&v).unwrap());
        }
    }
    bodies
        .into_iter()
        .enumerate()
        .map(|(t, body)| Job {
            id: format!("w{t:04}"),
            source: "statuspage".into(),
            remote_addr: None,
            body,
            received_at: at(t),
            origin: Origin::Webhook,
            shape: Platform::Statuspage,
        })
        .collect()
}

/// Two destinations, with grace periods that hold triggers and resolves
/// (so views wait on outbox rows and recoveries cancel them), and a
/// silence the stream runs into.
fn policy() -> Arc<Policy> {
    let settings = Settings::from_toml(
        r#"
        [itoc360]
        token = "default-token"

        [[pages]]
        id = "x1y2z3a4b5c6"
        name = "Example"
        resolve_after_secs = 3

        [[routes]]
        name = "team"
        components = ["Service 1", "Service 3", "Service 4"]
        token = "team-token"
        page_after_secs = 2
        continue = true
        "#,
    )
    .unwrap();
    Arc::new(settings.policy())
}

/// `jobs` stored on `conn`, `batch(i)` of them at a time from job `i`,
/// reading `ahead` ahead; the plans.
fn store(
    conn: &Connection,
    jobs: &[Job],
    ahead: usize,
    mut batch: impl FnMut(usize) -> usize,
) -> Vec<Plan> {
    let policy = policy();
    let readings: Vec<Reading> = jobs
        .iter()
        .map(|j| Reading::of(j.shape, &j.body, &j.origin))
        .collect();
    let decides: Vec<_> = jobs
        .iter()
        .map(|j| {
            crate::pipeline::decide(
                Rules::default(),
                Delivery::DryRun,
                policy.clone(),
                j.received_at,
                j.origin.clone(),
                j.shape,
            )
        })
        .collect();
    conn.execute_batch(
        "INSERT INTO silences (id, page, component, incident, route, starts_at, ends_at, reason,
            created_at, created_by)
         VALUES ('s1', NULL, 'Service 2', NULL, NULL, '2025-03-04T10:00:40.000Z',
                 '2025-03-04T10:01:10.000Z', 'known', '2025-03-04T10:00:00.000Z', 'test')",
    )
    .unwrap();
    let mut plans = Vec::new();
    let mut i = 0;
    while i < jobs.len() {
        let n = batch(i).clamp(1, jobs.len() - i);
        let works: Vec<Work<'_>> = (i..i + n)
            .map(|k| Work {
                job: &jobs[k],
                reading: &readings[k],
                decide: &decides[k],
                writes_listed: true,
            })
            .collect();
        conn.execute_batch("BEGIN").unwrap();
        let conn_ = crate::storage::sqlite::conn(conn);
        plans.extend(ingest_ahead(conn_, &works, Record::Everything, ahead).unwrap());
        conn.execute_batch("COMMIT").unwrap();
        i += n;
    }
    plans
}

/// Every row of every table the write path writes, in a fixed order.
fn dump(conn: &Connection) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    for table in [
        "webhooks",
        "entity_names",
        "incidents",
        "components",
        "page_alerts",
        "applied_events",
        "incident_components",
        "transitions",
        "outbox",
        "destination_alerts",
    ] {
        let mut st = conn.prepare(&format!("SELECT * FROM {table}")).unwrap();
        let columns = st.column_count();
        let mut rows: Vec<String> = st
            .query_map([], |r| {
                Ok((0..columns)
                    .map(|i| format!("{:?}", r.get_ref(i).unwrap()))
                    .collect::<Vec<_>>()
                    .join(" | "))
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        rows.sort();
        out.push((table.to_owned(), rows));
    }
    out
}

/// Webhooks stored in batches, their contexts read ahead together and
/// their plans written together, leave exactly what storing each alone,
/// in the same order, leaves: every row of every table, every plan. The
/// stream is crowded so that webhooks of a batch meet often (the same
/// entity, a component its incident lifts, a component counting its
/// incidents, a held event cancelled).
#[test]
fn a_batch_stores_what_each_webhook_alone_would() {
    let dir = tempfile::tempdir().unwrap();
    let jobs = outage(500);
    let alone = database(&dir, "alone.db");
    let alone_plans = store(&alone, &jobs, 1, |_| 1);
    let mut rng = Lcg(3);
    let together = database(&dir, "together.db");
    let together_plans = store(&together, &jobs, 64, |_| 1 + rng.below(40) as usize);
    // The stream does what it is for.
    let count = |sql: &str| -> i64 { alone.query_row(sql, [], |r| r.get(0)).unwrap() };
    assert!(count("SELECT count(*) FROM outbox WHERE held_until IS NOT NULL") > 5);
    assert!(count("SELECT count(*) FROM outbox WHERE state = 'cancelled'") > 0);
    assert!(count("SELECT count(*) FROM outbox WHERE held_by LIKE 'silence%'") > 0);
    assert!(count("SELECT count(*) FROM webhooks WHERE outcome = 'duplicate'") > 5);
    assert!(count("SELECT count(*) FROM incident_components WHERE current = 0") > 0);
    assert!(count("SELECT count(*) FROM webhooks WHERE reason LIKE '%incident%'") > 0);
    for ((table, a), (_, b)) in dump(&alone).iter().zip(dump(&together)) {
        assert_eq!(a.len(), b.len(), "{table}: rows");
        for (x, y) in a.iter().zip(&b) {
            assert_eq!(x, y, "{table}");
        }
    }
    assert_eq!(alone_plans.len(), together_plans.len());
    for (k, (a, b)) in alone_plans.iter().zip(&together_plans).enumerate() {
        assert_eq!(a, b, "plan of webhook {k}");
    }
}

/// A run of webhooks is read together only as far as none of them reads
/// what an earlier one wrote: with everything read ahead at once, the
/// same entity twice in a row still sees its first webhook's write.
#[test]
fn a_webhook_reads_what_the_one_before_it_in_the_batch_wrote() {
    let dir = tempfile::tempdir().unwrap();
    let jobs: Vec<Job> = outage(60)
        .into_iter()
        .flat_map(|j| {
            // Each body twice in a row: the second is a duplicate.
            let mut again = j.clone();
            again.id.push('b');
            [j, again]
        })
        .collect();
    let conn = database(&dir, "twice.db");
    let plans = store(&conn, &jobs, 64, |_| jobs.len());
    for (k, pair) in plans.chunks(2).enumerate() {
        if pair[0].step.applied {
            assert_eq!(
                pair[1].step.outcome,
                crate::rules::domain::Outcome::Duplicate,
                "the copy of webhook {k}"
            );
        }
    }
}

/// A webhook of source `s` with no body, for reads that only need its
/// source and time.
fn bare_job() -> Job {
    Job {
        id: "w".into(),
        source: "s".into(),
        remote_addr: None,
        body: Vec::new(),
        received_at: at(0),
        origin: Origin::Webhook,
        shape: Platform::Statuspage,
    }
}

/// An event's keys are looked up together; the first listed that was
/// applied names the webhook, whatever the order rows come back in.
#[test]
fn the_first_applied_key_as_listed_names_the_duplicate() {
    let dir = tempfile::tempdir().unwrap();
    let conn = database(&dir, "applied.db");
    conn.execute_batch(
        "PRAGMA foreign_keys = OFF;
         INSERT INTO applied_events (source, kind, page_id, entity_id, event_key, webhook_id)
         VALUES ('s', 'incident', 'p', 'i', 'k1', 'w1'), ('s', 'incident', 'p', 'i', 'k2', 'w2'),
                ('s', 'incident', 'p', 'other', 'k3', 'w3')",
    )
    .unwrap();
    let job = bare_job();
    let find = |lists: &[&[&str]]| -> Vec<Option<String>> {
        let keys: Vec<Vec<String>> = lists
            .iter()
            .map(|ks| ks.iter().map(|k| k.to_string()).collect())
            .collect();
        let entries: Vec<Entry<'_>> = keys
            .iter()
            .map(|keys| Entry {
                job: &job,
                lookup: Some(Lookup {
                    kind: EntityKind::Incident,
                    page_id: "p",
                    entity_id: "i",
                    keys,
                    components: Vec::new(),
                }),
            })
            .collect();
        read::contexts(crate::storage::sqlite::conn(&conn), &entries)
            .unwrap()
            .into_iter()
            .map(|r| r.context.duplicate_of)
            .collect()
    };
    let w = |s: &str| Some(s.to_owned());
    assert_eq!(
        find(&[
            &["k1", "k2"],
            &["k2", "k1"],
            &["k3", "k2"],
            &["k2"],
            &["k3"],
            &["k3", "k4"],
            &[],
            &["k4", "k3", "k2"],
            &["k4", "k3", "k5"],
        ]),
        [
            w("w1"),
            w("w2"),
            w("w2"),
            w("w2"),
            None,
            None,
            None,
            w("w2"),
            None
        ]
    );
}

/// Listing components again makes exactly those the current ones; earlier
/// ones stay recorded.
#[test]
fn the_listed_components_are_the_current_links() {
    let dir = tempfile::tempdir().unwrap();
    let conn = database(&dir, "links.db");
    let c = crate::storage::sqlite::conn(&conn);
    let job = bare_job();
    let link = |incident: &str, ids: &[&str], open: bool| {
        let entry = Entry {
            job: &job,
            lookup: Some(Lookup {
                kind: EntityKind::Incident,
                page_id: "p",
                entity_id: incident,
                keys: &[],
                components: Vec::new(),
            }),
        };
        let before = read::contexts(c, std::slice::from_ref(&entry))
            .unwrap()
            .remove(0)
            .links;
        let listed: Vec<(String, Option<String>)> =
            ids.iter().map(|c| (c.to_string(), None)).collect();
        write::relink(
            c,
            &[write::Relink {
                source: "s",
                page_id: "p",
                incident_id: incident,
                before: &before,
                listed: &listed,
                open,
                now: "2025-01-01T00:00:00.000Z",
            }],
        )
        .unwrap();
    };
    let current = || -> Vec<(String, String, bool)> {
        let mut st = conn
            .prepare(
                "SELECT incident_id, component_id, incident_open <> 0 FROM incident_components
                 WHERE current = 1 ORDER BY incident_id, component_id",
            )
            .unwrap();
        st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    let row = |i: &str, c: &str, open| (i.to_owned(), c.to_owned(), open);
    link("other", &["a"], true);
    link("i", &["a", "b", "c"], true);
    link("i", &["b", "c"], true);
    assert_eq!(
        current(),
        [
            row("i", "b", true),
            row("i", "c", true),
            row("other", "a", true)
        ]
    );
    link("i", &["c", "d"], false);
    assert_eq!(
        current(),
        [
            row("i", "c", false),
            row("i", "d", false),
            row("other", "a", true)
        ]
    );
    link("i", &["b"], false);
    assert_eq!(current(), [row("i", "b", false), row("other", "a", true)]);
    link("i", &["b"], true);
    assert_eq!(current(), [row("i", "b", true), row("other", "a", true)]);
    link("i", &["a", "b", "e"], true);
    assert_eq!(
        current(),
        [
            row("i", "a", true),
            row("i", "b", true),
            row("i", "e", true),
            row("other", "a", true)
        ]
    );
    link("i", &[], true);
    assert_eq!(current(), [row("other", "a", true)]);
    let all: i64 = conn
        .query_row("SELECT count(*) FROM incident_components", [], |r| r.get(0))
        .unwrap();
    assert_eq!(all, 6, "earlier links stay recorded");
}

/// SQLite's write connection, noting every statement it runs.
struct Noting<'c> {
    conn: &'c Connection,
    seen: RefCell<Vec<String>>,
}

impl Noting<'_> {
    fn note(&self, sql: &str) {
        let mut seen = self.seen.borrow_mut();
        if !seen.iter().any(|s| s == sql) {
            seen.push(sql.to_owned());
        }
    }
}

impl Tx for Noting<'_> {
    fn engine(&self) -> &'static dyn crate::storage::engine::Engine {
        self.conn.engine()
    }
    fn execute(&self, sql: &str, args: &[Arg<'_>]) -> sql::Result<usize> {
        self.note(sql);
        Tx::execute(self.conn, sql, args)
    }
    fn execute_batch(&self, sql: &str) -> sql::Result<()> {
        Tx::execute_batch(self.conn, sql)
    }
    fn each_row(
        &self,
        sql: &str,
        args: &[Arg<'_>],
        f: &mut dyn FnMut(Row<'_>) -> sql::Result<bool>,
    ) -> sql::Result<()> {
        self.note(sql);
        self.conn.each_row(sql, args, f)
    }
    fn each_table_row(
        &self,
        sql: &str,
        table: &Table<'_>,
        f: Option<sql::EachRow<'_>>,
    ) -> sql::Result<usize> {
        self.note(sql);
        self.conn.each_table_row(sql, table, f)
    }
    fn insert_table_ids(&self, sql: &str, table: &Table<'_>) -> sql::Result<Vec<i64>> {
        self.note(sql);
        self.conn.insert_table_ids(sql, table)
    }
    fn lock(&self, keys: &[String], shared: &[String]) -> sql::Result<()> {
        self.conn.lock(keys, shared)
    }
}

/// Every statement of the write path looks rows up by key: none scans a
/// table, so a webhook costs the same on a page with years of incidents.
/// (Silences are few and read whole, once per run.)
#[test]
fn every_write_path_statement_searches_by_key() {
    let dir = tempfile::tempdir().unwrap();
    let conn = database(&dir, "plans.db");
    let jobs = outage(300);
    let noting = Noting {
        conn: &conn,
        seen: RefCell::new(Vec::new()),
    };
    let policy = policy();
    conn.execute_batch("BEGIN").unwrap();
    for job in &jobs {
        let reading = Reading::of(job.shape, &job.body, &job.origin);
        let decide = crate::pipeline::decide(
            Rules::default(),
            Delivery::DryRun,
            policy.clone(),
            job.received_at,
            job.origin.clone(),
            job.shape,
        );
        ingest(Conn::new(&noting), job, &reading, decide).unwrap();
    }
    conn.execute_batch("COMMIT").unwrap();
    let seen = noting.seen.into_inner();
    assert!(seen.len() > 15, "{seen:#?}");
    let tables = [
        "webhooks",
        "entity_names",
        "incidents",
        "components",
        "page_alerts",
        "applied_events",
        "incident_components",
        "ic",
        "transitions",
        "outbox",
        "destination_alerts",
        "learned_pages",
        "learned_components",
    ];
    // The plans of the statements themselves: without the foreign keys'
    // checks of child tables, which run only for a parent row deleted.
    conn.execute_batch("PRAGMA foreign_keys = OFF").unwrap();
    for sql in &seen {
        let mut st = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let n = st.parameter_count();
        let args: Vec<String> = (0..n).map(|i| format!("a{i}")).collect();
        let plan: Vec<String> = st
            .query_map(rusqlite::params_from_iter(args.iter()), |r| r.get(3))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        for line in &plan {
            let scanned = line.strip_prefix("SCAN ").map(|rest| {
                rest.split_whitespace()
                    .next()
                    .unwrap_or_default()
                    .to_owned()
            });
            if let Some(t) = scanned {
                assert!(
                    !tables.contains(&t.as_str()),
                    "{line}\nin\n{sql}\n{plan:#?}"
                );
            }
        }
    }
}

/// A database of its own on the cluster named by `BRIDGE_TEST_DATABASE_URL`
/// (`.ci/run` starts one), opened by two replicas; `None` without it.
async fn two_replicas() -> Option<(crate::storage::Database, crate::storage::Database, String)> {
    use sqlx::Connection as _;
    let Some(base) = std::env::var("BRIDGE_TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
    else {
        eprintln!("skipped: BRIDGE_TEST_DATABASE_URL is not set");
        return None;
    };
    let name = format!("ingest_{}", uuid::Uuid::new_v4().simple());
    let mut admin = sqlx::PgConnection::connect(&base).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await
        .unwrap();
    let (prefix, _) = base.rsplit_once('/').expect("a URL ending in a database");
    let url = format!("{prefix}/{name}");
    let config = crate::config::DatabaseConfig {
        url: crate::config::Secret::new(url.clone()),
        ..Default::default()
    };
    let engine = crate::storage::engine::configured(&config);
    let one = engine.open(&config).await.unwrap();
    let two = engine.open(&config).await.unwrap();
    Some((one, two, url))
}

/// A job that holds its locks until told to go on.
struct Holding {
    shared: Vec<String>,
    running: Option<oneshot::Sender<()>>,
    go: std::sync::mpsc::Receiver<()>,
    reply: Option<oneshot::Sender<Result<(), WriteError>>>,
}

impl writer::Job for Holding {
    fn keys(&self) -> &[String] {
        &[]
    }
    fn shared_keys(&self) -> &[String] {
        &self.shared
    }
    fn run(&mut self, _conn: Conn<'_>) -> bool {
        if let Some(running) = self.running.take() {
            let _ = running.send(());
            let _ = self.go.recv();
        }
        true
    }
    fn answer(mut self: Box<Self>, committed: Result<(), &str>) {
        if let Some(reply) = self.reply.take() {
            let _ = reply.send(committed.map_err(|e| WriteError::NotCommitted(e.into())));
        }
    }
}

/// On PostgreSQL an incident only reads the components it lists (other
/// incidents listing them run beside it), but one that raises a listed
/// component holds it exclusively: with another replica reading that
/// component, the incident waits for it, and then raises it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_an_incident_raising_a_listed_component_waits_for_its_readers() {
    let Some((one, two, url)) = two_replicas().await else {
        return;
    };
    let policy = policy();
    let store = |db: &crate::storage::Database, body: Value, id: &str, t: usize| {
        let job = Job {
            id: id.into(),
            source: "statuspage".into(),
            remote_addr: None,
            body: serde_json::to_vec(&body).unwrap(),
            received_at: at(t),
            origin: Origin::Webhook,
            shape: Platform::Statuspage,
        };
        let reading = Reading::of(job.shape, &job.body, &job.origin);
        let decide = crate::pipeline::decide(
            Rules::default(),
            Delivery::DryRun,
            policy.clone(),
            job.received_at,
            job.origin.clone(),
            job.shape,
        );
        let w = db.writer.clone();
        async move { w.ingest(job, reading, decide).await }
    };
    // The component's alert opens (a degraded performance: low).
    let mut component: Value = serde_json::from_str(COMPONENT).unwrap();
    component["component"]["status"] = json!("degraded_performance");
    component["component_update"]["new_status"] = json!("degraded_performance");
    let page = component["page"]["id"].as_str().unwrap().to_owned();
    let component_id = component["component"]["id"].as_str().unwrap().to_owned();
    store(&one, component, "w1", 0).await.unwrap();
    // Another replica reads the component, and holds on.
    let (running_tx, running) = oneshot::channel();
    let (go, go_rx) = std::sync::mpsc::channel();
    let (reply, held) = oneshot::channel();
    let reader = Holding {
        shared: vec![entity(
            "statuspage",
            &page,
            EntityKind::Component,
            &component_id,
        )],
        running: Some(running_tx),
        go: go_rx,
        reply: Some(reply),
    };
    let holding = {
        let w = two.writer.clone();
        tokio::spawn(async move { w.try_queue(Box::new(reader), held).await })
    };
    running.await.unwrap();
    // A critical incident listing it raises it: it waits for the reader.
    let mut incident: Value = serde_json::from_str(INCIDENT).unwrap();
    incident["incident"]["components"] = json!([{"id": component_id, "name": "API"}]);
    let raising = tokio::spawn(store(&one, incident, "w2", 1));
    let mut probe = {
        use sqlx::Connection as _;
        sqlx::PgConnection::connect(&url).await.unwrap()
    };
    while !raising.is_finished() {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted",
        )
        .fetch_one(&mut probe)
        .await
        .unwrap();
        if waiting > 0 {
            break;
        }
        tokio::task::yield_now().await;
    }
    assert!(
        !raising.is_finished(),
        "the incident wrote the component while another replica read it"
    );
    go.send(()).unwrap();
    holding.await.unwrap().unwrap();
    let plan = raising.await.unwrap().unwrap();
    assert_eq!(
        plan.raises,
        [(component_id, crate::rules::domain::Priority::Critical)]
    );
}
