//! statuspage-bridge: Atlassian Statuspage webhooks in, ITOC360 triggers and
//! resolves out, every step kept in SQLite.
//!
//! The folders follow the layers, top to bottom:
//!
//! - `receive`  — HTTP endpoint: token check, body limit; parses the body
//!   and answers after its commit
//! - `pipeline` — prepares a webhook (parse, keys, summary) in the handler,
//!   then applies it on the writer thread: load state, run the rules, write
//! - `deliver`  — worker sending outbox rows to ITOC360, with retries
//! - `reconcile` — polls pages' status APIs and heals missed webhooks
//!   through the pipeline
//! - `audit`    — read-only pages and JSON over the stored history
//! - `rules`    — the pure rules (no I/O): `parse`, `machine`, `decide`,
//!   `domain`, `time`
//! - `storage`  — SQLite: migrations, the writer thread (group commit),
//!   statements (`store`, `outbox`) and the read pool
//!
//! Wiring and support: `config`, `startup`, `cli`, `ops` (health, metrics,
//! request log), `auth`, `metrics`, `telemetry`.

pub mod audit;
pub mod deliver;
pub mod pipeline;
pub mod receive;
pub mod reconcile;
pub mod redeliver;
pub mod replay;
pub mod rules;
pub mod storage;

pub mod auth;
pub mod cli;
pub mod config;
pub mod metrics;
pub mod ops;
pub mod redact;
pub mod startup;
pub mod telemetry;
