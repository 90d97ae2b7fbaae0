//! A fake ITOC360 Events API: a real HTTP server on 127.0.0.1 that checks
//! requests as docs/ITOC360.md describes and answers as scripted per test.

use std::collections::VecDeque;
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use serde_json::{Value, json};
use tokio::sync::Notify;

/// One scripted answer.
#[derive(Debug, Clone)]
pub enum Reply {
    /// Answer with this status and `{"error": ...}` (2xx: the real body).
    Status(u16),
    /// 429 with a `Retry-After` of this many seconds.
    TooMany(u64),
    /// Wait this long, then answer normally.
    Slow(Duration),
    /// Answer with this status and an error text that echoes the request's
    /// `Authorization` header, as a careless proxy does.
    Echo(u16),
    /// Answer with this status and a plain-text page: `pad` characters,
    /// then the request's `Authorization` header (a proxy's error page).
    EchoText { status: u16, pad: usize },
    /// A redirect (307: same method, same body) to this address.
    Redirect(String),
    /// Answer with this status and an `{"error": ...}` this many bytes long.
    LongError(u16, usize),
}

/// A request the fake received.
#[derive(Debug, Clone)]
pub struct Received {
    pub authorization: Option<String>,
    pub user_agent: Option<String>,
    pub content_type: Option<String>,
    pub body: Value,
    /// The status the fake answered.
    pub status: u16,
}

#[derive(Default)]
struct Fake {
    /// Source tokens it accepts: one per ITOC360 source (destination).
    tokens: Vec<String>,
    script: VecDeque<Reply>,
    received: Vec<Received>,
    started: usize,
}

pub struct FakeItoc360 {
    pub base_url: String,
    state: Arc<Mutex<Fake>>,
    arrived: Arc<Notify>,
    handle: ServerHandle,
}

impl FakeItoc360 {
    /// Starts a fake that accepts `token` as its only source token.
    pub async fn start(token: &str) -> FakeItoc360 {
        Self::start_many(&[token]).await
    }

    /// Starts a fake with several sources, told apart by their tokens.
    pub async fn start_many(tokens: &[&str]) -> FakeItoc360 {
        let state = Arc::new(Mutex::new(Fake {
            tokens: tokens.iter().map(|t| t.to_string()).collect(),
            ..Fake::default()
        }));
        let arrived = Arc::new(Notify::new());
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let data = web::Data::new((state.clone(), arrived.clone()));
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .route("/functions/v1/events", web::post().to(events))
        })
        .workers(2)
        .disable_signals()
        .listen(listener)
        .unwrap()
        .run();
        let handle = server.handle();
        tokio::spawn(server);
        FakeItoc360 {
            base_url: format!("http://127.0.0.1:{port}"),
            state,
            arrived,
            handle,
        }
    }

    /// Queues answers for the next requests (then 2xx again).
    pub fn script(&self, replies: impl IntoIterator<Item = Reply>) {
        self.state.lock().unwrap().script.extend(replies);
    }

    /// Drops the answers not yet used: from now on every request gets 2xx.
    pub fn clear_script(&self) {
        self.state.lock().unwrap().script.clear();
    }

    pub fn received(&self) -> Vec<Received> {
        self.state.lock().unwrap().received.clone()
    }

    /// The accepted (2xx) events sent with `token`, in arrival order.
    pub fn accepted_by(&self, token: &str) -> Vec<Value> {
        let auth = format!("Bearer {token}");
        self.received()
            .into_iter()
            .filter(|r| r.status < 300 && r.authorization.as_deref() == Some(auth.as_str()))
            .map(|r| r.body)
            .collect()
    }

    /// The accepted (2xx) events' bodies, in arrival order.
    pub fn accepted(&self) -> Vec<Value> {
        self.received()
            .into_iter()
            .filter(|r| r.status < 300)
            .map(|r| r.body)
            .collect()
    }

    /// Waits until at least `n` requests have started (before a slow
    /// answer's wait), for at most 30 s.
    pub async fn wait_for_started(&self, n: usize) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let notified = self.arrived.notified();
            if self.state.lock().unwrap().started >= n {
                return;
            }
            tokio::time::timeout_at(deadline, notified)
                .await
                .expect("requests started within 30 s");
        }
    }

    /// Waits until at least `n` requests arrived (no sleeping: woken by
    /// each arrival), for at most 30 s.
    pub async fn wait_for_requests(&self, n: usize) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let notified = self.arrived.notified();
            if self.received().len() >= n {
                return;
            }
            tokio::time::timeout_at(deadline, notified)
                .await
                .unwrap_or_else(|_| {
                    panic!("{n} requests within 30 s; got {}", self.received().len())
                });
        }
    }

    pub async fn stop(&self) {
        self.handle.stop(false).await;
    }
}

type Data = web::Data<(Arc<Mutex<Fake>>, Arc<Notify>)>;

