//! Black-box tests: a real server on 127.0.0.1, a real SQLite file per test,
//! and a fake ITOC360 that is itself a real HTTP server.

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
mod learned;
mod postmortem;
mod quiet;
mod reconcile;
mod redeliver;
mod routing;
mod security;
mod webhooks;
