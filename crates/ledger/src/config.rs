//! `LedgerConfig`: the `[ledger]` section of the `serve --config` TOML file.
//!
//! ```toml
//! [ledger]
//! enabled = true                         # false: no ledger
//! path = "/var/lib/hearth/ledger.sqlite" # default: ledger.sqlite beside the models cache
//! retain_days = 90                       # default: keep every row
//! batch_rows = 256                       # write a transaction every 256 rows …
//! batch_ms = 1000                        # … or 1000 ms after its first row, whichever is first
//! queue_capacity = 8192                  # rows waiting for the writer; more are dropped
//! instance = "node-a"                    # service_instance_id of this node's rows (default: the hostname)
//! ```
//!
//! A fleet of nodes writes one ledger in PostgreSQL instead of a file (`url` and `path`
//! together are an error):
//!
//! ```toml
//! [ledger]
//! url = "postgres://hearth:secret@db.internal:5432/hearth" # ?sslmode=require for TLS
//! ```
//!
//! The URL's password is never logged nor shown in errors or `Debug` output. `sslmode` is
//! `disable`, `prefer` (the default; both without TLS) or `require` (TLS, the certificate
//! checked against the system's CAs and `SSL_CERT_FILE`). The database user needs to create
//! tables on first start (the schema is migrated by whichever node comes first).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::LedgerError;
use crate::store::PostgresStore;

/// File name of the default ledger, placed beside the models cache directory.
pub const DEFAULT_FILE_NAME: &str = "ledger.sqlite";

/// The `[ledger]` section. Every key is optional.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LedgerConfig {
    /// `enabled`: write the ledger (default true); `false` turns it off.
    pub enabled: bool,
    /// `path`: the SQLite file. `None`: [`DEFAULT_FILE_NAME`] beside the models cache
    /// (`~/.cache/hearth/ledger.sqlite` when models live in `~/.cache/hearth/models`), see
    /// [`LedgerConfig::resolved_path`]. Its directory is created if missing.
    pub path: Option<PathBuf>,
    /// `url`: a PostgreSQL database (`postgres://user:password@host:port/database`) instead of
    /// the SQLite file, for several nodes reporting as one. Not together with `path`.
    pub url: Option<String>,
    /// `instance`: the `service_instance_id` written into rows that do not carry one, what
    /// tells a fleet's nodes apart. `None`: the machine's hostname; `""`: leave rows as they come.
    pub instance: Option<String>,
    /// `retain_days`: rows older than this many days are deleted at start-up and once a day.
    /// `None`: rows are kept forever. `0` keeps nothing older than now.
    pub retain_days: Option<u32>,
    /// `batch_rows`: a transaction is committed as soon as this many rows are waiting (≥ 1).
    pub batch_rows: usize,
    /// `batch_ms`: a transaction is committed at the latest this many milliseconds after its
    /// first row arrived (≥ 1); a `kill -9` loses at most this window of rows.
    pub batch_ms: u64,
    /// `queue_capacity`: rows that may wait for the writer (≥ 1). When it is full, a new row is
    /// dropped and counted (`Ledger::dropped`) rather than slowing the request down.
    pub queue_capacity: usize,
}

impl Default for LedgerConfig {
    fn default() -> Self {
        LedgerConfig {
            enabled: true,
            path: None,
            url: None,
            instance: None,
            retain_days: None,
            batch_rows: 256,
            batch_ms: 1000,
            queue_capacity: 8192,
        }
    }
}

/// `url` shows without its password.
impl std::fmt::Debug for LedgerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LedgerConfig")
            .field("enabled", &self.enabled)
            .field("path", &self.path)
            .field("url", &self.url.as_deref().map(redact_url))
            .field("instance", &self.instance)
            .field("retain_days", &self.retain_days)
            .field("batch_rows", &self.batch_rows)
            .field("batch_ms", &self.batch_ms)
            .field("queue_capacity", &self.queue_capacity)
            .finish()
    }
}

impl LedgerConfig {
    /// The file to open: `path`, else [`default_path`] for `models_dir` (the caller passes the
    /// models cache, e.g. `hearth_hub::Store::default_dir()`).
    pub fn resolved_path(&self, models_dir: &Path) -> PathBuf {
        self.path.clone().unwrap_or_else(|| default_path(models_dir))
    }

    /// Where the ledger is, for logs: the SQLite file, or the database URL without its
    /// password.
    pub fn location(&self, models_dir: &Path) -> String {
        match &self.url {
            Some(url) => redact_url(url),
            None => self.resolved_path(models_dir).display().to_string(),
        }
    }

    /// The `service_instance_id` for rows that have none: `instance`, else the hostname
    /// (`None` when `instance` is `""` or the hostname is unknown).
    pub fn resolved_instance(&self) -> Option<String> {
        match &self.instance {
            Some(name) if name.is_empty() => None,
            Some(name) => Some(name.clone()),
            None => hostname(),
        }
    }

