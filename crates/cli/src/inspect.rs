//! `hearth inspect`: what a GGUF model is.

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use hearth_gguf::{GgufFile, Metadata};
use serde::Serialize;

/// Arguments of `hearth inspect`.
#[derive(clap::Args)]
pub struct Args {
    /// Path to a .gguf file or a catalog model name (downloaded if missing).
    model: String,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
    /// Also list every metadata key (arrays summarised) and every tensor.
    #[arg(long, short)]
    all: bool,
}

#[derive(Serialize)]
struct TypeMix {
    tensors: usize,
    params: u64,
    bytes: u64,
}

#[derive(Serialize)]
struct Report {
    path: String,
    file_bytes: u64,
    gguf_version: u32,
    name: Option<String>,
    architecture: String,
    /// Why hearth cannot load the model (config or weights), `None` when it can. When the
    /// file's counts contradict its tensors, the shape fields below are `None`: the
    /// metadata's numbers (a block count of 4294967295) would only mislead.
    load_error: Option<String>,
    parameters: u64,
    context_length: Option<u64>,
    block_count: Option<u64>,
    embedding_length: Option<u64>,
    feed_forward_length: Option<u64>,
    head_count: Option<u64>,
    head_count_kv: Option<u64>,
    rope_freq_base: Option<f32>,
    sliding_window: Option<u64>,
    file_type: Option<u64>,
    tensor_count: usize,
    tensor_types: BTreeMap<String, TypeMix>,
    tokenizer: Tokenizer,
    chat_template: Option<usize>,
    chat_template_fallback: Option<String>,
}

#[derive(Serialize)]
struct Tokenizer {
    model: Option<String>,
    kind: String,
    pre: Option<String>,
    tokens: usize,
    merges: usize,
    bos: Option<u64>,
    eos: Option<u64>,
    add_bos: Option<bool>,
    eog: Vec<u32>,
    loads: bool,
    error: Option<String>,
}

fn tokenizer_kind(model: Option<&str>) -> &'static str {
    match model {
        Some("gpt2") => "byte-level BPE",
        Some("llama") => "SentencePiece BPE",
        Some("bert") => "WordPiece",
        Some("t5") => "Unigram (T5)",
        Some("rwkv") => "RWKV",
        Some("none") | None => "none",
        Some(_) => "unknown",
    }
}

fn report(f: &GgufFile, path: &str) -> Result<Report> {
    let m: &Metadata = f.metadata();
    let arch = m.architecture().context("the file has no general.architecture")?.to_owned();
    let k = |s: &str| format!("{arch}.{s}");
    let mut types: BTreeMap<String, TypeMix> = BTreeMap::new();
    for t in f.tensors() {
        let e = types.entry(t.ty.name().to_owned()).or_insert(TypeMix { tensors: 0, params: 0, bytes: 0 });
        e.tensors += 1;
        e.params += t.n_elements;
        e.bytes += t.n_bytes;
    }
    // Load the config and weights as `run`/`serve` would: inspect says whether hearth can.
    let load =
        hearth_models::Config::from_gguf(f).and_then(|cfg| hearth_models::Weights::load(f, &cfg).map(|_| ()));
    // An unsupported architecture says nothing about the counts; any other failure does.
    let shape_trusted = matches!(load, Ok(()) | Err(hearth_models::ModelError::UnsupportedArch(_)));
    let shape = |v: Option<u64>| v.filter(|_| shape_trusted);
    let tok_model = m.opt_str("tokenizer.ggml.model")?.map(str::to_owned);
    // Build the real tokenizer and template: inspect says whether hearth can use them.
    let tok = hearth_tokenizer::Tokenizer::from_gguf(m);
    let template = hearth_chat::ChatTemplate::from_gguf(m);
    Ok(Report {
        path: path.to_owned(),
        file_bytes: f.file_len(),
        gguf_version: f.version(),
        name: m.opt_str("general.name")?.map(str::to_owned),
        parameters: f.tensors().iter().map(|t| t.n_elements).sum(),
        load_error: load.err().map(|e| e.to_string()),
        context_length: shape(m.opt_u64(&k("context_length")).ok().flatten()),
        block_count: shape(m.opt_u64(&k("block_count")).ok().flatten()),
        embedding_length: shape(m.opt_u64(&k("embedding_length")).ok().flatten()),
        feed_forward_length: shape(m.opt_u64(&k("feed_forward_length")).ok().flatten()),
        head_count: shape(m.opt_u64(&k("attention.head_count")).ok().flatten()),
        head_count_kv: shape(m.opt_u64(&k("attention.head_count_kv")).ok().flatten()),
        rope_freq_base: m.opt_f32(&k("rope.freq_base"))?,
        sliding_window: m.opt_u64(&k("attention.sliding_window")).ok().flatten(),
        file_type: m.opt_u64("general.file_type")?,
        tensor_count: f.tensors().len(),
        tensor_types: types,
        tokenizer: Tokenizer {
            kind: match &tok {
                Ok(t) => match t.kind() {
                    hearth_tokenizer::TokenizerKind::Bpe { .. } => "byte-level BPE".to_owned(),
                    hearth_tokenizer::TokenizerKind::Spm => "SentencePiece BPE".to_owned(),
                    hearth_tokenizer::TokenizerKind::WordPiece => "WordPiece".to_owned(),
                },
                Err(_) => tokenizer_kind(tok_model.as_deref()).to_owned(),
            },
            eog: tok.as_ref().map(|t| t.eog_ids().to_vec()).unwrap_or_default(),
            loads: tok.is_ok(),
            error: tok.as_ref().err().map(ToString::to_string),
            model: tok_model,
            pre: m.opt_str("tokenizer.ggml.pre")?.map(str::to_owned),
            tokens: m.opt_str_array("tokenizer.ggml.tokens")?.map_or(0, |t| t.len()),
            merges: m.opt_str_array("tokenizer.ggml.merges")?.map_or(0, |t| t.len()),
            bos: m.opt_u64("tokenizer.ggml.bos_token_id")?,
            eos: m.opt_u64("tokenizer.ggml.eos_token_id")?,
            add_bos: m.opt_bool("tokenizer.ggml.add_bos_token")?,
        },
        chat_template: m.opt_str("tokenizer.chat_template")?.map(str::len),
        chat_template_fallback: template.ok().and_then(|t| t.fallback()).map(|f| format!("{f:?}")),
        architecture: arch,
    })
}

