//! The audit pages in a real browser: headless Chromium loads /events and a
//! timeline, the rendered DOM is checked, and screenshots are kept under
//! target/screenshots/.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::json;

use crate::helpers::*;

const INC: &str = "01_incident_created_investigating_critical.json";

fn chromium() -> Option<PathBuf> {
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find_map(|name| {
            let out = Command::new("which").arg(name).output().ok()?;
            out.status
                .success()
                .then(|| PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
        })
}

fn run_chromium(bin: &Path, profile: &Path, args: &[&str], url: &str) -> String {
    let out = Command::new(bin)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-quic",
            "--no-first-run",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(url)
        .output()
        .expect("chromium runs");
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// An incident that opened, resolved and reopened, with its component.
async fn seed(app: &TestApp) {
    app.outcome(fixture(INC)).await;
    app.outcome(fixture("03_component_major_outage.json")).await;
    let step = |status: &str, hh_mm: &str, body: &str| {
        incident_update(
            status,
            hh_mm,
            &[("incident.incident_updates.0.body", json!(body))],
        )
    };
    app.outcome(step(
        "identified",
        "10:25",
        "Root cause found: a bad deploy.",
    ))
    .await;
    app.outcome(step("resolved", "10:40", "Rolled back; all good."))
        .await;
    app.outcome(step("investigating", "10:50", "Errors are back."))
        .await;
    let back = component_change("major_outage", "partial_outage", "10:45");
    app.outcome(back).await;
}

#[tokio::test]
async fn events_and_timeline_render_in_chromium() {
    let Some(bin) = chromium() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must have Chromium (.ci/run installs it)"
        );
        eprintln!(
            "SKIPPED events_and_timeline_render_in_chromium: no Chromium on this machine (apt-get install chromium)"
        );
        return;
    };
    let app = spawn_app().await;
    seed(&app).await;
    let profile = tempfile::tempdir().unwrap();
    let shots = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
    std::fs::create_dir_all(&shots).unwrap();

    let events = format!("{}/events", app.address);
    let dom = run_chromium(&bin, profile.path(), &["--dump-dom"], &events);
    assert_eq!(dom.matches("class=\"row\"").count(), 6, "{dom}");
    assert!(
        dom.contains("API unavailable") && dom.contains("retriggered") || dom.contains("triggered")
    );
    assert!(dom.contains("identified"), "transition shown");
    run_chromium(
        &bin,
        profile.path(),
        &[
            "--window-size=1280,800",
            &format!("--screenshot={}", shots.join("events.png").display()),
        ],
        &events,
    );

    let timeline = format!("{}/incidents/x1y2z3a4b5c6/lq0v6n2c9t4h", app.address);
    let dom = run_chromium(&bin, profile.path(), &["--dump-dom"], &timeline);
    assert!(dom.contains("id=\"timeline-chart\""), "chart rendered");
    assert_eq!(dom.matches("<rect class=\"band").count(), 4, "{dom}");
    assert_eq!(dom.matches("class=\"mark trigger\"").count(), 2);
    assert_eq!(dom.matches("class=\"mark resolve\"").count(), 1);
    run_chromium(
        &bin,
        profile.path(),
        &[
            "--window-size=1280,900",
            &format!("--screenshot={}", shots.join("timeline.png").display()),
        ],
        &timeline,
    );
    // Phone width: the list becomes cards.
    run_chromium(
        &bin,
        profile.path(),
        &[
            "--window-size=390,844",
            &format!("--screenshot={}", shots.join("events-phone.png").display()),
        ],
        &events,
    );
    // What is open now: the reopened incident and the degraded component.
    let alerts = format!("{}/alerts", app.address);
    let dom = run_chromium(&bin, profile.path(), &["--dump-dom"], &alerts);
    assert_eq!(dom.matches("<td data-label=\"Name\">").count(), 2, "{dom}");
    assert!(
        dom.contains(">API unavailable</a>") && dom.contains(">API</a>"),
        "{dom}"
    );
    run_chromium(
        &bin,
        profile.path(),
        &[
            "--window-size=1280,500",
            &format!("--screenshot={}", shots.join("alerts.png").display()),
        ],
        &alerts,
    );
    for name in [
        "events.png",
        "timeline.png",
        "events-phone.png",
        "alerts.png",
    ] {
        let size = std::fs::metadata(shots.join(name)).unwrap().len();
        assert!(size > 10_000, "{name} is {size} bytes");
    }
    app.stop().await;
}
