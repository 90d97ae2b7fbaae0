//! The settings as the rules take them: the routing policy, the machine's
//! rules, page health's thresholds and maintenance's margins.

use super::{HealthConfig, MaintenanceConfig, PageMaintenance, Settings};
use crate::rules::domain::Priority;
use crate::rules::route::{Delays, PagePolicy, Policy, RoutePolicy};

impl Settings {
    /// The rules the pipeline decides by (what `replay --set` can change).
    pub fn rules(&self) -> crate::rules::machine::Rules {
        crate::rules::machine::Rules {
            page_maintenance: self.maintenance.page,
        }
    }

    /// The routing settings as the rules use them.
    pub fn policy(&self) -> Policy {
        let priority = |p: &Option<Priority>| p.unwrap_or(Priority::Low);
        Policy {
            pages: self
                .routing
                .pages
                .iter()
                .map(|p| PagePolicy {
                    page_id: p.page_id.clone(),
                    platform: self
                        .pages
                        .iter()
                        .find(|page| page.id == p.page_id)
                        .map_or_else(Default::default, |page| page.kind),
                    name: (!p.name.trim().is_empty()).then(|| p.name.trim().to_owned()),
                    components: p.components.clone(),
                    ignore_components: p.ignore_components.clone(),
                    min_priority: priority(&p.min_priority),
                    incidents: p.incidents,
                    delays: Delays {
                        page_after_secs: p.page_after_secs,
                        resolve_after_secs: p.resolve_after_secs,
                    },
                })
                // A page reconciled with no paging rules of its own still
                // names its platform.
                .chain(
                    self.pages
                        .iter()
                        .filter(|page| !self.routing.pages.iter().any(|p| p.page_id == page.id))
                        .map(|page| PagePolicy {
                            page_id: page.id.clone(),
                            platform: page.kind,
                            ..PagePolicy::default()
                        }),
                )
                .collect(),
            routes: self
                .routing
                .routes
                .iter()
                .map(|r| RoutePolicy {
                    name: r.name.clone(),
                    pages: r.pages.clone(),
                    components: r.components.clone(),
                    kinds: r.kinds.clone(),
                    min_priority: priority(&r.min_priority),
                    continue_matching: r.continue_matching,
                    has_token: !r.token.is_empty(),
                    delays: Delays {
                        page_after_secs: r.page_after_secs,
                        resolve_after_secs: r.resolve_after_secs,
                    },
                })
                .collect(),
            default_has_token: !self.itoc360.token.is_empty(),
        }
    }

    /// Whether `page_id`'s scheduled maintenances are followed.
    pub fn maintenance_notify(&self, page_id: &str) -> bool {
        match self
            .routing
            .pages
            .iter()
            .find(|p| p.page_id == page_id)
            .and_then(|p| p.maintenance)
        {
            Some(m) => m == PageMaintenance::Notify,
            None => self.maintenance.notify,
        }
    }
}

impl HealthConfig {
    pub fn thresholds(&self) -> crate::rules::health::Thresholds {
        crate::rules::health::Thresholds {
            failed_rounds: self.failed_rounds as usize,
            expect_webhook_within: chrono::Duration::seconds(
                self.expect_webhook_within_secs.min(i64::MAX as u64) as i64,
            ),
        }
    }
}

impl MaintenanceConfig {
    /// How early a heads-up goes out, and how long an overrun is allowed.
    pub fn margins(&self) -> crate::rules::maintenance::Margins {
        let secs = |s: u64| chrono::Duration::seconds(s.min(i64::MAX as u64 / 1000) as i64);
        crate::rules::maintenance::Margins {
            lead: secs(self.lead_secs),
            overrun_grace: secs(self.overrun_grace_secs),
        }
    }
}
