//! Issue 19.5: one long word (a 4 MB prompt without spaces) must not cost tens of bytes of
//! memory per byte of text. Measured end to end as the peak resident memory of a child
//! process (this test binary, running only [`measure_long_word`]), so allocator behaviour and
//! every buffer of `encode` count, and no other test shares the process.

#![cfg(target_os = "linux")]

use std::process::Command;

use hearth_tokenizer::Specials;

/// Bytes of text per measurement.
const LEN: usize = 2 << 20;
/// Most growth of peak memory allowed per byte of text. The pre-tokenizer's code point and
/// class arrays (6 bytes per character) and the output ids (4 bytes per token) are linear;
/// merging the word whole as llama.cpp does cost 35–50 bytes per byte.
const MAX_GROWTH_PER_BYTE: f64 = 12.0;

/// A figure of `/proc/self/status` in bytes: `VmRSS` (resident memory now) or `VmHWM` (its
/// peak since the process started or the peak was reset).
fn status(key: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.trim().strip_suffix("kB"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("{key} in /proc/self/status"));
    kb * 1024
}

/// A word of `LEN` bytes: random letters, or a run of one pattern.
fn word(kind: &str) -> String {
    let mut text = String::with_capacity(LEN);
    let mut x: u64 = 0x9E3779B97F4A7C15;
    while text.len() < LEN {
        match kind {
            "letters" => {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                text.push((b'a' + (x % 26) as u8) as char);
            }
            run => text.push_str(run),
        }
    }
    text
}

/// Run in a child process by [`long_single_word_memory_is_bounded`]: tokenizes one word and
/// prints how much the peak resident memory grew.
#[test]
#[ignore = "run in its own process by long_single_word_memory_is_bounded"]
fn measure_long_word() {
    let vocab = std::env::var("HEARTH_LONG_WORD_VOCAB").expect("HEARTH_LONG_WORD_VOCAB");
    let kind = std::env::var("HEARTH_LONG_WORD_KIND").expect("HEARTH_LONG_WORD_KIND");
    let tok = crate::common::load(vocab.as_ref());
    let text = word(&kind);
    let before = status("VmRSS:");
    // resets VmHWM to the current resident memory (Linux 4.0+), so loading the vocabulary
    // does not hide the peak of `encode`
    std::fs::write("/proc/self/clear_refs", "5").expect("reset the peak with /proc/self/clear_refs");
    let ids = tok.encode(&text, Specials::NONE);
    let growth = status("VmHWM:").saturating_sub(before);
    assert!(!ids.is_empty());
    println!("GROWTH {growth} TOKENS {}", ids.len());
}

/// Issue 19.5: tokenizing one long word (no spaces) raises peak memory by a few bytes per
/// byte of text, for BPE and SentencePiece vocabularies, random letters and runs.
#[test]
fn long_single_word_memory_is_bounded() {
    let cases = [
        ("llama-bpe", "letters"),
        ("qwen2", " "),
        ("qwen2", "ab"),
        ("llama-spm", "letters"),
        ("llama-spm", "a"),
    ];
    let exe = std::env::current_exe().expect("the test binary");
    for (name, kind) in cases {
        let Some(vocab) = hearth_testkit::vocab(&format!("ggml-vocab-{name}.gguf")) else { continue };
        let out = Command::new(&exe)
            .args(["--exact", "long_word::measure_long_word", "--ignored", "--nocapture", "--test-threads=1"])
            .env("HEARTH_LONG_WORD_VOCAB", &vocab)
            .env("HEARTH_LONG_WORD_KIND", kind)
            .output()
            .expect("run the measuring child");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{name} {kind:?}: child failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let growth: f64 = stdout
            .split_whitespace()
            .skip_while(|w| *w != "GROWTH")
            .nth(1)
            .and_then(|g| g.parse().ok())
            .unwrap_or_else(|| panic!("{name} {kind:?}: no GROWTH line in:\n{stdout}"));
        let per_byte = growth / LEN as f64;
        eprintln!(
            "{name} {kind:?}: peak memory +{:.1} MB for {} MB of text ({per_byte:.1} bytes per byte)",
            growth / 1e6,
            LEN as f64 / 1e6
        );
        assert!(
            per_byte <= MAX_GROWTH_PER_BYTE,
            "{name} {kind:?}: {per_byte:.1} bytes of memory per byte of text"
        );
    }
}
