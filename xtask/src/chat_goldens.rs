//! `cargo xtask chat-goldens`: llama.cpp's renders of tool conversations, the reference
//! hearth-chat's tool rendering is tested against byte for byte.
//!
//! Builds `llama-server` from the pinned sdist (see `llama_cpp.rs`), starts it on loopback
//! with `--jinja` on each fixture model, reads its template capabilities from `GET /props`,
//! and POSTs each conversation (OpenAI `messages` + `tools`) to `POST /apply-template`,
//! which answers `{"prompt": ...}`: the text `common_chat_templates_apply` renders, the same
//! path `/v1/chat/completions` takes. Everything lands in `tests/golden/chat_tools.json`
//! with the models' sha256 and the llama.cpp build; `crates/chat/tests/chat/tool_golden.rs`
//! renders the same requests with hearth-chat.

use std::fs;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

use crate::fixtures::{cache_dir, llama_cpp_sdist};
use crate::util::root;

/// The fixture models with a chat template in llama.cpp's eyes (Gemma 3 270M has none in its
/// GGUF, so llama.cpp renders it with its built-in ChatML; the golden says so).
const MODELS: [&str; 3] =
    ["qwen2.5-coder-0.5b-instruct-q4_k_m", "smollm2-135m-instruct-q4_1", "gemma3-270m-q4_k_m"];

/// Arguments of `chat-goldens`.
#[derive(clap::Args)]
pub struct Args {
    /// Where to write the goldens.
    #[arg(long, default_value = "tests/golden/chat_tools.json")]
    out: PathBuf,
}

/// Renders every conversation on every model and writes the golden file.
pub fn run(args: Args) -> Result<()> {
    let server = crate::llama_cpp::llama_server()?;
    let conversations = conversations();
    let mut models = Vec::new();
    for name in MODELS {
        let gguf = cache_dir().join("models").join(format!("{name}.gguf"));
        let sha_file = gguf.with_extension("gguf.sha256");
        let sha256 = fs::read_to_string(&sha_file)
            .with_context(|| format!("{} missing: run `cargo xtask fixtures` first", sha_file.display()))?
            .trim()
            .to_owned();
        let running = Server::start(&server, &gguf)?;
        let props = running.get("/props")?;
        let template = props["chat_template"].as_str().unwrap_or_default();
        let builtin_chatml = !props["chat_template"].is_string()
            || template.starts_with("{%- for message in messages -%}\n  {{- '<|im_start|>'");
        let mut renders = Vec::new();
        for c in &conversations {
            let reply = running.post("/apply-template", &c["request"])?;
            let prompt = reply["prompt"]
                .as_str()
                .with_context(|| format!("{name}: /apply-template answered without a prompt: {reply}"))?;
            renders.push(json!({"conversation": c["name"], "prompt": prompt}));
        }
        eprintln!("chat-goldens: {name}: {} renders", renders.len());
        models.push(json!({
            "model": format!("{name}.gguf"),
            "sha256": sha256,
            "template": if builtin_chatml { "llama.cpp built-in ChatML (the GGUF has no chat template)" } else { "gguf" },
            "caps": props["chat_template_caps"],
            "build_info": props["build_info"],
            "renders": renders,
        }));
    }
    let sdist = llama_cpp_sdist();
    let golden = json!({
        "reference": format!(
            "llama.cpp vendored in llama-cpp-python {} (sdist sha256 {}): llama-server --jinja, POST /apply-template; caps from GET /props",
            sdist.version, sdist.sha256
        ),
        "conversations": conversations,
        "models": models,
    });
    let out = root().join(&args.out);
    fs::write(&out, serde_json::to_string_pretty(&golden)? + "\n")?;
    eprintln!("chat-goldens: wrote {}", out.display());
    Ok(())
}

/// A running `llama-server`, killed when dropped.
struct Server {
    child: Child,
    port: u16,
}

