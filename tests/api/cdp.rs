//! Just enough of the Chrome DevTools protocol to open a page in headless
//! Chromium at a given screen size and colour scheme, wait for it to load,
//! measure it, and take a screenshot. Blocking: call it from
//! `spawn_blocking`.

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use base64::Engine;
use serde_json::{Value, json};
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

/// Headless Chromium, quiet and offline: every test browser starts so.
pub const HEADLESS: [&str; 9] = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
    "--hide-scrollbars",
];

pub struct Browser {
    child: Child,
    page: WebSocket<MaybeTlsStream<TcpStream>>,
    next_id: u64,
}

impl Browser {
    /// Starts Chromium with a fresh profile in `profile` and opens one tab.
    pub fn launch(bin: &Path, profile: &Path) -> Browser {
        let mut child = Command::new(bin)
            .args(HEADLESS)
            .arg("--remote-debugging-port=0")
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg("about:blank")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("chromium starts");
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("DevTools listening on ") {
                    let _ = tx.send(url.trim().to_owned());
                }
            }
        });
        let browser_url = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("chromium prints its DevTools address");
        let (mut browser, _) = tungstenite::connect(&browser_url).expect("DevTools connects");
        let target = call(
            &mut browser,
            1,
            "Target.createTarget",
            json!({"url": "about:blank"}),
        );
        let target_id = target["targetId"].as_str().expect("a tab").to_owned();
        let base = browser_url
            .split("/devtools/")
            .next()
            .expect("ws://host:port");
        let (page, _) = tungstenite::connect(format!("{base}/devtools/page/{target_id}"))
            .expect("the tab connects");
        let mut b = Browser {
            child,
            page,
            next_id: 1,
        };
        b.call("Page.enable", json!({}));
        b
    }

    /// Sends one command to the tab and returns its result.
    pub fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        call(&mut self.page, self.next_id, method, params)
    }

    /// Screen size and colour scheme for the pages opened next.
    pub fn emulate(&mut self, width: u32, height: u32, mobile: bool, scheme: &str) {
        self.call(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile}),
        );
        self.call(
            "Emulation.setEmulatedMedia",
            json!({"features": [{"name": "prefers-color-scheme", "value": scheme}]}),
        );
    }

    /// Opens `url` and returns once its load event has fired.
    pub fn open(&mut self, url: &str) {
        self.next_id += 1;
        let id = self.next_id;
        let msg = json!({"id": id, "method": "Page.navigate", "params": {"url": url}});
        self.page.send(Message::text(msg.to_string())).unwrap();
        let (mut answered, mut loaded) = (false, false);
        while !(answered && loaded) {
            let m = read_json(&mut self.page);
            if m["id"] == id {
                assert!(m["result"].get("errorText").is_none(), "{url}: {m}");
                answered = true;
            } else if m["method"] == "Page.loadEventFired" {
                loaded = true;
            }
        }
    }

    /// Evaluates `expression` in the page and returns its value.
    pub fn eval(&mut self, expression: &str) -> Value {
        let r = self.call(
            "Runtime.evaluate",
            json!({"expression": expression, "returnByValue": true}),
        );
        assert!(r.get("exceptionDetails").is_none(), "{expression}: {r}");
        r["result"]["value"].clone()
    }

    /// Saves a PNG of the screen as it is now.
    pub fn screenshot(&mut self, path: &Path) {
        let r = self.call("Page.captureScreenshot", json!({"format": "png"}));
        let png = base64::engine::general_purpose::STANDARD
            .decode(r["data"].as_str().expect("image data"))
            .unwrap();
        std::fs::write(path, png).unwrap();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn read_json(ws: &mut WebSocket<MaybeTlsStream<TcpStream>>) -> Value {
    loop {
        match ws.read().expect("DevTools answers") {
            Message::Text(t) => return serde_json::from_str(t.as_str()).unwrap(),
            Message::Close(_) => panic!("DevTools closed the connection"),
            _ => {}
        }
    }
}

fn call(
    ws: &mut WebSocket<MaybeTlsStream<TcpStream>>,
    id: u64,
    method: &str,
    params: Value,
) -> Value {
    let msg = json!({"id": id, "method": method, "params": params});
    ws.send(Message::text(msg.to_string())).unwrap();
    loop {
        let m = read_json(ws);
        if m["id"] == id {
            assert!(m.get("error").is_none(), "{method}: {m}");
            return m["result"].clone();
        }
    }
}
