//! The audit log: read-only pages and JSON over the stored history.

use actix_web::web;

use crate::config::Settings;

pub struct AuditState {}

impl AuditState {
    pub fn new(_settings: &Settings) -> AuditState {
        AuditState {}
    }
}

pub fn routes(_cfg: &mut web::ServiceConfig) {}
