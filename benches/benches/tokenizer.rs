//! Tokenizer benchmarks: `encode` of ~1 MB of mixed text (English prose, code, CJK, emoji,
//! numbers, whitespace runs; made-up words and identifiers keep it from repeating) with the byte-level BPE vocabularies of Qwen2 and Llama 3, the
//! SentencePiece vocab of Llama 2, and the fixture models' own vocabularies when present.
//! Throughput is in **bytes of input text** per second.
//!
//! - `encode/<vocab>`: `encode(text, add_special = false, parse_special = false)`.
//! - `encode_special/<vocab>`: the same text with chat markers, `parse_special = true`.
//! - `decode/<vocab>`: the ids back to text; throughput still counts input bytes.
//! - `load/<vocab>`: `Tokenizer::from_gguf` on already-parsed metadata (one iteration each).
//!
//! `cargo bench -p hearth-benches --bench tokenizer -- encode/qwen2` runs a subset. Vocabs
//! come from the fixture cache (`cargo xtask fixtures`); missing ones are skipped.

use std::hint::black_box;
use std::path::PathBuf;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hearth_gguf::GgufFile;
use hearth_tokenizer::{Specials, Tokenizer};

/// Common English words (prose draws most words from here, the rest are made up).
const WORDS: &[&str] = &[
    "the",
    "of",
    "and",
    "to",
    "in",
    "a",
    "is",
    "that",
    "for",
    "it",
    "as",
    "was",
    "with",
    "be",
    "by",
    "on",
    "not",
    "he",
    "I",
    "this",
    "are",
    "or",
    "his",
    "from",
    "at",
    "which",
    "but",
    "have",
    "an",
    "had",
    "they",
    "you",
    "were",
    "their",
    "one",
    "all",
    "we",
    "can",
    "her",
    "has",
    "there",
    "been",
    "if",
    "more",
    "when",
    "will",
    "would",
    "who",
    "so",
    "no",
    "model",
    "token",
    "inference",
    "latency",
    "memory",
    "small",
    "product",
    "price",
    "users",
    "server",
    "request",
    "don't",
    "it's",
    "we'll",
    "they're",
    "I've",
    "she'd",
    "naïve",
    "café",
    "déjà",
    "Zürich",
    "façade",
    "résumé",
];
const SYLLABLES: &[&str] = &[
    "ka", "lo", "mi", "ther", "con", "struct", "ing", "ed", "pre", "ver", "sa", "tion", "ab", "ex", "qu",
    "ly", "ment", "ra", "po", "zen", "gra", "phi", "na", "tor", "ble", "ro", "sh", "ck", "ou", "ei", "str",
    "ph", "um", "ix", "oo",
];
const EMOJI: &[&str] = &[
    "🤖",
    "🚀",
    "👩\u{200d}💻",
    "👍🏽",
    "✅",
    "🇫🇷",
    "🇯🇵",
    "😶\u{200d}🌫️",
    "❤️",
    "🔥",
    "🦙",
    "🎉",
    "😀",
    "🙏",
    "💡",
];
const MARKERS: &[&str] = &["<|im_start|>user\n", "<|im_end|>\n", "<|im_start|>assistant\n", "<s>", "</s>"];

/// A fixed pseudo-random sequence (64-bit LCG), so every run tokenizes the same text.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (self.0 >> 33) as usize % n
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
    fn word(&mut self) -> String {
        if self.below(10) < 7 {
            return self.pick(WORDS).to_owned();
        }
        (0..1 + self.below(4)).map(|_| self.pick(SYLLABLES)).collect()
    }
}

