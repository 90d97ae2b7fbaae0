//! Ingest: read → plan → write for webhooks and heals, on the writer's
//! runner inside the batch's transaction (docs/ARCHITECTURE.md).
//!
//! The webhooks of a batch are stored together: [`read::contexts`] loads
//! what the rules need about each one's entity, one statement per table
//! for all of them; each is planned by the caller's pure function in
//! order; [`write::plans`] writes what they decided, one statement per
//! table again. A webhook whose context an earlier one of the run changed
//! (the same entity, a component an incident lifts, the incidents a
//! component counts) starts a new run, read after the writes before it, so
//! each webhook sees what the ones before it wrote, as if stored alone.
//! SQLite reads one webhook ahead ([`Engine::read_ahead`]); statements are
//! cached; none decides anything.
//!
//! [`Engine::read_ahead`]: crate::storage::engine::Engine::read_ahead

mod read;
mod write;

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use tokio::sync::oneshot;

use super::sql::{self, Conn};
use super::writer::{self, Ran, answer_with};
use crate::rules::domain::{EntityKind, Origin};
use crate::rules::plan::{Context, Lookup, NewState, Plan, Reading};
use crate::rules::platform::Platform;
use crate::storage::{WriteError, Writer};

#[cfg(test)]
pub(in crate::storage) use write::index_names;

/// A webhook (or heal) as received, ready to be stored.
#[derive(Debug, Clone)]
pub struct Job {
    pub id: String,
    pub source: String,
    pub remote_addr: Option<String>,
    pub body: Vec<u8>,
    pub received_at: DateTime<Utc>,
    pub origin: Origin,
    /// The platform whose webhook the body is (`webhooks.body_shape`).
    pub shape: Platform,
}

/// How a webhook is planned: a pure function of the rules.
type Decide = dyn Fn(&Reading, &Context) -> Plan + Send;

impl Writer {
    /// Stores one webhook: reads its entity's context, lets `decide` (a pure
    /// function of the rules) plan it, writes the plan, and answers once the
    /// batch is committed. Refuses at once with `Busy` when the queue is full.
    pub async fn ingest<F>(&self, job: Job, reading: Reading, decide: F) -> Result<Plan, WriteError>
    where
        F: Fn(&Reading, &Context) -> Plan + Send + 'static,
    {
        // Its entity is written; the components an incident lists only
        // read, unless it turns out to lift or raise one.
        let (keys, shared) = match reading.lookup() {
            Some(l) => {
                let mut keys = entity_locks(&job.source, &l);
                let listed = keys.split_off(1);
                (keys, listed)
            }
            None => (Vec::new(), Vec::new()),
        };
        let (reply, answer) = oneshot::channel();
        let queued = Queued {
            job,
            reading,
            decide: Box::new(decide),
            keys,
            shared,
            result: None,
            reply,
        };
        self.try_queue(Box::new(queued), answer).await
    }
}

/// A webhook in the writer's queue: run with the webhooks queued beside it
/// ([`run_queued`]), or alone.
pub(in crate::storage) struct Queued {
    job: Job,
    reading: Reading,
    decide: Box<Decide>,
    /// The entities it writes: its own, and the listed components once it
    /// turned out to write one.
    keys: Vec<String>,
    /// The components an incident lists, while they are only read.
    shared: Vec<String>,
    result: Option<sql::Result<Plan>>,
    reply: oneshot::Sender<Result<Plan, WriteError>>,
}

impl writer::Job for Queued {
    fn keys(&self) -> &[String] {
        &self.keys
    }

    fn shared_keys(&self) -> &[String] {
        &self.shared
    }

    fn run(&mut self, conn: Conn<'_>) -> bool {
        run_queued(conn, &mut [self]) == Ran::Done
    }

    fn queued(&mut self) -> Option<&mut Queued> {
        Some(self)
    }

    fn is_queued(&self) -> bool {
        true
    }

    fn answer(self: Box<Self>, committed: Result<(), &str>) {
        // A caller that stopped waiting (a dropped request) is no error.
        let _ = self.reply.send(answer_with(self.result, committed));
    }
}