async fn events(req: HttpRequest, body: web::Bytes, data: Data) -> HttpResponse {
    let (state, arrived) = (&data.0, &data.1);
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let authorization = header("Authorization");
    let reply = {
        let mut st = state.lock().unwrap();
        st.started += 1;
        st.script.pop_front()
    };
    arrived.notify_waiters();
    if let Some(Reply::Slow(d)) = &reply {
        tokio::time::sleep(*d).await;
    }
    let parsed: Result<Value, _> = serde_json::from_slice(&body);
    let known = state
        .lock()
        .unwrap()
        .tokens
        .iter()
        .any(|t| authorization.as_deref() == Some(format!("Bearer {t}").as_str()));
    match &reply {
        Some(Reply::EchoText { status, pad }) => {
            let text = format!(
                "{}Authorization: {}",
                "x".repeat(*pad),
                authorization.as_deref().unwrap_or("")
            );
            record(state, arrived, &req, authorization, &body, *status);
            return HttpResponse::build(actix_web::http::StatusCode::from_u16(*status).unwrap())
                .content_type("text/plain")
                .body(text);
        }
        Some(Reply::Redirect(to)) => {
            record(state, arrived, &req, authorization, &body, 307);
            return HttpResponse::TemporaryRedirect()
                .insert_header(("Location", to.as_str()))
                .finish();
        }
        _ => {}
    }
    let (status, answer) = match (&reply, &authorization, &parsed) {
        (Some(Reply::Echo(s)), a, _) => (
            *s,
            json!({"error": format!("refused request with Authorization: {}", a.as_deref().unwrap_or(""))}),
        ),
        (Some(Reply::LongError(s, n)), _, _) => (*s, json!({"error": "e".repeat(*n)})),
        (_, None, _) => (401, json!({"error": "missing authorization"})),
        (_, Some(_), _) if !known => (404, json!({"error": "source not found"})),
        (_, _, Err(e)) => (400, json!({"error": format!("invalid JSON: {e}")})),
        (Some(Reply::Status(s)), _, _) if *s >= 300 => {
            (*s, json!({"error": format!("scripted {s}")}))
        }
        (Some(Reply::TooMany(_)), _, _) => (429, json!({"error": "rate limited"})),
        (_, _, Ok(v)) => match validate(v) {
            Err(e) => (400, json!({"error": e})),
            Ok((kind, fp)) => (
                202,
                json!({"id": uuid::Uuid::new_v4().to_string(), "tenant_id": "t", "provider_id": "p",
                       "source_id": "s", "type": kind, "fingerprint": fp, "payload": v,
                       "created_at": chrono::Utc::now().to_rfc3339()}),
            ),
        },
    };
    state.lock().unwrap().received.push(Received {
        authorization,
        user_agent: header("User-Agent"),
        content_type: header("Content-Type"),
        body: parsed.unwrap_or(Value::Null),
        status,
    });
    arrived.notify_waiters();
    let mut r = HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap());
    if let Some(Reply::TooMany(secs)) = reply {
        r.insert_header(("Retry-After", secs.to_string()));
    }
    r.json(answer)
}

/// Records a request answered without the usual checks.
fn record(
    state: &Mutex<Fake>,
    arrived: &Notify,
    req: &HttpRequest,
    authorization: Option<String>,
    body: &[u8],
    status: u16,
) {
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    state.lock().unwrap().received.push(Received {
        authorization,
        user_agent: header("User-Agent"),
        content_type: header("Content-Type"),
        body: serde_json::from_slice(body).unwrap_or(Value::Null),
        status,
    });
    arrived.notify_waiters();
}

/// Checks a body as ITOC360 would; returns (type, fingerprint).
fn validate(v: &Value) -> Result<(&'static str, String), String> {
    let s = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
    if v.get("alerts").is_some() {
        let status = s(v, "status").ok_or("status required")?;
        let alert = &v["alerts"][0];
        if s(alert, "status").as_deref() != Some(status.as_str()) {
            return Err("alerts[0].status must equal status".into());
        }
        let fp = s(alert, "fingerprint")
            .filter(|f| !f.is_empty())
            .ok_or("fingerprint required")?;
        let sev = s(&alert["labels"], "severity").ok_or("labels.severity required")?;
        if !["critical", "error", "warning", "info"].contains(&sev.as_str()) {
            return Err(format!("unknown severity {sev}"));
        }
        s(&v["commonAnnotations"], "summary").ok_or("commonAnnotations.summary required")?;
        let starts = s(alert, "startsAt").ok_or("startsAt required")?;
        chrono::DateTime::parse_from_rfc3339(&starts).map_err(|e| format!("startsAt: {e}"))?;
        match status.as_str() {
            "firing" => Ok(("ALERT", fp)),
            "resolved" => {
                let ends = s(alert, "endsAt").ok_or("endsAt required when resolved")?;
                chrono::DateTime::parse_from_rfc3339(&ends).map_err(|e| format!("endsAt: {e}"))?;
                Ok(("RESOLVE", fp))
            }
            other => Err(format!("status {other} not accepted")),
        }
    } else {
        let id = s(v, "id").filter(|f| !f.is_empty()).ok_or("id required")?;
        s(v, "title").ok_or("title required")?;
        s(v, "message").ok_or("message required")?;
        let sev = s(v, "severity").ok_or("severity required")?;
        if !["critical", "high", "medium", "low"].contains(&sev.as_str()) {
            return Err(format!("unknown severity {sev}"));
        }
        match s(v, "status").as_deref() {
            Some("trigger") => Ok(("ALERT", id)),
            Some("resolve") => Ok(("RESOLVE", id)),
            other => Err(format!("status {other:?} not accepted")),
        }
    }
}
