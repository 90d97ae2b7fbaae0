//! PostgreSQL, for several replicas on one database (docs/ENGINES.md).
//!
//! - Migrations: refinery's tokio-postgres driver, under a session advisory
//!   lock, so that of replicas starting together one applies them and the
//!   others wait, then find nothing left to do.
//! - Writes: each job is one transaction on a blocking thread, driving
//!   sqlx's PostgreSQL driver through [`sql::Conn`], the same statements as
//!   on SQLite. Jobs that touch an entity take its advisory lock first
//!   (`Conn::lock`), so two replicas apply one entity's events one after
//!   the other. A deadlock or serialisation failure reruns the job.
//! - Every wait is bounded: a pool that cannot get a connection gives up
//!   after [`ACQUIRE`], a job after [`JOB_DEADLINE`], so a webhook is
//!   answered 503 in seconds while the database is gone, and the next one
//!   succeeds once it is back.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use tokio::runtime::Handle;
use tokio::sync::Semaphore;

use super::WriteError;
use super::sql::{self, Conn, PgTx};

mod embedded {
    refinery::embed_migrations!("migrations/postgres");
}

/// How long a job waits for a pooled connection.
pub const ACQUIRE: Duration = Duration::from_secs(3);
/// How long a caller waits for a job, start to commit.
pub const JOB_DEADLINE: Duration = Duration::from_secs(8);
/// Connections per replica: the writes and the reads share them.
const CONNECTIONS: u32 = 16;
/// Jobs running at once; more wait (`run`) or are refused (`try_run`).
const JOBS: usize = 64;
/// Reruns of a job that lost a deadlock or serialisation race.
const RERUNS: usize = 3;
/// The advisory lock migrations run under (any fixed number).
const MIGRATION_LOCK: i64 = 0x5350_4252_4D49_4752; // "SPBRMIGR"

fn options(url: &str) -> anyhow::Result<PgConnectOptions> {
    PgConnectOptions::from_str(url)
        .context("database.url is not a PostgreSQL URL")
        .map(|o| o.application_name("statuspage-bridge"))
}

/// A pool of connections that gives up on an unreachable database within
/// seconds; no connection is made until one is needed.
pub fn pool(url: &str) -> anyhow::Result<PgPool> {
    Ok(PgPoolOptions::new()
        .max_connections(CONNECTIONS)
        .min_connections(0)
        .acquire_timeout(ACQUIRE)
        .idle_timeout(Duration::from_secs(300))
        .connect_lazy_with(options(url)?))
}

/// The migration connection's URL and TLS, read from the URL as libpq
/// (and the pool) read it: `sslmode=disable`, `prefer` (the default: TLS
/// when the server offers it) or `require` encrypt without checking the
/// server's certificate; `verify-ca` and `verify-full` check it against
/// `sslrootcert` (a PEM file) or else the Mozilla roots. Keys only libpq
/// knows are left out of the URL tokio-postgres parses.
fn migration_connection(
    url: &str,
) -> anyhow::Result<(String, tokio_postgres_rustls::MakeRustlsConnect)> {
    const KNOWN: [&str; 12] = [
        "host",
        "hostaddr",
        "port",
        "user",
        "password",
        "dbname",
        "options",
        "application_name",
        "connect_timeout",
        "keepalives",
        "keepalives_idle",
        "target_session_attrs",
    ];
    let mut parsed = url::Url::parse(url).context("database.url is not a URL")?;
    let pairs: Vec<(String, String)> = parsed.query_pairs().into_owned().collect();
    let find = |k: &str| {
        pairs
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
    };
    let sslmode = find("sslmode").unwrap_or_else(|| "prefer".into());
    let verify = matches!(sslmode.as_str(), "verify-ca" | "verify-full");
    {
        let mut query = parsed.query_pairs_mut();
        query.clear();
        for (k, v) in pairs.iter().filter(|(k, _)| KNOWN.contains(&k.as_str())) {
            query.append_pair(k, v);
        }
        query.append_pair("sslmode", if verify { "require" } else { &sslmode });
    }
    let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("aws-lc-rs supports the default TLS versions");
    let config = if verify {
        let roots = match find("sslrootcert") {
            Some(path) => {
                use rustls::pki_types::pem::PemObject as _;
                let mut roots = rustls::RootCertStore::empty();
                for cert in rustls::pki_types::CertificateDer::pem_file_iter(&path)
                    .with_context(|| format!("reading sslrootcert {path}"))?
                {
                    roots
                        .add(cert.with_context(|| format!("reading sslrootcert {path}"))?)
                        .with_context(|| format!("sslrootcert {path}"))?;
                }
                roots
            }
            None => {
                rustls::RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned())
            }
        };
        builder.with_root_certificates(roots).with_no_client_auth()
    } else {
        builder
            .dangerous()
            .with_custom_certificate_verifier(std::sync::Arc::new(Unverified(provider)))
            .with_no_client_auth()
    };
    Ok((
        parsed.to_string(),
        tokio_postgres_rustls::MakeRustlsConnect::new(config),
    ))
}

