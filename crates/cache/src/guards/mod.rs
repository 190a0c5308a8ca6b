//! Guards: what must agree between a new prompt and a cached one before the cached answer
//! is served for it, however close their embeddings are.
//!
//! Embedders score a sentence and its negation, `turn on` and `turn off`, `Paris → London`
//! and `London → Paris`, `3 eggs` and `2 eggs` almost as alike as a sentence and itself. So a
//! semantic hit also needs, in this order (the first that fails is the [`GuardReason`]):
//!
//! 1. **negation**: as many negators (`not`, `never`, `without`, `n't`, …) on both sides;
//! 2. **polarity**: the same sides of every polarity axis (`on`/`enable` vs `off`/`disable`,
//!    `increase` vs `decrease`, `before` vs `after`, …; see [`lexicon`]);
//! 3. **numbers**: the same quantities (digits, decimals, ordinals, number words);
//! 4. **entities**: every capitalised name or code identifier of one prompt appears in the other;
//! 5. **order**: names and numbers that share a clause in both prompts come in the same order
//!    (`Is Paris bigger than London`), and `to`/`from`/`than` point at the same word
//!    (`convert Celsius to Fahrenheit`);
//! 6. **content**: the same content words, after dropping function words and request filler
//!    (`please`, `can you`, `what is`, `explain`), stemming, and folding a few request-language
//!    synonyms (`summary` = `summarize`, `create` = `write`, `dict` = `dictionary`).
//!
//! The guards read words only; they cannot see that two prompts with different words mean the
//! same, so they cost some true paraphrases (measured by [`crate::eval`]). What they buy is
//! that a semantic hit differs from the cached prompt only in word order, inflection, filler
//! and the listed synonyms.

pub mod lexicon;
mod numbers;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

use crate::text::{Token, TokenKind, tokenize};
use lexicon::{DIRECTION_MARKERS, PHRASES, canonical, is_filler, is_negator, lexicon_number_word, polarity};
pub use numbers::{Number, numbers};

/// Why a guard refused a semantic hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GuardReason {
    /// A different number of negators.
    Negation,
    /// Opposite sides of a polarity axis, or one side only.
    Polarity,
    /// Different quantities.
    Number,
    /// A name or identifier on one side only.
    Entity,
    /// The same names or numbers in another order, or `to`/`from`/`than` pointing elsewhere.
    Order,
    /// Different content words.
    Content,
}

impl GuardReason {
    /// Every reason, in the order the guards run.
    pub const ALL: [GuardReason; 6] = [
        GuardReason::Negation,
        GuardReason::Polarity,
        GuardReason::Number,
        GuardReason::Entity,
        GuardReason::Order,
        GuardReason::Content,
    ];

    /// Lowercase name (`"negation"`), as in metrics labels.
    pub fn as_str(self) -> &'static str {
        match self {
            GuardReason::Negation => "negation",
            GuardReason::Polarity => "polarity",
            GuardReason::Number => "number",
            GuardReason::Entity => "entity",
            GuardReason::Order => "order",
            GuardReason::Content => "content",
        }
    }
}

impl std::fmt::Display for GuardReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Sides seen on one polarity axis: bit 0 positive, bit 1 negative.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Sides {
    all: u8,
    strong: u8,
}

/// What the guards compare, read once from a prompt (kept with each cache entry).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Features {
    negations: u32,
    polarity: BTreeMap<&'static str, Sides>,
    /// Canonical values, sorted (a multiset).
    numbers: Vec<String>,
    /// Lowercased names and identifiers.
    entities: BTreeSet<String>,
    /// Every lowercased word and number → (clause, position) of its first occurrence.
    positions: HashMap<String, (u32, usize)>,
    /// Names and numbers in the order they first occur (keys of `positions`).
    anchors: Vec<String>,
    /// The last `to`/`from`/`than` of each role → what its clause has before it and after it
    /// (content words, names and numbers).
    directions: BTreeMap<&'static str, (BTreeSet<String>, BTreeSet<String>)>,
    content: BTreeSet<String>,
    /// Each clause's lowercased tokens, in order.
    clauses: Vec<Vec<String>>,
}

