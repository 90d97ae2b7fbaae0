//! The documentation holds together: the README stays short, every
//! relative link of the README and docs/ — file and anchor — resolves, and
//! the shipped Prometheus rules and Grafana dashboard are valid and watch
//! only metrics the bridge exposes.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The documented files: the README and every file of docs/.
fn documents() -> Vec<PathBuf> {
    let mut files = vec![root().join("README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root().join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    files.extend(docs);
    files
}

/// A heading's anchor as GitHub makes it: lower case, punctuation dropped,
/// spaces as hyphens.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

fn anchors(text: &str) -> Vec<String> {
    let mut in_code = false;
    let mut out = Vec::new();
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
        }
        if !in_code && line.starts_with('#') {
            out.push(anchor(line.trim_start_matches('#')));
        }
    }
    out
}

/// Every `](target)` of a markdown text outside code blocks.
fn links(text: &str) -> Vec<String> {
    let mut in_code = false;
    let mut out = Vec::new();
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
            continue;
        }
        if in_code {
            continue;
        }
        for part in line.split("](").skip(1) {
            if let Some(end) = part.find(')') {
                out.push(part[..end].to_owned());
            }
        }
    }
    out
}

#[test]
fn the_readme_is_short() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let lines = readme.lines().count();
    assert!(lines <= 200, "README.md has {lines} lines");
}

#[test]
fn every_doc_link_resolves() {
    let mut broken = Vec::new();
    let mut checked = 0;
    for file in documents() {
        let text = std::fs::read_to_string(&file).unwrap();
        let dir = file.parent().unwrap();
        for link in links(&text) {
            if link.starts_with("http://") || link.starts_with("https://") {
                continue;
            }
            checked += 1;
            let (path, fragment) = link.split_once('#').unwrap_or((&link, ""));
            let target: PathBuf = if path.is_empty() {
                file.clone()
            } else {
                dir.join(path)
            };
            if !Path::new(&target).exists() {
                broken.push(format!("{}: {link} (no such file)", file.display()));
                continue;
            }
            if !fragment.is_empty() {
                let text = std::fs::read_to_string(&target).unwrap_or_default();
                if !anchors(&text).iter().any(|a| a == fragment) {
                    broken.push(format!("{}: {link} (no such heading)", file.display()));
                }
            }
        }
    }
    assert!(checked > 20, "only {checked} links checked");
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

/// The shipped Prometheus rules are valid (`promtool check rules`, when
/// installed; CI installs it).
#[test]
fn the_alert_rules_pass_promtool() {
    let rules = root().join("packaging/prometheus/alerts.yml");
    let Ok(out) = std::process::Command::new("promtool")
        .arg("check")
        .arg("rules")
        .arg(&rules)
        .output()
    else {
        eprintln!("skipped: promtool is not installed (Debian: prometheus)");
        return;
    };
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert!(text.contains("SUCCESS: 8 rules found"), "{text}");
}

/// Every metric the rules and the dashboard name is one the bridge
/// exposes, so neither watches a name that never comes.
#[tokio::test]
async fn the_rules_and_the_dashboard_name_only_exposed_metrics() {
    crate::helpers::needs_database!();
    let app = crate::helpers::spawn_app().await;
    let (_, metrics) = app.get("/metrics").await;
    app.stop().await;
    let exposed: Vec<&str> = metrics
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split(' ').next())
        .collect();
    let dashboard =
        std::fs::read_to_string(root().join("packaging/grafana/statuspage-bridge.json")).unwrap();
    let dashboard_json: serde_json::Value = serde_json::from_str(&dashboard).expect("valid JSON");
    assert!(dashboard_json["panels"].as_array().unwrap().len() >= 8);
    let rules = std::fs::read_to_string(root().join("packaging/prometheus/alerts.yml")).unwrap();
    let mut named = 0;
    for text in [&rules, &dashboard] {
        for (i, _) in text.match_indices("statuspage_bridge_") {
            let name: String = text[i..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            let base = ["_total", "_bucket", "_sum", "_count"]
                .iter()
                .find_map(|s| name.strip_suffix(s))
                .unwrap_or(&name);
            named += 1;
            assert!(
                exposed.contains(&base),
                "{name} is not exposed; /metrics has {exposed:?}"
            );
        }
    }
    assert!(named >= 15, "{named} metric names checked");
}