    /// Checks the keys: every count and interval must be at least 1; `url`, when set, must be
    /// a PostgreSQL URL and comes without `path`.
    pub fn validate(&self) -> Result<(), LedgerError> {
        if let Some(url) = &self.url {
            if self.path.is_some() {
                return Err(LedgerError::Config(
                    "`url` and `path` are both set: the ledger is either a PostgreSQL database (`url`) or a SQLite file (`path`); remove one"
                        .to_owned(),
                ));
            }
            PostgresStore::check_url(url)?;
        }
        let bad = |key: &str| Err(LedgerError::Config(format!("`{key}` must be at least 1")));
        if self.batch_rows == 0 {
            return bad("batch_rows");
        }
        if self.batch_ms == 0 {
            return bad("batch_ms");
        }
        if self.queue_capacity == 0 {
            return bad("queue_capacity");
        }
        Ok(())
    }
}

/// [`DEFAULT_FILE_NAME`] beside `models_dir`: in its parent directory, or inside it when it
/// has no parent (`/`).
pub fn default_path(models_dir: &Path) -> PathBuf {
    match models_dir.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.join(DEFAULT_FILE_NAME),
        _ => models_dir.join(DEFAULT_FILE_NAME),
    }
}

/// `url` without its password (`postgres://user@host:port/database`).
fn redact_url(url: &str) -> String {
    PostgresStore::redact_url(url)
}

/// The machine's hostname (Linux: the kernel's; else `$HOSTNAME`).
fn hostname() -> Option<String> {
    let kernel = std::fs::read_to_string("/proc/sys/kernel/hostname").ok();
    let name = kernel.or_else(|| std::env::var("HOSTNAME").ok())?;
    let name = name.trim();
    (!name.is_empty()).then(|| name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_path_is_beside_the_models_dir() {
        assert_eq!(
            default_path(Path::new("/home/u/.cache/hearth/models")),
            Path::new("/home/u/.cache/hearth/ledger.sqlite")
        );
        assert_eq!(default_path(Path::new("models")), Path::new("models/ledger.sqlite"));
        let explicit = LedgerConfig { path: Some("/x/l.db".into()), ..LedgerConfig::default() };
        assert_eq!(explicit.resolved_path(Path::new("/m/models")), Path::new("/x/l.db"));
    }

    #[test]
    fn validate_rejects_zeroes() {
        assert!(LedgerConfig::default().validate().is_ok());
        for c in [
            LedgerConfig { batch_rows: 0, ..LedgerConfig::default() },
            LedgerConfig { batch_ms: 0, ..LedgerConfig::default() },
            LedgerConfig { queue_capacity: 0, ..LedgerConfig::default() },
        ] {
            let e = c.validate().unwrap_err().to_string();
            assert!(e.contains("must be at least 1"), "{e}");
        }
    }

    #[test]
    fn url_excludes_path_and_never_shows_its_password() {
        let url = Some("postgres://hearth:pw-s3cret@db:5432/fleet".to_owned());
        let c = LedgerConfig { url: url.clone(), ..LedgerConfig::default() };
        assert!(c.validate().is_ok());
        assert_eq!(c.location(Path::new("/m")), "postgres://hearth@db:5432/fleet");
        let shown = format!("{c:?}");
        assert!(shown.contains("hearth@db:5432/fleet") && !shown.contains("pw-s3cret"), "{shown}");
        let both = LedgerConfig { url, path: Some("/x/l.db".into()), ..LedgerConfig::default() };
        let e = both.validate().unwrap_err().to_string();
        assert!(e.contains("`url` and `path` are both set") && !e.contains("pw-s3cret"), "{e}");
        let bad = LedgerConfig { url: Some("mysql://u:pw-s3cret@h/d".to_owned()), ..LedgerConfig::default() };
        let e = bad.validate().unwrap_err().to_string();
        assert!(e.contains("postgres://") && !e.contains("pw-s3cret"), "{e}");
        assert!(!format!("{bad:?}").contains("pw-s3cret"));
    }

    #[test]
    fn instance_defaults_to_the_hostname_and_empty_means_none() {
        let named = LedgerConfig { instance: Some("node-a".to_owned()), ..LedgerConfig::default() };
        assert_eq!(named.resolved_instance().as_deref(), Some("node-a"));
        let off = LedgerConfig { instance: Some(String::new()), ..LedgerConfig::default() };
        assert_eq!(off.resolved_instance(), None);
        assert_eq!(LedgerConfig::default().resolved_instance(), hostname());
        assert!(hostname().is_some(), "a Linux box has a hostname");
    }
}
