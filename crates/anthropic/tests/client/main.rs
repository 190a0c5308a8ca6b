//! The client against the fake Anthropic server over real loopback HTTP (one test binary).

mod batches;
mod calls;
mod fake_checks;
mod retries;
mod streaming;
mod tools;

use hearth_anthropic::fake::FakeAnthropic;
use hearth_anthropic::types::{MessageParam, MessagesRequest};
use hearth_anthropic::{Client, ClientConfig};

pub const KEY: &str = "test-key";

/// A fake and a client for it with the SDK's defaults.
pub async fn setup() -> (FakeAnthropic, Client) {
    let fake = FakeAnthropic::start(KEY).await.expect("the fake starts");
    let client = client_for(&fake, |_| {});
    (fake, client)
}

/// A client for `fake`, its config adjusted by `tweak`.
pub fn client_for(fake: &FakeAnthropic, tweak: impl FnOnce(&mut ClientConfig)) -> Client {
    let mut config = ClientConfig::new(KEY).with_base_url(fake.base_url());
    tweak(&mut config);
    Client::new(config).expect("a valid config")
}

/// A one-turn request.
pub fn hello(text: &str) -> MessagesRequest {
    MessagesRequest::new("claude-haiku-4-5", 64, vec![MessageParam::user(text)])
}

/// The `x-stainless-retry-count` of each API request the fake received.
pub fn retry_counts(fake: &FakeAnthropic) -> Vec<String> {
    fake.requests()
        .iter()
        .filter(|r| r.path.starts_with("/v1/"))
        .map(|r| r.header("x-stainless-retry-count").unwrap_or("-").to_owned())
        .collect()
}