impl Server {
    fn start(bin: &std::path::Path, gguf: &std::path::Path) -> Result<Server> {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        eprintln!("chat-goldens: starting llama-server on {} (port {port})", gguf.display());
        let child = Command::new(bin)
            .args([
                "-m",
                &gguf.to_string_lossy(),
                "--jinja",
                "--host",
                "127.0.0.1",
                "--port",
                &port.to_string(),
            ])
            .args(["-c", "4096", "-t", "2", "--no-warmup"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        let mut server = Server { child, port };
        let deadline = Instant::now() + Duration::from_secs(180);
        loop {
            if let Some(status) = server.child.try_wait()? {
                bail!("llama-server exited ({status}) before it was ready");
            }
            if server.request("GET", "/health", None).is_ok_and(|(code, _)| code == 200) {
                return Ok(server);
            }
            if Instant::now() > deadline {
                bail!("llama-server not healthy after 180 s");
            }
            std::thread::sleep(Duration::from_millis(300));
        }
    }

    fn get(&self, path: &str) -> Result<Value> {
        self.json("GET", path, None)
    }

    fn post(&self, path: &str, body: &Value) -> Result<Value> {
        self.json("POST", path, Some(body))
    }

    fn json(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Value> {
        let (code, text) = self.request(method, path, body)?;
        if code != 200 {
            bail!("{method} {path}: HTTP {code}: {text}");
        }
        serde_json::from_str(&text).with_context(|| format!("{method} {path}: not JSON: {text}"))
    }

    /// One HTTP/1.1 request on a fresh connection (`Connection: close`): status and body.
    fn request(&self, method: &str, path: &str, body: Option<&Value>) -> Result<(u16, String)> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port))?;
        stream.set_read_timeout(Some(Duration::from_secs(60)))?;
        let body = body.map(Value::to_string).unwrap_or_default();
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )?;
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw)?;
        let split = raw.windows(4).position(|w| w == b"\r\n\r\n").context("HTTP response without headers")?;
        let head = String::from_utf8_lossy(&raw[..split]).into_owned();
        let payload = &raw[split + 4..];
        let code: u16 =
            head.split_whitespace().nth(1).and_then(|c| c.parse().ok()).context("bad status line")?;
        let chunked = head.lines().any(|l| {
            let l = l.to_ascii_lowercase();
            l.starts_with("transfer-encoding:") && l.contains("chunked")
        });
        let payload = if chunked { dechunk(payload)? } else { payload.to_vec() };
        Ok((code, String::from_utf8(payload).context("response body is not UTF-8")?))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Decodes a `Transfer-Encoding: chunked` body.
fn dechunk(mut data: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let eol = data.windows(2).position(|w| w == b"\r\n").context("truncated chunk header")?;
        let size_text = String::from_utf8_lossy(&data[..eol]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .with_context(|| format!("bad chunk size {size_text:?}"))?;
        data = &data[eol + 2..];
        if size == 0 {
            return Ok(out);
        }
        let chunk = data.get(..size).context("truncated chunk")?;
        out.extend_from_slice(chunk);
        data = data.get(size + 2..).context("truncated chunk")?;
    }
}

