//! `serve`: run the bridge until SIGINT or SIGTERM.

use crate::config::Settings;
use crate::startup::Application;

pub(super) async fn serve(settings: Settings) -> anyhow::Result<()> {
    let app = Application::build(settings).await?;
    app.stop_on_signals()?;
    app.run_until_stopped().await
}
