//! `hearth report`: what the ledger's calls cost against the baseline model, per task, model,
//! route, tag, day or week (`hearth_ledger::report`). Reads the ledger read-only; the ledger
//! is `--db`, else the `[ledger] path` of `--config`, else the default file beside the models
//! cache. With `--config` and a `[monitor]` section, the quality monitor's state follows: per
//! task type sampled, judged, agreement with its 95% interval, the sequential test's state,
//! the tier and its history (`hearth_monitor::report`).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::builder::{PossibleValuesParser, TypedValueParser};
use hearth_ledger::report::{GroupBy, parse_since};
use hearth_ledger::{LedgerConfig, Report, SqliteStore, Store, now_unix_ms};

/// Arguments of `hearth report`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The `hearth serve` config: the ledger is its `[ledger] path` (relative to the file's
    /// folder), or the default file when it sets none. With a `[monitor]` section, the quality
    /// monitor's per-task agreement, test state and tier history are shown too.
    #[arg(long, value_name = "FILE.toml", conflicts_with = "db")]
    config: Option<PathBuf>,
    /// The ledger file itself (SQLite).
    #[arg(long, value_name = "FILE")]
    db: Option<PathBuf>,
    /// Start of the period: a span back from now (30m, 24h, 7d, 2w) or an RFC 3339 date or
    /// date-time in UTC unless it says otherwise (2026-11-01, 2026-11-01T09:30:00+01:00).
    #[arg(long, default_value = "7d", value_name = "WHEN")]
    since: String,
    /// One row per: task type, model (the one that answered), route, tag (one row per
    /// key=value; a call with several tags counts in each), day or week (ISO, UTC).
    #[arg(
        long,
        default_value = "task",
        value_parser = PossibleValuesParser::new(GroupBy::ALL.map(GroupBy::as_str))
            .try_map(|s| s.parse::<GroupBy>())
    )]
    by: GroupBy,
    /// Print the report as JSON instead of a table (stable field names: fractions 0..1, USD,
    /// milliseconds; see the hearth-ledger `report` docs).
    #[arg(long)]
    json: bool,
    /// Also write the report as one self-contained HTML page (charts as inline SVG, no
    /// scripts or external files) to FILE.
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,
}

/// Runs `hearth report`.
pub fn run(args: Args) -> Result<()> {
    let now = now_unix_ms();
    let since = parse_since(&args.since, now)?;
    let path = ledger_path(args.db.as_deref(), args.config.as_deref(), &hearth_hub::Store::default_dir())?;
    let mut store = SqliteStore::open_read_only(&path)?;
    let calls = store.calls_since(since).with_context(|| format!("reading {}", path.display()))?;
    let report = Report::build(&calls, args.by, since, now).with_ledger(path.display().to_string());
    if let Some(file) = &args.html {
        std::fs::write(file, report.to_html()).with_context(|| format!("writing {}", file.display()))?;
        eprintln!("wrote {}", file.display());
    }
    let monitor = match &args.config {
        Some(config) => monitor_state(config)?,
        None => None,
    };
    if args.json {
        let mut value = serde_json::to_value(&report)?;
        if let (Some((file, state)), Some(obj)) = (&monitor, value.as_object_mut()) {
            obj.insert(
                "monitor".into(),
                serde_json::json!({
                    "judge_calls": state.judge_calls,
                    "judge_usd_total": state.judge_usd_total,
                    "judge_errors": state.judge_errors,
                    "dropped_queue": state.dropped_queue,
                    "dropped_budget": state.dropped_budget,
                    "tasks": hearth_monitor::report::rows(state, file),
                }),
            );
        }
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        print!("{}", report.to_text());
        if let Some((file, state)) = &monitor {
            print!("\n{}", hearth_monitor::report::render(state, file));
        }
    }
    Ok(())
}

/// The `[monitor]` of `config` and its saved state: `None` when the file has no monitor.
fn monitor_state(
    config: &Path,
) -> Result<Option<(hearth_router::RouterConfig, hearth_monitor::MonitorState)>> {
    let text = std::fs::read_to_string(config)
        .with_context(|| format!("reading the config {}", config.display()))?;
    let file = match hearth_router::RouterConfig::from_toml_str(&text) {
        Ok(file) => file,
        Err(e) => {
            eprintln!("hearth: not showing the quality monitor: {e}");
            return Ok(None);
        }
    };
    let base = config.parent().unwrap_or(Path::new("."));
    let Some(path) = crate::serve_monitor::state_path(&file, base) else { return Ok(None) };
    let state = hearth_monitor::MonitorState::load(&path)
        .with_context(|| format!("reading the monitor's state {}", path.display()))?;
    Ok(Some((file, state)))
}

/// The ledger to read: `db`, else `config`'s `[ledger] path` (relative to its folder), else
/// the default file for `models_dir` (`ledger.sqlite` beside it).
pub fn ledger_path(db: Option<&Path>, config: Option<&Path>, models_dir: &Path) -> Result<PathBuf> {
    if let Some(db) = db {
        return Ok(db.to_owned());
    }
    let Some(config) = config else {
        return Ok(LedgerConfig::default().resolved_path(models_dir));
    };
    let text = std::fs::read_to_string(config)
        .with_context(|| format!("reading the config {}", config.display()))?;
    let table: toml::Table = toml::from_str(&text).with_context(|| format!("in {}", config.display()))?;
    let ledger: LedgerConfig = match table.get("ledger") {
        Some(v) => v.clone().try_into().with_context(|| format!("{}: in [ledger]", config.display()))?,
        None => LedgerConfig::default(),
    };
    let base = config.parent().unwrap_or(Path::new(""));
    Ok(base.join(ledger.resolved_path(models_dir)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ledger_is_db_else_the_configs_else_the_default() {
        let dir = tempfile::tempdir().unwrap();
        let models = Path::new("/home/u/.cache/hearth/models");
        let default = Path::new("/home/u/.cache/hearth/ledger.sqlite");
        let cfg = dir.path().join("hearth.toml");
        let write = |s: &str| std::fs::write(&cfg, s).unwrap();

        write("[server]\nport = 9000\n[[models]]\nname = \"m\"\n[ledger]\npath = \"data/l.sqlite\"\n");
        assert_eq!(ledger_path(None, Some(&cfg), models).unwrap(), dir.path().join("data/l.sqlite"));
        assert_eq!(ledger_path(Some(Path::new("x.db")), None, models).unwrap(), Path::new("x.db"));
        write("[ledger]\npath = \"/var/lib/hearth/ledger.sqlite\"\nretain_days = 30\n");
        assert_eq!(
            ledger_path(None, Some(&cfg), models).unwrap(),
            Path::new("/var/lib/hearth/ledger.sqlite")
        );
        write("[[models]]\nname = \"m\"\n");
        assert_eq!(ledger_path(None, Some(&cfg), models).unwrap(), default);
        assert_eq!(ledger_path(None, None, models).unwrap(), default);

        write("[ledger]\npaht = \"typo.sqlite\"\n");
        let e = format!("{:#}", ledger_path(None, Some(&cfg), models).unwrap_err());
        assert!(e.contains("[ledger]") && e.contains("paht"), "{e}");
        let e = format!("{:#}", ledger_path(None, Some(Path::new("/no/such.toml")), models).unwrap_err());
        assert!(e.contains("/no/such.toml"), "{e}");
    }
}
