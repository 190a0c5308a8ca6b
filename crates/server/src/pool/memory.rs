//! Memory sizes for the pool: the machine's memory (for the default budget, 75% of it) and a
//! loaded model's resident estimate (its file, which is mapped, plus its slots' KV caches at
//! full context).

use std::path::Path;

use hearth_engine::Engine;

/// Share of the machine's memory the pool's models may hold when no budget is configured.
pub const DEFAULT_BUDGET_PERCENT: u64 = 75;

/// The default memory budget: [`DEFAULT_BUDGET_PERCENT`] of the memory this process may use
/// (the smaller of the machine's and its cgroup's limit), or `None` (no budget) when neither
/// can be read (not Linux).
pub fn default_budget() -> Option<u64> {
    let total = available_memory()?;
    Some(total / 100 * DEFAULT_BUDGET_PERCENT)
}

/// The memory this process may use: `MemTotal` of `/proc/meminfo`, capped by a cgroup v2
/// `memory.max` (a container's limit).
fn available_memory() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let total = parse_meminfo_total(&meminfo)?;
    let cgroup = std::fs::read_to_string(Path::new("/sys/fs/cgroup/memory.max"))
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok());
    Some(cgroup.map_or(total, |c| c.min(total)))
}

/// `MemTotal:  16303132 kB` → bytes.
fn parse_meminfo_total(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find_map(|l| l.strip_prefix("MemTotal:"))?;
    let kb: u64 = line.trim().trim_end_matches("kB").trim().parse().ok()?;
    kb.checked_mul(1024)
}

/// What a loaded model holds: `file_bytes` (the mapping, resident once read; or the weights
/// repacked at load for the kernel table where larger, up to 3% more, whose file pages are
/// released) plus the KV caches of `slots` sequences at the engine's full context (f16 keys
/// and values).
pub fn resident_estimate(file_bytes: u64, engine: &Engine, slots: usize) -> u64 {
    let file_bytes = file_bytes.max(engine.model().repacked_bytes() as u64);
    let cfg = engine.model().config();
    // Keys and values, f16, `kv_dim` wide, in every layer.
    let per_token = (cfg.n_layer * cfg.kv_dim() * 2 * 2) as u64;
    let kv = per_token.saturating_mul(engine.n_ctx() as u64).saturating_mul(slots as u64);
    file_bytes.saturating_add(kv)
}

/// `bytes` for people: `1.5 GiB`, `98.4 MiB`.
pub fn human(bytes: u64) -> String {
    const GIB: f64 = (1u64 << 30) as f64;
    const MIB: f64 = (1u64 << 20) as f64;
    let b = bytes as f64;
    if b >= GIB { format!("{:.1} GiB", b / GIB) } else { format!("{:.1} MiB", b / MIB) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meminfo_total_is_read_in_bytes() {
        let text = "MemTotal:       16303132 kB\nMemFree:         1000 kB\n";
        assert_eq!(parse_meminfo_total(text), Some(16303132 * 1024));
        assert_eq!(parse_meminfo_total("MemFree: 1 kB\n"), None);
        assert_eq!(parse_meminfo_total("MemTotal: lots\n"), None);
    }

    #[test]
    fn sizes_read_as_mib_or_gib() {
        assert_eq!(human(98_362_432), "93.8 MiB");
        assert_eq!(human(3 << 30), "3.0 GiB");
    }
}
