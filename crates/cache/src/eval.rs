//! Measuring the cache on a labelled pair set (`tests/cache/pairs.jsonl`): for each pair,
//! prompt `a` is stored and prompt `b` looked up, through a real [`Cache`] (memory store, one
//! scope per pair), at each threshold, with and without guards.
//!
//! ```text
//! let pairs = eval::read_pairs(Path::new("tests/cache/pairs.jsonl"))?;
//! let report = eval::evaluate(&pairs, &embedder, &eval::THRESHOLDS)?;
//! println!("{}", report.markdown());
//! ```

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::cache::{Cache, Lookup, Query};
use crate::config::{CacheConfig, StoreKind};
use crate::embed::{Embed, EmbedError};
use crate::error::CacheError;
use crate::guards::{self, Features, GuardReason};
use crate::index::dot;
use crate::scope::Scope;
use crate::store::MemoryStore;

/// The thresholds the issue asks about.
pub const THRESHOLDS: [f32; 4] = [0.85, 0.90, 0.92, 0.95];

/// Texts per call to the embedder.
pub const EMBED_BATCH: usize = 32;

/// What a pair is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PairKind {
    /// The same request in other words: should hit.
    Paraphrase,
    /// One side negated: must not hit.
    Negation,
    /// Opposite words (on/off, enable/disable, ascending/descending): must not hit.
    Antonym,
    /// Other or swapped names (Paris/London): must not hit.
    Entity,
    /// Other numbers, dates or units: must not hit.
    Number,
    /// Another request sharing words: must not hit.
    Intent,
}

impl PairKind {
    /// Every kind, paraphrases first.
    pub const ALL: [PairKind; 6] = [
        PairKind::Paraphrase,
        PairKind::Negation,
        PairKind::Antonym,
        PairKind::Entity,
        PairKind::Number,
        PairKind::Intent,
    ];

    /// Lowercase name, as in the file.
    pub fn as_str(self) -> &'static str {
        match self {
            PairKind::Paraphrase => "paraphrase",
            PairKind::Negation => "negation",
            PairKind::Antonym => "antonym",
            PairKind::Entity => "entity",
            PairKind::Number => "number",
            PairKind::Intent => "intent",
        }
    }
}

/// One labelled pair: a line `{"a": …, "b": …, "hit": true|false, "kind": …}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pair {
    /// The prompt stored.
    pub a: String,
    /// The prompt looked up.
    pub b: String,
    /// Whether `b` should be answered with `a`'s answer.
    pub hit: bool,
    /// What kind of pair.
    pub kind: PairKind,
}

/// Reading or checking a pair file failed.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// The file could not be read.
    #[error("cannot read the pair set {path}: {source}")]
    Read {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A line is not a pair.
    #[error("pair set line {line}: {message}")]
    Line {
        /// 1-based.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// The cache or its embedder failed.
    #[error(transparent)]
    Cache(#[from] CacheError),
}

/// The pairs in the JSON Lines `text` (blank lines skipped); a paraphrase must be labelled
/// `hit: true` and every other kind `hit: false`.
pub fn parse_pairs(text: &str) -> Result<Vec<Pair>, EvalError> {
    let mut pairs = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let bad = |message: String| EvalError::Line { line: i + 1, message };
        let pair: Pair = serde_json::from_str(line).map_err(|e| bad(e.to_string()))?;
        if pair.hit != (pair.kind == PairKind::Paraphrase) {
            return Err(bad(format!("kind {} with hit = {}", pair.kind.as_str(), pair.hit)));
        }
        pairs.push(pair);
    }
    Ok(pairs)
}

/// [`parse_pairs`] of the file at `path`.
pub fn read_pairs(path: &Path) -> Result<Vec<Pair>, EvalError> {
    let text =
        std::fs::read_to_string(path).map_err(|source| EvalError::Read { path: path.to_owned(), source })?;
    parse_pairs(&text)
}

/// One configuration's outcome over the set.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    /// The threshold.
    pub threshold: f32,
    /// Whether the guards ran.
    pub guards: bool,
    /// Paraphrase pairs served from the cache.
    pub paraphrase_hits: usize,
    /// Must-not-hit pairs served from the cache, by kind.
    pub false_hits: BTreeMap<PairKind, usize>,
    /// Candidates the guards refused, by reason (over all pairs).
    pub rejections: BTreeMap<GuardReason, usize>,
}

impl Row {
    /// All must-not-hit pairs served.
    pub fn false_hits_total(&self) -> usize {
        self.false_hits.values().sum()
    }
}

