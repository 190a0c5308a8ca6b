//! `hearth serve`: the OpenAI-compatible server (see `hearth-server`). Checks every
//! setting, binds, loads the model in the background (`/health` answers 503 meanwhile),
//! stops on Ctrl-C / SIGTERM. With `--config FILE.toml`, serves the file's local models by
//! name instead, each loaded on first use (see `serve_config.rs`).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use hearth_engine::SchedulerOptions;
use hearth_server::{
    DEFAULT_BODY_TIMEOUT, DEFAULT_HEADER_TIMEOUT, DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_CONNECTIONS,
    DEFAULT_PORT, EmbedderSpec, Server, ServerConfig, parse_host, shutdown_signal,
};

use crate::common::ModelArgs;

/// Arguments of `hearth serve`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    model: ModelArgs,
    /// Serve the local models of a config file (`[[models]]`: catalog name or .gguf path,
    /// each loaded on first use, with its own threads, context, slots and idle time) instead
    /// of one --model. Its [server] host, port and API key apply unless given here.
    #[arg(
        long,
        value_name = "FILE.toml",
        conflicts_with_all = ["model", "alias", "threads", "ctx_size", "batch_size", "parallel", "max_queue", "parse_special_in_messages"]
    )]
    config: Option<PathBuf>,
    /// With --config: delete ledger rows older than this many days, at start-up and daily
    /// (overrides the file's `[ledger] retain_days`; default: keep every row).
    #[arg(long, value_name = "DAYS", requires = "config")]
    retain_days: Option<u32>,
    /// Requests generating at the same time (slots, each with its own KV cache of
    /// --ctx-size tokens); their decode steps share one pass over the weights.
    #[arg(long, short = 'P', default_value_t = 4)]
    parallel: usize,
    /// Requests waiting for a slot before new ones get 503 (with Retry-After).
    #[arg(long, default_value_t = 64)]
    max_queue: usize,
    /// Address to listen on: HOST, HOST:PORT, [IPV6]:PORT or http://HOST:PORT (default
    /// 127.0.0.1). A non-loopback address needs an API key (or --insecure).
    #[arg(long, env = "HEARTH_HOST")]
    host: Option<String>,
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
    /// Also serve this embedding model on /v1/embeddings (repeatable): a catalog name
    /// (`all-minilm`, `nomic-embed-text`, `bge-small`) or a .gguf path; requests name it in
    /// `model`. Loaded on first use.
    #[arg(long = "embedding-model", value_name = "MODEL")]
    embedding_models: Vec<String>,
    /// Seconds a shutdown waits for running requests.
    #[arg(long, default_value_t = 10)]
    shutdown_grace: u64,
}

/// Runs `hearth serve`.
pub fn run(args: Args) -> Result<()> {
    match args.config.clone() {
        Some(path) => run_pool(args, &path),
        None => run_single(args),
    }
}

/// The settings shared by both forms; `file` is the config's `[server]` section, if any.
fn server_config(args: &Args, file: Option<&hearth_router::RouterConfig>) -> Result<ServerConfig> {
    let section = file.map(|f| &f.server);
    let host_value = args
        .host
        .clone()
        .or_else(|| section.and_then(|s| s.host.clone()))
        .unwrap_or_else(|| "127.0.0.1".into());
    let (host, host_port) = parse_host(&host_value)?;
    let port = args.port.or(host_port).or_else(|| section.and_then(|s| s.port)).unwrap_or(DEFAULT_PORT);
    let api_key = args.api_key.clone().or_else(|| file.and_then(crate::serve_config::api_key));
    Ok(ServerConfig {
        host,
        port,
        api_key,
        insecure: args.insecure,
        cors_origins: args.cors_origins.clone(),
        allowed_hosts: args.allowed_hosts.clone(),
        header_timeout: Duration::from_secs(args.header_timeout),
        body_timeout: Duration::from_secs(args.body_timeout),
        max_connections: args.max_connections,
        max_body_bytes: args.max_body_bytes,
        shutdown_grace: Duration::from_secs(args.shutdown_grace),
        embedders: embedders(args, file)?,
        ..ServerConfig::default()
    })
}

/// The embedding models to serve: `--embedding-model`, then the config's `[server]
/// embedding_models`, each once, resolved to files (catalog models are pulled now).
fn embedders(args: &Args, file: Option<&hearth_router::RouterConfig>) -> Result<Vec<EmbedderSpec>> {
    let from_file = file.map(|f| f.server.embedding_models.as_slice()).unwrap_or_default();
    let mut specs: Vec<EmbedderSpec> = Vec::new();
    for arg in args.embedding_models.iter().chain(from_file) {
        let name = model_id(arg);
        if specs.iter().any(|s| s.name == name) {
            continue;
        }
        let path = crate::resolve::model_file(arg).with_context(|| format!("embedding model {arg}"))?;
        specs.push(EmbedderSpec { name, path });
    }
    Ok(specs)
}