/// `sslmode=require` (and `prefer`): the connection is encrypted, the
/// server's certificate not checked — what libpq and the pool do for
/// these modes. Signatures are still checked, so the handshake is sound.
#[derive(Debug)]
struct Unverified(std::sync::Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for Unverified {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// Applies the embedded PostgreSQL migrations; several replicas may call
/// it at once.
pub async fn migrate(url: &str, log: bool) -> anyhow::Result<()> {
    let (url, tls) = migration_connection(url)?;
    let (mut client, connection) =
        tokio::time::timeout(Duration::from_secs(10), tokio_postgres::connect(&url, tls))
            .await
            .map_err(|_| anyhow::anyhow!("PostgreSQL did not answer within 10 s"))?
            .context("connecting to PostgreSQL")?;
    let driver = tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::warn!(error = %e, "the migration connection ended");
        }
    });
    client
        .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])
        .await
        .context("waiting for the migration lock")?;
    let report = embedded::migrations::runner()
        .run_async(&mut client)
        .await
        .context("migrating the PostgreSQL database");
    let _ = client
        .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK])
        .await;
    drop(client);
    let _ = driver.await;
    for m in report?.applied_migrations().iter().filter(|_| log) {
        tracing::info!(migration = %m, "applied migration");
    }
    Ok(())
}

/// Runs write jobs, each in a transaction of its own.
#[derive(Clone)]
pub struct Jobs {
    pool: PgPool,
    slots: Arc<Semaphore>,
}

impl Jobs {
    pub fn new(pool: PgPool) -> Jobs {
        Jobs {
            pool,
            slots: Arc::new(Semaphore::new(JOBS)),
        }
    }

    /// Jobs running now.
    pub fn running(&self) -> usize {
        JOBS - self.slots.available_permits()
    }

    /// Runs `f` in a transaction and commits; `wait` false refuses at once
    /// (`Busy`) when every slot is taken.
    pub async fn run<T, F>(&self, f: F, wait: bool) -> Result<T, WriteError>
    where
        T: Send + 'static,
        F: FnMut(Conn<'_>) -> sql::Result<T> + Send + 'static,
    {
        let permit = if wait {
            self.slots
                .clone()
                .acquire_owned()
                .await
                .map_err(|_| WriteError::Gone)?
        } else {
            self.slots
                .clone()
                .try_acquire_owned()
                .map_err(|_| WriteError::Busy)?
        };
        let pool = self.pool.clone();
        let handle = Handle::current();
        let job = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let mut f = f;
            let mut reruns = 0;
            loop {
                match run_once(&handle, &pool, &mut f) {
                    Err(WriteError::Failed(e)) if reruns < RERUNS && is_race(&e) => {
                        reruns += 1;
                        tracing::debug!(error = %e, reruns, "a write lost a race; running it again");
                    }
                    done => return done,
                }
            }
        });
        match tokio::time::timeout(JOB_DEADLINE, job).await {
            Ok(Ok(done)) => done,
            Ok(Err(_)) => Err(WriteError::Panicked),
            Err(_) => Err(WriteError::NotCommitted(format!(
                "PostgreSQL did not finish the write within {} s",
                JOB_DEADLINE.as_secs()
            ))),
        }
    }
}