impl Features {
    /// Reads `prompt`.
    pub fn of(prompt: &str) -> Features {
        let tokens = tokenize(prompt);
        let mut f = Features::default();
        // What each token is compared as (content word, name or number), for `directions`.
        let mut keys: Vec<Option<String>> = vec![None; tokens.len()];
        // The last `to`/`from`/`than` of each role.
        let mut markers: BTreeMap<&'static str, usize> = BTreeMap::new();
        for (i, t) in tokens.iter().enumerate() {
            f.positions.entry(t.lower.clone()).or_insert((t.clause, i));
            if f.clauses.last().is_none() || i == 0 || tokens[i - 1].clause != t.clause {
                f.clauses.push(Vec::new());
            }
            if let Some(c) = f.clauses.last_mut() {
                c.push(t.lower.clone());
            }
        }
        let nums = numbers(&tokens);
        for n in &nums {
            let key = format!("#{}", n.value);
            f.positions.entry(key.clone()).or_insert((tokens[n.token].clause, n.token));
            f.add_anchor(&key);
            keys[n.token] = Some(key);
        }
        f.numbers = nums.into_iter().map(|n| n.value).collect();
        f.numbers.sort();
        let mut skip_next = false;
        for (i, t) in tokens.iter().enumerate() {
            if std::mem::take(&mut skip_next) || t.kind != TokenKind::Word {
                continue;
            }
            let phrase =
                tokens.get(i + 1).and_then(|n| PHRASES.iter().find(|p| p.0 == t.lower && p.1 == n.lower));
            let w = match phrase {
                Some(&(_, _, as_word)) => {
                    skip_next = true;
                    as_word
                }
                None => t.lower.as_str(),
            };
            if let Some(&(_, role)) = DIRECTION_MARKERS.iter().find(|(m, _)| *m == w) {
                markers.insert(role, i);
            }
            if is_entity(t) {
                let key = entity_key(t);
                f.positions.entry(key.clone()).or_insert((t.clause, i));
                f.add_anchor(&key);
                f.entities.insert(key);
            }
            if is_negator(w) {
                f.negations += 1;
            } else if let Some(p) = polarity(w) {
                let side = if p.positive { 1 } else { 2 };
                let s = f.polarity.entry(p.axis).or_default();
                s.all |= side;
                if !p.weak {
                    s.strong |= side;
                }
            } else if !is_filler(w) && keys[i].is_none() && !lexicon_number_word(w) {
                let word = canonical(w);
                keys[i] = Some(word.clone());
                f.content.insert(word);
            }
        }
        for (role, at) in markers {
            let clause = tokens[at].clause;
            let side = |range: std::ops::Range<usize>| -> BTreeSet<String> {
                range.filter(|&j| tokens[j].clause == clause).filter_map(|j| keys[j].clone()).collect()
            };
            let (before, after) = (side(0..at), side(at + 1..tokens.len()));
            // a word on both sides ("the invoice number from this invoice") says nothing
            let sides = (&before - &after, &after - &before);
            f.directions.insert(role, sides);
        }
        f
    }

    fn add_anchor(&mut self, key: &str) {
        if !self.anchors.iter().any(|k| k == key) {
            self.anchors.push(key.to_owned());
        }
    }

    /// The canonical quantities (sorted), for tests and diagnostics.
    pub fn numbers(&self) -> &[String] {
        &self.numbers
    }

    /// The compared content words, for tests and diagnostics.
    pub fn content(&self) -> &BTreeSet<String> {
        &self.content
    }
}

/// Whether `t` names something: a capitalised word that is not just a sentence's first word
/// (or is, but has more capitals: `JSON`, `GitHub`), a word with inner capitals (`macOS`), or
/// an identifier (`snake_case`, `main.rs`).
fn is_entity(t: &Token) -> bool {
    if t.kind != TokenKind::Word || t.lower == "i" || t.lower.starts_with("i'") {
        return false;
    }
    let mut chars = t.text.chars();
    let first_upper = chars.next().is_some_and(char::is_uppercase);
    let inner_upper = chars.any(char::is_uppercase);
    let identifier = t.text.contains(['_', '.']);
    (first_upper && !t.sentence_start) || inner_upper || identifier
}

/// A name's key: lowercased, an acronym's plural without its `s` (`URLs` → `url`).
fn entity_key(t: &Token) -> String {
    match t.text.strip_suffix('s') {
        Some(acronym) if acronym.len() >= 2 && acronym.chars().all(|c| c.is_ascii_uppercase()) => {
            acronym.to_lowercase()
        }
        _ => t.lower.clone(),
    }
}

