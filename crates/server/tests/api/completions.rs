//! `/v1/completions`: raw prompts, stop strings, token-id prompts, echo, legacy logprobs.

use hearth_engine::Prompt;
use serde_json::{Value, json};

use crate::support::{app, config, greedy_reference, post};

const P: &str = "The days of the week are Monday, Tuesday,";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_completion_matches_greedy_decoding() {
    let Some((app, state)) = app(config(2, 8)) else { return };
    let e = state.ready().unwrap().engine.clone();
    let (want, n) = greedy_reference(&e, Prompt::Text { text: P.into(), parse_special: true }, 10, &[]);
    let v =
        post(&app, "/v1/completions", json!({"model": "x", "prompt": P, "max_tokens": 10, "temperature": 0}))
            .await
            .json();
    assert_eq!(v["object"], "text_completion");
    assert!(v["id"].as_str().unwrap().starts_with("cmpl-"));
    assert_eq!(v["choices"][0]["text"], want.as_str());
    assert_eq!(v["choices"][0]["index"], 0);
    assert_eq!(v["choices"][0]["finish_reason"], if n == 10 { "length" } else { "stop" });
    assert_eq!(v["usage"]["completion_tokens"], n);

    // An array of one string and the prompt's token ids are the same request.
    let arr = post(&app, "/v1/completions", json!({"prompt": [P], "max_tokens": 10, "temperature": 0}))
        .await
        .json();
    assert_eq!(arr["choices"][0]["text"], want.as_str());
    let ids = e.tokenize_prompt(&Prompt::Text { text: P.into(), parse_special: true }).unwrap();
    let tok = post(&app, "/v1/completions", json!({"prompt": ids, "max_tokens": 10, "temperature": 0}))
        .await
        .json();
    assert_eq!(tok["choices"][0]["text"], want.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_string_ends_the_text_before_it_with_finish_reason_stop() {
    let Some((app, state)) = app(config(2, 8)) else { return };
    let e = state.ready().unwrap().engine.clone();
    let (free, _) = greedy_reference(&e, Prompt::Text { text: P.into(), parse_special: true }, 16, &[]);
    // Stop at the first comma of the continuation, whatever the model writes.
    let first_comma = free.find(',').expect("the continuation lists days");
    let v = post(
        &app,
        "/v1/completions",
        json!({"prompt": P, "max_tokens": 16, "temperature": 0, "stop": [",", "zzz"]}),
    )
    .await
    .json();
    assert_eq!(v["choices"][0]["text"], &free[..first_comma]);
    assert_eq!(v["choices"][0]["finish_reason"], "stop");

    let s = post(
        &app,
        "/v1/completions",
        json!({"prompt": P, "max_tokens": 16, "temperature": 0, "stop": ",", "stream": true}),
    )
    .await;
    let events = s.events();
    let chunks: Vec<Value> =
        events[..events.len() - 1].iter().map(|d| serde_json::from_str(d).unwrap()).collect();
    let text: String = chunks.iter().filter_map(|c| c["choices"][0]["text"].as_str()).collect();
    assert_eq!(text, &free[..first_comma]);
    assert_eq!(chunks.last().unwrap()["choices"][0]["finish_reason"], "stop");
    assert!(chunks.iter().all(|c| c["object"] == "text_completion"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echo_and_legacy_logprobs() {
    let Some((app, _)) = app(config(2, 8)) else { return };
    let v = post(
        &app,
        "/v1/completions",
        json!({"prompt": P, "max_tokens": 5, "temperature": 0, "echo": true, "logprobs": 2}),
    )
    .await
    .json();
    let text = v["choices"][0]["text"].as_str().unwrap();
    assert!(text.starts_with(P) && text.len() > P.len(), "{text:?}");
    let lp = &v["choices"][0]["logprobs"];
    let n = lp["tokens"].as_array().unwrap().len();
    assert_eq!(n as u64, v["usage"]["completion_tokens"].as_u64().unwrap());
    assert_eq!(lp["token_logprobs"].as_array().unwrap().len(), n);
    assert_eq!(lp["text_offset"][0], P.len());
    let tokens: String = lp["tokens"].as_array().unwrap().iter().map(|t| t.as_str().unwrap()).collect();
    assert_eq!(format!("{P}{tokens}"), text);
    for (i, top) in lp["top_logprobs"].as_array().unwrap().iter().enumerate() {
        let m = top.as_object().unwrap();
        assert_eq!(m.len(), 2);
        assert!(m.contains_key(lp["tokens"][i].as_str().unwrap()), "greedy picks the top token");
    }
}
