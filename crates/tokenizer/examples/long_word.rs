//! Peak memory and time of tokenizing one long word without spaces (issue 19.5):
//!
//! ```text
//! cargo run --release -p hearth-tokenizer --example long_word -- VOCAB.gguf KIND MB
//! ```
//!
//! KIND is the text: `letters` (random a–z), `a`/`c` (a run of one letter), `spaces`, `ab`,
//! `the` (runs of a pattern), `hex`, `base64`, `cjk`, `punct` or `words` (words run together).
//! Prints the tokens, the time, and how far the resident memory peaked above what it was
//! before `encode` (Linux: `/proc/self/status`, peak reset through `/proc/self/clear_refs`).
use std::time::Instant;

fn status_kb(key: &str) -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = s.lines().find(|l| l.starts_with(key)).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let file = hearth_gguf::GgufFile::open(&args[1]).unwrap();
    let tok = hearth_tokenizer::Tokenizer::from_gguf(file.metadata()).unwrap();
    let mb: f64 = args[3].parse().unwrap();
    let n = (mb * 1e6) as usize;
    let mut x: u64 = 0x9E3779B97F4A7C15;
    let mut rnd = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let text: String = match args[2].as_str() {
        "a" => "a".repeat(n),
        "c" => "c".repeat(n),
        "letters" => (0..n).map(|_| (b'a' + (rnd() % 26) as u8) as char).collect(),
        "base64" => {
            let abc = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
            (0..n).map(|_| abc[(rnd() % 64) as usize] as char).collect()
        }
        "cjk" => (0..n / 3).map(|_| char::from_u32(0x4E00 + (rnd() % 2000) as u32).unwrap()).collect(),
        "hex" => (0..n).map(|_| (b'a' + (rnd() % 6) as u8) as char).collect(),
        "the" => "the".repeat(n / 3),
        "ab" => "ab".repeat(n / 2),
        "spaces" => " ".repeat(n),
        "punct" => (0..n).map(|_| b"!-=.()[]{}<>*&^%$#@"[(rnd() % 19) as usize] as char).collect(),
        "words" => {
            let w = ["the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog", "ing", "tion", "er"];
            let mut s = String::new();
            while s.len() < n {
                s.push_str(w[(rnd() % 11) as usize]);
            }
            s
        }
        k => panic!("kind {k}"),
    };
    let before = status_kb("VmRSS:");
    std::fs::write("/proc/self/clear_refs", "5").unwrap();
    let t = Instant::now();
    let ids = tok.encode(&text, hearth_tokenizer::Specials::NONE);
    let dt = t.elapsed();
    let after = status_kb("VmHWM:");
    println!(
        "{} {} {:.1} MB: {} tokens in {:.2}s, RSS {} MB, peak during encode {} MB (+{:.1} MB, {:.1}x input)",
        args[1].rsplit('/').next().unwrap(),
        args[2],
        text.len() as f64 / 1e6,
        ids.len(),
        dt.as_secs_f64(),
        before / 1024,
        after / 1024,
        (after - before) as f64 / 1024.0,
        (after - before) as f64 * 1024.0 / text.len() as f64
    );
}
