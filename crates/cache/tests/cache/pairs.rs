//! The labelled pair set (`tests/cache/pairs.jsonl`) and its measurement. The embedder here
//! is the toy one, so the numbers printed say nothing about MiniLM: what is tested is that
//! the set is what it claims, that the guards alone refuse every must-not-hit pair in it,
//! and that the report adds up.

use std::collections::HashSet;

use hearth_cache::eval::{self, PairKind, THRESHOLDS};
use hearth_cache::{HashEmbedder, guards};

fn pairs() -> Vec<eval::Pair> {
    let path = hearth_testkit::workspace_root().join("tests/cache/pairs.jsonl");
    eval::read_pairs(&path).unwrap()
}

#[test]
fn the_set_is_large_varied_and_labelled() {
    let pairs = pairs();
    assert!(pairs.len() >= 300, "{} pairs", pairs.len());
    for kind in PairKind::ALL {
        let n = pairs.iter().filter(|p| p.kind == kind).count();
        let want = if kind == PairKind::Paraphrase { 120 } else { 25 };
        assert!(n >= want, "{} {kind:?} pairs, want ≥ {want}", n);
    }
    let mut seen = HashSet::new();
    for p in &pairs {
        assert_ne!(p.a.trim().to_lowercase(), p.b.trim().to_lowercase(), "{p:?}");
        assert!(seen.insert((p.a.clone(), p.b.clone())), "duplicate {p:?}");
    }
}

#[test]
fn the_guards_alone_refuse_every_must_not_hit_pair() {
    let wrongly_passed: Vec<String> = pairs()
        .iter()
        .filter(|p| !p.hit)
        .filter(|p| guards::check(&guards::Features::of(&p.a), &guards::Features::of(&p.b)).is_ok())
        .map(|p| format!("{:?}: {} | {}", p.kind, p.a, p.b))
        .collect();
    assert!(wrongly_passed.is_empty(), "{wrongly_passed:#?}");
}

#[test]
fn the_report_adds_up() {
    let pairs = pairs();
    let report = eval::evaluate(&pairs, &HashEmbedder::new(384), &THRESHOLDS).unwrap();
    let table = report.markdown();
    println!("{table}");
    assert_eq!(report.rows.len(), THRESHOLDS.len() * 2);
    assert_eq!(report.paraphrases() + report.must_not(), pairs.len());
    let guards_pass_para = report.guards_pass[&PairKind::Paraphrase];
    for &t in &THRESHOLDS {
        let (off, on) = (report.row(t, false).unwrap(), report.row(t, true).unwrap());
        assert_eq!(on.false_hits_total(), 0, "the guards refuse every must-not-hit pair at {t}");
        assert!(on.paraphrase_hits <= off.paraphrase_hits.min(guards_pass_para), "{t}");
        assert!(on.false_hits_total() <= off.false_hits_total());
        let refused: usize = on.rejections.values().sum();
        assert_eq!(
            refused,
            off.paraphrase_hits + off.false_hits_total() - on.paraphrase_hits,
            "every pair served without guards and not with them was refused by one guard ({t})"
        );
    }
    for t in THRESHOLDS.windows(2) {
        let (lo, hi) = (report.row(t[0], false).unwrap(), report.row(t[1], false).unwrap());
        assert!(hi.paraphrase_hits <= lo.paraphrase_hits && hi.false_hits_total() <= lo.false_hits_total());
    }
    assert!(table.contains("| 0.92 | on |") && table.contains("| negation |"), "{table}");
}
