//! `hearth embed`: texts in, one embedding vector each out (a short summary per text, or an
//! OpenAI `embeddings` response object with `--json`).

use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use hearth_kernels::ThreadPool;
use hearth_models::Embedder;
use serde::Serialize;

/// Arguments of `hearth embed`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// An embedding model: a .gguf file (bert, nomic-bert) or a catalog name (all-minilm,
    /// nomic-embed-text, bge-small), downloaded on first use.
    #[arg(long, short)]
    model: String,
    /// Threads (default: all cores).
    #[arg(long, short = 't', default_value_t = 0)]
    threads: usize,
    /// Print one OpenAI-shaped `embeddings` response (`{"object": "list", "data": [...],
    /// "model", "usage"}`) instead of a summary line per text.
    #[arg(long)]
    json: bool,
    /// Values of each vector shown in the summary.
    #[arg(long, default_value_t = 8)]
    show: usize,
    /// The texts, one vector each, embedded as given: add a model's task prefix yourself
    /// (nomic-embed-text: `search_query: ` / `search_document: `).
    #[arg(required = true)]
    texts: Vec<String>,
}

/// Runs `hearth embed`.
pub fn run(args: Args) -> Result<()> {
    let path = crate::resolve::model_file(&args.model)?;
    let mut embedder = Embedder::open(&path).with_context(|| format!("loading {}", path.display()))?;
    if args.threads > 0 {
        embedder = embedder.with_pool(Arc::new(ThreadPool::try_new(args.threads)?));
    }
    let texts: Vec<&str> = args.texts.iter().map(String::as_str).collect();
    let ids: Vec<Vec<u32>> = texts.iter().map(|t| embedder.tokenize(t)).collect();
    let t0 = Instant::now();
    let vectors = embedder.embed_tokens(&ids).with_context(|| format!("embedding with {}", args.model))?;
    let elapsed = t0.elapsed();
    let tokens: Vec<usize> = ids.iter().map(Vec::len).collect();
    if args.json {
        println!("{}", serde_json::to_string(&openai_response(&args.model, &vectors, &tokens))?);
    } else {
        for (i, v) in vectors.iter().enumerate() {
            println!("{}", summary(i, v, tokens[i], args.show));
        }
        eprintln!(
            "{} texts, {} tokens in {:.1} ms ({}, {} pooling, normalised)",
            vectors.len(),
            tokens.iter().sum::<usize>(),
            elapsed.as_secs_f64() * 1e3,
            embedder.config().arch.prefix(),
            embedder.pooling().name()
        );
    }
    Ok(())
}

/// The OpenAI `POST /v1/embeddings` response (float encoding). Vectors stay `f32`, so each
/// value prints as its shortest round-trip decimal.
#[derive(Serialize)]
pub struct OpenAiResponse<'a> {
    object: &'static str,
    data: Vec<OpenAiEmbedding<'a>>,
    model: &'a str,
    usage: Usage,
}

#[derive(Serialize)]
struct OpenAiEmbedding<'a> {
    object: &'static str,
    index: usize,
    embedding: &'a [f32],
}

#[derive(Serialize)]
struct Usage {
    prompt_tokens: usize,
    total_tokens: usize,
}

/// The response for `vectors`, whose texts had `tokens` tokens each.
pub fn openai_response<'a>(model: &'a str, vectors: &'a [Vec<f32>], tokens: &[usize]) -> OpenAiResponse<'a> {
    let total: usize = tokens.iter().sum();
    OpenAiResponse {
        object: "list",
        data: vectors
            .iter()
            .enumerate()
            .map(|(index, v)| OpenAiEmbedding { object: "embedding", index, embedding: v })
            .collect(),
        model,
        usage: Usage { prompt_tokens: total, total_tokens: total },
    }
}

/// `#<i>  dim <n>  tokens <t>  [v0, v1, …]`, the first `show` values to 4 decimals.
pub fn summary(i: usize, v: &[f32], tokens: usize, show: usize) -> String {
    let head: Vec<String> = v.iter().take(show).map(|x| format!("{x:.4}")).collect();
    let more = if v.len() > show { ", …" } else { "" };
    format!("#{i}  dim {}  tokens {tokens}  [{}{more}]", v.len(), head.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_is_openai_shaped() {
        let vectors = [vec![0.6, 0.8], vec![1.0, 0.0]];
        let text = serde_json::to_string(&openai_response("all-minilm", &vectors, &[3, 4])).unwrap();
        assert!(text.contains("[0.6,0.8]"), "f32 values print short: {text}");
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["object"], "list");
        assert_eq!(v["model"], "all-minilm");
        assert_eq!(v["data"][1]["object"], "embedding");
        assert_eq!(v["data"][1]["index"], 1);
        assert_eq!(v["data"][0]["embedding"][1].as_f64().map(|x| x as f32), Some(0.8));
        assert_eq!(v["usage"]["prompt_tokens"], 7);
        assert_eq!(v["usage"]["total_tokens"], 7);
    }

    #[test]
    fn summary_shows_the_head_of_the_vector() {
        assert_eq!(summary(0, &[0.5, -0.25, 0.125], 5, 2), "#0  dim 3  tokens 5  [0.5000, -0.2500, …]");
        assert_eq!(summary(2, &[1.0], 3, 8), "#2  dim 1  tokens 3  [1.0000]");
    }
}
