//! `hearth serve`: the OpenAI-compatible server (see `hearth-server`). Checks every
//! setting, binds, loads the model in the background (`/health` answers 503 meanwhile),
//! stops on Ctrl-C / SIGTERM.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use hearth_engine::SchedulerOptions;
use hearth_server::{
    DEFAULT_BODY_TIMEOUT, DEFAULT_HEADER_TIMEOUT, DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_CONNECTIONS,
    DEFAULT_PORT, Server, ServerConfig, parse_host, shutdown_signal,
};

use crate::common::ModelArgs;

/// Arguments of `hearth serve`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    model: ModelArgs,
    /// Requests generating at the same time (slots, each with its own KV cache of
    /// --ctx-size tokens); their decode steps share one pass over the weights.
    #[arg(long, short = 'P', default_value_t = 4)]
    parallel: usize,
    /// Requests waiting for a slot before new ones get 503 (with Retry-After).
    #[arg(long, default_value_t = 64)]
    max_queue: usize,
    /// Address to listen on: HOST, HOST:PORT, [IPV6]:PORT or http://HOST:PORT. A
    /// non-loopback address needs an API key (or --insecure).
    #[arg(long, env = "HEARTH_HOST", default_value = "127.0.0.1")]
    host: String,
    /// Port (default: the one in --host, else 8080; 0 picks a free port).
    #[arg(long)]
    port: Option<u16>,
    /// Require `Authorization: Bearer KEY` on every endpoint but /health. Prefer the
    /// environment variable (command lines are visible to other users).
    #[arg(long, env = "HEARTH_API_KEY", hide_env_values = true)]
    api_key: Option<String>,
    /// Allow a non-loopback address without an API key (trusted networks only).
    #[arg(long)]
    insecure: bool,
    /// Allow browser calls from this origin (repeatable; `*` for any). CORS is off without it.
    #[arg(long = "cors-origin", value_name = "ORIGIN")]
    cors_origins: Vec<String>,
    /// Without an API key, answer requests addressed (Host header) to this name too, besides
    /// localhost and IP addresses (repeatable; `*` for any). Guards against DNS rebinding.
    #[arg(long = "allowed-host", value_name = "NAME")]
    allowed_hosts: Vec<String>,
    /// Seconds a client may take to send a request's headers (also how long an idle
    /// keep-alive connection stays open).
    #[arg(long, value_name = "SECONDS", default_value_t = DEFAULT_HEADER_TIMEOUT.as_secs())]
    header_timeout: u64,
    /// Seconds a client may take to send a request's body (then 408).
    #[arg(long, value_name = "SECONDS", default_value_t = DEFAULT_BODY_TIMEOUT.as_secs())]
    body_timeout: u64,
    /// Connections open at once; more are answered 503 and closed.
    #[arg(long, default_value_t = DEFAULT_MAX_CONNECTIONS)]
    max_connections: usize,
    /// The model name reported by the API (default: the catalog name, or the file name).
    #[arg(long)]
    alias: Option<String>,
    /// Largest request body accepted, in bytes (larger: 413).
    #[arg(long, default_value_t = DEFAULT_MAX_BODY_BYTES)]
    max_body_bytes: usize,
    /// Seconds a shutdown waits for running requests.
    #[arg(long, default_value_t = 10)]
    shutdown_grace: u64,
}

/// Runs `hearth serve`.
pub fn run(args: Args) -> Result<()> {
    // Every setting is checked before the port is bound or the model resolved.
    args.model.options().validate()?;
    let (host, host_port) = parse_host(&args.host)?;
    let model_name = match &args.model.model {
        Some(m) => m.clone(),
        None => hearth_hub::Catalog::builtin()?.default_model().name.clone(),
    };
    let model_id = args.alias.clone().unwrap_or_else(|| model_id(&model_name));
    let config = ServerConfig {
        host,
        port: args.port.or(host_port).unwrap_or(DEFAULT_PORT),
        api_key: args.api_key.clone(),
        insecure: args.insecure,
        cors_origins: args.cors_origins.clone(),
        allowed_hosts: args.allowed_hosts.clone(),
        header_timeout: Duration::from_secs(args.header_timeout),
        body_timeout: Duration::from_secs(args.body_timeout),
        max_connections: args.max_connections,
        max_body_bytes: args.max_body_bytes,
        model_id: model_id.clone(),
        scheduler: SchedulerOptions { slots: args.parallel.max(1), max_queue: args.max_queue },
        models: Vec::new(),
        memory_budget: None,
        shutdown_grace: Duration::from_secs(args.shutdown_grace),
    };
    config.validate()?;
    let keyed = config.api_key.as_deref().is_some_and(|k| !k.trim().is_empty());
    let mut model = args.model.clone();
    model.model = Some(model_name);

    // Few async threads: the CPU belongs to the engine's pool.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("hearth-http")
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(async move {
        let server = Server::bind(config).await?;
        let addr = server.local_addr()?;
        eprintln!(
            "hearth: listening on http://{addr} ({}), loading {model_id}",
            if keyed { "API key required" } else { "no API key" }
        );
        let load = move || {
            let t0 = Instant::now();
            let engine = model.load()?;
            eprintln!("hearth: {model_id} loaded in {:.1}s; serving", t0.elapsed().as_secs_f64());
            Ok(engine)
        };
        server.run(load, shutdown_signal()).await?;
        eprintln!("hearth: stopped");
        anyhow::Ok(())
    })
}

/// The id a model argument is reported under: a catalog name as given, a file by its stem.
fn model_id(arg: &str) -> String {
    let p = Path::new(arg);
    if p.extension().is_some_and(|e| e.eq_ignore_ascii_case("gguf"))
        && let Some(stem) = p.file_stem()
    {
        return stem.to_string_lossy().into_owned();
    }
    arg.to_owned()
}

#[cfg(test)]
mod tests {
    #[test]
    fn model_ids() {
        assert_eq!(super::model_id("qwen2.5-coder:0.5b"), "qwen2.5-coder:0.5b");
        assert_eq!(
            super::model_id("/m/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"),
            "qwen2.5-coder-0.5b-instruct-q4_k_m"
        );
    }
}
