//! statuspage-bridge: Atlassian Statuspage webhooks in, ITOC360 triggers and
//! resolves out, every step kept in the database. docs/ARCHITECTURE.md draws the
//! whole; the modules follow the flow, top to bottom:
//!
//! - `receive`   — the HTTP endpoint: token check, body limits; answers
//!   once the webhook is committed
//! - `pipeline`  — read → plan → write: parses the body in the handler, then
//!   storage reads the entity's context, `rules::plan` decides, storage
//!   writes the plan on the writer thread
//! - `deliver`   — the worker that sends outbox rows to ITOC360, with
//!   retries, per-fingerprint order and dead letters
//! - `reconcile` — polls pages' status APIs, heals what the webhooks
//!   missed through the pipeline, and follows each page's health
//! - `heartbeat` — proves the bridge is alive to a dead-man's switch
//! - `audit`     — read-only pages and JSON over the stored history;
//!   `redeliver` and `silences` — the changes the pages offer (queue a dead
//!   event again; add or expire a silence)
//! - `replay`    — the stored history through the current rules on a
//!   scratch copy
//! - `rules`     — the pure rules (no I/O, no clock): `parse`, `plan`,
//!   `machine`, `decide`, `heal`, `health`, `page_alert`, `route`,
//!   `silence`, `catalog`, `domain`, `text`, `time`
//! - `storage`   — every SQL string and driver type: migrations, the writer
//!   thread (group commit), ingest, outbox, upkeep (backup, prune,
//!   retention), history, the read pool and the audit queries
//!
//! Wiring and support: `config`, `startup`, `cli` (a file per command group),
//! `ops` (health, metrics, request log, HEAD), `auth`, `redact` (the one mask
//! for secrets), `metrics`, `telemetry`.

pub mod audit;
pub mod deliver;
pub mod heartbeat;
pub mod pipeline;
pub mod receive;
pub mod reconcile;
pub mod redeliver;
pub mod replay;
pub mod rules;
pub mod silences;
pub mod storage;

pub mod auth;
pub mod cli;
pub mod config;
pub mod metrics;
pub mod ops;
pub mod redact;
pub mod startup;
pub mod telemetry;
