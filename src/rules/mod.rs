//! The pure rules: no I/O, no clock, no randomness — time comes in as a
//! parameter. Data flows `parse` → `plan` (which runs the `machine`, which
//! asks `decide`); `domain` is the shared vocabulary, `time` the one text
//! form of a time and `text` what outside text may hide. `heal` compares a page's status API with the bridge's
//! view (reconcile); `catalog` is what a page is made of, as its `summary.json`
//! says; `platform` turns other status platforms' bodies into Statuspage's
//! shape. See docs/ARCHITECTURE.md.

pub mod alert;
pub mod catalog;
pub mod decide;
pub mod domain;
pub mod heal;
pub mod health;
pub mod machine;
pub mod maintenance;
pub mod page_alert;
pub mod parse;
pub mod plan;
pub mod platform;
pub mod route;
pub mod silence;
pub mod text;
pub mod time;
