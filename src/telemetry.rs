//! Logging to stderr. `RUST_LOG` tunes the filter; the default shows the
//! bridge's own decisions and warnings from its libraries. `[log] format =
//! "json"` writes each line as one JSON object (same fields, same
//! redaction).
//!
//! Nothing from outside can forge or garble a line:
//! - text: every field's value is written with its control, bidirectional
//!   and zero-width characters spelled out (`\n`, `\u{1b}`, `\u{202e}`), so
//!   an incident id holding CR/LF or an ANSI escape stays on its line and
//!   colours nothing; then the whole line is masked (`redact::mask`);
//! - JSON: the encoder escapes control characters, and masking works on the
//!   decoded values before the line is encoded again, so a mask can never
//!   break the JSON.

use std::fmt;
use std::io::{self, Write};

use tracing::field::Field;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::field::MakeExt;
use tracing_subscriber::fmt::format::{Writer, debug_fn};

use crate::redact;

pub fn init(json: bool) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,actix_server=warn,refinery_core=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(move || MaskedStderr { json })
        .with_target(false);
    let _ = if json {
        builder.json().flatten_event(true).try_init()
    } else {
        builder
            .fmt_fields(debug_fn(text_field).delimited(" "))
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .try_init()
    };
}

/// One field of a text line: `name=value` (the message bare), the value
/// with its hidden characters spelled out.
fn text_field(w: &mut Writer<'_>, field: &Field, value: &dyn fmt::Debug) -> fmt::Result {
    let text = format!("{value:?}");
    let shown = redact::printable(&text);
    match field.name() {
        "message" => write!(w, "{shown}"),
        name => write!(w, "{}={shown}", name.trim_start_matches("r#")),
    }
}

/// stderr, masking what is written. The formatter writes each event in one
/// `write`, so a secret is never split across two calls.
struct MaskedStderr {
    json: bool,
}

impl MaskedStderr {
    fn masked(&self, text: &str) -> String {
        if self.json
            && let Ok(mut v) = serde_json::from_str::<serde_json::Value>(text.trim_end())
        {
            redact::mask_json(&mut v);
            let mut line = v.to_string();
            line.push('\n');
            return line;
        }
        redact::mask(text)
    }
}

impl Write for MaskedStderr {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        io::stderr()
            .lock()
            .write_all(self.masked(&text).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        io::stderr().flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Masking a JSON line works on its values: a `token=` value ending in
    /// an escaped quote cannot eat the quote and break the line.
    #[test]
    fn masked_json_lines_stay_json() {
        let line = serde_json::json!({
            "message": "webhook stored",
            "subject": "incident \"x?token=abc\\\"\" (p/i)",
            "k\nkey": "v",
        })
        .to_string()
            + "\n";
        let out = MaskedStderr { json: true }.masked(&line);
        let v: serde_json::Value = serde_json::from_str(&out).expect("still JSON");
        assert!(out.ends_with('\n') && out.matches('\n').count() == 1);
        assert!(!out.contains("abc"), "{out}");
        assert_eq!(v["message"], "webhook stored");
        // The text form of the same line, masked as a whole, breaks.
        let text = MaskedStderr { json: false }.masked(&line);
        assert!(serde_json::from_str::<serde_json::Value>(&text).is_err());
    }
}
