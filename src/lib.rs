//! statuspage-bridge: Atlassian Statuspage webhooks in, ITOC360 triggers and
//! resolves out, every step kept in SQLite.
//!
//! Modules in the order data flows through them:
//!
//! - `receive`  — HTTP endpoint: token check, body limit, answer after commit
//! - `pipeline` — per webhook, one transaction on the writer task:
//!   - `parse`    — JSON → typed incident/component event (pure)
//!   - `machine`  — lifecycle rules: duplicate, stale, alert state (pure)
//!   - `decide`   — before → after alert state → trigger/resolve (pure)
//!   - `store`, `outbox` — plain data access
//! - `deliver`  — worker sending outbox rows to ITOC360, with retries
//! - `audit`    — read-only pages and JSON over the stored history
//!
//! Wiring and support: `config`, `db` (migrations, writer task, read pool),
//! `startup`, `cli`, `ops` (health, metrics, request log), `auth`,
//! `domain` (shared vocabulary), `metrics`, `telemetry`.

pub mod audit;
pub mod decide;
pub mod deliver;
pub mod machine;
pub mod outbox;
pub mod parse;
pub mod pipeline;
pub mod receive;
pub mod store;

pub mod auth;
pub mod cli;
pub mod config;
pub mod db;
pub mod domain;
pub mod metrics;
pub mod ops;
pub mod startup;
pub mod telemetry;
