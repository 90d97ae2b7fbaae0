//! A fake Statuspage status API: a real HTTP server on 127.0.0.1 serving
//! scripted `summary.json`, `incidents.json` and
//! `incidents/unresolved.json`, and recording each request's headers.

use std::collections::HashMap;
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use serde_json::{Value, json};

/// An answer to serve: status and body text.
#[derive(Clone)]
pub struct Answer {
    pub status: u16,
    pub body: String,
}

impl Answer {
    pub fn json(v: Value) -> Answer {
        Answer {
            status: 200,
            body: v.to_string(),
        }
    }
}

#[derive(Default)]
struct Served {
    answers: HashMap<String, Answer>,
    /// Paths answered with this many bytes, streamed without a length.
    streamed: HashMap<String, usize>,
    /// Paths answered with a redirect to this location.
    redirects: HashMap<String, String>,
    /// (path, Authorization header, User-Agent) of every request.
    seen: Vec<(String, Option<String>, Option<String>)>,
}

type Shared = Arc<Mutex<Served>>;

pub struct FakeStatus {
    pub base_url: String,
    state: Shared,
    arrived: Arc<tokio::sync::Notify>,
    handle: ServerHandle,
}

async fn serve(
    req: HttpRequest,
    state: web::Data<(Shared, Arc<tokio::sync::Notify>)>,
) -> HttpResponse {
    let (state, arrived) = &**state;
    let answer = answer(&req, state);
    arrived.notify_waiters();
    answer
}

fn answer(req: &HttpRequest, state: &Shared) -> HttpResponse {
    let path = req.path().trim_start_matches("/api/v2/").to_owned();
    let header = |n: &str| {
        req.headers()
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let mut s = state.lock().unwrap();
    s.seen
        .push((path.clone(), header("authorization"), header("user-agent")));
    if let Some(to) = s.redirects.get(&path) {
        return HttpResponse::Found()
            .insert_header(("Location", to.as_str()))
            .finish();
    }
    if let Some(&n) = s.streamed.get(&path) {
        let chunk = web::Bytes::from(vec![b' '; 16 * 1024]);
        let chunks = n.div_ceil(chunk.len());
        let stream = futures_util::stream::iter(
            (0..chunks).map(move |_| Ok::<_, actix_web::Error>(chunk.clone())),
        );
        return HttpResponse::Ok()
            .content_type("application/json")
            .streaming(stream);
    }
    match s.answers.get(&path) {
        Some(a) => HttpResponse::build(actix_web::http::StatusCode::from_u16(a.status).unwrap())
            .content_type(if a.body.starts_with('<') {
                "text/html"
            } else {
                "application/json"
            })
            .body(a.body.clone()),
        None => HttpResponse::NotFound().body("no such page"),
    }
}

impl FakeStatus {
    pub async fn start() -> FakeStatus {
        let state: Shared = Arc::default();
        let arrived = Arc::new(tokio::sync::Notify::new());
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let data = web::Data::new((state.clone(), arrived.clone()));
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .default_service(web::get().to(serve))
        })
        .workers(1)
        .disable_signals()
        .listen(listener)
        .unwrap()
        .run();
        let handle = server.handle();
        tokio::spawn(server);
        FakeStatus {
            base_url: format!("http://127.0.0.1:{port}"),
            state,
            arrived,
            handle,
        }
    }

    /// Serves `answer` at `/api/v2/<path>` from now on.
    pub fn set(&self, path: &str, answer: Answer) {
        self.state
            .lock()
            .unwrap()
            .answers
            .insert(path.to_owned(), answer);
    }

    /// Serves `n` bytes at `/api/v2/<path>`, streamed, with no length
    /// announced.
    pub fn set_streamed(&self, path: &str, n: usize) {
        self.state
            .lock()
            .unwrap()
            .streamed
            .insert(path.to_owned(), n);
    }

    /// Answers `/api/v2/<path>` with a redirect to `location`.
    pub fn set_redirect(&self, path: &str, location: &str) {
        self.state
            .lock()
            .unwrap()
            .redirects
            .insert(path.to_owned(), location.to_owned());
    }

    /// Stops answering `/api/v2/<path>` with a redirect.
    pub fn clear_redirect(&self, path: &str) {
        self.state.lock().unwrap().redirects.remove(path);
    }

    /// Serves a page's truth: `summary.json` with these open incidents and
    /// components, `incidents/unresolved.json` to match, and
    /// `incidents.json` with the open ones plus `recent`.
    pub fn page(
        &self,
        page_id: &str,
        incidents: Vec<Value>,
        components: Vec<Value>,
        recent: Vec<Value>,
    ) {
        let page = json!({"id": page_id, "name": "Example", "url": "https://status.example.com",
                          "time_zone": "Etc/UTC", "updated_at": "2025-03-04T10:00:00.000Z"});
        let mut all = incidents.clone();
        all.extend(recent);
        self.set(
            "summary.json",
            Answer::json(json!({"page": page, "components": components, "incidents": incidents,
                                "scheduled_maintenances": [],
                                "status": {"indicator": "major", "description": "Partial System Outage"}})),
        );
        self.set(
            "incidents/unresolved.json",
            Answer::json(json!({"page": page, "incidents": incidents})),
        );
        self.set(
            "incidents.json",
            Answer::json(json!({"page": page, "incidents": all})),
        );
    }

    /// (path, Authorization, User-Agent) of every request so far.
    pub fn seen(&self) -> Vec<(String, Option<String>, Option<String>)> {
        self.state.lock().unwrap().seen.clone()
    }

    /// Waits (30 s at most, without sleeping) for `n` requests in all.
    pub async fn wait_for_requests(&self, n: usize) {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let notified = self.arrived.notified();
            if self.seen().len() >= n {
                return;
            }
            tokio::time::timeout_at(deadline, notified)
                .await
                .expect("status API requests within 30 s");
        }
    }

    pub async fn stop(&self) {
        self.handle.stop(false).await;
    }
}
