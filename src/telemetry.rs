//! Logging to stderr. `RUST_LOG` tunes the filter; the default shows the
//! bridge's own decisions and warnings from its libraries. `[log] format =
//! "json"` writes each line as one JSON object (same fields, same
//! redaction). Every line passes through `redact::mask` on its way out, so
//! a secret or a `token=` value that reached a field (an incident name, an
//! upstream error) never reaches the log.

use std::io::{self, Write};

use tracing_subscriber::EnvFilter;

use crate::redact;

pub fn init(json: bool) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,actix_server=warn,refinery_core=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| MaskedStderr)
        .with_target(false);
    let _ = if json {
        builder.json().flatten_event(true).try_init()
    } else {
        builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .try_init()
    };
}

/// stderr, masking what is written. The formatter writes each event in one
/// `write`, so a secret is never split across two calls.
struct MaskedStderr;

impl Write for MaskedStderr {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        io::stderr()
            .lock()
            .write_all(redact::mask(&text).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        io::stderr().flush()
    }
}
