//! Opt-in: one tiny call to the real Anthropic API, run only when `ANTHROPIC_API_KEY` is set
//! (`ANTHROPIC_BASE_URL` overrides the address). Without the key it prints that it did not
//! run and passes; with it, it must succeed.

use futures_util::StreamExt;
use hearth_anthropic::types::{MessageParam, MessagesRequest, StreamEvent};
use hearth_anthropic::{Client, ClientConfig};

#[tokio::test]
async fn one_tiny_call_to_claude_haiku() {
    let Some(key) = std::env::var("ANTHROPIC_API_KEY").ok().filter(|k| !k.is_empty()) else {
        println!("live Anthropic test NOT RUN: set ANTHROPIC_API_KEY to run it");
        return;
    };
    let mut config = ClientConfig::new(key);
    if let Ok(base_url) = std::env::var("ANTHROPIC_BASE_URL") {
        config.base_url = base_url;
    }
    let client = Client::new(config).expect("a valid config");
    let req = MessagesRequest::new(
        "claude-haiku-4-5",
        16,
        vec![MessageParam::user("Reply with the single word: pong")],
    );

    let answer = client.messages(&req).await.unwrap_or_else(|e| panic!("the live call failed: {e}"));
    println!("live answer: {:?} ({:?}, {:?})", answer.body.text(), answer.body.usage, answer.request_id);
    assert!(!answer.body.text().is_empty());
    assert!(answer.body.usage.input_tokens > 0 && answer.body.usage.output_tokens > 0);
    assert!(answer.request_id.is_some(), "the API sends request-id");

    let mut stream =
        client.messages_stream(&req).await.unwrap_or_else(|e| panic!("the live stream failed: {e}"));
    let mut saw_stop = false;
    while let Some(event) = stream.next().await {
        saw_stop |=
            matches!(event.unwrap_or_else(|e| panic!("live stream item: {e}")), StreamEvent::MessageStop);
    }
    assert!(saw_stop);
}
