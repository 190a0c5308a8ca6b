//! `fake-anthropic`: the loopback fake Anthropic API as a process, for tests outside Rust
//! (Python SDK tests, `.ci/run`). Prints `listening on 127.0.0.1:PORT` and serves until
//! killed; faults are queued with `POST /_fake/faults`, requests read with
//! `GET /_fake/requests`.
//!
//! ```text
//! fake-anthropic [--port N] [--api-key KEY] [--lenient-roles]
//! ```
//! The key defaults to `$FAKE_ANTHROPIC_API_KEY`, else `test-key`; the port to a free one.

use std::io::Write;
use std::net::SocketAddr;

use hearth_anthropic::fake::{FakeAnthropic, FakeConfig};

const USAGE: &str = "usage: fake-anthropic [--port N] [--api-key KEY] [--lenient-roles]";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let key = std::env::var("FAKE_ANTHROPIC_API_KEY").unwrap_or_else(|_| "test-key".to_owned());
    let mut config = FakeConfig::new(key);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--port" => {
                let port: u16 = args.next().ok_or(USAGE)?.parse().map_err(|e| format!("--port: {e}"))?;
                config.addr = SocketAddr::from(([127, 0, 0, 1], port));
            }
            "--api-key" => config.api_key = args.next().ok_or(USAGE)?,
            "--lenient-roles" => config.strict_roles = false,
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(());
            }
            other => return Err(format!("unknown argument {other:?}; {USAGE}").into()),
        }
    }
    let fake = FakeAnthropic::start_with(config).await?;
    println!("listening on {}", fake.addr());
    std::io::stdout().flush()?;
    fake.serve_forever().await;
    Ok(())
}
