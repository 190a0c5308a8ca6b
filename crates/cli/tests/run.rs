//! `hearth run --json` on the SmolLM2 fixture: the cold-start phases it reports (load,
//! template, prefill, first token, first decode step) are present and add up.

use std::process::Command;

use hearth_testkit as tk;

#[test]
fn json_reports_the_cold_start_phases() {
    let Some(path) = tk::model(tk::SMOLLM2_135M) else { return };
    let out = Command::new(env!("CARGO_BIN_EXE_hearth"))
        .args(["run", "--model", &path.to_string_lossy(), "--chat", "Say hi", "-n", "3"])
        .args(["--temperature", "0", "--ignore-eos", "--json", "-t", "2"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    let f = |k: &str| v[k].as_f64().unwrap_or_else(|| panic!("{k} missing: {v}"));
    let (load, template, prefill, first) =
        (f("load_ms"), f("template_ms"), f("prefill_ms"), f("first_token_ms"));
    assert!(load > 0.0 && template >= 0.0 && prefill > 0.0, "{v}");
    // the phases run one after another inside the first token's time
    assert!(load + template + prefill <= first + 0.5, "{v}");
    assert_eq!(v["completion_tokens"], 3, "{v}");
    let first_decode = f("first_decode_ms");
    assert!(first_decode > 0.0 && first_decode <= f("decode_ms") + 0.5, "{v}");
    // the prompt was rendered with the template: SmolLM2's chat starts with <|im_start|> (1)
    assert_eq!(v["prompt_ids"][0], 1, "{v}");
}
