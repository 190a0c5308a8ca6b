//! `POST /v1/embeddings`: OpenAI's embeddings endpoint on the server's embedding models
//! (`embedders.rs`). Texts are tokenized by the embedder (`[CLS] … [SEP]` for BERT-family
//! models); token-id inputs are embedded as given. An input longer than the model's context
//! is a 400 `context_length_exceeded` naming the limit, unless the request sets hearth's
//! `truncate: true` (the first tokens are kept, the closing `[SEP]` too). Vectors are unit
//! length; `dimensions` keeps the first N components and normalises again.

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::response::{IntoResponse, Response};
use hearth_models::{Embedder, ModelError};

use crate::embeddings_request::{self, EmbeddingsRequest, OneInput};
use crate::embeddings_response::{EmbeddingList, shorten};
use crate::{ApiError, AppState, request};

/// The handler.
pub(crate) async fn handler(State(state): State<AppState>, body: Result<Bytes, BytesRejection>) -> Response {
    run(state, body).await.unwrap_or_else(IntoResponse::into_response)
}

async fn run(state: AppState, body: Result<Bytes, BytesRejection>) -> Result<Response, ApiError> {
    let body = request::body_bytes(body)?;
    let req = embeddings_request::parse(&body)?;
    let embedders = state.embedders();
    let spec = embedders.find(req.model.as_deref())?;
    let name = spec.name.clone();
    let embedder = embedders.get(spec).await?;
    let started = std::time::Instant::now();
    let (encoding, dimensions, user) = (req.encoding, req.dimensions, req.user.clone());
    let (mut vectors, lens) = embedders.run(embedder, move |e| embed(e, &req)).await??;
    let prompt_tokens = lens.iter().sum();
    if let Some(dims) = dimensions {
        for v in &mut vectors {
            shorten(v, dims, true, &name)?;
        }
    }
    let ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    tracing::debug!(model = %name, inputs = vectors.len(), prompt_tokens, ms, user = user.as_deref(), "embedded");
    Ok(crate::response::json_response(&EmbeddingList::new(name, vectors, encoding, prompt_tokens)))
}

/// The vectors of every input, in order, and each input's token count.
fn embed(e: &Embedder, req: &EmbeddingsRequest) -> Result<(Vec<Vec<f32>>, Vec<usize>), ApiError> {
    let max = e.max_tokens();
    let mut seqs = Vec::with_capacity(req.inputs.len());
    for (i, input) in req.inputs.iter().enumerate() {
        let mut ids = match input {
            OneInput::Text(t) => e.tokenize(t),
            OneInput::Tokens(ids) => ids.clone(),
        };
        if ids.len() > max {
            if !req.truncate {
                return Err(ApiError::invalid(
                    Some("input"),
                    format!(
                        "input {i} is {} tokens; this model's maximum context length is {max} tokens. Shorten it, split it, or send \"truncate\": true to embed its first {max} tokens",
                        ids.len()
                    ),
                )
                .with_code("context_length_exceeded"));
            }
            let last = ids[ids.len() - 1];
            ids.truncate(max);
            if matches!(input, OneInput::Text(_)) && max > 1 {
                ids[max - 1] = last;
            }
        }
        seqs.push(ids);
    }
    let lens = seqs.iter().map(Vec::len).collect();
    let vectors = e.embed_tokens(&seqs).map_err(|err| match err {
        ModelError::BadToken { id, n_vocab } => ApiError::invalid(
            Some("input"),
            format!("token id {id} is out of range: this model's vocabulary has {n_vocab} tokens"),
        ),
        ModelError::EmptyInput { index } => {
            ApiError::invalid(Some("input"), format!("input {index} has no tokens"))
        }
        other => ApiError::internal(format!("embedding failed: {other}")),
    })?;
    Ok((vectors, lens))
}
