//! Plain calls: the headers and body sent, typed answers, typed refusals, count_tokens,
//! prompt caching through the fake.

use hearth_anthropic::cache::{mark_cacheable, min_cacheable_tokens};
use hearth_anthropic::types::{CountTokensRequest, MessageParam, StopReason, SystemPrompt};
use hearth_anthropic::{ANTHROPIC_VERSION, AuthScheme, Error};
use serde_json::json;

use super::{client_for, hello, setup};

#[tokio::test]
async fn a_call_sends_the_sdks_headers_and_gets_a_typed_message() {
    let (fake, client) = setup().await;
    let mut req = hello("ping?");
    req.stream = Some(true); // messages() is non-streaming whatever the request says
    let answer = client.messages(&req).await.unwrap();
    assert_eq!(answer.body.text(), "echo: ping?");
    assert_eq!(answer.body.stop_reason, Some(StopReason::EndTurn));
    assert_eq!(answer.attempts, 1);
    assert_eq!(answer.request_id.as_deref(), Some("req_fake_00000001"));

    let sent = &fake.requests()[0];
    assert_eq!((sent.method.as_str(), sent.path.as_str()), ("POST", "/v1/messages"));
    assert_eq!(sent.header("authorization"), Some("Bearer test-key"));
    assert_eq!(sent.header("x-api-key"), None);
    assert_eq!(sent.header("anthropic-version"), Some(ANTHROPIC_VERSION));
    assert_eq!(sent.header("content-type"), Some("application/json"));
    assert_eq!(sent.header("accept"), Some("application/json"));
    assert_eq!(sent.header("x-stainless-retry-count"), Some("0"));
    assert!(sent.header("user-agent").unwrap().starts_with("hearth/"), "{:?}", sent.header("user-agent"));
    assert_eq!(
        sent.json().unwrap(),
        json!({"model": "claude-haiku-4-5", "max_tokens": 64, "messages": [{"role": "user", "content": "ping?"}]})
    );
}

#[tokio::test]
async fn the_key_can_go_as_x_api_key() {
    let (fake, _) = setup().await;
    let client = client_for(&fake, |c| c.auth = AuthScheme::XApiKey);
    client.messages(&hello("hi")).await.unwrap();
    let sent = &fake.requests()[0];
    assert_eq!(sent.header("x-api-key"), Some("test-key"));
    assert_eq!(sent.header("authorization"), None);
}

#[tokio::test]
async fn a_refused_request_is_a_typed_400_naming_the_field_and_is_not_retried() {
    let (fake, client) = setup().await;
    let mut req = hello("hi");
    req.extra.insert("temperatur".into(), json!(0.5));
    let Err(Error::Api(err)) = client.messages(&req).await else { panic!("a 400 expected") };
    assert_eq!(err.status, 400);
    assert_eq!(err.kind, "invalid_request_error");
    assert_eq!(err.message, "temperatur: Extra inputs are not permitted");
    assert_eq!(err.request_id.as_deref(), Some("req_fake_00000001"));
    assert!(!err.is_retryable());
    assert_eq!(fake.requests().len(), 1);

    let mut turns = hello("one");
    turns.messages.push(MessageParam::user("two"));
    let Err(Error::Api(err)) = client.messages(&turns).await else { panic!("a 400 expected") };
    assert!(err.message.contains("roles must alternate"), "{err}");
    assert!(err.to_string().contains("400 invalid_request_error"), "{err}");
}

#[tokio::test]
async fn a_wrong_key_is_a_401() {
    let (fake, _) = setup().await;
    let client = client_for(&fake, |c| c.api_key = "wrong".into());
    let Err(Error::Api(err)) = client.messages(&hello("hi")).await else { panic!("a 401 expected") };
    assert_eq!((err.status, err.kind.as_str()), (401, "authentication_error"));
}

#[tokio::test]
async fn count_tokens_counts_the_prompt() {
    let (fake, client) = setup().await;
    let mut req = hello("x".repeat(400).as_str());
    req.system = Some(SystemPrompt::Text("y".repeat(400)));
    let count = client.count_tokens(&CountTokensRequest::from(&req)).await.unwrap();
    assert_eq!(count.body.input_tokens, 200, "800 characters / 4");
    assert_eq!(count.attempts, 1);
    let sent = &fake.requests()[0];
    assert_eq!(sent.path, "/v1/messages/count_tokens");
    assert!(sent.json().unwrap().get("max_tokens").is_none());
}

#[tokio::test]
async fn a_marked_system_prompt_is_written_to_the_cache_then_read() {
    let (_fake, client) = setup().await;
    let mut req = hello("question");
    req.system = Some(SystemPrompt::Text("You are a careful assistant. ".repeat(600)));
    let min = min_cacheable_tokens(&req.model);
    assert_eq!(min, 4096);
    let marks = mark_cacheable(&mut req, min, None);
    assert!(marks.system, "{marks:?}");
    let first = client.messages(&req).await.unwrap().body.usage;
    let second = client.messages(&req).await.unwrap().body.usage;
    assert_eq!(first.cache_creation_input_tokens, Some(marks.prefix_tokens));
    assert_eq!(first.cache_read_input_tokens, Some(0));
    assert_eq!(second.cache_read_input_tokens, Some(marks.prefix_tokens));
    assert_eq!(second.cache_creation_input_tokens, Some(0));
    assert_eq!(second.input_tokens, 2);
}

#[tokio::test]
async fn a_server_that_is_not_there_is_a_connection_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let config = hearth_anthropic::ClientConfig::new("k").with_base_url(format!("http://{addr}"));
    let client =
        hearth_anthropic::Client::new(hearth_anthropic::ClientConfig { max_retries: 1, ..config }).unwrap();
    let err = client.messages(&hello("hi")).await.unwrap_err();
    assert!(matches!(err, Error::Connection { .. }), "{err:?}");
    assert!(err.is_retryable());
    assert!(err.to_string().contains(&addr.to_string()), "{err}");
}
