//! The audit access rule and redaction, tried as an attacker would: a bare
//! reverse proxy, odd `Host` forms, absolute-form targets, cross-site
//! requests, repeated query tokens, and tokens hidden in names and links.

use serde_json::json;
use statuspage_bridge::config::Secret;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::*;

const INC: &str = "01_incident_created_investigating_critical.json";
const AUDIT_PATHS: [&str; 6] = [
    "/events",
    "/api/events",
    "/alerts",
    "/reconcile",
    "/incidents/x1y2z3a4b5c6/lq0v6n2c9t4h",
    "/components/x1y2z3a4b5c6/r7p3k9d2m5w1",
];

async fn get_with(app: &TestApp, path: &str, headers: &[(&str, &str)]) -> (u16, String) {
    let mut req = app.client.get(format!("{}{path}", app.address));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let res = req.send().await.unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

/// Sends `head` on a raw connection and returns the status line.
async fn raw_status(app: &TestApp, head: &str) -> String {
    let addr = app.address.trim_start_matches("http://");
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(head.as_bytes()).await.unwrap();
    let mut buf = vec![0; 64];
    let n = s.read(&mut buf).await.unwrap();
    String::from_utf8_lossy(&buf[..n])
        .lines()
        .next()
        .unwrap_or("")
        .to_owned()
}

#[tokio::test]
async fn a_bare_reverse_proxy_in_front_of_a_public_bridge_gets_403_without_credentials() {
    needs_database!();
    let app = spawn_app_with(|s| s.server.public_url = "https://bridge.example.com".into()).await;
    app.outcome(fixture(INC)).await;
    let port = app.address.rsplit(':').next().unwrap().to_owned();
    // What `proxy_pass http://127.0.0.1:<port>;` sends: loopback peer,
    // loopback Host, no proxy header at all.
    for path in AUDIT_PATHS {
        for host in [format!("127.0.0.1:{port}"), "bridge.example.com".to_owned()] {
            let (status, body) = get_with(&app, path, &[("Host", &host)]).await;
            assert_eq!(status, 403, "{path} {host}");
            assert!(
                body.contains("server.public_url names a public host")
                    && body.contains("[audit] username and password"),
                "{body}"
            );
            assert!(!body.contains("lq0v6n2c9t4h"), "no data leaks: {body}");
        }
    }
    // The webhook, health and metrics are unaffected.
    assert_eq!(app.get("/healthz").await.0, 200);
    assert_eq!(app.get("/metrics").await.0, 200);
    assert_eq!(
        app.outcome(incident_update("resolved", "11:00", &[])).await,
        "resolved"
    );
    app.stop().await;

    // With credentials the same bridge serves them, to Basic auth alone.
    let app = spawn_app_with(|s| {
        s.server.public_url = "https://bridge.example.com".into();
        s.audit.username = "oncall".into();
        s.audit.password = Secret::new("correct horse");
    })
    .await;
    let url = format!("{}/events", app.address);
    let res = app.client.get(&url).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 401);
    // The scheme is case-insensitive (RFC 7617).
    use base64::Engine;
    let lower = format!(
        "basic {}",
        base64::engine::general_purpose::STANDARD.encode("oncall:correct horse")
    );
    let res = app
        .client
        .get(&url)
        .header("Authorization", lower)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    app.stop().await;
}

#[tokio::test]
async fn a_private_bridge_serves_only_exact_local_requests() {
    needs_database!();
    let app = spawn_app().await;
    app.outcome(fixture(INC)).await;
    app.outcome(fixture("03_component_major_outage.json")).await;
    let port = app.address.rsplit(':').next().unwrap().to_owned();
    for path in AUDIT_PATHS {
        for host in [
            format!("localhost:{port}"),
            format!("127.0.0.1:{port}"),
            "LOCALHOST".to_owned(),
        ] {
            let (status, _) = get_with(&app, path, &[("Host", &host)]).await;
            assert_eq!(status, 200, "{path} {host}");
        }
        // A proxy says the client is elsewhere, whichever header it uses.
        for header in [
            "X-Forwarded-For",
            "Forwarded",
            "X-Real-IP",
            "X-Forwarded-Host",
            "X-Forwarded-Proto",
            "X-Forwarded-Port",
            "X-Forwarded-Server",
            "Via",
        ] {
            let (status, body) = get_with(&app, path, &[(header, "203.0.113.5")]).await;
            assert_eq!(status, 403, "{path} {header}");
            assert!(body.contains("proxy"), "{body}");
        }
        // Host forms that only start like this machine.
        for host in [
            "[::1]evil.com",
            "[::1]:x",
            "[::1]]",
            "[::1]@evil.com",
            "localhost:abc",
            "localhost.evil.com",
            "bridge.example.com",
        ] {
            let (status, body) = get_with(&app, path, &[("Host", host)]).await;
            assert_eq!(status, 403, "{path} {host}");
            assert!(!body.contains("lq0v6n2c9t4h"), "{body}");
        }
        // Another site asking through a browser on this machine.
        for header in [
            ("Sec-Fetch-Site", "cross-site"),
            ("Sec-Fetch-Site", "same-site"),
            ("Origin", "https://evil.example"),
            ("Origin", "null"),
        ] {
            let (status, body) = get_with(&app, path, &[header]).await;
            assert_eq!(status, 403, "{path} {header:?}");
            assert!(body.contains("another site"), "{body}");
        }
        let (status, _) = get_with(&app, path, &[("Sec-Fetch-Site", "same-origin")]).await;
        assert_eq!(status, 200, "{path}");
    }
    // An absolute-form request target names the host as well.
    let evil = raw_status(
        &app,
        &format!(
            "GET http://evil.example/events HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
        ),
    )
    .await;
    assert!(evil.contains(" 403"), "{evil}");
    let fine = raw_status(
        &app,
        &format!(
            "GET http://127.0.0.1:{port}/events HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
        ),
    )
    .await;
    assert!(fine.contains(" 200"), "{fine}");
    app.stop().await;
}

