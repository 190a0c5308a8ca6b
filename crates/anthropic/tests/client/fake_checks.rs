//! The fake itself: what it refuses (raw HTTP, so the client's own care cannot hide a gap),
//! its control endpoints, and the `fake-anthropic` binary.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use hearth_anthropic::fake::{FakeAnthropic, FakeConfig};
use hearth_anthropic::{ANTHROPIC_VERSION, Error};
use serde_json::{Value, json};

use super::{KEY, hello, setup};

/// POSTs `body` to `/v1/messages` with the given headers; returns the status and JSON body.
async fn post(base_url: &str, headers: &[(&str, &str)], body: &str) -> (u16, Value) {
    let mut request = reqwest::Client::new().post(format!("{base_url}/v1/messages")).body(body.to_owned());
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, json_of(response).await)
}

async fn json_of(response: reqwest::Response) -> Value {
    serde_json::from_slice(&response.bytes().await.unwrap()).unwrap()
}

type Headers = &'static [(&'static str, &'static str)];

/// A refusal case: headers, body, expected status, a piece of the expected message.
type Case = (Headers, &'static str, u16, &'static str);

const GOOD_HEADERS: Headers =
    &[("x-api-key", KEY), ("anthropic-version", "2023-06-01"), ("content-type", "application/json")];

#[tokio::test]
async fn the_fake_refuses_what_the_api_refuses() {
    let fake = FakeAnthropic::start(KEY).await.unwrap();
    let url = fake.base_url();
    let ok = r#"{"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}"#;
    assert_eq!(post(&url, GOOD_HEADERS, ok).await.0, 200);

    let cases: &[Case] = &[
        (
            &[("anthropic-version", "2023-06-01"), ("content-type", "application/json")],
            ok,
            401,
            "x-api-key header is required",
        ),
        (
            &[
                ("x-api-key", "nope"),
                ("anthropic-version", "2023-06-01"),
                ("content-type", "application/json"),
            ],
            ok,
            401,
            "invalid x-api-key",
        ),
        (
            &[("x-api-key", KEY), ("content-type", "application/json")],
            ok,
            400,
            "anthropic-version: header is required",
        ),
        (
            &[("x-api-key", KEY), ("anthropic-version", "2023-06-01"), ("content-type", "text/plain")],
            ok,
            400,
            "content-type",
        ),
        (
            GOOD_HEADERS,
            r#"{"model": "m", "messages": [{"role": "user", "content": "hi"}]}"#,
            400,
            "max_tokens: Field required",
        ),
        (
            GOOD_HEADERS,
            r#"{"max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}"#,
            400,
            "model: Field required",
        ),
        (GOOD_HEADERS, r#"{"model": "m", "max_tokens": 5, "messages": []}"#, 400, "at least one message"),
        (
            GOOD_HEADERS,
            r#"{"model": "m", "max_tokens": 5, "messages": [{"role": "assistant", "content": "hi"}]}"#,
            400,
            "first message must use the \"user\" role",
        ),
        (
            GOOD_HEADERS,
            r#"{"model": "m", "max_tokens": 5, "messages": [{"role": "system", "content": "be nice"}, {"role": "user", "content": "hi"}]}"#,
            400,
            "top-level `system` parameter",
        ),
        (
            GOOD_HEADERS,
            r#"{"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]}"#,
            400,
            "roles must alternate",
        ),
        (
            GOOD_HEADERS,
            r#"{"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}], "stream_options": {}}"#,
            400,
            "stream_options: Extra inputs are not permitted",
        ),
        (
            GOOD_HEADERS,
            r#"{"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": [{"type": "text"}]}]}"#,
            400,
            "messages.0.content.0",
        ),
        (
            GOOD_HEADERS,
            r#"{"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": [{"type": "video", "url": "x"}]}]}"#,
            400,
            "Input tag 'video'",
        ),
        (
            GOOD_HEADERS,
            r#"{"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "ok "}]}"#,
            400,
            "trailing whitespace",
        ),
        (
            GOOD_HEADERS,
            r#"{"model": "m", "max_tokens": 5, "system": [{"type": "image"}], "messages": [{"role": "user", "content": "hi"}]}"#,
            400,
            "system.0.type",
        ),
        (
            GOOD_HEADERS,
            r#"{"model": "m", "max_tokens": 5, "temperature": 3, "messages": [{"role": "user", "content": "hi"}]}"#,
            400,
            "temperature",
        ),
        (GOOD_HEADERS, "not json", 400, "invalid JSON"),
        (
            GOOD_HEADERS,
            r#"{"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}], "tools": [{"name": "a.b", "input_schema": {"type": "object"}}]}"#,
            400,
            "tools.0.custom.name: String should match pattern",
        ),
        (
            GOOD_HEADERS,
            r#"{"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}], "tools": [{"name": "t", "input_schema": {"type": "object"}}, {"name": "t", "input_schema": {"type": "object"}}]}"#,
            400,
            "tools: Tool names must be unique.",
        ),
        (
            GOOD_HEADERS,
            r#"{"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}], "tools": [{"name": "t", "input_schema": {"type": "object"}}], "tool_choice": {"type": "required"}}"#,
            400,
            "tool_choice: Input tag 'required'",
        ),
        (
            GOOD_HEADERS,
            r#"{"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "t", "input": {}}]}, {"role": "user", "content": "what?"}]}"#,
            400,
            "messages.1: `tool_use` ids were found without `tool_result` blocks immediately after: t1",
        ),
        (
            GOOD_HEADERS,
            r#"{"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "4"}]}]}"#,
            400,
            "messages.0.content.0: unexpected `tool_use_id` found in `tool_result` blocks: t1",
        ),
    ];
    for (headers, body, status, needle) in cases {
        let (got, answer) = post(&url, headers, body).await;
        assert_eq!(got, *status, "{body}: {answer}");
        assert_eq!(answer["type"], "error");
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(message.contains(needle), "{needle:?} not in {message:?}");
        let kind = if *status == 401 { "authentication_error" } else { "invalid_request_error" };
        assert_eq!(answer["error"]["type"], kind);
        assert!(answer["request_id"].as_str().unwrap().starts_with("req_fake_"));
    }
}

#[tokio::test]
async fn lenient_roles_accept_consecutive_turns() {
    let mut config = FakeConfig::new(KEY);
    config.strict_roles = false;
    let fake = FakeAnthropic::start_with(config).await.unwrap();
    let body = r#"{"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]}"#;
    let (status, answer) = post(&fake.base_url(), GOOD_HEADERS, body).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["content"][0]["text"], "echo: b");
}