/// Stores `queued` together, in order. When it failed nothing of it is to
/// be kept: the runner runs each alone then, to tell which; when a webhook
/// would write a component it only read, that webhook asks for its
/// entities exclusively from now on and the runner runs the batch again.
pub(in crate::storage) fn run_queued(conn: Conn<'_>, queued: &mut [&mut Queued]) -> Ran {
    let locks = conn.engine().locks_entities();
    let works: Vec<Work<'_>> = queued
        .iter()
        .map(|q| Work {
            job: &q.job,
            reading: &q.reading,
            decide: &*q.decide,
            writes_listed: !locks || q.shared.is_empty(),
        })
        .collect();
    let stored = ingest_many(conn, &works, Record::Everything);
    drop(works);
    for q in queued.iter_mut() {
        q.result = None;
    }
    match stored {
        Ok(plans) => {
            for (q, plan) in queued.iter_mut().zip(plans) {
                q.result = Some(Ok(plan));
            }
            Ran::Done
        }
        Err(sql::Error::Exclusive { job }) => {
            let q = &mut queued[job];
            let listed = std::mem::take(&mut q.shared);
            q.keys.extend(listed);
            Ran::Exclusive
        }
        Err(e) => {
            if let [alone] = queued {
                alone.result = Some(Err(e));
            }
            Ran::Failed
        }
    }
}

/// What a write keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Record {
    /// Everything: the webhook's row, the transitions and what later
    /// decisions read.
    Everything,
    /// Only what later decisions read (entity state, applied keys, links,
    /// the outbox and destination views): a replay's scratch copy, whose
    /// audit rows nobody reads.
    Decisions,
}

/// One webhook to store: what it is, what the rules read of it, and how
/// they plan it.
pub struct Work<'w> {
    pub job: &'w Job,
    pub reading: &'w Reading,
    pub decide: &'w (dyn Fn(&Reading, &Context) -> Plan + 'w),
    /// Whether it may write the components an incident lists (it holds
    /// them exclusively, or nothing is locked); else a plan that would
    /// stops the run with [`sql::Error::Exclusive`].
    pub writes_listed: bool,
}

/// Read, plan, write on `conn` (the writer's, or a replay's scratch).
pub fn ingest(
    conn: Conn<'_>,
    job: &Job,
    reading: &Reading,
    decide: impl Fn(&Reading, &Context) -> Plan,
) -> sql::Result<Plan> {
    ingest_keeping(conn, job, reading, decide, Record::Everything)
}

/// `ingest`, keeping only what `record` says.
pub fn ingest_keeping(
    conn: Conn<'_>,
    job: &Job,
    reading: &Reading,
    decide: impl Fn(&Reading, &Context) -> Plan,
    record: Record,
) -> sql::Result<Plan> {
    let work = Work {
        job,
        reading,
        decide: &decide,
        writes_listed: true,
    };
    let mut plans = ingest_many(conn, std::slice::from_ref(&work), record)?;
    Ok(plans.pop().expect("one plan per webhook"))
}

/// A webhook as the read and write statements see it.
struct Entry<'w> {
    job: &'w Job,
    lookup: Option<Lookup<'w>>,
}

/// Read, plan, write for `works`, in order, as if each were stored alone
/// after the ones before it: the contexts of a run of them read together,
/// each planned, and the run's plans written together; a webhook whose
/// context an earlier one of the run changed starts the next run.
pub fn ingest_many(conn: Conn<'_>, works: &[Work<'_>], record: Record) -> sql::Result<Vec<Plan>> {
    ingest_ahead(conn, works, record, conn.engine().read_ahead())
}

