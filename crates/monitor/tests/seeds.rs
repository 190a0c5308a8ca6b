//! Agreement streams drawn at 95%, 85% and 70% over many seeds: how often the sequential
//! test moves the route, against what the test predicts (error rates α at the floor, β at
//! the alternative; a move at 70% almost surely, a move at 95% almost never).
//!
//! Each run is one decision: verdicts are drawn until the test decides (or 1000 verdicts).
//! `cargo test --release -p hearth-monitor --test seeds -- --nocapture` prints the rates.

use hearth_monitor::state::{MonitorState, RouteFacts};
use hearth_monitor::{TestState, Tier};
use hearth_router::MonitorConfig;

const ROUTE: RouteFacts<'static> = RouteFacts { target: "small", escalate_to: Some("claude"), pinned: false };
const SEEDS: u64 = 2000;

fn draw(seed: u64, n: u64) -> f64 {
    let mut z = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ n.wrapping_mul(0xd1b5_4a32_d192_ed03);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

/// Share of seeds whose first decision moved the route up, and the mean verdicts it took.
fn first_decisions(p: f64) -> (f64, f64) {
    let config = MonitorConfig::new("claude");
    let (mut moved, mut verdicts) = (0u64, 0u64);
    for seed in 0..SEEDS {
        let mut s = MonitorState::default();
        for n in 0..1000 {
            let change = s.record("t", draw(seed, n) < p, n as i64, &config, ROUTE);
            verdicts += 1;
            if change.is_some() {
                moved += 1;
                break;
            }
            if s.tasks["t"].test_state() == TestState::Above {
                break;
            }
        }
    }
    (moved as f64 / SEEDS as f64, verdicts as f64 / SEEDS as f64)
}

/// Share of seeds moved up at least once within `verdicts` verdicts (the test restarts
/// after each decision, as in service).
fn moved_within(p: f64, verdicts: u64) -> f64 {
    let config = MonitorConfig::new("claude");
    let moved = (0..SEEDS)
        .filter(|seed| {
            let mut s = MonitorState::default();
            (0..verdicts).any(|n| {
                s.record("t", draw(*seed, n) < p, n as i64, &config, ROUTE);
                s.tasks["t"].tier == Tier::Up
            })
        })
        .count();
    moved as f64 / SEEDS as f64
}

#[test]
fn streams_at_95_85_and_70_percent_move_as_the_test_predicts() {
    let (m95, n95) = first_decisions(0.95);
    let (m85, n85) = first_decisions(0.85);
    let (m75, n75) = first_decisions(0.75);
    let (m70, n70) = first_decisions(0.70);
    println!("first decision over {SEEDS} seeds: moved up (mean verdicts to decide)");
    println!("  agreement 95%: {:.2}% ({n95:.1})", m95 * 100.0);
    println!("  agreement 85%: {:.2}% ({n85:.1})   [alpha = 5%]", m85 * 100.0);
    println!("  agreement 75%: {:.2}% ({n75:.1})   [1 - beta = 80%]", m75 * 100.0);
    println!("  agreement 70%: {:.2}% ({n70:.1})", m70 * 100.0);
    // Wald's bounds: the false-move rate at the floor is at most α / (1 − β) = 6.25%, the
    // miss rate at the alternative at most β / (1 − α) = 21%.
    assert!(m85 <= 0.0625, "false moves at the floor: {m85}");
    assert!(m75 >= 1.0 - 0.2105, "moves at the alternative: {m75}");
    assert!(m95 < 0.005, "a healthy route moved: {m95}");
    assert!(m70 > 0.9, "a bad route stayed: {m70}");

    let w95 = moved_within(0.95, 200);
    let w70 = moved_within(0.70, 200);
    println!(
        "moved up within 200 verdicts (tests restarting): 95%: {:.2}%, 70%: {:.2}%",
        w95 * 100.0,
        w70 * 100.0
    );
    assert!(w95 < 0.01, "{w95}");
    assert!(w70 > 0.99, "{w70}");
}

#[test]
fn a_naive_threshold_at_n_50_is_worse_on_both_counts() {
    // The numbers: "observed < 85%" at n = 50 moves a 90% route ~12% of the time and
    // misses an 80% route ~1 time in 5. The same draws, for comparison with the test above.
    let rate = |p: f64| {
        (0..SEEDS).filter(|seed| (0..50).filter(|n| draw(*seed, *n) < p).count() < 43).count() as f64
            / SEEDS as f64
    };
    let (at90, at80) = (rate(0.90), rate(0.80));
    println!(
        "naive rule at n = 50: moves a 90% route {:.1}%, misses an 80% route {:.1}%",
        at90 * 100.0,
        (1.0 - at80) * 100.0
    );
    assert!(at90 > 0.05 && 1.0 - at80 > 0.1, "{at90} {at80}");
}
