//! Webhook bodies shared by the benches: real Statuspage samples, edited.

#![allow(dead_code)] // each bench uses part of it

use serde_json::{Value, json};

pub const INCIDENT: &str =
    include_str!("../../tests/fixtures/01_incident_created_investigating_critical.json");
pub const COMPONENT: &str = include_str!("../../tests/fixtures/03_component_major_outage.json");

/// A request body with fresh ids; even `n` an incident, odd a component.
pub fn body(run: &str, n: usize) -> Vec<u8> {
    let mut v: Value;
    if n.is_multiple_of(2) {
        v = serde_json::from_str(INCIDENT).unwrap();
        let id = format!("{run}i{n}");
        v["incident"]["id"] = json!(id);
        v["incident"]["incident_updates"][0]["id"] = json!(format!("{run}u{n}"));
        v["incident"]["incident_updates"][0]["incident_id"] = json!(id);
    } else {
        v = serde_json::from_str(COMPONENT).unwrap();
        let id = format!("{run}c{n}");
        v["component"]["id"] = json!(id);
        v["component_update"]["component_id"] = json!(id);
        v["component_update"]["id"] = json!(format!("{run}cu{n}"));
    }
    serde_json::to_vec(&v).unwrap()
}

/// A deterministic stream of small numbers (the same workload every run).
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

/// `count` bodies of an outage on one page: 120 incident slots (each
/// incident 3–8 updates, then a new one in its slot) listing one or two of
/// 250 components, those components flapping, and 10 % of deliveries
/// repeated. Ids start with `o{run}`; times rise through the stream.
pub fn outage_bodies(run: &str, count: usize) -> Vec<Vec<u8>> {
    pub const INCIDENTS: u64 = 120;
    pub const COMPONENTS: u64 = 250;
    let mut rng = Lcg(7);
    let start = chrono::DateTime::parse_from_rfc3339("2025-03-04T10:00:00Z").unwrap();
    let at = |t: usize| (start + chrono::Duration::milliseconds(t as i64 * 10)).to_utc();
    let time = |t: usize| at(t).format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
    // Per incident slot: (generation, updates done, updates planned).
    let mut slots: Vec<(u32, u32, u32)> =
        (0..INCIDENTS).map(|k| (0, 0, 3 + (k % 6) as u32)).collect();
    let mut down = vec![false; COMPONENTS as usize];
    let mut out: Vec<Vec<u8>> = Vec::with_capacity(count);
    while out.len() < count {
        let t = out.len();
        let roll = rng.below(100);
        if roll < 10 && !out.is_empty() {
            let again = rng.below(out.len() as u64) as usize;
            out.push(out[again].clone());
            continue;
        }
        if roll < 55 {
            let k = rng.below(INCIDENTS) as usize;
            let (generation, done, planned) = slots[k];
            let status = match done {
                n if n + 1 == planned => "resolved",
                0 => "investigating",
                1 => "identified",
                _ => "monitoring",
            };
            let id = format!("o{run}i{k}g{generation}");
            let mut v: Value = serde_json::from_str(INCIDENT).unwrap();
            let c1 = format!("o{run}c{}", (k as u64 * 7) % COMPONENTS);
            let c2 = format!("o{run}c{}", (k as u64 * 13 + 1) % COMPONENTS);
            let listed: Vec<Value> = [c1, c2]
                .iter()
                .take(1 + k % 2)
                .map(|c| json!({"id": c, "name": format!("Service {c}"), "status": "major_outage"}))
                .collect();
            let i = &mut v["incident"];
            i["id"] = json!(id);
            i["status"] = json!(status);
            i["impact"] = json!(["minor", "major", "critical"][k % 3]);
            i["updated_at"] = json!(time(t));
            i["resolved_at"] = if status == "resolved" {
                json!(time(t))
            } else {
                Value::Null
            };
            i["components"] = json!(listed);
            let u = &mut i["incident_updates"][0];
            u["id"] = json!(format!("{id}u{done}"));
            u["incident_id"] = json!(id);
            u["status"] = json!(status);
            u["created_at"] = json!(time(t));
            slots[k] = if done + 1 == planned {
                (generation + 1, 0, 3 + rng.below(6) as u32)
            } else {
                (generation, done + 1, planned)
            };
            out.push(serde_json::to_vec(&v).unwrap());
        } else {
            let j = rng.below(COMPONENTS) as usize;
            let (old, new) = if down[j] {
                ("major_outage", "operational")
            } else {
                (
                    "operational",
                    ["degraded_performance", "partial_outage", "major_outage"][j % 3],
                )
            };
            down[j] = !down[j];
            let id = format!("o{run}c{j}");
            let mut v: Value = serde_json::from_str(COMPONENT).unwrap();
            v["component"]["id"] = json!(id);
            v["component"]["name"] = json!(format!("Service {id}"));
            v["component"]["status"] = json!(new);
            let u = &mut v["component_update"];
            u["id"] = json!(format!("{id}u{t}"));
            u["component_id"] = json!(id);
            u["old_status"] = json!(old);
            u["new_status"] = json!(new);
            u["created_at"] = json!(time(t));
            out.push(serde_json::to_vec(&v).unwrap());
        }
    }
    out
}
