//! Tool use through the client: the fake calls a tool (JSON and streamed), accepts the
//! tool's result in the next turn and answers with it.

use futures_util::StreamExt;
use hearth_anthropic::types::{
    ContentBlock, ContentDelta, MessageContent, MessageParam, StopReason, StreamEvent, Tool, ToolChoice,
    ToolResultBlock, ToolResultContent,
};
use serde_json::json;

use super::{hello, setup};

fn weather() -> Tool {
    let schema = json!({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]});
    Tool::custom("get_weather", "The weather in a city", schema)
}

#[tokio::test]
async fn a_tool_call_and_its_result_make_a_conversation_the_fake_accepts() {
    let (fake, client) = setup().await;
    let mut req = hello("What is the weather in Paris?");
    req.tools = Some(vec![weather()]);
    req.tool_choice = Some(ToolChoice::Any { disable_parallel_tool_use: Some(true) });
    let first = client.messages(&req).await.unwrap().body;
    assert_eq!(first.stop_reason, Some(StopReason::ToolUse));
    let [ContentBlock::ToolUse(call)] = first.content.as_slice() else { panic!("{:?}", first.content) };
    assert_eq!((call.name.as_str(), &call.input), ("get_weather", &json!({"city": ""})));

    req.tool_choice = None;
    req.messages.push(MessageParam::assistant(MessageContent::Blocks(first.content.clone())));
    let result = ToolResultBlock {
        tool_use_id: call.id.clone(),
        content: Some(ToolResultContent::Text("18C and sunny".into())),
        is_error: None,
        cache_control: None,
    };
    req.messages.push(MessageParam::user(MessageContent::Blocks(vec![ContentBlock::ToolResult(result)])));
    let second = client.messages(&req).await.unwrap().body;
    assert_eq!(second.stop_reason, Some(StopReason::EndTurn));
    assert_eq!(second.text(), "echo: 18C and sunny");
    let sent = fake.requests()[1].json().unwrap();
    assert_eq!(sent["messages"][2]["content"][0]["tool_use_id"], call.id.as_str());
}

#[tokio::test]
async fn a_streamed_tool_call_arrives_as_a_tool_use_start_and_json_fragments() {
    let (_fake, client) = setup().await;
    let mut req = hello("Use get_weather for Paris");
    req.tools = Some(vec![weather()]);
    let whole = client.messages(&req).await.unwrap().body;
    let events: Vec<StreamEvent> =
        client.messages_stream(&req).await.unwrap().map(Result::unwrap).collect().await;
    let starts: Vec<&ContentBlock> = events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::ContentBlockStart { content_block, .. } => Some(content_block),
            _ => None,
        })
        .collect();
    assert!(matches!(starts[0], ContentBlock::Text(_)));
    let ContentBlock::ToolUse(shell) = starts[1] else { panic!("{starts:?}") };
    assert_eq!(shell.input, json!({}), "a tool_use block starts with an empty input");
    let json: String = events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::ContentBlockDelta {
                index: 1,
                delta: ContentDelta::InputJsonDelta { partial_json },
            } => Some(partial_json.as_str()),
            _ => None,
        })
        .collect();
    let ContentBlock::ToolUse(call) = &whole.content[1] else { panic!("{:?}", whole.content) };
    assert_eq!(serde_json::from_str::<serde_json::Value>(&json).unwrap(), call.input);
    let stop = events.iter().find_map(|e| match e {
        StreamEvent::MessageDelta { delta, .. } => delta.stop_reason.clone(),
        _ => None,
    });
    assert_eq!(stop, Some(StopReason::ToolUse));
}