#[tokio::test]
async fn a_query_token_wins_over_the_header_even_when_repeated() {
    needs_database!();
    let app = spawn_app().await;
    let post = |query: &'static str| {
        app.client
            .post(format!("{}/webhooks/statuspage{query}", app.address))
            .header("X-ITOC360-Token", TOKEN)
            .header("content-type", "application/json")
            .body(fixture(INC))
            .send()
    };
    for query in [
        "?token=wrong&token=wrong2",
        "?token=wrong",
        "?token=",
        "?token",
    ] {
        let res = post(query).await.unwrap();
        assert_eq!(res.status().as_u16(), 401, "{query}");
    }
    let repeated_right = format!("?token={TOKEN}&token={TOKEN}");
    let res = app
        .client
        .post(format!(
            "{}/webhooks/statuspage{repeated_right}",
            app.address
        ))
        .header("content-type", "application/json")
        .body(fixture(INC))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 401, "a repeated token is refused");
    assert_eq!(app.count("SELECT count(*) FROM webhooks").await, 0);
    // Without a query token, the header is used.
    assert_eq!(post("").await.unwrap().status().as_u16(), 200);
    app.stop().await;
}

#[tokio::test]
async fn a_token_in_a_name_or_a_shortlink_is_masked_on_every_audit_page() {
    needs_database!();
    let app = spawn_app().await;
    let secret = "n4m3s3cr3t";
    let link_secret = "l1nks3cr3t";
    let named = fixture_with(
        INC,
        &[
            (
                "incident.name",
                json!(format!("API down, see https://x.example/?token={secret}")),
            ),
            (
                "incident.shortlink",
                json!(format!("https://stspg.io/abc?token={link_secret}")),
            ),
        ],
    );
    let (_, v) = app.post_json(named).await;
    let id = v["id"].as_str().unwrap().to_owned();
    app.outcome(fixture("03_component_major_outage.json")).await;
    let mut pages: Vec<String> = AUDIT_PATHS.iter().map(|p| p.to_string()).collect();
    pages.push(format!("/events/{id}"));
    pages.push(format!("/api/events/{id}"));
    pages.push("/events?q=API".into());
    for path in &pages {
        let (status, body) = app.get(path).await;
        assert_eq!(status, 200, "{path}");
        assert!(!body.contains(secret), "{path} shows the name's token");
        assert!(!body.contains(link_secret), "{path} shows the link's token");
    }
    let (_, timeline) = app.get("/incidents/x1y2z3a4b5c6/lq0v6n2c9t4h").await;
    assert!(
        timeline.contains("https://stspg.io/abc?token=[redacted]"),
        "the Statuspage link is kept, masked: {timeline}"
    );
    let (_, alerts) = app.get("/alerts").await;
    assert!(alerts.contains("?token=[redacted]"), "{alerts}");
    app.stop().await;
}

#[tokio::test]
async fn head_answers_like_get_and_json_is_not_sniffed() {
    needs_database!();
    let app = spawn_app().await;
    app.outcome(fixture(INC)).await;
    for path in [
        "/events",
        "/api/events",
        "/alerts",
        "/healthz",
        "/metrics",
        "/static/style.css",
    ] {
        let get = app
            .client
            .get(format!("{}{path}", app.address))
            .send()
            .await
            .unwrap();
        let head = app
            .client
            .head(format!("{}{path}", app.address))
            .send()
            .await
            .unwrap();
        assert_eq!(head.status(), get.status(), "{path}");
        assert_eq!(head.status().as_u16(), 200, "{path}");
        assert_eq!(
            head.headers().get("content-type"),
            get.headers().get("content-type"),
            "{path}"
        );
        assert_eq!(
            get.headers()
                .get("x-content-type-options")
                .map(|v| v.to_str().unwrap()),
            Some("nosniff"),
            "{path}"
        );
        assert!(
            head.bytes().await.unwrap().is_empty(),
            "{path}: HEAD has no body"
        );
    }
    // JSON answers of every kind, errors included, say nosniff too.
    let res = app
        .client
        .post(format!("{}/webhooks/statuspage?token=nope", app.address))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 401);
    assert_eq!(
        res.headers().get("x-content-type-options").unwrap(),
        "nosniff"
    );
    app.stop().await;
}