/// Few async threads: the CPU belongs to the engines' pools.
fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("hearth-http")
        .enable_all()
        .build()
        .context("starting the async runtime")
}

fn key_note(config: &ServerConfig) -> &'static str {
    if config.api_key.as_deref().is_some_and(|k| !k.trim().is_empty()) {
        "API key required"
    } else {
        "no API key"
    }
}

/// `hearth serve --model`: one model, loaded at start.
fn run_single(args: Args) -> Result<()> {
    // Every setting is checked before the port is bound or the model resolved.
    args.model.options().validate()?;
    let model_name = match &args.model.model {
        Some(m) => m.clone(),
        None => hearth_hub::Catalog::builtin()?.default_model().name.clone(),
    };
    let model_id = args.alias.clone().unwrap_or_else(|| model_id(&model_name));
    let config = ServerConfig {
        model_id: model_id.clone(),
        scheduler: SchedulerOptions { slots: args.parallel.max(1), max_queue: args.max_queue },
        ..server_config(&args, None)?
    };
    config.validate()?;
    let keyed = key_note(&config);
    let mut model = args.model.clone();
    model.model = Some(model_name);

    runtime()?.block_on(async move {
        let server = Server::bind(config).await?;
        let addr = server.local_addr()?;
        eprintln!("hearth: listening on http://{addr} ({keyed}), loading {model_id}");
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

/// `hearth serve --config`: the file's local models, each loaded on first use.
fn run_pool(args: Args, path: &Path) -> Result<()> {
    let file = crate::serve_config::load(path)?;
    let mut config = server_config(&args, Some(&file))?;
    config.memory_budget = crate::serve_config::memory_budget(&file)?;
    // One client per remote, its API key read now: a missing key fails here, not at the
    // first request.
    let mut routing =
        hearth_server::Routing::from_env(file.clone()).with_context(|| path.display().to_string())?;
    let base = path.parent().unwrap_or(Path::new("."));
    // Every call gets a row; the spend against the caps continues from the ledger's.
    let ledger_note = match crate::serve_ledger::open(&file, base, args.retain_days)? {
        Some(opened) => {
            routing = routing.with_ledger(opened.ledger);
            routing.set_spend(opened.spend);
            format!("ledger {}", opened.location)
        }
        None => "no ledger".to_owned(),
    };
    let cache_note = match crate::serve_cache::open(file.cache.as_ref(), base)? {
        Some(crate::serve_cache::Opened { cache, embedder, note }) => {
            routing = routing.with_cache(cache);
            if let Some(spec) = embedder
                && !config.embedders.iter().any(|s| s.name == spec.name)
            {
                config.embedders.push(spec);
            }
            note
        }
        None => "no cache".to_owned(),
    };
    let monitor_note = match crate::serve_monitor::open(&file, base, routing.router().ledger().cloned())? {
        Some(crate::serve_monitor::Opened { monitor, note }) => {
            routing = routing.with_monitor(monitor);
            note
        }
        None => "no monitor".to_owned(),
    };
    config.routing = Some(std::sync::Arc::new(routing));
    // Names are checked (unique, not `auto`) before anything is downloaded.
    config.models = crate::serve_config::specs(&file, base, |_| Ok(PathBuf::new()))?;
    config.validate()?;
    config.models = crate::serve_config::specs(&file, base, crate::resolve::model_file)?;
    let keyed = key_note(&config);
    let names: Vec<String> = config.models.iter().map(|m| m.name.clone()).collect();

    runtime()?.block_on(async move {
        let server = Server::bind(config).await?;
        let addr = server.local_addr()?;
        let budget = server.state().pool().and_then(|p| p.budget());
        let budget = budget.map_or("no memory budget".into(), |b| format!("memory budget {} MiB", b >> 20));
        eprintln!(
            "hearth: listening on http://{addr} ({keyed}), serving {} (loaded on first use; {budget}; {ledger_note}; {cache_note}; {monitor_note})",
            names.join(", ")
        );
        server.serve(shutdown_signal()).await?;
        eprintln!("hearth: stopped");
        anyhow::Ok(())
    })
}

/// The id a model argument is reported under: a catalog name as given, a file by its stem.
pub(crate) fn model_id(arg: &str) -> String {
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
