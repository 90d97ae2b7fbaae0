//! `sources new`: a strong token for a new webhook source.

use crate::config::Settings;

/// A fresh source: 40 hex characters from the OS's random generator.
pub(super) fn new_source(settings: &Settings, name: &str) -> String {
    let random = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    let token = &random[..40];
    format!(
        "Add to config.toml, then restart the bridge:\n\n[[sources]]\nname = {name:?}\ntoken = \"{token}\"\n\n\
         Statuspage webhook URL (keep it secret; it is shown only here):\n  {}/webhooks/statuspage?token={token}\n",
        settings.server.public_url.trim_end_matches('/')
    )
}
