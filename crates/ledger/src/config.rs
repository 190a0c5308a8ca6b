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
//! ```

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::LedgerError;

/// File name of the default ledger, placed beside the models cache directory.
pub const DEFAULT_FILE_NAME: &str = "ledger.sqlite";

/// The `[ledger]` section. Every key is optional.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LedgerConfig {
    /// `enabled`: write the ledger (default true); `false` turns it off.
    pub enabled: bool,
    /// `path`: the SQLite file. `None`: [`DEFAULT_FILE_NAME`] beside the models cache
    /// (`~/.cache/hearth/ledger.sqlite` when models live in `~/.cache/hearth/models`), see
    /// [`LedgerConfig::resolved_path`]. Its directory is created if missing.
    pub path: Option<PathBuf>,
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
            retain_days: None,
            batch_rows: 256,
            batch_ms: 1000,
            queue_capacity: 8192,
        }
    }
}

impl LedgerConfig {
    /// The file to open: `path`, else [`default_path`] for `models_dir` (the caller passes the
    /// models cache, e.g. `hearth_hub::Store::default_dir()`).
    pub fn resolved_path(&self, models_dir: &Path) -> PathBuf {
        self.path.clone().unwrap_or_else(|| default_path(models_dir))
    }

    /// Checks the numbers: every count and interval must be at least 1.
    pub fn validate(&self) -> Result<(), LedgerError> {
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
}
