//! Tokenizer benchmarks: `encode` of ~1 MB of mixed text (English prose, code, CJK, emoji,
//! numbers, whitespace runs) with the byte-level BPE vocabularies of Qwen2 and Llama 3, the
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
use hearth_tokenizer::Tokenizer;

/// Snippets the benchmark text is drawn from, one kind per line of the table.
const PROSE: &[&str] = &[
    "The quick brown fox jumps over the lazy dog. ",
    "Local inference changes the economics of small products: latency drops, privacy improves, and the bill stops growing with usage. ",
    "She said, \"I'm not sure we'll make it,\" and they'd already left when the train's doors closed. ",
    "In 1969, Apollo 11 landed on the Moon; Neil Armstrong's first words were broadcast to roughly 600 million people.\n\n",
    "Naïve café owners in Zürich déjà vu: façade, coöperate, señor, Ærø. ",
];
const CODE: &[&str] = &[
    "fn main() {\n    let v: Vec<u32> = (0..10).map(|x| x * 2).collect();\n    println!(\"{:?}\", v);\n}\n",
    "def fibonacci(n):\n    if n < 2:\n        return n\n    return fibonacci(n - 1) + fibonacci(n - 2)\n\n",
    "{\"name\": \"Ada\", \"tags\": [\"x\", \"y\"], \"score\": 0.875, \"active\": true}\n",
    "for (int i = 0; i < n; ++i) {\n\t\tsum += a[i] * b[i];\n\t}\r\n",
    "    <div class=\"row\"><span>&nbsp;42</span></div>\n",
];
const CJK: &[&str] = &[
    "日本語のテキストと中文の混在した文章です。",
    "机器学习模型在小型设备上运行，速度和隐私都很重要。",
    "한국어 문장도 포함되어 있습니다. ",
    "東京は日本の首都であり、人口は約千四百万人です。\n",
];
const EMOJI: &[&str] = &["🤖🚀 ", "👩\u{200d}💻 writes code ", "👍🏽✅ done ", "🇫🇷🇯🇵 flags ", "😶\u{200d}🌫️ "];
const NUMBERS: &[&str] = &["1234567890 ", "3.14159265358979 ", "-42 ", "1,000,000.00 ", "2024-06-01T12:34:56Z ", "0x7fffffff "];
const SPACE: &[&str] = &["   ", "\n\n\n", "\t\t", "  \n  ", " "];
const MARKERS: &[&str] = &["<|im_start|>user\n", "<|im_end|>\n", "<|im_start|>assistant\n", "<s>", "</s>"];

/// ~`size` bytes of mixed text, the same every run (a fixed LCG picks the snippets).
fn mixed_text(size: usize, markers: bool) -> String {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move |n: usize| {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (state >> 33) as usize % n
    };
    let kinds: [(&[&str], usize); 6] = [(PROSE, 40), (CODE, 25), (CJK, 12), (EMOJI, 6), (NUMBERS, 10), (SPACE, 7)];
    let total: usize = kinds.iter().map(|k| k.1).sum();
    let mut s = String::with_capacity(size + 256);
    while s.len() < size {
        if markers && next(10) == 0 {
            s.push_str(MARKERS[next(MARKERS.len())]);
        }
        let mut r = next(total);
        for (pool, w) in kinds {
            if r < w {
                s.push_str(pool[next(pool.len())]);
                break;
            }
            r -= w;
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
        let ids = tok.encode(&text, false, false);
        eprintln!("{name}: {} bytes -> {} tokens ({:.2} bytes/token)", text.len(), ids.len(), text.len() as f64 / ids.len() as f64);

        let mut g = c.benchmark_group("encode");
        g.sample_size(10).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(5));
        g.throughput(Throughput::Bytes(text.len() as u64));
        g.bench_function(name, |b| b.iter(|| black_box(tok.encode(black_box(&text), false, false))));
        g.finish();

        let mut g = c.benchmark_group("encode_special");
        g.sample_size(10).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(5));
        g.throughput(Throughput::Bytes(chat.len() as u64));
        g.bench_function(name, |b| b.iter(|| black_box(tok.encode(black_box(&chat), false, true))));
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
        g.bench_function(name, |b| b.iter(|| black_box(Tokenizer::from_gguf(file.metadata()).map(|t| t.n_vocab()))));
        g.finish();
    }
}

criterion_group!(benches, encode, load);
criterion_main!(benches);
