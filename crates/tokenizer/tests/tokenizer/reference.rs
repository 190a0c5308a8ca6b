//! hearth against llama.cpp's own outputs (`tests/data/llama.cpp/*.ref`, see the README there):
//! special ids, EOG sets, ids under every `add_special`/`parse_special` setting, and decoding.

use std::path::{Path, PathBuf};

use hearth_tokenizer::{Specials, Tokenizer};

use crate::common::{model, suite_vocab};

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/llama.cpp")
}

fn hex_to_string(hex: &str) -> String {
    let bytes: Vec<u8> =
        (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap()).collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

fn opt(id: Option<u32>) -> String {
    id.map_or(-1, i64::from).to_string()
}

/// Compares one `.ref` file; returns the number of checks and the mismatches.
fn compare(tok: &Tokenizer, reference: &str, inputs: &[&str]) -> (usize, Vec<String>) {
    let mut bad = Vec::new();
    let mut checks = 0;
    let s = tok.special_tokens();
    let fim = [s.fim_pre, s.fim_suf, s.fim_mid, s.fim_pad, s.fim_rep, s.fim_sep].map(opt).join(" ");
    let eog = tok.eog_ids().iter().map(u32::to_string).collect::<Vec<_>>().join(" ");
    for line in reference.lines() {
        checks += 1;
        if let Some(rest) = line.strip_prefix("tok ") {
            let (head, ids) = rest.split_once(':').unwrap();
            let h: Vec<usize> = head.split(' ').map(|x| x.parse().unwrap()).collect();
            let expected: Vec<u32> = ids.split_whitespace().map(|x| x.parse().unwrap()).collect();
            let got = tok.encode(inputs[h[0]], Specials { add_bos_eos: h[1] == 1, parse_control: h[2] == 1 });
            if got != expected {
                bad.push(format!(
                    "encode #{} {:?} add_special={} parse_special={}: expected {expected:?}, got {got:?}",
                    h[0], inputs[h[0]], h[1], h[2]
                ));
            }
        } else if let Some(rest) = line.strip_prefix("det ") {
            let p: Vec<&str> = rest.splitn(4, ' ').collect();
            let i: usize = p[0].parse().unwrap();
            let ids = tok.encode(inputs[i], Specials { add_bos_eos: true, parse_control: p[1] == "1" });
            let expected = hex_to_string(p.get(3).copied().unwrap_or(""));
            let got = tok.decode(&ids, p[2] == "1");
            if got != expected {
                bad.push(format!("decode #{i} special={}: expected {expected:?}, got {got:?}", p[2]));
            }
        } else if let Some((key, value)) = line.split_once(' ') {
            let ours = match key {
                "n_vocab" => tok.n_vocab().to_string(),
                "bos" => opt(tok.bos()),
                "eos" => opt(tok.eos()),
                "eot" => opt(tok.eot()),
                "sep" => opt(s.sep),
                "pad" => opt(s.pad),
                "add_bos" => u8::from(tok.add_bos()).to_string(),
                "add_eos" => u8::from(tok.add_eos()).to_string(),
                "fim" => fim.clone(),
                "eog" => eog.clone(),
                _ => {
                    checks -= 1; // "nl": llama.cpp's newline id, not part of hearth's API
                    continue;
                }
            };
            if ours.trim() != value.trim() {
                bad.push(format!("{key}: llama.cpp {value:?}, hearth {ours:?}"));
            }
        } else if line == "eog" && !eog.is_empty() {
            bad.push(format!("eog: llama.cpp empty, hearth {eog:?}"));
        }
    }
    (checks, bad)
}

#[test]
fn matches_llama_cpp_reference_outputs() {
    let inputs_text = std::fs::read_to_string(data_dir().join("inputs.txt")).unwrap();
    let inputs: Vec<&str> = inputs_text.split("\n@@@@\n").collect();
    let mut files: Vec<PathBuf> = std::fs::read_dir(data_dir()).unwrap().map(|e| e.unwrap().path()).collect();
    // per-vocabulary files; `presets.ref` has its own test below
    files.retain(|p| {
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
        name.ends_with(".ref") && (name.starts_with("vocab-") || name.starts_with("model-"))
    });
    files.sort();
    assert!(files.len() >= 12, "reference files missing: {files:?}");
    let mut failed = Vec::new();
    for path in files {
        let stem = path.file_stem().unwrap().to_str().unwrap();
        let tok = match (stem.strip_prefix("vocab-"), stem.strip_prefix("model-")) {
            (Some(name), _) => suite_vocab(name),
            (_, Some(name)) => model(name),
            _ => panic!("unexpected reference file {}", path.display()),
        };
        let Some(tok) = tok else { continue };
        let (checks, bad) = compare(&tok, &std::fs::read_to_string(&path).unwrap(), &inputs);
        println!("{stem}: {checks} checks, {} mismatches", bad.len());
        assert!(checks >= inputs.len() * 6 + 9, "{stem}: only {checks} checks");
        for b in bad.iter().take(10) {
            eprintln!("{stem}: {b}");
        }
        if !bad.is_empty() {
            failed.push(stem.to_owned());
        }
    }
    assert!(failed.is_empty(), "differ from llama.cpp: {failed:?}");
}

/// The gpt-2 vocab cut to its first 8000 tokens plus `<|endoftext|>` (id 8000, BOS and EOS),
/// with the merges among those tokens, under `tokenizer.ggml.pre = pre` (the reduction
/// `presets.ref` was produced with; it keeps 88 vocab builds cheap).
fn small_gpt2(full: &hearth_gguf::Metadata, pre: &str) -> hearth_gguf::Metadata {
    use hearth_gguf::{Array, Value};
    const KEEP: usize = 8000;
    let tokens = full.str_array("tokenizer.ggml.tokens").unwrap();
    let types = full.opt_int_array("tokenizer.ggml.token_type").unwrap().unwrap();
    let kept: std::collections::HashSet<&str> = tokens[..KEEP].iter().map(String::as_str).collect();
    let merges: Vec<String> = full
        .str_array("tokenizer.ggml.merges")
        .unwrap()
        .iter()
        .filter(|m| {
            let (l, r) = m.split_once(' ').unwrap_or((m, ""));
            kept.contains(l) && kept.contains(r) && kept.contains(format!("{l}{r}").as_str())
        })
        .cloned()
        .collect();
    let mut small_tokens = tokens[..KEEP].to_vec();
    small_tokens.push("<|endoftext|>".to_owned());
    let mut small_types: Vec<i32> = types[..KEEP].iter().map(|&t| t as i32).collect();
    small_types.push(3);
    let s = |v: &str| Value::String(v.to_owned());
    hearth_gguf::Metadata::from_entries(vec![
        ("general.architecture".to_owned(), s("gpt2")),
        ("general.name".to_owned(), s("gpt-2")),
        ("tokenizer.ggml.model".to_owned(), s("gpt2")),
        ("tokenizer.ggml.pre".to_owned(), s(pre)),
        ("tokenizer.ggml.tokens".to_owned(), Value::Array(Array::String(small_tokens))),
        ("tokenizer.ggml.token_type".to_owned(), Value::Array(Array::I32(small_types))),
        ("tokenizer.ggml.merges".to_owned(), Value::Array(Array::String(merges))),
        ("tokenizer.ggml.bos_token_id".to_owned(), Value::U32(KEEP as u32)),
        ("tokenizer.ggml.eos_token_id".to_owned(), Value::U32(KEEP as u32)),
    ])
    .unwrap()
}

/// Every `tokenizer.ggml.pre` hearth knows, against llama.cpp (`presets.ref`: `pre NAME` then
/// its `add_*` flags and `encode(text, false, false)` ids; `pre NAME = OTHER` when llama.cpp's
/// output is the same as for OTHER).
#[test]
fn every_pre_tokenizer_matches_llama_cpp() {
    let Some(path) = hearth_testkit::vocab("ggml-vocab-gpt-2.gguf") else { return };
    let file = hearth_gguf::GgufFile::open(&path).unwrap();
    let inputs_text = std::fs::read_to_string(data_dir().join("inputs.txt")).unwrap();
    let inputs: Vec<&str> = inputs_text.split("\n@@@@\n").collect();
    let text = std::fs::read_to_string(data_dir().join("presets.ref")).unwrap();
    let mut blocks: Vec<(String, Vec<&str>)> = Vec::new();
    let mut aliases: Vec<(String, String)> = Vec::new();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        if let Some(rest) = line.strip_prefix("pre ") {
            match rest.split_once(" = ") {
                Some((name, same)) => aliases.push((name.to_owned(), same.to_owned())),
                None => blocks.push((rest.to_owned(), Vec::new())),
            }
        } else if let Some(last) = blocks.last_mut() {
            last.1.push(line);
        }
    }
    let body = |name: &str| blocks.iter().find(|(n, _)| n == name).map(|(_, b)| b.join("\n")).unwrap();
    let mut cases: Vec<(String, String)> = blocks.iter().map(|(n, _)| (n.clone(), body(n))).collect();
    cases.extend(aliases.iter().map(|(n, same)| (n.clone(), body(same))));
    assert!(cases.len() >= 88, "{} pre-tokenizers", cases.len());
    let mut failed = Vec::new();
    for (name, reference) in &cases {
        let tok = Tokenizer::from_gguf(&small_gpt2(file.metadata(), name))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let (checks, bad) = compare(&tok, reference, &inputs);
        assert!(checks >= inputs.len(), "{name}: only {checks} checks");
        for b in bad.iter().take(5) {
            eprintln!("pre {name}: {b}");
        }
        if !bad.is_empty() {
            failed.push(name.clone());
        }
    }
    println!("{} pre-tokenizers checked against llama.cpp, {} differ", cases.len(), failed.len());
    assert!(failed.is_empty(), "pre-tokenizers that differ from llama.cpp: {failed:?}");
}
