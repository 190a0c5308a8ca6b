//! `hearth serve --config FILE.toml` end to end: the binary reads the file, resolves every
//! model before binding (a bad entry fails naming it), and serves the models by name, each
//! loaded on first use.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn hearth() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_hearth"));
    c.env_remove("HEARTH_HOST").env_remove("HEARTH_API_KEY");
    c
}

/// Kills the server when the test ends, passing or not.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One HTTP/1.1 request; (status, body).
fn http(port: u16, method: &str, path: &str, body: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(120))).ok()?;
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    let status = out.get(9..12)?.parse().ok()?;
    Some((status, out.split_once("\r\n\r\n").map_or("", |(_, b)| b).to_owned()))
}

#[test]
fn a_bad_model_entry_fails_before_binding_and_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    for (models, says) in [
        ("[[models]]\nname = \"no-such-model:7b\"\n", "models[0] (\"no-such-model:7b\")"),
        ("[[models]]\nname = \"x\"\npath = \"missing.gguf\"\n", "model \"x\": cannot read"),
        ("[[models]]\nname = \"x\"\nbogus = 1\n", "bogus"),
    ] {
        let file = dir.path().join("hearth.toml");
        std::fs::write(&file, models).unwrap();
        let out = hearth().args(["serve", "--port", &port, "--config"]).arg(&file).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{models}: {stderr}");
        assert!(stderr.contains(says), "{models}: {stderr}");
        assert!(!stderr.contains("listening"), "{stderr}");
    }
    let out = hearth().args(["serve", "--config", "h.toml", "--model", "m.gguf"]).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot be used with"));
}

#[test]
fn serves_the_configured_models_by_name() {
    let Some(model) = hearth_testkit::model(hearth_testkit::SMOLLM2_135M) else { return };
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(&model, dir.path().join("small.gguf")).unwrap();
    let file = dir.path().join("hearth.toml");
    let config = format!(
        "[[models]]\nname = \"small\"\npath = \"small.gguf\"\nthreads = 2\nctx_size = 512\nslots = 1\n\n\
         [[models]]\nname = \"other\"\npath = {:?}\nthreads = 2\nctx_size = 512\n",
        model.display().to_string()
    );
    std::fs::write(&file, config).unwrap();
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = hearth()
        .args(["serve", "--port", &port.to_string(), "--config"])
        .arg(&file)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _running = Running(child);

    let deadline = Instant::now() + Duration::from_secs(60);
    let models = loop {
        if let Some((200, body)) = http(port, "GET", "/v1/models", "") {
            break body;
        }
        assert!(Instant::now() < deadline, "the server never answered");
        std::thread::sleep(Duration::from_millis(50));
    };
    let v: serde_json::Value = serde_json::from_str(&models).unwrap();
    let listed: Vec<(&str, &str)> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["id"].as_str().unwrap(), m["hearth"]["state"].as_str().unwrap_or("-")))
        .collect();
    assert_eq!(listed, [("small", "unloaded"), ("other", "unloaded"), ("auto", "-")]);

    let body = r#"{"model": "other", "prompt": "Hello", "max_tokens": 2}"#;
    let (status, reply) = http(port, "POST", "/v1/completions", body).unwrap();
    assert_eq!(status, 200, "{reply}");
    let v: serde_json::Value = serde_json::from_str(&reply).unwrap();
    assert_eq!(v["model"], "other");
    let (_, health) = http(port, "GET", "/health", "").unwrap();
    let h: serde_json::Value = serde_json::from_str(&health).unwrap();
    let states: Vec<&str> =
        h["models"].as_array().unwrap().iter().map(|m| m["state"].as_str().unwrap()).collect();
    assert_eq!(states, ["unloaded", "loaded"]);
}