/// Cosine similarity of a kind's pairs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Spread {
    /// Lowest.
    pub min: f32,
    /// Median.
    pub median: f32,
    /// Highest.
    pub max: f32,
}

/// The measurement.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// The embedder's id.
    pub embedder: String,
    /// Pairs of each kind.
    pub counts: BTreeMap<PairKind, usize>,
    /// Similarity of each kind's pairs.
    pub similarity: BTreeMap<PairKind, Spread>,
    /// The guards alone, whatever the similarity: pairs of each kind they let through.
    pub guards_pass: BTreeMap<PairKind, usize>,
    /// One row per threshold × guards off/on.
    pub rows: Vec<Row>,
}

/// Runs `pairs` through a cache per threshold, without and with guards: `a` stored, `b`
/// looked up, each pair in a scope of its own. Every text is embedded once, in batches of
/// [`EMBED_BATCH`].
pub fn evaluate(pairs: &[Pair], embedder: &dyn Embed, thresholds: &[f32]) -> Result<Report, EvalError> {
    let mut texts: Vec<&str> = pairs.iter().flat_map(|p| [p.a.as_str(), p.b.as_str()]).collect();
    texts.sort_unstable();
    texts.dedup();
    let mut vectors = Vec::with_capacity(texts.len());
    for batch in texts.chunks(EMBED_BATCH) {
        vectors.extend(embedder.embed(batch).map_err(CacheError::from)?);
    }
    if vectors.len() != texts.len() {
        let got = format!("{} vectors for {} texts", vectors.len(), texts.len());
        return Err(CacheError::BadEmbedding { model: embedder.model_id().to_owned(), got }.into());
    }
    let memo = Arc::new(Memo {
        id: embedder.model_id().to_owned(),
        vectors: texts.iter().map(|t| t.to_string()).zip(vectors).collect(),
    });
    let mut report = Report {
        embedder: memo.id.clone(),
        counts: BTreeMap::new(),
        similarity: BTreeMap::new(),
        guards_pass: BTreeMap::new(),
        rows: Vec::new(),
    };
    let mut sims: BTreeMap<PairKind, Vec<f32>> = BTreeMap::new();
    for p in pairs {
        *report.counts.entry(p.kind).or_default() += 1;
        let s = memo.similarity(&p.a, &p.b).unwrap_or(f32::NAN);
        sims.entry(p.kind).or_default().push(s);
        if guards::check(&Features::of(&p.a), &Features::of(&p.b)).is_ok() {
            *report.guards_pass.entry(p.kind).or_default() += 1;
        }
    }
    for (kind, mut s) in sims {
        s.sort_by(f32::total_cmp);
        let spread = Spread { min: s[0], median: s[s.len() / 2], max: s[s.len() - 1] };
        report.similarity.insert(kind, spread);
    }
    for &threshold in thresholds {
        for guards in [false, true] {
            report.rows.push(run(pairs, memo.clone(), threshold, guards)?);
        }
    }
    Ok(report)
}

fn run(pairs: &[Pair], memo: Arc<Memo>, threshold: f32, guards: bool) -> Result<Row, EvalError> {
    let config = CacheConfig {
        threshold,
        guards,
        store: StoreKind::Memory,
        max_entries: pairs.len().max(1),
        ..CacheConfig::default()
    };
    let cache = Cache::with_store(&config, Some(memo), Box::new(MemoryStore))?;
    let mut row = Row {
        threshold,
        guards,
        paraphrase_hits: 0,
        false_hits: BTreeMap::new(),
        rejections: BTreeMap::new(),
    };
    for (i, p) in pairs.iter().enumerate() {
        let mut scope = Scope { target: "eval".into(), ..Scope::default() };
        scope.extra.insert("pair".into(), Value::from(i));
        cache.insert(&Query { scope: &scope, prompt: &p.a }, "answer", None)?;
        match cache.lookup(&Query { scope: &scope, prompt: &p.b })? {
            Lookup::Hit(_) if p.hit => row.paraphrase_hits += 1,
            Lookup::Hit(_) => *row.false_hits.entry(p.kind).or_default() += 1,
            Lookup::Miss(miss) => {
                for (reason, _) in miss.rejected {
                    *row.rejections.entry(reason).or_default() += 1;
                }
            }
        }
    }
    Ok(row)
}

/// The set's vectors, embedded once.
#[derive(Debug)]
struct Memo {
    id: String,
    vectors: HashMap<String, Vec<f32>>,
}