/// Whether the guards let `b` be answered with `a`'s cached answer: `Ok`, or the first guard
/// that refuses. Symmetric.
pub fn check(a: &Features, b: &Features) -> Result<(), GuardReason> {
    if a.negations != b.negations {
        return Err(GuardReason::Negation);
    }
    if !polarity_agrees(a, b) {
        return Err(GuardReason::Polarity);
    }
    if a.numbers != b.numbers {
        return Err(GuardReason::Number);
    }
    let present = |e: &String, other: &Features| other.positions.contains_key(e);
    if !a.entities.iter().all(|e| present(e, b)) || !b.entities.iter().all(|e| present(e, a)) {
        return Err(GuardReason::Entity);
    }
    if !order_agrees(a, b) || !directions_agree(a, b) || !directions_agree(b, a) || !clauses_agree(a, b) {
        return Err(GuardReason::Order);
    }
    if a.content != b.content {
        return Err(GuardReason::Content);
    }
    Ok(())
}

/// Each axis has the same sides on both prompts, except that weak words alone (`in`, `on`,
/// `show`) may appear where the other prompt has nothing on that axis.
fn polarity_agrees(a: &Features, b: &Features) -> bool {
    let axes: BTreeSet<&str> = a.polarity.keys().chain(b.polarity.keys()).copied().collect();
    axes.into_iter().all(|axis| {
        let sa = a.polarity.get(axis).copied().unwrap_or_default();
        let sb = b.polarity.get(axis).copied().unwrap_or_default();
        sa.all == sb.all || (sa.all == 0 && sb.strong == 0) || (sb.all == 0 && sa.strong == 0)
    })
}

/// No two of `a`'s anchors (names, numbers) that `b` also has, sharing a clause in both,
/// come in opposite orders. `O(n log n)`: within each (clause in `a`, clause in `b`) group,
/// sorted by position in `a`, the positions in `b` must not decrease.
fn order_agrees(a: &Features, b: &Features) -> bool {
    let mut shared: Vec<((u32, usize), (u32, usize))> =
        a.anchors.iter().filter_map(|k| Some((*a.positions.get(k)?, *b.positions.get(k)?))).collect();
    shared.sort_by_key(|&((ca, pa), (cb, pb))| (ca, cb, pa, pb));
    shared.windows(2).all(|w| {
        let (((ca, _), (cb, pb)), ((ca2, _), (cb2, pb2))) = (w[0], w[1]);
        (ca, cb) != (ca2, cb2) || pb <= pb2
    })
}

/// No word is before a `to`/`from`/`than` in one prompt and after it in the other (within
/// the marker's clause): `convert Celsius to Fahrenheit` vs `convert Fahrenheit to Celsius`.
/// And where one prompt says `to` and the other `from` (each only one of them), no word
/// follows both: `convert the date to ISO format` vs `convert the date from ISO format`.
fn directions_agree(a: &Features, b: &Features) -> bool {
    let same_role = a.directions.iter().all(|(role, (before_a, after_a))| match b.directions.get(role) {
        Some((before_b, after_b)) => before_a.is_disjoint(after_b) && after_a.is_disjoint(before_b),
        None => true,
    });
    fn only<'f>(f: &'f Features, role: &str) -> Option<&'f (BTreeSet<String>, BTreeSet<String>)> {
        let other = if role == "to" { "from" } else { "to" };
        f.directions.get(role).filter(|_| !f.directions.contains_key(other))
    }
    let inverse = match (only(a, "to"), only(b, "from")) {
        (Some((before_a, after_a)), Some((before_b, after_b))) => {
            after_a.is_disjoint(after_b) && before_a.is_disjoint(before_b)
        }
        _ => true,
    };
    same_role && inverse
}

/// A clause made of exactly the same words as a clause of the other prompt says the same
/// only in the same order: `the food was great but the service was slow` vs `the food was
/// slow but the service was great`, `sort by name then by date` vs `… by date then by name`.
fn clauses_agree(a: &Features, b: &Features) -> bool {
    let sorted = |c: &Vec<String>| {
        let mut s = c.clone();
        s.sort();
        s
    };
    let b_sorted: Vec<Vec<String>> = b.clauses.iter().map(sorted).collect();
    a.clauses.iter().filter(|c| c.len() >= 2).all(|ca| {
        let key = sorted(ca);
        b.clauses.iter().zip(&b_sorted).all(|(cb, kb)| *kb != key || cb == ca)
    })
}

#[cfg(test)]
mod tests;
