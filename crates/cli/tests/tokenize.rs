//! `hearth tokenize` on the SmolLM2 fixture: one text, and many with `--jsonl` (the same ids
//! per line, in order; a line that is not a JSON string named with its line number).

use std::io::Write;
use std::process::{Command, Stdio};

use hearth_testkit as tk;

fn hearth(args: &[&str], stdin: &str) -> std::process::Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_hearth"))
        .arg("tokenize")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn jsonl_gives_each_line_the_ids_of_a_single_text() {
    let Some(path) = tk::model(tk::SMOLLM2_135M) else { return };
    let model = path.to_string_lossy();
    let texts = ["Hello world", "", "<|im_start|>user\nhi<|im_end|>", "naïve café 🤖"];
    for flags in [&[][..], &["--special", "--add-special"][..]] {
        let mut input = String::new();
        for t in texts {
            input.push_str(&serde_json::to_string(t).unwrap());
            input.push_str("\n\n"); // blank lines are skipped
        }
        let args: Vec<&str> = [&["--model", &*model, "--jsonl", "-"][..], flags].concat();
        let many = hearth(&args, &input);
        assert!(many.status.success(), "{}", String::from_utf8_lossy(&many.stderr));
        let lines: Vec<String> = String::from_utf8(many.stdout).unwrap().lines().map(String::from).collect();
        assert_eq!(lines.len(), texts.len(), "{lines:?}");
        for (t, line) in texts.iter().zip(&lines) {
            let args: Vec<&str> = [&["--model", &*model, "--json"][..], flags, &["--", t]].concat();
            let one = hearth(&args, "");
            assert!(one.status.success(), "{}", String::from_utf8_lossy(&one.stderr));
            assert_eq!(String::from_utf8(one.stdout).unwrap().trim(), line, "{t:?} {flags:?}");
        }
    }
    assert_eq!(tk_first(&model, "\"Hello world\""), "[19556,905]", "llama.cpp's ids");
}

fn tk_first(model: &str, input: &str) -> String {
    let out = hearth(&["--model", model, "--jsonl", "-"], input);
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

#[test]
fn a_jsonl_line_that_is_not_a_string_is_named() {
    let Some(path) = tk::model(tk::SMOLLM2_135M) else { return };
    let out = hearth(&["--model", &path.to_string_lossy(), "--jsonl", "-"], "\"ok\"\n{\"text\": 1}\n");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("-:2: each line must be one JSON string"), "{stderr}");
}
