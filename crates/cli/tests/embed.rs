//! `hearth embed` on the MiniLM fixture: the summary lines, the OpenAI-shaped `--json`
//! (the same vectors the library gives), and a too-long text failing with the limit.

use std::process::Command;

use hearth_testkit as tk;

fn hearth(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_hearth")).arg("embed").args(args).output().unwrap()
}

#[test]
fn embed_prints_vectors_and_openai_json() {
    let Some(path) = tk::model(tk::MINILM_L6) else { return };
    let model = path.to_string_lossy();

    let out = hearth(&["--model", &model, "--threads", "2", "turn on dark mode", "x"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    assert!(lines[0].starts_with("#0  dim 384  tokens 6  ["), "{stdout}");
    assert!(lines[1].starts_with("#1  dim 384  tokens 3  ["), "{stdout}");

    let out = hearth(&["--model", &model, "--json", "turn on dark mode", "x"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["object"], "list");
    assert_eq!(v["usage"]["prompt_tokens"], 9);
    let data = v["data"].as_array().unwrap();
    assert_eq!(data.len(), 2);
    let want = hearth_models::Embedder::open(&path).unwrap().embed(&["turn on dark mode", "x"]).unwrap();
    for (i, d) in data.iter().enumerate() {
        assert_eq!(d["index"], i);
        let got: Vec<f32> =
            d["embedding"].as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect();
        assert_eq!(got, want[i], "text {i}");
    }
}

#[test]
fn embed_refuses_a_text_past_the_context() {
    let Some(path) = tk::model(tk::MINILM_L6) else { return };
    let long = "word ".repeat(600);
    let out = hearth(&["--model", &path.to_string_lossy(), "ok", &long]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("602 tokens") && stderr.contains("at most 512"), "{stderr}");
}
