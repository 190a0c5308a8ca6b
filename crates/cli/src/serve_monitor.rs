//! The quality monitor of `hearth serve --config` (`[monitor]`): its state file (`state_file`,
//! relative to the config file; default `monitor.json` beside the ledger's SQLite file), read
//! at start-up so moves survive restarts, and the ledger its judge rows go to. `hearth report`
//! reads the same file.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use hearth_monitor::Monitor;
use hearth_router::RouterConfig;
use hearth_router::hearth_ledger::Ledger;

/// The monitor's state file for `file` (whose folder is `base`).
pub fn state_path(file: &RouterConfig, base: &Path) -> Option<PathBuf> {
    let monitor = file.monitor.as_ref()?;
    Some(match &monitor.state_file {
        Some(p) if p.is_relative() => base.join(p),
        Some(p) => p.clone(),
        None => crate::serve_ledger::path(&file.ledger, base).with_file_name("monitor.json"),
    })
}

/// An open monitor and its start-up note.
pub struct Opened {
    pub monitor: Arc<Monitor>,
    pub note: String,
}

/// Opens the monitor of `file` (`None` without `[monitor]`).
pub fn open(file: &RouterConfig, base: &Path, ledger: Option<Arc<Ledger>>) -> Result<Option<Opened>> {
    let Some(path) = state_path(file, base) else { return Ok(None) };
    let mut monitor = Monitor::new(file)?.with_state_file(&path).with_context(|| {
        format!("reading the monitor's state {} (set [monitor] state_file)", path.display())
    })?;
    if let Some(ledger) = ledger {
        monitor = monitor.with_ledger(ledger);
    }
    let moved: Vec<String> = hearth_router::Watch::demoted(&monitor).into_iter().collect();
    let m = monitor.config();
    let mut note =
        format!("monitor judged by {} at {:.0}%, state {}", m.judge, m.sample_rate * 100.0, path.display());
    if !moved.is_empty() {
        note.push_str(&format!(", moved up: {}", moved.join(", ")));
    }
    Ok(Some(Opened { monitor: Arc::new(monitor), note }))
}
