//! `ledger-stress PATH|URL [BATCH_ROWS] [ROWS] [QUEUE] [RATE]`: writes realistic rows to the
//! ledger at `PATH` (SQLite) or `URL` (`postgres://…`, PostgreSQL) as fast as the writer takes
//! them (batches of `BATCH_ROWS`, default 100, committed only when full: `batch_ms` is an
//! hour). `ROWS` = 0 (the default) writes until killed — the kill -9 test's workload; otherwise
//! it writes `ROWS` rows, flushes and prints the writer's rows/s and how long `record` took
//! (p50/p99/max: the latency the ledger adds to a request). `RATE` > 0 paces the rows at that
//! many per second (a server's request rate) with the default `batch_ms` of 1000.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use hearth_ledger::{Call, Ledger, LedgerConfig, Status, now_unix_ms};

fn arg(i: usize, default: usize) -> Result<usize, Box<dyn std::error::Error>> {
    match std::env::args().nth(i) {
        Some(s) => Ok(s.parse()?),
        None => Ok(default),
    }
}

fn sample(seq: u64) -> Call {
    let local = !seq.is_multiple_of(4);
    Call {
        time_unix_ms: now_unix_ms(),
        request_id: format!("{}-{seq}", std::process::id()),
        upstream_request_id: (!local).then(|| format!("msg_{seq:016x}")),
        operation: "chat".to_owned(),
        task: Some(["classify", "extract", "summarize", "code"][(seq % 4) as usize].to_owned()),
        tags: BTreeMap::from([
            ("feature".to_owned(), "stress".to_owned()),
            ("user".to_owned(), "u1".to_owned()),
        ]),
        route: if local { "qwen2.5-0.5b" } else { "claude-haiku" }.to_owned(),
        reason: "task".to_owned(),
        provider: if local { "hearth" } else { "anthropic" }.to_owned(),
        request_model: "auto".to_owned(),
        response_model: Some(if local { "qwen2.5-0.5b" } else { "claude-haiku-4-5" }.to_owned()),
        local,
        input_tokens: Some(420),
        output_tokens: Some(64),
        latency_ms: 180,
        mean_logprob: local.then_some(-0.21),
        cost_usd: if local { 0.000_01 } else { 0.000_74 },
        baseline_cost_usd: Some(0.0031),
        status: Status::Ok,
        ..Call::default()
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let target =
        std::env::args().nth(1).ok_or("usage: ledger-stress PATH|URL [BATCH_ROWS] [ROWS] [QUEUE] [RATE]")?;
    let (path, url) = if target.starts_with("postgres://") || target.starts_with("postgresql://") {
        (None, Some(target))
    } else {
        (Some(PathBuf::from(target)), None)
    };
    let rate = arg(5, 0)? as u64;
    let config = LedgerConfig {
        path,
        url,
        batch_rows: arg(2, 100)?,
        batch_ms: if rate > 0 { 1000 } else { 3_600_000 },
        queue_capacity: arg(4, 4096)?,
        ..LedgerConfig::default()
    };
    let rows = arg(3, 0)? as u64;
    let ledger = Ledger::open_config(&config, Path::new("."))?;
    let start = Instant::now();
    let mut seq = 0u64;
    let mut record_ns: Vec<u64> = Vec::with_capacity(rows.min(10_000_000) as usize);
    while rows == 0 || seq < rows {
        if rate > 0 {
            let due = start + Duration::from_secs_f64(seq as f64 / rate as f64);
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
        }
        let dropped = ledger.dropped();
        let call = sample(seq);
        let t = Instant::now();
        ledger.record(call);
        if rows != 0 {
            record_ns.push(t.elapsed().as_nanos() as u64);
        }
        seq += 1;
        if ledger.dropped() > dropped {
            std::thread::sleep(Duration::from_millis(1)); // the writer is behind: let it catch up
        }
    }
    ledger.flush()?;
    let secs = start.elapsed().as_secs_f64();
    let s = ledger.stats();
    record_ns.sort_unstable();
    let pct = |p: f64| record_ns.get(((record_ns.len() as f64 - 1.0) * p) as usize).copied().unwrap_or(0);
    println!(
        "rows={seq} written={} dropped={} batches={} secs={secs:.3} rows_per_s={:.0} record_ns_p50={} p99={} max={}",
        s.written,
        s.dropped,
        s.batches,
        s.written as f64 / secs,
        pct(0.5),
        pct(0.99),
        pct(1.0)
    );
    Ok(())
}
