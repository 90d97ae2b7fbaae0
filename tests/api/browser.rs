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
        .args(crate::cdp::HEADLESS)
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
    sqlite_only!();
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

/// A night like the one on-call reads at 3 a.m.: a long-named incident with
/// long updates, three components in outage, and events ITOC360 refused.
async fn seed_outage(app: &TestApp) -> String {
    let name = "Elevated error rates and latency for API requests, webhooks and Git operations in the EU-West and US-East regions";
    let body = format!(
        "We are investigating elevated error rates affecting API requests. Customers may see 502 and 504 answers. Trace: {} — next update in 30 minutes.",
        "x".repeat(160)
    );
    let (_, v) = app
        .post_json(fixture_with(
            INC,
            &[
                ("incident.name", json!(name)),
                ("incident.incident_updates.0.body", json!(body)),
            ],
        ))
        .await;
    for (id, component) in [
        (
            "r7p3k9d2m5w1",
            "API requests (REST and GraphQL, all regions)",
        ),
        ("b5n8q2w4e6r8", "Webhook delivery to customer endpoints"),
        ("k3j5h7g9f1d2", "Git operations over HTTPS and SSH"),
    ] {
        app.outcome(other_component(
            id,
            component,
            "operational",
            "major_outage",
            "10:16",
        ))
        .await;
    }
    app.outcome(incident_update(
        "identified",
        "10:30",
        &[
            ("incident.name", json!(name)),
            ("incident.incident_updates.0.body", json!(body)),
        ],
    ))
    .await;
    v["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn every_audit_page_fits_a_phone_in_the_dark_and_offers_redelivery() {
    sqlite_only!();
    let Some(bin) = chromium() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must have Chromium (.ci/run installs it)"
        );
        eprintln!(
            "SKIPPED every_audit_page_fits_a_phone_in_the_dark_and_offers_redelivery: no Chromium on this machine"
        );
        return;
    };
    // ITOC360 refuses the token: every event ends dead.
    let fake = crate::fake_itoc360::FakeItoc360::start("the-right-token").await;
    let mut app = spawn_delivering(&fake.base_url, "a-wrong-token-0123456789").await;
    let webhook = seed_outage(&app).await;
    app.drain().await;
    let base = app.address.clone();
    let pages = [
        ("events", "/events".to_owned()),
        ("event", format!("/events/{webhook}")),
        ("alerts", "/alerts".to_owned()),
        ("reconcile", "/reconcile".to_owned()),
        (
            "incident",
            "/incidents/x1y2z3a4b5c6/lq0v6n2c9t4h".to_owned(),
        ),
        (
            "component",
            "/components/x1y2z3a4b5c6/r7p3k9d2m5w1".to_owned(),
        ),
    ];
    let shots = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let measured = tokio::task::spawn_blocking(move || {
        let profile = tempfile::tempdir().unwrap();
        let mut browser = crate::cdp::Browser::launch(&bin, profile.path());
        let mut measured = Vec::new();
        for (width, height, mobile, scheme, suffix) in [
            (390, 844, true, "dark", "-phone"),
            (1280, 900, false, "light", ""),
        ] {
            browser.emulate(width, height, mobile, scheme);
            for (name, path) in &pages {
                browser.open(&format!("{base}{path}"));
                let facts = browser.eval(
                    "({width: document.documentElement.scrollWidth,
                      dark: matchMedia('(prefers-color-scheme: dark)').matches,
                      background: getComputedStyle(document.body).backgroundColor,
                      buttons: document.querySelectorAll('form.redeliver button').length})",
                );
                browser.screenshot(&shots.join(format!("outage-{name}{suffix}.png")));
                measured.push((width, name.to_string(), facts));
            }
        }
        measured
    })
    .await
    .unwrap();
    for (width, page, facts) in &measured {
        assert!(
            facts["width"].as_u64().unwrap() <= *width as u64,
            "{page} is {} px wide on a {width}-px screen",
            facts["width"]
        );
        if *width == 390 {
            assert_eq!(facts["dark"], true, "{page}");
            assert_eq!(
                facts["background"], "rgb(18, 21, 27)",
                "{page} follows the dark scheme"
            );
        }
    }
    let buttons = |page: &str| {
        measured
            .iter()
            .find(|(w, p, _)| *w == 390 && p == page)
            .map(|(_, _, f)| f["buttons"].as_u64().unwrap())
            .unwrap()
    };
    // Beside every dead event: the incident's trigger on its webhook page and
    // its timeline, a component's on its own, and each open alert's last
    // event on /alerts and in the log (the update at the same priority sent
    // nothing).
    assert_eq!(buttons("event"), 1, "the webhook's own event");
    assert_eq!(buttons("incident"), 1);
    assert_eq!(buttons("component"), 1);
    assert_eq!(buttons("alerts"), 4);
    assert_eq!(buttons("events"), 4);
    assert_eq!(buttons("reconcile"), 0);
    app.stop().await;
    fake.stop().await;
}
