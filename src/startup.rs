//! Wiring: open the database, start the writer, the delivery worker,
//! reconcile, daily retention and the HTTP server, and take them down in
//! order on shutdown.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::{Server, ServerHandle};
use actix_web::middleware::{DefaultHeaders, from_fn};
use actix_web::{App, HttpServer, web};
use anyhow::Context;
use tokio::sync::{Notify, watch};

use crate::config::Settings;
use crate::deliver::Worker;
use crate::metrics::Metrics;
use crate::pipeline::Pipeline;
use crate::receive::{self, ReceiveState};
use crate::reconcile::Reconciler;
use crate::redeliver::{self, RedeliverState};
use crate::rules::plan::Delivery;
use crate::storage::upkeep::Retention;
use crate::storage::{self, Database};
use crate::{audit, auth, ops};

/// HTTP worker threads: the machine this is sized for has two cores, and
/// the writer thread does the rest.
const WORKERS: usize = 2;

/// Alerts open at a destination the configuration no longer has: their
/// next events (the resolve) cannot be sent until the route is back.
async fn warn_of_orphans(settings: &Settings, db: &Database) {
    let configured: Vec<&str> = std::iter::once(crate::rules::route::DEFAULT)
        .chain(settings.routing.routes.iter().map(|r| r.name.as_str()))
        .collect();
    match db.read.open_at_destinations(chrono::Utc::now()).await {
        Ok(rows) => {
            for (destination, kind, page_id, entity_id) in
                rows.iter().filter(|r| !configured.contains(&r.0.as_str()))
            {
                tracing::warn!(%destination, %kind, %page_id, %entity_id, "an alert is open at a destination that is no longer configured (no [[routes]] entry): its resolve will be dead until the route is back");
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, "could not look for alerts open at removed destinations")
        }
    }
}

/// A built, listening bridge.
pub struct Application {
    port: u16,
    local: std::net::SocketAddr,
    database_shown: String,
    server: Server,
    db: Database,
    worker: Option<Worker>,
    reconciler: Option<Reconciler>,
    retention: Option<Retention>,
    heartbeat: Option<crate::heartbeat::Heartbeat>,
}

