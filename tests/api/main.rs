//! Black-box tests: a real server on 127.0.0.1, a real database per test,
//! and a fake ITOC360 that is itself a real HTTP server.
//!
//! Built twice: `api` runs every test on a SQLite file; `api_postgres` runs
//! them again on a new database of the PostgreSQL cluster named by
//! `BRIDGE_TEST_DATABASE_URL` (each test skipped, with a message, without
//! it). Tests about the SQLite file itself run once; tests of several
//! replicas run on PostgreSQL only.

mod fake_itoc360;
mod fake_status;
mod helpers;

mod audit;
mod binary;
mod browser;
mod cdp;
mod commands;
mod correlation;
mod delivery;
mod docs;
mod hardening;
mod health;
mod heartbeat;
mod learned;
mod maintenance;
mod platforms;
mod postmortem;
mod quiet;
mod reconcile;
mod redeliver;
mod replicas;
mod routing;
mod security;
mod webhooks;