#[tokio::test]
async fn faults_can_be_queued_and_requests_read_over_http() {
    let (fake, client) = setup().await;
    let http = reqwest::Client::new();
    let queued = http
        .post(format!("{}/_fake/faults", fake.base_url()))
        .body(r#"[{"kind": "overloaded"}, {"kind": "error", "status": 400, "error_type": "invalid_request_error", "message": "scripted"}]"#)
        .send()
        .await
        .unwrap();
    let queued = json_of(queued).await;
    assert_eq!(queued, json!({"queued": 2}));
    let Err(Error::Api(err)) = client.messages(&hello("hi")).await else {
        panic!("the scripted 400 expected")
    };
    assert_eq!((err.status, err.message.as_str()), (400, "scripted"));

    let recorded =
        json_of(http.get(format!("{}/_fake/requests", fake.base_url())).send().await.unwrap()).await;
    let api: Vec<&Value> =
        recorded.as_array().unwrap().iter().filter(|r| r["path"] == "/v1/messages").collect();
    assert_eq!(api.len(), 2);
    assert_eq!(api[1]["headers"]["x-stainless-retry-count"], "1");
    assert_eq!(api[1]["headers"]["anthropic-version"], ANTHROPIC_VERSION);
    let body: Value = serde_json::from_str(api[0]["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["messages"][0]["content"], "hi");

    let bad = http
        .post(format!("{}/_fake/faults", fake.base_url()))
        .body(r#"{"kind": "meteor"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status().as_u16(), 400);
    http.delete(format!("{}/_fake/requests", fake.base_url())).send().await.unwrap();
    assert!(fake.requests().is_empty());
}

#[tokio::test]
async fn the_binary_prints_its_address_and_serves() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_fake-anthropic"))
        .args(["--api-key", KEY])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let addr = line.trim().strip_prefix("listening on ").unwrap_or_else(|| panic!("{line:?}")).to_owned();
    assert!(addr.starts_with("127.0.0.1:"), "{addr}");

    let fake_url = format!("http://{addr}");
    let client =
        hearth_anthropic::Client::new(hearth_anthropic::ClientConfig::new(KEY).with_base_url(&fake_url));
    let answer = client.unwrap().messages(&hello("from a process")).await;
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(answer.unwrap().body.text(), "echo: from a process");
}