impl Application {
    /// Opens (and migrates) the database, binds the listener and starts the
    /// writer and, unless this is a dry run, the delivery worker.
    pub async fn build(settings: Settings) -> anyhow::Result<Application> {
        crate::redact::remember(settings.secrets());
        let db = storage::open_configured(&settings.database).await?;
        warn_of_orphans(&settings, &db).await;
        let metrics = Metrics::with_writer(db.writer.stats());
        let wake = Arc::new(Notify::new());
        let rules = settings.rules();
        let pipeline = Pipeline::new(
            db.writer.clone(),
            rules,
            if settings.itoc360.token.is_empty() {
                Delivery::DryRun
            } else {
                Delivery::Queue
            },
            Arc::new(settings.policy()),
            wake.clone(),
            metrics.clone(),
        );
        let redeliver_state = RedeliverState {
            writer: db.writer.clone(),
            wake: wake.clone(),
        };
        let reconciler = Reconciler::spawn(
            &settings,
            pipeline.clone(),
            db.read.clone(),
            db.writer.clone(),
            metrics.clone(),
            db.poller.clone(),
        )?;
        let worker = if settings.dry_run() {
            tracing::warn!(
                "itoc360.token is empty: dry run — decisions are recorded, nothing is sent to ITOC360"
            );
            None
        } else {
            Some(Worker::spawn(
                &settings,
                db.writer.clone(),
                wake,
                metrics.clone(),
            )?)
        };

        let heartbeat = crate::heartbeat::Heartbeat::spawn(
            &settings,
            db.writer.clone(),
            db.read.clone(),
            db.poller.clone(),
            worker.as_ref().map(Worker::running),
            metrics.clone(),
        )?;

        let retention = Retention::spawn(
            db.writer.clone(),
            settings.database.retention_days,
            db.poller.clone(),
        );

        let listen = settings.listen_addr();
        let listener =
            TcpListener::bind(listen).with_context(|| format!("binding server.listen {listen}"))?;
        let local = listener.local_addr()?;
        let receive_state = web::Data::new(ReceiveState {
            sources: Arc::new(settings.sources.clone()),
            max_body_bytes: settings.server.max_body_bytes,
            body_timeout: Duration::from_millis(settings.server.body_timeout_ms),
            pipeline,
            metrics: metrics.clone(),
        });
        let read = web::Data::new(db.read.clone());
        let writer_data = web::Data::new(db.writer.clone());
        let metrics_data = web::Data::new(metrics);
        let audit_state = Arc::new(audit::AuditState::new(&settings));
        let server = HttpServer::new(move || {
            App::new()
                // Every answer, HTML or JSON, is what it says it is.
                .wrap(DefaultHeaders::new().add(("X-Content-Type-Options", "nosniff")))
                .wrap(from_fn(ops::head_as_get))
                .wrap(from_fn(ops::log_requests))
                .app_data(receive_state.clone())
                .app_data(read.clone())
                .app_data(writer_data.clone())
                .app_data(metrics_data.clone())
                .route("/webhooks/{kind}", web::post().to(receive::webhook))
                .route("/healthz", web::get().to(ops::healthz))
                .route("/metrics", web::get().to(ops::metrics))
                .configure(|cfg| audit::routes(cfg, &audit_state))
                .configure(|cfg| redeliver::routes(cfg, redeliver_state.clone()))
                .configure(|cfg| crate::silences::routes(cfg, redeliver_state.clone()))
        })
        .shutdown_timeout(settings.server.shutdown_timeout_secs)
        .workers(WORKERS)
        // Per worker: the setting is for the whole server.
        .max_connections(settings.server.max_connections.div_ceil(WORKERS))
        .client_request_timeout(Duration::from_millis(settings.server.request_timeout_ms))
        .client_disconnect_timeout(Duration::from_secs(1))
        // Signals are ours (see `stop_on_signals`), so they are handled
        // from before the listening line is printed.
        .disable_signals()
        .listen(listener)?
        .run();

        for s in &settings.sources {
            tracing::info!(source = %s.name, url = %auth::masked_webhook_url(&settings.server.public_url), "webhook endpoint");
        }
        Ok(Application {
            port: local.port(),
            local,
            database_shown: settings.database.shown(),
            server,
            db,
            worker,
            reconciler,
            retention,
            heartbeat,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops the server from elsewhere (tests, embedding).
    pub fn server_handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Stops gracefully on SIGINT or SIGTERM. Installed before serving, so
    /// a signal that comes right after the listening line is not lost.
    pub fn stop_on_signals(&self) -> anyhow::Result<()> {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
        let mut int = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
        let handle = self.server.handle();
        tokio::spawn(async move {
            let name = tokio::select! {
                _ = term.recv() => "SIGTERM",
                _ = int.recv() => "SIGINT",
            };
            tracing::info!("{name} received: finishing requests in flight, then stopping");
            handle.stop(true).await;
        });
        Ok(())
    }

    /// Starts reconcile rounds and waits for them; `None` with no
    /// `[[pages]]`.
    pub fn reconcile(&self) -> Option<crate::reconcile::Rounds> {
        self.reconciler.as_ref().map(Reconciler::handle)
    }

    /// How many daily prunes have finished; `None` when
    /// `database.retention_days` is 0.
    pub fn retention_runs(&self) -> Option<watch::Receiver<u64>> {
        self.retention.as_ref().map(Retention::runs)
    }

    /// Beats the heartbeat now; `None` when `[heartbeat]` sends nothing.
    pub fn heartbeat(&self) -> Option<crate::heartbeat::Beater> {
        self.heartbeat
            .as_ref()
            .map(crate::heartbeat::Heartbeat::handle)
    }

    /// See `Worker::progress`; `None` in a dry run.
    pub fn delivery_progress(&self) -> Option<watch::Receiver<u64>> {
        self.worker.as_ref().map(Worker::progress)
    }

    /// Serves until SIGINT/SIGTERM (or `server_handle().stop()`): stops
    /// taking requests, finishes those in flight, stops the delivery
    /// worker, drains the writer and closes the database.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let Application {
            server,
            db,
            worker,
            reconciler,
            retention,
            heartbeat,
            local,
            database_shown,
            ..
        } = self;
        tracing::info!(database = %database_shown, "listening on http://{local}");
        let served = server.await;
        tracing::info!("server stopped taking requests");
        if let Some(heartbeat) = heartbeat {
            heartbeat.stop().await;
        }
        if let Some(retention) = retention {
            retention.stop().await;
        }
        if let Some(reconciler) = reconciler {
            reconciler.stop().await;
        }
        if let Some(worker) = worker {
            worker.stop().await;
        }
        db.close().await;
        tracing::info!("database closed; bye");
        served.context("HTTP server failed")
    }
}