/// `ingest_many`, reading `ahead` webhooks ahead at most.
fn ingest_ahead(
    conn: Conn<'_>,
    works: &[Work<'_>],
    record: Record,
    ahead: usize,
) -> sql::Result<Vec<Plan>> {
    let entries: Vec<Entry<'_>> = works
        .iter()
        .map(|w| Entry {
            job: w.job,
            lookup: w.reading.lookup(),
        })
        .collect();
    let ahead = ahead.max(1);
    let mut plans: Vec<Plan> = Vec::with_capacity(works.len());
    let mut start = 0;
    while start < works.len() {
        let window = &entries[start..works.len().min(start + ahead)];
        let mut links = Vec::with_capacity(window.len());
        let mut written: HashSet<String> = HashSet::new();
        for (i, read) in read::contexts(conn, window)?.into_iter().enumerate() {
            let e = &window[i];
            if i > 0 && reads(e).iter().any(|r| written.contains(r)) {
                break;
            }
            let w = &works[start + i];
            let plan = (w.decide)(w.reading, &read.context);
            let wrote = writes(e, &plan, &read.links);
            if !w.writes_listed && writes_listed(e, &wrote) {
                return Err(sql::Error::Exclusive { job: start + i });
            }
            if i + 1 < window.len() {
                written.extend(wrote);
            }
            plans.push(plan);
            links.push(read.links);
        }
        let end = start + links.len();
        write::plans(
            conn,
            &entries[start..end],
            &plans[start..end],
            &links,
            record,
        )?;
        start = end;
    }
    Ok(plans)
}

/// Whether `wrote` (what a webhook's plan writes) holds a component its
/// incident lists.
fn writes_listed(e: &Entry<'_>, wrote: &[String]) -> bool {
    let Some(l) = &e.lookup else {
        return false;
    };
    l.kind == EntityKind::Incident
        && l.components.iter().any(|c| {
            let key = entity(&e.job.source, l.page_id, EntityKind::Component, c);
            wrote.contains(&key)
        })
}

/// What an event reads and writes, to serialise it with every other event
/// of the same entities (other replicas' on PostgreSQL): the entity, and
/// for an incident the components it lists, whose alerts it may lift. The
/// writer's runner locks them before the job runs.
fn entity_locks(source: &str, l: &Lookup<'_>) -> Vec<String> {
    let mut keys = vec![entity(source, l.page_id, l.kind, l.entity_id)];
    if l.kind == EntityKind::Incident {
        keys.extend(
            l.components
                .iter()
                .map(|c| entity(source, l.page_id, EntityKind::Component, c)),
        );
    }
    keys
}

/// An entity's key: its row, applied keys and destinations' views.
fn entity(source: &str, page_id: &str, kind: EntityKind, id: &str) -> String {
    format!("{source}\u{1f}{kind}\u{1f}{page_id}\u{1f}{id}")
}

/// A component's links to open incidents, which its incident priority is
/// read from.
fn incident_links(source: &str, page_id: &str, component: &str) -> String {
    format!("{source}\u{1f}links\u{1f}{page_id}\u{1f}{component}")
}

/// What a webhook's context is read from: its entity; an incident's listed
/// components; a component's links to open incidents.
fn reads(e: &Entry<'_>) -> Vec<String> {
    let Some(l) = &e.lookup else {
        return Vec::new();
    };
    let source = &e.job.source;
    let mut keys = entity_locks(source, l);
    if l.kind == EntityKind::Component {
        keys.push(incident_links(source, l.page_id, l.entity_id));
    }
    keys
}

/// What writing `plan` changes that a later webhook's context may read:
/// its entity; every entity it writes a state, view, draft or transition
/// of (with a cancel, every entity it read); for an incident applied, the
/// incident links of the components it lists now or listed before.
fn writes(e: &Entry<'_>, plan: &Plan, before: &[String]) -> Vec<String> {
    let Some(l) = &e.lookup else {
        return Vec::new();
    };
    let (source, page_id) = (e.job.source.as_str(), l.page_id);
    let mut keys = vec![entity(source, page_id, l.kind, l.entity_id)];
    keys.extend(
        plan.views
            .iter()
            .map(|v| entity(source, page_id, v.kind, &v.entity_id)),
    );
    keys.extend(
        plan.drafts
            .iter()
            .map(|d| entity(source, page_id, d.kind, &d.entity_id)),
    );
    keys.extend(
        plan.transitions
            .iter()
            .map(|t| entity(source, page_id, t.kind, &t.entity_id)),
    );
    keys.extend(
        plan.raises
            .iter()
            .map(|(c, _)| entity(source, page_id, EntityKind::Component, c)),
    );
    if !plan.cancels.is_empty() {
        keys.extend(entity_locks(source, l));
    }
    if let Some(NewState::Incident(_)) = plan.state {
        let now = plan.links.iter().flatten().map(|(c, _)| c.as_str());
        keys.extend(
            before
                .iter()
                .map(String::as_str)
                .chain(now)
                .map(|c| incident_links(source, page_id, c)),
        );
    }
    keys
}

#[cfg(test)]
mod tests;