impl Memo {
    fn similarity(&self, a: &str, b: &str) -> Option<f32> {
        let (va, vb) = (self.vectors.get(a)?, self.vectors.get(b)?);
        let norm = (dot(va, va) * dot(vb, vb)).sqrt();
        Some(dot(va, vb) / norm)
    }
}

impl Embed for Memo {
    fn model_id(&self) -> &str {
        &self.id
    }

    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        texts
            .iter()
            .map(|t| {
                self.vectors.get(*t).cloned().ok_or_else(|| EmbedError::new(format!("not in the set: {t:?}")))
            })
            .collect()
    }
}

impl Report {
    /// Paraphrase pairs.
    pub fn paraphrases(&self) -> usize {
        self.counts.get(&PairKind::Paraphrase).copied().unwrap_or(0)
    }

    /// Must-not-hit pairs.
    pub fn must_not(&self) -> usize {
        self.counts.iter().filter(|(k, _)| **k != PairKind::Paraphrase).map(|(_, n)| n).sum()
    }

    /// The row for `threshold` (to 1e-6) and `guards`.
    pub fn row(&self, threshold: f32, guards: bool) -> Option<&Row> {
        self.rows.iter().find(|r| (r.threshold - threshold).abs() < 1e-6 && r.guards == guards)
    }

    /// The report as Markdown: the hit/false-hit table, the guards alone, the similarity
    /// spread per kind.
    pub fn markdown(&self) -> String {
        let must_not_kinds = &PairKind::ALL[1..];
        let n_para = self.paraphrases();
        let n_bad = self.must_not();
        let mut out = format!(
            "Semantic cache on {} pairs ({n_para} paraphrases, {n_bad} must-not-hit), embedder `{}`.\n\n",
            n_para + n_bad,
            self.embedder
        );
        out.push_str("| threshold | guards | paraphrase hit rate | false-hit rate |");
        for k in must_not_kinds {
            out.push_str(&format!(" {} |", k.as_str()));
        }
        out.push_str(" guard rejections |\n|---|---|---|---|");
        out.push_str(&"---|".repeat(must_not_kinds.len() + 1));
        out.push('\n');
        for r in &self.rows {
            out.push_str(&format!(
                "| {:.2} | {} | {} | {} |",
                r.threshold,
                if r.guards { "on" } else { "off" },
                rate(r.paraphrase_hits, n_para),
                rate(r.false_hits_total(), n_bad),
            ));
            for k in must_not_kinds {
                let n = self.counts.get(k).copied().unwrap_or(0);
                out.push_str(&format!(" {}/{n} |", r.false_hits.get(k).copied().unwrap_or(0)));
            }
            let rejections: Vec<String> = r.rejections.iter().map(|(g, n)| format!("{g} {n}")).collect();
            let rejections = if r.guards { rejections.join(", ") } else { "–".to_owned() };
            out.push_str(&format!(" {rejections} |\n"));
        }
        out.push_str("\nThe guards alone (whatever the similarity) let through:\n\n| kind | pairs | passed | similarity min / median / max |\n|---|---|---|---|\n");
        for k in PairKind::ALL {
            let n = self.counts.get(&k).copied().unwrap_or(0);
            if n == 0 {
                continue;
            }
            let passed = self.guards_pass.get(&k).copied().unwrap_or(0);
            let s = self
                .similarity
                .get(&k)
                .map_or_else(String::new, |s| format!("{:.3} / {:.3} / {:.3}", s.min, s.median, s.max));
            out.push_str(&format!("| {} | {n} | {passed} | {s} |\n", k.as_str()));
        }
        out
    }
}

fn rate(n: usize, of: usize) -> String {
    if of == 0 {
        return format!("{n}/0");
    }
    format!("{n}/{of} ({:.1}%)", 100.0 * n as f64 / of as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_checks_labels_and_fields() {
        let ok = r#"{"a": "x", "b": "y", "hit": true, "kind": "paraphrase"}

{"a": "x", "b": "not y", "hit": false, "kind": "negation"}"#;
        assert_eq!(parse_pairs(ok).unwrap().len(), 2);
        let wrong_label = r#"{"a": "x", "b": "y", "hit": true, "kind": "entity"}"#;
        assert!(parse_pairs(wrong_label).unwrap_err().to_string().contains("line 1"));
        let unknown = r#"{"a": "x", "b": "y", "hit": true, "kind": "paraphrase", "note": 1}"#;
        assert!(parse_pairs(unknown).is_err());
        assert!(parse_pairs(r#"{"a": "x", "b": "y", "hit": false, "kind": "typo"}"#).is_err());
    }
}
