//! `check-config`: what the bridge would run with, without serving.

use crate::config::Settings;

/// What `check-config` prints: `ok` and what the bridge would run with
/// (never a secret). Fails when the database cannot live at its path.
pub(super) fn check_config(settings: &Settings) -> anyhow::Result<String> {
    use std::fmt::Write;
    crate::storage::check_location(&settings.database)?;
    let mut out = String::from("ok\n");
    let s = settings;
    let _ = writeln!(out, "listen: {}", s.server.listen);
    let _ = writeln!(out, "public_url: {}", s.server.public_url);
    let _ = writeln!(out, "database: {}", crate::storage::describe(&s.database));
    let _ = writeln!(
        out,
        "itoc360: {}",
        if s.itoc360.token.is_empty() {
            "dry run (no token): decisions are recorded, nothing is sent".to_owned()
        } else {
            format!(
                "{} ({:?} format), token set",
                s.itoc360.base_url, s.itoc360.format
            )
        }
    );
    for r in &s.routing.routes {
        let _ = writeln!(
            out,
            "route {}: {} ({:?} format){}",
            r.name,
            if r.token.is_empty() {
                "dry run (no token)"
            } else {
                "token set"
            },
            r.format.unwrap_or(s.itoc360.format),
            if r.continue_matching {
                ", continues"
            } else {
                ""
            }
        );
    }
    let names: Vec<&str> = s.sources.iter().map(|x| x.name.as_str()).collect();
    let _ = writeln!(out, "sources: {}", names.join(", "));
    let _ = writeln!(
        out,
        "audit: {}",
        if s.audit_credentials().is_some() {
            "HTTP Basic auth"
        } else {
            "this machine only (no [audit] credentials)"
        }
    );
    let _ = writeln!(
        out,
        "maintenance paging: {}",
        if s.maintenance.page { "on" } else { "off" }
    );
    if s.pages.is_empty() {
        let _ = writeln!(out, "reconcile: off (no [[pages]])");
    } else {
        let pages: Vec<String> = s
            .pages
            .iter()
            .map(|p| format!("{} ({})", p.id, p.api_base()))
            .collect();
        let _ = writeln!(
            out,
            "reconcile: every {} s: {}",
            s.reconcile.interval_secs,
            pages.join(", ")
        );
        let notified: Vec<&str> = s
            .pages
            .iter()
            .filter(|p| s.maintenance_notify(&p.id))
            .map(|p| p.id.as_str())
            .collect();
        let _ = writeln!(
            out,
            "page health: an alert after {} s unhealthy; maintenance followed for: {}",
            s.health.page_after_secs,
            if notified.is_empty() {
                "none".to_owned()
            } else {
                notified.join(", ")
            }
        );
    }
    let h = &s.heartbeat;
    let _ = writeln!(
        out,
        "heartbeat: {}",
        if h.enabled() {
            format!(
                "every {} s{}{}{}",
                h.interval_secs,
                if h.url.is_empty() { "" } else { " to its URL" },
                if h.fail_url.is_empty() {
                    ""
                } else {
                    ", reasons to its fail URL"
                },
                if h.watchdog {
                    ", Watchdog alert to ITOC360"
                } else {
                    ""
                }
            )
        } else {
            "off".to_owned()
        }
    );
    Ok(out)
}