/// ~`size` bytes of mixed text: prose (common and made-up words), code with made-up
/// identifiers, CJK, emoji, numbers and whitespace runs; chat markers too when `markers`.
fn mixed_text(size: usize, markers: bool) -> String {
    let mut r = Lcg(0x2545_f491_4f6c_dd1d);
    let mut s = String::with_capacity(size + 1024);
    while s.len() < size {
        if markers && r.below(12) == 0 {
            s.push_str(r.pick(MARKERS));
        }
        match r.below(100) {
            0..=44 => {
                let n = 4 + r.below(16);
                for i in 0..n {
                    let w = r.word();
                    if i == 0 {
                        let mut c = w.chars();
                        s.extend(c.next().map(|f| f.to_ascii_uppercase()));
                        s.push_str(c.as_str());
                    } else {
                        s.push(' ');
                        s.push_str(&w);
                    }
                    if i + 1 < n && r.below(8) == 0 {
                        s.push(',');
                    }
                }
                s.push_str(r.pick(&[". ", "! ", "? ", ".\n\n", "; ", ": "]));
            }
            45..=69 => {
                let (f, v) = (r.word(), r.word());
                let n = r.below(100_000);
                let line = match r.below(4) {
                    0 => format!("fn {f}_{v}(x: u32) -> u32 {{\n    x * {n} + 1\n}}\n"),
                    1 => format!("def {f}({v}):\n    return {v} ** 2 + {n}\n\n"),
                    2 => format!("{{\"{f}\": \"{v}\", \"n\": {n}, \"ok\": true}}\n"),
                    _ => format!("for (int {v} = 0; {v} < {n}; ++{v}) {{\n\t\t{f}[{v}] += 1;\n\t}}\r\n"),
                };
                s.push_str(&line);
            }
            70..=81 => {
                for _ in 0..5 + r.below(25) {
                    let cp = match r.below(3) {
                        0 => 0x3041 + r.below(0x56) as u32, // hiragana
                        1 => 0xAC00 + r.below(2000) as u32, // hangul
                        _ => 0x4E00 + r.below(3000) as u32, // common CJK ideographs
                    };
                    s.extend(char::from_u32(cp));
                }
                s.push_str(r.pick(&["。", "，", "\n", " "]));
            }
            82..=87 => {
                for _ in 0..1 + r.below(4) {
                    s.push_str(r.pick(EMOJI));
                }
                s.push(' ');
            }
            88..=95 => {
                let n = r.below(1_000_000_000);
                let num = match r.below(4) {
                    0 => format!("{n} "),
                    1 => format!("{}.{:04} ", n % 1000, n % 10000),
                    2 => format!("-{} ", n % 100),
                    _ => format!("2024-{:02}-{:02}T{:02}:{:02}Z ", 1 + n % 12, 1 + n % 28, n % 24, n % 60),
                };
                s.push_str(&num);
            }
            _ => s.push_str(r.pick(&["   ", "\n\n\n", "\t\t", "  \n  ", "    "])),
        }
    }
    s
}

/// The benchmarked vocabularies: label and path, the ones present in the cache.
fn vocabs() -> Vec<(&'static str, PathBuf)> {
    let candidates = [
        ("qwen2", hearth_testkit::vocab("ggml-vocab-qwen2.gguf")),
        ("llama-bpe", hearth_testkit::vocab("ggml-vocab-llama-bpe.gguf")),
        ("llama-spm", hearth_testkit::vocab("ggml-vocab-llama-spm.gguf")),
        ("smollm2", hearth_testkit::model(hearth_testkit::SMOLLM2_135M)),
        ("gemma3", hearth_testkit::model(hearth_testkit::GEMMA3_270M)),
        ("bert-bge", hearth_testkit::vocab("ggml-vocab-bert-bge.gguf")),
    ];
    candidates.into_iter().filter_map(|(n, p)| p.map(|p| (n, p))).collect()
}

fn open(path: &PathBuf) -> (GgufFile, Tokenizer) {
    let file = GgufFile::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let tok = Tokenizer::from_gguf(file.metadata()).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    (file, tok)
}

fn encode(c: &mut Criterion) {
    let text = mixed_text(1 << 20, false);
    let chat = mixed_text(1 << 20, true);
    for (name, path) in vocabs() {
        let (_file, tok) = open(&path);
        let ids = tok.encode(&text, Specials::NONE);
        eprintln!(
            "{name}: {} bytes -> {} tokens ({:.2} bytes/token)",
            text.len(),
            ids.len(),
            text.len() as f64 / ids.len() as f64
        );

        let mut g = c.benchmark_group("encode");
        g.sample_size(10).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(5));
        g.throughput(Throughput::Bytes(text.len() as u64));
        g.bench_function(name, |b| b.iter(|| black_box(tok.encode(black_box(&text), Specials::NONE))));
        g.finish();

        let mut g = c.benchmark_group("encode_special");
        g.sample_size(10).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(5));
        g.throughput(Throughput::Bytes(chat.len() as u64));
        g.bench_function(name, |b| {
            b.iter(|| black_box(tok.encode(black_box(&chat), Specials::PARSE_CONTROL)))
        });
        g.finish();

        let mut g = c.benchmark_group("decode");
        g.sample_size(10).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
        g.throughput(Throughput::Bytes(text.len() as u64));
        g.bench_function(name, |b| b.iter(|| black_box(tok.decode(black_box(&ids), false))));
        g.finish();
    }
}

fn load(c: &mut Criterion) {
    for (name, path) in vocabs() {
        let file = GgufFile::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let mut g = c.benchmark_group("load");
        g.sample_size(10).warm_up_time(Duration::from_millis(200)).measurement_time(Duration::from_secs(3));
        g.bench_function(name, |b| {
            b.iter(|| black_box(Tokenizer::from_gguf(file.metadata()).map(|t| t.n_vocab())))
        });
        g.finish();
    }
}

criterion_group!(benches, encode, load);
criterion_main!(benches);