/// A deadlock or a serialisation failure: running the job again succeeds.
fn is_race(e: &sql::Error) -> bool {
    match e {
        sql::Error::Postgres(sqlx::Error::Database(d)) => {
            matches!(d.code().as_deref(), Some("40P01" | "40001"))
        }
        _ => false,
    }
}

fn run_once<T>(
    handle: &Handle,
    pool: &PgPool,
    f: &mut impl FnMut(Conn<'_>) -> sql::Result<T>,
) -> Result<T, WriteError> {
    let tx = sql::wait(handle, pool.begin())
        .map_err(|e| WriteError::NotCommitted(format!("PostgreSQL: {e}")))?;
    let pg = PgTx::new(handle.clone(), tx);
    let out = catch_unwind(AssertUnwindSafe(|| f(Conn::Postgres(&pg))));
    let tx = pg.into_inner();
    match out {
        Ok(Ok(v)) => sql::wait(handle, tx.commit())
            .map(|()| v)
            .map_err(|e| WriteError::NotCommitted(format!("COMMIT: {e}"))),
        Ok(Err(e)) => {
            let _ = sql::wait(handle, tx.rollback());
            Err(WriteError::Failed(e))
        }
        Err(_) => {
            tracing::error!("a database write job panicked; nothing of it is kept");
            let _ = sql::wait(handle, tx.rollback());
            Err(WriteError::Panicked)
        }
    }
}

/// The advisory lock whose holder runs reconcile and retention.
const POLLER_LOCK: i64 = 0x5350_4252_504F_4C4C; // "SPBRPOLL"
/// How often a replica without the lease tries to take it, and the holder
/// checks that its session is alive.
pub const POLLER_RETRY: Duration = Duration::from_secs(2);

/// Holds (or keeps trying to take) the poller lease: a session advisory
/// lock on a connection of its own. PostgreSQL releases it when that
/// session ends — the replica stopped, died, or lost the database — and
/// another replica's next try takes it over. Sends `true` while held.
/// Returns once the first try has been made, so a lone replica starts out
/// holding it.
pub async fn hold_poller_lease(
    url: &str,
    held: tokio::sync::watch::Sender<bool>,
) -> anyhow::Result<()> {
    use sqlx::Connection as _;
    let options = options(url)?;
    let (tried_tx, tried) = tokio::sync::oneshot::channel::<()>();
    let mut tried_tx = Some(tried_tx);
    tokio::spawn(async move {
        let mut conn: Option<sqlx::PgConnection> = None;
        loop {
            if held.is_closed() {
                return;
            }
            let c = match conn.as_mut() {
                Some(c) => c,
                None => {
                    match tokio::time::timeout(ACQUIRE, sqlx::PgConnection::connect_with(&options))
                        .await
                    {
                        Ok(Ok(c)) => conn.insert(c),
                        _ => {
                            held.send_if_modified(|h| std::mem::replace(h, false));
                            if let Some(t) = tried_tx.take() {
                                let _ = t.send(());
                            }
                            tokio::time::sleep(POLLER_RETRY).await;
                            continue;
                        }
                    }
                }
            };
            let is_held = *held.borrow();
            let query = async {
                if is_held {
                    sqlx::query_scalar::<_, bool>("SELECT true")
                        .fetch_one(&mut *c)
                        .await
                } else {
                    sqlx::query_scalar::<_, bool>("SELECT pg_try_advisory_lock($1)")
                        .bind(POLLER_LOCK)
                        .fetch_one(&mut *c)
                        .await
                }
            };
            let check = tokio::time::timeout(ACQUIRE, query).await;
            match check {
                Ok(Ok(now_held)) => {
                    if held.send_if_modified(|h| std::mem::replace(h, now_held) != now_held)
                        && now_held
                    {
                        tracing::info!("this replica runs reconcile and retention now");
                    }
                }
                _ => {
                    if held.send_if_modified(|h| std::mem::replace(h, false)) {
                        tracing::warn!(
                            "lost the database session holding the poller lease; another replica may take over"
                        );
                    }
                    conn = None;
                }
            }
            if let Some(t) = tried_tx.take() {
                let _ = t.send(());
            }
            tokio::time::sleep(POLLER_RETRY).await;
        }
    });
    let _ = tokio::time::timeout(ACQUIRE * 2, tried).await;
    Ok(())
}

/// The tables `replay` reads, in the order to copy them, with the order
/// of their rows. Webhooks go in the order they were received: that is
/// the order each entity's events were applied in (a replica applies an
/// entity's events one at a time, under its lock).
const HISTORY: [(&str, &str); 5] = [
    ("webhooks", "received_at, id"),
    ("outbox", "id"),
    ("silences", "id"),
    ("learned_pages", "page_id"),
    ("learned_components", "page_id, position"),
];

/// Copies the history `replay` reads from PostgreSQL at `url` into a new,
/// migrated SQLite file at `to` (one consistent snapshot: one repeatable
/// read transaction). Returns how many webhooks it holds.
pub async fn export_history(url: &str, to: &std::path::Path) -> anyhow::Result<u64> {
    use futures_util::TryStreamExt as _;
    use rusqlite::types::Value as Lite;
    use sqlx::{Column as _, Row as _, TypeInfo as _};

    super::migrate_quietly(to)?;
    let lite = rusqlite::Connection::open(to)?;
    lite.execute_batch("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; BEGIN")?;
    let pool = pool(url)?;
    let mut tx = pool
        .begin()
        .await
        .context("reading the history from PostgreSQL")?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        .execute(&mut *tx)
        .await?;
    let mut webhooks = 0u64;
    for (table, order) in HISTORY {
        let select = format!("SELECT * FROM {table} ORDER BY {order}");
        let mut rows = sqlx::query(sqlx::AssertSqlSafe(select)).fetch(&mut *tx);
        let mut insert: Option<String> = None;
        while let Some(row) = rows.try_next().await? {
            let columns = row.columns();
            let sql = insert.get_or_insert_with(|| {
                let names: Vec<&str> = columns.iter().map(|c| c.name()).collect();
                let marks = vec!["?"; names.len()].join(", ");
                format!(
                    "INSERT INTO {table} ({}) VALUES ({marks})",
                    names.join(", ")
                )
            });
            let mut values = Vec::with_capacity(columns.len());
            for (i, c) in columns.iter().enumerate() {
                values.push(match c.type_info().name() {
                    "INT8" | "INT4" | "INT2" => row
                        .try_get::<Option<i64>, _>(i)
                        .map(|v| v.map_or(Lite::Null, Lite::Integer))?,
                    // The body as the SQLite writer stores it: text when
                    // it is text.
                    "BYTEA" => match row.try_get::<Option<Vec<u8>>, _>(i)? {
                        None => Lite::Null,
                        Some(b) => match String::from_utf8(b) {
                            Ok(t) => Lite::Text(t),
                            Err(e) => Lite::Blob(e.into_bytes()),
                        },
                    },
                    _ => row
                        .try_get::<Option<String>, _>(i)
                        .map(|v| v.map_or(Lite::Null, Lite::Text))?,
                });
            }
            lite.prepare_cached(sql)?
                .execute(rusqlite::params_from_iter(values))?;
            if table == "webhooks" {
                webhooks += 1;
            }
        }
    }
    drop(tx);
    pool.close().await;
    lite.execute_batch("COMMIT")?;
    Ok(webhooks)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_migration_connection_reads_the_url_as_libpq_does() {
        let (url, _) = migration_connection(
            "postgres://bridge:p%40ss@db.internal:5432/sb?sslmode=verify-full&statement-cache-capacity=10&application_name=x",
        )
        .unwrap();
        assert_eq!(
            url,
            "postgres://bridge:p%40ss@db.internal:5432/sb?application_name=x&sslmode=require"
        );
        let (url, _) = migration_connection("postgres://u@h/db").unwrap();
        assert_eq!(url, "postgres://u@h/db?sslmode=prefer");
        let e =
            migration_connection("postgres://u@h/db?sslmode=verify-ca&sslrootcert=/nowhere.pem")
                .err()
                .unwrap();
        assert!(
            format!("{e:#}").contains("sslrootcert /nowhere.pem"),
            "{e:#}"
        );
    }
}
