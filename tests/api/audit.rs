//! The audit pages and API: filters, pagination, escaping, redaction and
//! access.

use actix_web::{App, test as actix_test};
use serde_json::{Value, json};
use statuspage_bridge::audit::{self, AuditState};
use statuspage_bridge::config::{Secret, Settings};

use crate::helpers::*;

const INC: &str = "01_incident_created_investigating_critical.json";

fn s(v: &str) -> String {
    v.to_owned()
}

async fn api(app: &TestApp, path: &str) -> Value {
    let (status, body) = app.get(path).await;
    assert_eq!(status, 200, "{path}: {body}");
    serde_json::from_str(&body).unwrap()
}

fn names(v: &Value) -> Vec<String> {
    v["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["entity_name"].as_str().unwrap_or("-").to_owned())
        .collect()
}

/// Posts a small mixed history.
async fn seed(app: &TestApp) {
    app.outcome(fixture(INC)).await;
    app.outcome(fixture("02_incident_resolved.json")).await;
    app.outcome(fixture("03_component_major_outage.json")).await;
    app.outcome(json!({"mystery": true}).to_string()).await;
    assert_eq!(app.post("not json").await.status().as_u16(), 400);
}

#[tokio::test]
async fn filters_narrow_the_list() {
    needs_database!();
    let app = spawn_app().await;
    seed(&app).await;
    let all = api(&app, "/api/events").await;
    assert_eq!(all["events"].as_array().unwrap().len(), 5);
    assert_eq!(names(&all)[0], "-", "newest first: the rejected body");
    assert_eq!(
        names(&api(&app, "/api/events?kind=component").await),
        ["API"]
    );
    assert_eq!(
        names(&api(&app, "/api/events?kind=incident&outcome=triggered").await),
        ["API unavailable"]
    );
    assert_eq!(
        api(&app, "/api/events?outcome=rejected").await["events"][0]["kind"],
        "invalid"
    );
    assert_eq!(
        names(&api(&app, "/api/events?q=github").await),
        ["Incident with GitHub Actions"]
    );
    assert_eq!(
        names(&api(&app, "/api/events?q=%25_%25").await).len(),
        0,
        "LIKE wildcards are literal"
    );
    // Searches are case-insensitive (shorter than 3 characters: refused,
    // see below).
    let mut short = names(&api(&app, "/api/events?q=api").await);
    short.sort();
    assert_eq!(short, ["API", "API unavailable"]);
    assert_eq!(
        names(&api(&app, "/api/events?q=UNAVAIL").await),
        ["API unavailable"]
    );
    assert_eq!(
        api(&app, "/api/events?from=2999-01-01").await["events"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    assert_eq!(
        api(&app, "/api/events?to=2999-01-01T00:00").await["events"]
            .as_array()
            .unwrap()
            .len(),
        5
    );
    assert_eq!(
        api(&app, "/api/events?to=2000-01-01").await["events"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    let (status, body) = app.get("/api/events?from=yesterday").await;
    assert_eq!(status, 400);
    assert!(body.contains("from"), "{body}");
    // The HTML page filters the same way and says what was wrong.
    let (status, html) = app.get("/events?kind=component").await;
    assert_eq!(status, 200);
    assert_eq!(html.matches("class=\"row\"").count(), 1);
    assert!(html.contains("<option value=\"component\" selected>"));
    let (status, html) = app.get("/events?to=soon").await;
    assert_eq!(status, 400);
    assert!(html.contains("to: cannot read"), "{html}");
    app.stop().await;
}

#[tokio::test]
async fn pagination_walks_every_row_once() {
    needs_database!();
    let app = spawn_app().await;
    for n in 0..7 {
        let body = fixture_with(
            INC,
            &[
                ("incident.id", json!(format!("i{n}"))),
                ("incident.name", json!(format!("Incident {n}"))),
            ],
        );
        app.outcome(body).await;
    }
    let mut seen = Vec::new();
    let mut path = "/api/events?limit=3".to_owned();
    let mut pages = 0;
    loop {
        let page = api(&app, &path).await;
        pages += 1;
        seen.extend(names(&page));
        match page["next_cursor"].as_str() {
            Some(c) => path = format!("/api/events?limit=3&before={c}"),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    let want: Vec<String> = (0..7).rev().map(|n| format!("Incident {n}")).collect();
    assert_eq!(seen, want, "newest first, each once");
    // The HTML page links to the older page.
    let (_, html) = app.get("/events?limit=3").await;
    assert_eq!(html.matches("class=\"row\"").count(), 3);
    let older = html
        .split("rel=\"next\" href=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .replace("&amp;", "&");
    let (status, html2) = app.get(&older).await;
    assert_eq!(status, 200);
    assert!(
        html2.contains("Incident 3") && !html2.contains("Incident 6"),
        "{older}"
    );
    app.stop().await;
}

/// A webhook that decided several events (an incident and the component it
/// raises) is one line of the log with its events on it, and paging never
/// skips or repeats a webhook, whatever the page size.
#[tokio::test]
async fn the_log_is_one_line_per_webhook_with_its_events() {
    needs_database!();
    let app = spawn_app().await;
    for n in 0..4 {
        let component = format!("c{n}");
        let opened = fixture_with(
            "03_component_major_outage.json",
            &[
                ("component.id", json!(component)),
                ("component_update.id", json!(format!("cu{n}"))),
                ("component_update.component_id", json!(component)),
            ],
        );
        assert_eq!(app.outcome(opened).await, "triggered");
        let raising = fixture_with(
            INC,
            &[
                ("incident.id", json!(format!("i{n}"))),
                ("incident.name", json!(format!("Incident {n}"))),
                ("incident.components.0.id", json!(component)),
                (
                    "incident.incident_updates.0.affected_components.0.code",
                    json!(component),
                ),
            ],
        );
        assert_eq!(app.outcome(raising).await, "triggered");
    }
    assert_eq!(app.count("SELECT count(*) FROM outbox").await, 12);
    let all = api(&app, "/api/events?limit=100").await;
    let rows = all["events"].as_array().unwrap();
    assert_eq!(rows.len(), 8, "one line per webhook: {all}");
    let incident = &rows[0];
    assert_eq!(incident["entity_id"], "i3");
    let mut events: Vec<(String, String, String)> = incident["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let field = |k: &str| e[k].as_str().unwrap().to_owned();
            (field("kind"), field("entity_id"), field("priority"))
        })
        .collect();
    events.sort();
    assert_eq!(
        events,
        [
            (s("component"), s("c3"), s("critical")),
            (s("incident"), s("i3"), s("critical")),
        ]
    );
    let want: Vec<String> = rows
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect();
    for size in 1..=5 {
        let mut seen = Vec::new();
        let mut path = format!("/api/events?limit={size}");
        loop {
            let page = api(&app, &path).await;
            seen.extend(
                page["events"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|r| r["id"].as_str().unwrap().to_owned()),
            );
            match page["next_cursor"].as_str() {
                Some(c) => path = format!("/api/events?limit={size}&before={c}"),
                None => break,
            }
        }
        assert_eq!(seen, want, "pages of {size}: every webhook once, in order");
    }
    // The page shows the webhook once, with both events and their delivery.
    let (_, html) = app.get("/events?kind=incident").await;
    assert_eq!(html.matches("class=\"row\"").count(), 4);
    assert!(
        html.contains("trigger (critical) · component c3: <span class=\"delivery"),
        "{html}"
    );
    let detail = api(&app, &format!("/api/events/{}", want[0])).await;
    assert_eq!(detail["event"]["events"].as_array().unwrap().len(), 2);
    app.stop().await;
}

#[tokio::test]
async fn payload_text_is_escaped_everywhere() {
    needs_database!();
    let app = spawn_app().await;
    let evil = fixture_with(
        INC,
        &[
            ("incident.name", json!("<script>alert('name')</script>")),
            (
                "incident.incident_updates.0.body",
                json!("<img src=x onerror=alert('body')>"),
            ),
            ("incident.id", json!("id\"><script>x</script>")),
        ],
    );
    let (_, v) = app.post_json(evil).await;
    let id = v["id"].as_str().unwrap();
    let page = format!(
        "/incidents/x1y2z3a4b5c6/{}",
        "id%22%3E%3Cscript%3Ex%3C%2Fscript%3E"
    );
    for path in [
        "/events".to_owned(),
        format!("/events/{id}"),
        page,
        "/alerts".to_owned(),
    ] {
        let (status, html) = app.get(&path).await;
        assert_eq!(status, 200, "{path}");
        assert!(
            !html.contains("<script>"),
            "{path}: raw script tag:\n{html}"
        );
        assert!(!html.contains("<img src=x"), "{path}");
        assert!(
            html.contains("&lt;script&gt;") || html.contains("&#60;script&#62;"),
            "{path}: {html}"
        );
    }
    app.stop().await;
}

/// Bidirectional overrides and zero-width characters in a name are shown
/// as what they are, not obeyed: "txt.exe" cannot pass for "exe.txt".
#[tokio::test]
async fn hidden_characters_are_shown_visibly_on_pages() {
    needs_database!();
    let app = spawn_app().await;
    let (_, v) = app
        .post_json(fixture_with(
            INC,
            &[("incident.name", json!("invoice\u{202e}txt.exe\u{200b}"))],
        ))
        .await;
    let id = v["id"].as_str().unwrap();
    for path in [
        "/events".to_owned(),
        format!("/events/{id}"),
        "/alerts".to_owned(),
    ] {
        let (status, html) = app.get(&path).await;
        assert_eq!(status, 200, "{path}");
        assert!(
            !html.contains(['\u{202e}', '\u{200b}']),
            "{path}: a raw bidi or zero-width character"
        );
        assert!(
            html.contains("invoice\\u{202e}txt.exe\\u{200b}"),
            "{path}: {html}"
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn secrets_are_redacted_in_pages_and_api() {
    needs_database!();
    let app = spawn_app().await;
    let with_token_in_text = fixture_with(
        INC,
        &[(
            "incident.incident_updates.0.body",
            json!("see https://x.example/?token=abc123secret"),
        )],
    );
    let (_, v) = app.post_json(with_token_in_text).await;
    let id = v["id"].as_str().unwrap();
    let (_, html) = app.get(&format!("/events/{id}")).await;
    let json_detail = api(&app, &format!("/api/events/{id}")).await;
    for text in [html, json_detail.to_string()] {
        assert!(!text.contains("q4m2x8r1v7kp"), "unsubscribe secret shown");
        assert!(!text.contains("abc123secret"), "token shown");
        assert!(!text.contains(TOKEN));
        assert!(text.contains("[redacted]"));
    }
    assert_eq!(json_detail["body"]["meta"]["unsubscribe"], "[redacted]");
    assert_eq!(json_detail["body"]["incident"]["name"], "API unavailable");
    assert_eq!(json_detail["event"]["outcome"], "triggered");
    let (status, _) = app.get("/api/events/no-such-id").await;
    assert_eq!(status, 404);
    app.stop().await;
}

#[tokio::test]
async fn basic_auth_guards_audit_routes_but_not_the_webhook() {
    needs_database!();
    let app = spawn_app_with(|s| {
        s.audit.username = "oncall".into();
        s.audit.password = Secret::new("correct horse");
    })
    .await;
    assert_eq!(
        app.outcome(fixture(INC)).await,
        "triggered",
        "the webhook needs only its token"
    );
    for path in [
        "/events",
        "/api/events",
        "/alerts",
        "/incidents/x1y2z3a4b5c6/lq0v6n2c9t4h",
    ] {
        let url = format!("{}{path}", app.address);
        let none = app.client.get(&url).send().await.unwrap();
        assert_eq!(none.status().as_u16(), 401, "{path}");
        assert!(
            none.headers()
                .get("www-authenticate")
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with("Basic")
        );
        let wrong = app
            .client
            .get(&url)
            .basic_auth("oncall", Some("wrong"))
            .send()
            .await
            .unwrap();
        assert_eq!(wrong.status().as_u16(), 401, "{path}");
        let right = app
            .client
            .get(&url)
            .basic_auth("oncall", Some("correct horse"))
            .send()
            .await
            .unwrap();
        assert_eq!(right.status().as_u16(), 200, "{path}");
    }
    assert_eq!(app.get("/healthz").await.0, 200);
    app.stop().await;
}

#[actix_web::test]
async fn without_credentials_only_loopback_peers_are_served() {
    needs_database!();
    let dir = tempfile::tempdir().unwrap();
    let settings = test_settings(dir.path());
    let db = statuspage_bridge::storage::open(
        &settings.database.path,
        std::time::Duration::from_secs(5),
    )
    .await
    .unwrap();
    let state = AuditState::new(&Settings::default());
    let service = actix_test::init_service(
        App::new()
            .app_data(actix_web::web::Data::new(db.read.clone()))
            .configure(|cfg| audit::routes(cfg, &state)),
    )
    .await;
    for (peer, want) in [
        ("127.0.0.1:5000", 200),
        ("[::1]:5000", 200),
        ("192.0.2.10:5000", 403),
        ("[2001:db8::1]:5000", 403),
    ] {
        for path in ["/events", "/api/events", "/alerts"] {
            let req = actix_test::TestRequest::get()
                .uri(path)
                .insert_header(("host", "127.0.0.1:8080"))
                .peer_addr(peer.parse().unwrap())
                .to_request();
            let res = actix_test::call_service(&service, req).await;
            assert_eq!(res.status().as_u16(), want, "{peer} {path}");
        }
    }
    // Static styles are not incident data.
    let req = actix_test::TestRequest::get()
        .uri("/static/style.css")
        .peer_addr("192.0.2.10:1".parse().unwrap())
        .to_request();
    assert_eq!(
        actix_test::call_service(&service, req)
            .await
            .status()
            .as_u16(),
        200
    );
}

/// GETs `path` with extra headers; returns (status, body, CSP header).
async fn get_with(app: &TestApp, path: &str, headers: &[(&str, &str)]) -> (u16, String, String) {
    let mut req = app.client.get(format!("{}{path}", app.address));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let res = req.send().await.unwrap();
    let csp = res
        .headers()
        .get("content-security-policy")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (res.status().as_u16(), res.text().await.unwrap(), csp)
}

#[tokio::test]
async fn without_credentials_proxied_and_rebound_requests_are_refused() {
    needs_database!();
    let app = spawn_app().await;
    app.outcome(fixture(INC)).await;
    let port = app.address.rsplit(':').next().unwrap().to_owned();
    for path in ["/events", "/api/events", "/alerts"] {
        // A proxy on this machine forwarding a visitor from the internet.
        for header in [
            "X-Forwarded-For",
            "Forwarded",
            "X-Real-IP",
            "X-Forwarded-Host",
        ] {
            let (status, body, _) = get_with(&app, path, &[(header, "203.0.113.5")]).await;
            assert_eq!(status, 403, "{path} {header}");
            assert!(body.contains("[audit]"), "{body}");
            assert!(body.contains("proxy"), "{body}");
            assert!(!body.contains("lq0v6n2c9t4h"), "no data leaks: {body}");
        }
        // DNS rebinding: loopback peer, an attacker's host name.
        let (status, body, _) = get_with(
            &app,
            path,
            &[("Host", &format!("rebind.attacker.example:{port}"))],
        )
        .await;
        assert_eq!(status, 403, "{path}");
        assert!(!body.contains("lq0v6n2c9t4h"));
        // This machine's names are served.
        for host in [format!("localhost:{port}"), format!("127.0.0.1:{port}")] {
            let (status, body, _) = get_with(&app, path, &[("Host", &host)]).await;
            assert_eq!(status, 200, "{path} {host}");
            assert!(body.contains("lq0v6n2c9t4h"), "{path} {host}");
        }
    }
    // Pages cannot be framed.
    let (status, _, csp) = get_with(&app, "/events", &[]).await;
    assert_eq!(status, 200);
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    // The webhook, health and metrics do not care about proxies or hosts.
    let proxied = [
        ("X-Forwarded-For", "203.0.113.5"),
        ("Host", "rebind.attacker.example"),
    ];
    for path in ["/healthz", "/metrics"] {
        assert_eq!(get_with(&app, path, &proxied).await.0, 200, "{path}");
    }
    let res = app
        .client
        .post(app.webhook_url())
        .header("X-Forwarded-For", "203.0.113.5")
        .header("Host", "rebind.attacker.example")
        .header("content-type", "application/json")
        .body(fixture("02_incident_resolved.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    app.stop().await;
}

#[tokio::test]
async fn the_root_redirects_to_the_audit_log() {
    needs_database!();
    let app = spawn_app().await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let res = client
        .get(format!("{}/", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 302);
    assert_eq!(res.headers()["location"], "/events");
    app.stop().await;
}

#[tokio::test]
async fn with_credentials_basic_auth_works_through_a_proxy() {
    needs_database!();
    let app = spawn_app_with(|s| {
        s.audit.username = "oncall".into();
        s.audit.password = Secret::new("correct horse");
    })
    .await;
    let url = format!("{}/api/events", app.address);
    let through_proxy = |auth: Option<&str>| {
        let mut r = app
            .client
            .get(&url)
            .header("X-Forwarded-For", "203.0.113.5")
            .header("Host", "bridge.example.com");
        if let Some(pw) = auth {
            r = r.basic_auth("oncall", Some(pw));
        }
        r.send()
    };
    assert_eq!(through_proxy(None).await.unwrap().status().as_u16(), 401);
    assert_eq!(
        through_proxy(Some("wrong"))
            .await
            .unwrap()
            .status()
            .as_u16(),
        401
    );
    assert_eq!(
        through_proxy(Some("correct horse"))
            .await
            .unwrap()
            .status()
            .as_u16(),
        200
    );
    app.stop().await;
}

#[tokio::test]
async fn timeline_of_a_reopened_incident() {
    needs_database!();
    let app = spawn_app().await;
    app.outcome(fixture(INC)).await;
    assert_eq!(
        app.outcome(incident_update("resolved", "10:40", &[])).await,
        "resolved"
    );
    assert_eq!(
        app.outcome(incident_update("investigating", "10:50", &[]))
            .await,
        "triggered"
    );
    let (status, html) = app.get("/incidents/x1y2z3a4b5c6/lq0v6n2c9t4h").await;
    assert_eq!(status, 200);
    assert!(html.contains("API unavailable"));
    assert!(
        html.contains("resolved → investigating"),
        "the reopen is shown"
    );
    assert_eq!(html.matches("<rect class=\"band").count(), 3);
    assert_eq!(html.matches("class=\"mark trigger\"").count(), 2);
    assert_eq!(html.matches("class=\"mark resolve\"").count(), 1);
    assert!(html.contains("open (critical)"));
    assert!(
        html.contains("href=\"/components/x1y2z3a4b5c6/r7p3k9d2m5w1\""),
        "its component is listed"
    );
    let (status, _) = app.get("/incidents/x1y2z3a4b5c6/nope").await;
    assert_eq!(status, 404);
    // The component's page lists the incident that touched it.
    app.outcome(fixture("03_component_major_outage.json")).await;
    let (status, html) = app.get("/components/x1y2z3a4b5c6/r7p3k9d2m5w1").await;
    assert_eq!(status, 200);
    assert!(html.contains("href=\"/incidents/x1y2z3a4b5c6/lq0v6n2c9t4h\""));
    app.stop().await;
}

#[tokio::test]
async fn alerts_shows_what_is_open_with_its_last_delivery() {
    needs_database!();
    use crate::fake_itoc360::{FakeItoc360, Reply};
    let fake = FakeItoc360::start("itoc-token").await;
    // ITOC360 refuses the first request once.
    fake.script([Reply::Status(503)]);
    let mut app = spawn_delivering(&fake.base_url, "itoc-token").await;
    let (_, html) = app.get("/alerts").await;
    assert!(html.contains("No open alerts"), "{html}");

    assert_eq!(
        app.outcome(component_change("operational", "major_outage", "10:14"))
            .await,
        "triggered"
    );
    app.drain().await;
    assert_eq!(app.outcome(fixture(INC)).await, "triggered");
    // Another incident opens and resolves: not open any more.
    let other = |status: &str, at: &str| {
        incident_update(
            status,
            at,
            &[
                ("incident.id", json!("other1")),
                ("incident.name", json!("Search slow")),
                ("incident.components", json!([])),
            ],
        )
    };
    assert_eq!(
        app.outcome(other("investigating", "10:20")).await,
        "triggered"
    );
    assert_eq!(app.outcome(other("resolved", "10:50")).await, "resolved");
    app.drain().await;

    let (status, html) = app.get("/alerts").await;
    assert_eq!(status, 200);
    assert!(
        !html.contains("Search slow"),
        "resolved alerts are not open"
    );
    let component = html
        .find(r#"<a href="/components/x1y2z3a4b5c6/r7p3k9d2m5w1">API</a>"#)
        .expect("the component links to its timeline");
    let incident = html
        .find(r#"<a href="/incidents/x1y2z3a4b5c6/lq0v6n2c9t4h">API unavailable</a>"#)
        .expect("the incident links to its timeline");
    assert!(component < incident, "both critical: the older first");
    let rows: Vec<&str> = html.split("<tr>").skip(2).collect();
    assert_eq!(rows.len(), 2, "{html}");
    // The component: lifted to critical by the incident; its latest event
    // (the lift) was delivered at once, its first only after a 503.
    for (row, since, kind, status) in [
        (
            rows[0],
            "2025-03-04 10:14:00 UTC",
            "component",
            "major_outage",
        ),
        (
            rows[1],
            "2025-03-04 10:15:02 UTC",
            "incident",
            "investigating",
        ),
    ] {
        assert!(
            row.contains(r#"<span class="pill bad">critical</span>"#),
            "{row}"
        );
        assert!(row.contains(since), "{row}");
        assert!(row.contains(&format!(">{kind}<")), "{row}");
        assert!(row.contains(&format!(">{status}<")), "{row}");
        assert!(
            row.contains(r#"trigger: <span class="delivery delivered">delivered</span>"#),
            "{row}"
        );
    }
    app.stop().await;
    fake.stop().await;
}

#[tokio::test]
async fn name_searches_shorter_than_three_characters_are_refused_clearly() {
    needs_database!();
    let app = spawn_app().await;
    seed(&app).await;
    let (status, html) = app.get("/events?q=AP").await;
    assert_eq!(status, 400);
    assert!(
        html.contains("type at least 3 characters to search names"),
        "{html}"
    );
    let (status, body) = app.get("/api/events?q=%20a%20").await;
    assert_eq!(status, 400);
    let v: Value = serde_json::from_str(&body).unwrap();
    assert!(
        v["error"]
            .as_str()
            .unwrap()
            .contains("at least 3 characters"),
        "{v}"
    );
    // Three characters search; an empty search is no search.
    assert_eq!(names(&api(&app, "/api/events?q=API").await).len(), 2);
    assert_eq!(names(&api(&app, "/api/events?q=").await).len(), 5);
    app.stop().await;
}

/// With credentials set, another site's script, image or frame gets 403 on
/// every audit route even though the browser sends the credentials; a
/// person following a link from elsewhere opens the page.
#[tokio::test]
async fn cross_site_reads_are_refused_even_with_credentials() {
    needs_database!();
    let app = spawn_app_with(|s| {
        s.audit.username = "oncall".into();
        s.audit.password = Secret::new("correct horse");
    })
    .await;
    let (_, v) = app.post_json(fixture(INC)).await;
    let id = v["id"].as_str().unwrap().to_owned();
    let get = |path: String, headers: &'static [(&'static str, &'static str)]| {
        let mut req = app
            .client
            .get(format!("{}{path}", app.address))
            .basic_auth("oncall", Some("correct horse"));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        async move { req.send().await.unwrap().status().as_u16() }
    };
    let fetch: &[(&str, &str)] = &[
        ("Sec-Fetch-Site", "cross-site"),
        ("Sec-Fetch-Mode", "cors"),
        ("Sec-Fetch-Dest", "empty"),
    ];
    let navigate: &[(&str, &str)] = &[
        ("Sec-Fetch-Site", "cross-site"),
        ("Sec-Fetch-Mode", "navigate"),
        ("Sec-Fetch-Dest", "document"),
    ];
    for path in [
        "/events".to_owned(),
        "/api/events".to_owned(),
        format!("/events/{id}"),
        format!("/api/events/{id}"),
        "/alerts".to_owned(),
        "/reconcile".to_owned(),
        "/silences".to_owned(),
    ] {
        assert_eq!(get(path.clone(), fetch).await, 403, "{path}");
        assert_eq!(get(path.clone(), &[]).await, 200, "{path}");
        assert_eq!(get(path.clone(), navigate).await, 200, "{path}");
    }
    app.stop().await;
}
