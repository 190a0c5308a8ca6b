//! llama.cpp's tokenizer test suites (`tests/test-tokenizer-0.cpp`): `ggml-vocab-NAME.gguf`
//! with `.inp` (inputs separated by `\n__ggml_vocab_test__\n`) and `.out` (expected ids, one
//! line per input), tokenized with `add_special = false, parse_special = false`.

use std::collections::BTreeMap;

use hearth_tokenizer::Specials;

use crate::common::suite_vocab;

/// Suites that must pass completely.
const REQUIRED: &[&str] = &["llama-bpe", "llama-spm", "qwen2", "gpt-2", "bert-bge"];

/// The other suites with inputs in the fixture cache; hearth passes these completely too, so
/// they are kept as regression tests.
const ALSO_PASSING: &[&str] = &[
    "command-r",
    "deepseek-coder",
    "deepseek-llm",
    "falcon",
    "gemma-4",
    "mpt",
    "phi-3",
    "qwen35",
    "refact",
    "starcoder",
];

/// Reads a suite the way test-tokenizer-0.cpp does (a map: a repeated input keeps its last
/// expected line).
fn read_suite(name: &str) -> Option<BTreeMap<String, Vec<u32>>> {
    let inp = hearth_testkit::vocab(&format!("ggml-vocab-{name}.gguf.inp"))?;
    let out = hearth_testkit::vocab(&format!("ggml-vocab-{name}.gguf.out"))?;
    let raw = std::fs::read_to_string(&inp).unwrap();
    let lines: Vec<String> = std::fs::read_to_string(&out).unwrap().lines().map(str::to_owned).collect();
    let sep = "\n__ggml_vocab_test__\n";
    let mut inputs = Vec::new();
    let mut pos = 0;
    while pos < raw.len() {
        match raw[pos..].find(sep) {
            Some(i) => {
                inputs.push(raw[pos..pos + i].to_owned());
                pos += i + sep.len();
            }
            None => {
                inputs.push(raw[pos..].to_owned());
                break;
            }
        }
    }
    assert_eq!(inputs.len(), lines.len(), "{name}: inputs and outputs differ in count");
    let mut tests = BTreeMap::new();
    for (input, line) in inputs.into_iter().zip(lines) {
        let ids = line.split_whitespace().map(|t| t.parse().unwrap()).collect();
        tests.insert(input, ids);
    }
    Some(tests)
}

/// Runs one suite; returns `(passed, total)` and prints every failure.
fn run(name: &str) -> Option<(usize, usize)> {
    let tok = suite_vocab(name)?;
    let tests = read_suite(name)?;
    let mut passed = 0;
    for (input, expected) in &tests {
        let got = tok.encode(input, Specials::NONE);
        if &got == expected {
            passed += 1;
        } else {
            eprintln!("{name}: {input:?}\n  expected {expected:?}\n  got      {got:?}");
        }
    }
    println!("suite {name}: {passed}/{} passed", tests.len());
    Some((passed, tests.len()))
}

#[test]
fn required_suites_pass_completely() {
    let mut failed = Vec::new();
    for name in REQUIRED {
        if let Some((passed, total)) = run(name)
            && passed != total
        {
            failed.push(format!("{name}: {passed}/{total}"));
        }
    }
    assert!(failed.is_empty(), "suites with mismatches: {failed:?}");
}

#[test]
fn further_suites_pass_completely() {
    let mut failed = Vec::new();
    for name in ALSO_PASSING {
        if let Some((passed, total)) = run(name)
            && passed != total
        {
            failed.push(format!("{name}: {passed}/{total}"));
        }
    }
    assert!(failed.is_empty(), "suites with mismatches: {failed:?}");
}
