//! `[ledger] url`: parsing it, naming the database without its password, and connecting
//! (plain TCP, or TLS through rustls when `sslmode=require`).

use std::sync::Arc;
use std::time::Duration;

use postgres::config::{Host, SslMode};
use postgres::{Client, Config, NoTls};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::error::{LedgerError, chain};

/// How long a connection attempt may take when the URL does not set `connect_timeout`.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// `application_name` when the URL does not set one (what `pg_stat_activity` shows).
const APPLICATION_NAME: &str = "hearth-ledger";

/// The URL schemes accepted in `[ledger] url`.
pub(crate) const SCHEMES: [&str; 2] = ["postgres://", "postgresql://"];

/// Parses `url` (`postgres://user:password@host:port/database?sslmode=…`). Errors never
/// repeat the URL, so they cannot leak its password.
pub(crate) fn parse(url: &str) -> Result<Config, LedgerError> {
    if !SCHEMES.iter().any(|s| url.starts_with(s)) {
        return Err(LedgerError::Config(
            "`url` must start with postgres:// or postgresql:// (postgres://user:password@host:port/database)"
                .to_owned(),
        ));
    }
    let mut config: Config = url.parse().map_err(|e| {
        LedgerError::Config(format!(
            "`url` is not a PostgreSQL URL hearth can use: {} (expected postgres://user:password@host:port/database; \
             sslmode may be disable, prefer or require)",
            chain(&e)
        ))
    })?;
    if config.get_hosts().is_empty() {
        return Err(LedgerError::Config(
            "`url` names no host (postgres://user:password@host:port/database)".to_owned(),
        ));
    }
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(CONNECT_TIMEOUT);
    }
    if config.get_application_name().is_none() {
        config.application_name(APPLICATION_NAME);
    }
    Ok(config)
}

/// The database as `postgres://user@host:port/database`: everything but the password, for
/// logs and errors.
pub(crate) fn describe(config: &Config) -> String {
    let user = config.get_user().map(|u| format!("{u}@")).unwrap_or_default();
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .enumerate()
        .map(|(i, host)| {
            let name = match host {
                Host::Tcp(h) => h.clone(),
                Host::Unix(p) => p.display().to_string(),
            };
            let ports = config.get_ports();
            let port = ports.get(i).or(ports.first()).copied().unwrap_or(5432);
            format!("{name}:{port}")
        })
        .collect();
    let db = config.get_dbname().unwrap_or_default();
    format!("postgres://{user}{}/{db}", hosts.join(","))
}

/// Opens a connection to `config` (`database`: its [`describe`], for errors).
///
/// `sslmode=disable` and `prefer` (the default) connect without TLS; `require` connects
/// with TLS only, checking the server's certificate and name against the system's CA
/// certificates (`SSL_CERT_FILE` / `SSL_CERT_DIR` add others).
pub(crate) fn connect(config: &Config, database: &str) -> Result<Client, LedgerError> {
    let connected = match config.get_ssl_mode() {
        SslMode::Disable | SslMode::Prefer => config.connect(NoTls),
        _ => config.connect(tls()?),
    };
    connected.map_err(|source| LedgerError::Connect { database: database.to_owned(), source })
}

/// rustls (ring) with the system's CA certificates.
fn tls() -> Result<MakeRustlsConnect, LedgerError> {
    let found = rustls_native_certs::load_native_certs();
    let mut roots = rustls::RootCertStore::empty();
    roots.add_parsable_certificates(found.certs);
    if roots.is_empty() {
        let why = found.errors.first().map(|e| format!(" ({e})")).unwrap_or_default();
        return Err(LedgerError::Tls(format!(
            "no CA certificates found{why}: install ca-certificates, or set SSL_CERT_FILE to the server's CA"
        )));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| LedgerError::Tls(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describe_drops_the_password() {
        let c = parse("postgres://ledger:s3cret@db.example:6543/hearth?sslmode=disable").unwrap();
        assert_eq!(describe(&c), "postgres://ledger@db.example:6543/hearth");
        let c = parse("postgresql://db1,db2/fleet?password=s3cret").unwrap();
        assert_eq!(describe(&c), "postgres://db1:5432,db2:5432/fleet");
    }

    #[test]
    fn parse_sets_defaults_and_refuses_other_schemes_without_echoing() {
        let c = parse("postgres://u:p@h/d").unwrap();
        assert_eq!(c.get_connect_timeout(), Some(&CONNECT_TIMEOUT));
        assert_eq!(c.get_application_name(), Some(APPLICATION_NAME));
        for bad in [
            "mysql://u:s3cret@h/d",
            "host=h password=s3cret",
            "postgres://u:s3cret@h/d?sslmode=verify-full",
            "postgres://u:s3cret@h:notaport/d",
            "postgres://u:s3cret@/d",
        ] {
            let e = parse(bad).unwrap_err().to_string();
            assert!(!e.contains("s3cret"), "{e}");
            assert!(e.contains("postgres://user:password@host:port/database"), "{e}");
        }
        let e = parse("postgres://u:s3cret@h/d?sslmode=verify-full").unwrap_err().to_string();
        assert!(e.contains("invalid value for option `sslmode`"), "{e}");
    }
}