fn human(n: u64) -> String {
    match n {
        n if n >= 1_000_000_000 => format!("{:.2}B", n as f64 / 1e9),
        n if n >= 1_000_000 => format!("{:.1}M", n as f64 / 1e6),
        n if n >= 1_000 => format!("{:.1}K", n as f64 / 1e3),
        n => n.to_string(),
    }
}

fn mb(n: u64) -> String {
    format!("{:.1} MB", n as f64 / 1e6)
}

fn opt<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map_or_else(|| "-".to_owned(), |v| v.to_string())
}

/// Runs `hearth inspect`.
pub fn run(args: Args) -> Result<()> {
    let path = crate::resolve::model_file(&args.model)?;
    let f = GgufFile::open(&path).with_context(|| format!("reading {}", path.display()))?;
    let r = report(&f, &path.display().to_string())?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&r)?);
        return Ok(());
    }
    println!("file          {} ({}, GGUF v{})", r.path, mb(r.file_bytes), r.gguf_version);
    println!("name          {}", opt(r.name.as_deref()));
    println!("architecture  {}", r.architecture);
    match &r.load_error {
        None => println!("loads         yes"),
        Some(e) => println!("loads         no: {e}"),
    }
    println!("parameters    {} ({} tensors)", human(r.parameters), r.tensor_count);
    println!("context       {}", opt(r.context_length));
    println!(
        "shape         {} layers, embedding {}, ffn {}, heads {} (kv {})",
        opt(r.block_count),
        opt(r.embedding_length),
        opt(r.feed_forward_length),
        opt(r.head_count),
        opt(r.head_count_kv)
    );
    println!("rope base     {}", opt(r.rope_freq_base));
    if let Some(w) = r.sliding_window {
        println!("sliding window {w}");
    }
    let t = &r.tokenizer;
    println!(
        "tokenizer     {} ({}{}), {} tokens{}, bos {}, eos {}, add_bos {}, end-of-generation {:?}",
        t.kind,
        opt(t.model.as_deref()),
        t.pre.as_deref().map(|p| format!(", pre {p}")).unwrap_or_default(),
        t.tokens,
        if t.merges > 0 { format!(", {} merges", t.merges) } else { String::new() },
        opt(t.bos),
        opt(t.eos),
        opt(t.add_bos),
        t.eog,
    );
    if let Some(e) = &t.error {
        println!("              (hearth cannot use this tokenizer: {e})");
    }
    match r.chat_template {
        Some(n) => println!("chat template yes ({n} bytes)"),
        None => println!(
            "chat template none in the file; hearth uses its {} fallback",
            r.chat_template_fallback.as_deref().unwrap_or("ChatML")
        ),
    }
    println!("tensor types");
    println!("  {:8} {:>8} {:>12} {:>12} {:>7}", "type", "tensors", "params", "bytes", "share");
    let total: u64 = r.tensor_types.values().map(|m| m.bytes).sum();
    let mut rows: Vec<_> = r.tensor_types.iter().collect();
    rows.sort_by_key(|(_, m)| std::cmp::Reverse(m.bytes));
    for (ty, m) in rows {
        println!(
            "  {:8} {:>8} {:>12} {:>12} {:>6.1}%",
            ty,
            m.tensors,
            human(m.params),
            mb(m.bytes),
            100.0 * m.bytes as f64 / total.max(1) as f64
        );
    }
    if args.all {
        println!("metadata");
        for (k, v) in f.metadata().entries() {
            println!("  {k} = {v}");
        }
        println!("tensors");
        for t in f.tensors() {
            println!("  {:40} {:6} {:?}", t.name, t.ty.name(), t.dims);
        }
    }
    Ok(())
}
