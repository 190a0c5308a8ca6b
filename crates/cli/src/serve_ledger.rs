//! The ledger of `hearth serve --config`: opened from the file's `[ledger]` section (a SQLite
//! file — a relative `path` is relative to the config file; default `ledger.sqlite` beside the
//! models cache — or a PostgreSQL `url` for a fleet), its retention from `--retain-days` or
//! `retain_days`, and, for a SQLite ledger, the router's spend against the `[budget]` caps
//! restored from it, so a restart does not reset a day's spend.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use hearth_router::RouterConfig;
use hearth_router::budget::{Date, Spend};
use hearth_router::hearth_ledger::{Ledger, LedgerConfig, SqliteStore};

/// The ledger file `config` names (relative to `base`, the config file's directory).
pub fn path(config: &LedgerConfig, base: &Path) -> PathBuf {
    let path = config.resolved_path(&hearth_hub::Store::default_dir());
    if path.is_relative() { base.join(path) } else { path }
}

/// An open ledger: the handle, the spend it records for today and this month (UTC; SQLite
/// only — a fleet's shared caps are not restored), and where it is, for the start-up line.
pub struct Opened {
    pub ledger: Arc<Ledger>,
    pub spend: Spend,
    pub location: String,
}

/// Opens the ledger of `file` (`None` when `[ledger] enabled = false`).
pub fn open(file: &RouterConfig, base: &Path, retain_days: Option<u32>) -> Result<Option<Opened>> {
    if !file.ledger.enabled {
        return Ok(None);
    }
    let mut config = file.ledger.clone();
    if retain_days.is_some() {
        config.retain_days = retain_days;
    }
    let models = hearth_hub::Store::default_dir();
    if config.url.is_some() {
        let location = config.location(&models);
        let ledger = Ledger::open_config(&config, &models).with_context(|| {
            format!("opening the ledger at {location} (check [ledger] url, or set enabled = false)")
        })?;
        return Ok(Some(Opened { ledger: Arc::new(ledger), spend: Spend::new(), location }));
    }
    let path = path(&config, base);
    let spend =
        restored_spend(&path).with_context(|| format!("reading the spend so far from {}", path.display()))?;
    let ledger = Ledger::open(&path, &config).with_context(|| {
        format!(
            "opening the ledger {} (set [ledger] path, or enabled = false to run without one)",
            path.display()
        )
    })?;
    Ok(Some(Opened { ledger: Arc::new(ledger), spend, location: path.display().to_string() }))
}

/// Today's and this month's remote spend in the ledger at `path` (nothing if it does not exist
/// yet).
fn restored_spend(path: &Path) -> Result<Spend> {
    let now = SystemTime::now();
    if !path.exists() {
        return Ok(Spend::new());
    }
    let store = SqliteStore::open(path)?;
    let secs = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()) as i64;
    let today = secs - secs.rem_euclid(86_400);
    let month = today - i64::from(Date::of(now).day - 1) * 86_400;
    let today_usd = store.remote_cost_since(today * 1000)?;
    let month_usd = store.remote_cost_since(month * 1000)?;
    Ok(Spend::restore(now, today_usd, month_usd))
}