/// The tool set of issue 18: a weather lookup, a calculator, an extraction schema.
fn tools() -> [Value; 3] {
    let weather = json!({"type": "function", "function": {
        "name": "get_weather",
        "description": "Get the current weather for a location.",
        "parameters": {
            "type": "object",
            "properties": {
                "location": {"type": "string", "description": "City and country, e.g. Paris, France"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"], "description": "Temperature unit"}
            },
            "required": ["location"]
        }
    }});
    let calculator = json!({"type": "function", "function": {
        "name": "calculate",
        "description": "Evaluate an arithmetic expression and return the result.",
        "parameters": {
            "type": "object",
            "properties": {
                "expression": {"type": "string", "description": "An arithmetic expression such as (2 + 3) * 4"},
                "precision": {"type": "integer", "minimum": 0, "maximum": 12, "default": 2}
            },
            "required": ["expression"]
        }
    }});
    let extraction = json!({"type": "function", "function": {
        "name": "extract_contact",
        "description": "Record the contact details found in a text.",
        "parameters": {
            "type": "object",
            "properties": {
                "name": {"type": "string"},
                "email": {"type": "string", "format": "email"},
                "phone": {"type": ["string", "null"]},
                "company": {
                    "type": "object",
                    "properties": {"name": {"type": "string"}, "role": {"type": "string"}},
                    "required": ["name"]
                },
                "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 5}
            },
            "required": ["name", "email"],
            "additionalProperties": false
        },
        "strict": true
    }});
    [weather, calculator, extraction]
}

/// The conversations: `{name, request}`, `request` an OpenAI chat request body.
fn conversations() -> Vec<Value> {
    let [weather, calculator, extraction] = tools();
    let weather_history = json!([
        {"role": "system", "content": "You are a concise assistant. Use tools when they help."},
        {"role": "user", "content": "What's the weather in Paris right now?"},
        {"role": "assistant", "content": null, "tool_calls": [{
            "id": "call_w1", "type": "function",
            "function": {"name": "get_weather", "arguments": "{\"location\": \"Paris, France\", \"unit\": \"celsius\"}"}
        }]},
        {"role": "tool", "tool_call_id": "call_w1", "name": "get_weather",
         "content": "{\"temperature\": 18, \"condition\": \"sunny\"}"},
        {"role": "assistant", "content": "It is 18 °C and sunny in Paris."},
        {"role": "user", "content": "And in Tokyo?"}
    ]);
    vec![
        json!({"name": "weather_single_call", "request": {
            "messages": weather_history.clone(),
            "tools": [weather.clone()]
        }}),
        json!({"name": "calculator_parallel_calls", "request": {
            "messages": [
                {"role": "user", "content": "What are 17 * 23 and 2 ** 10?"},
                {"role": "assistant", "content": "", "tool_calls": [
                    {"id": "call_c1", "type": "function",
                     "function": {"name": "calculate", "arguments": "{\"expression\": \"17 * 23\"}"}},
                    {"id": "call_c2", "type": "function",
                     "function": {"name": "calculate", "arguments": "{\"expression\": \"2 ** 10\", \"precision\": 0}"}}
                ]},
                {"role": "tool", "tool_call_id": "call_c1", "content": "391"},
                {"role": "tool", "tool_call_id": "call_c2", "content": "1024"},
                {"role": "user", "content": "Now add them."}
            ],
            "tools": [weather.clone(), calculator.clone()]
        }}),
        json!({"name": "extraction_object_arguments", "request": {
            "messages": [
                {"role": "system", "content": "You extract structured data from text."},
                {"role": "user", "content": "Jane Doe (jane@example.com) is CTO at Acme; phone +33 1 23 45 67 89."},
                {"role": "assistant", "content": "Recording the contact.", "tool_calls": [{
                    "id": "call_x1", "type": "function",
                    "function": {"name": "extract_contact", "arguments": {
                        "name": "Jane Doe", "email": "jane@example.com", "phone": "+33 1 23 45 67 89",
                        "company": {"name": "Acme", "role": "CTO"}, "tags": ["lead", "café"]
                    }}
                }]},
                {"role": "tool", "tool_call_id": "call_x1", "name": "extract_contact", "content": "{\"ok\": true}"},
                {"role": "user", "content": "Thanks. Anything else in that text?"}
            ],
            "tools": [weather.clone(), calculator.clone(), extraction.clone()]
        }}),
        json!({"name": "tools_first_turn", "request": {
            "messages": [{"role": "user", "content": "Is it raining in Berlin?"}],
            "tools": [weather.clone(), calculator.clone(), extraction.clone()]
        }}),
        json!({"name": "ends_with_tool_result", "request": {
            "messages": [
                {"role": "user", "content": "Compute (2 + 3) * 4."},
                {"role": "assistant", "tool_calls": [{
                    "id": "call_c3", "type": "function",
                    "function": {"name": "calculate", "arguments": "{\"expression\": \"(2 + 3) * 4\"}"}
                }]},
                {"role": "tool", "tool_call_id": "call_c3", "name": "calculate", "content": "20"}
            ],
            "tools": [calculator]
        }}),
        json!({"name": "tool_history_without_tools", "request": {"messages": weather_history}}),
    ]
}
