//! Connecting to PostgreSQL: the pool, and the migrations (refinery's
//! tokio-postgres driver, under a session advisory lock, so that of
//! replicas starting together one applies them and the others wait, then
//! find nothing left to do).

use std::str::FromStr;
use std::time::Duration;

use anyhow::Context as _;
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

mod embedded {
    refinery::embed_migrations!("migrations/postgres");
}

/// How long a job waits for a pooled connection.
pub const ACQUIRE: Duration = Duration::from_secs(3);
/// Connections per replica: the writes and the reads share them.
const CONNECTIONS: u32 = 16;
/// The advisory lock migrations run under (any fixed number).
const MIGRATION_LOCK: i64 = 0x5350_4252_4D49_4752; // "SPBRMIGR"

pub(super) fn options(url: &str) -> anyhow::Result<PgConnectOptions> {
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
