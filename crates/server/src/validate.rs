//! Validation of a generation request: the body of `/v1/chat/completions` or
//! `/v1/completions`, parsed, checked field by field and translated into a
//! [`hearth_engine::Request`] — a [`ValidatedRequest`]. Every mistake is a 400 naming the
//! parameter. OpenAI's defaults apply: temperature 1, top_p 1, no top_k or min_p unless
//! given, penalties over the whole completion. Extensions: `top_k`, `min_p`,
//! `repetition_penalty`, `ignore_eos`.
//!
//! [`validate_request`] needs no model (only its context and vocabulary sizes) and no
//! runtime, so the fuzz target in `crates/server/fuzz` drives it directly.

use hearth_engine::{Constraint, Prompt, Request, SamplingParams};
pub use hearth_tools::CallSyntax;
use hearth_tools::ToolSet;

use crate::ApiError;
use crate::request::{self, GenerationBody, LogprobsInput, ResponseFormat, StopInput};

/// Most alternatives per token in `top_logprobs` / `logprobs`.
const MAX_TOP_LOGPROBS: u32 = 20;
/// Most stop strings.
const MAX_STOPS: usize = 16;

/// Which endpoint a body came to (a few fields differ).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
    /// `POST /v1/chat/completions`: `messages`.
    Chat,
    /// `POST /v1/completions`: `prompt`.
    Completions,
}

/// What validation needs to know about the served model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ModelShape {
    /// Context size in tokens: the default `max_tokens`.
    pub n_ctx: usize,
    /// Vocabulary size: `logit_bias` keys must be below it.
    pub n_vocab: usize,
    /// How the model writes tool calls (read off its chat template).
    pub tool_syntax: CallSyntax,
}

/// A generation request that passed validation: the engine request (prompt, sampling,
/// length, stops, constraint) and what the HTTP response needs besides it.
#[derive(Debug)]
pub struct ValidatedRequest {
    /// What the engine runs (its prompt is not tokenized yet).
    pub request: Request,
    /// `stream: true`: answer with server-sent events.
    pub stream: bool,
    /// `stream_options.include_usage`: a usage chunk before `[DONE]`.
    pub include_usage: bool,
    /// Logprobs asked for; with this many alternatives per token.
    pub logprobs: Option<usize>,
    /// `echo` (completions): the prompt is sent back before the completion.
    pub echo: bool,
    /// The tools the output may call, when the request has any (the constraint then is
    /// their call grammar).
    pub(crate) tools: Option<crate::tools::ToolCalling>,
    /// What was accepted but ignored (an unknown JSON Schema `format`), for the
    /// `X-Hearth-Warning` response header.
    pub warnings: Vec<String>,
}

/// Parses and validates a request body for `endpoint`. Errors are 400s naming the parameter
/// at fault (`messages[1].content`, `response_format.json_schema.schema`).
pub fn validate_request(
    body: &[u8],
    endpoint: Endpoint,
    model: ModelShape,
) -> Result<ValidatedRequest, ApiError> {
    validate_body(&request::parse(body)?, endpoint, model)
}

/// [`validate_request`] of a body already parsed (the server reads its `model` first).
pub(crate) fn validate_body(
    body: &GenerationBody,
    endpoint: Endpoint,
    model: ModelShape,
) -> Result<ValidatedRequest, ApiError> {
    match endpoint {
        Endpoint::Chat => {
            let set = crate::tools::openai_tool_set(body)?;
            let prompt = crate::tools::prompt(crate::chat::messages(body)?, set.as_ref());
            let mut valid = validate_fields(body, endpoint, prompt, model)?;
            if let Some(set) = set {
                with_tools(&mut valid, set, model.tool_syntax, "response_format")?;
            }
            Ok(valid)
        }
        Endpoint::Completions => {
            validate_fields(body, endpoint, crate::completions::prompt(body.prompt.as_ref())?, model)
        }
    }
}

/// Sets `set` as the request's tools: the output is constrained to text or calls in
/// `syntax` (unless the choice is `none`). A structured-output constraint cannot be combined
/// with calls (`format_param` names it in the 400).
pub(crate) fn with_tools(
    valid: &mut ValidatedRequest,
    set: ToolSet,
    syntax: CallSyntax,
    format_param: &str,
) -> Result<(), ApiError> {
    if let Some(constraint) = hearth_tools::grammar(&set, syntax) {
        if valid.request.constraint.is_some() {
            return Err(ApiError::invalid(
                Some(format_param),
                format!(
                    "`{format_param}` and tool calls cannot be constrained together: send one, or set                      `tool_choice` to none"
                ),
            ));
        }
        valid.request.constraint = Some(constraint);
    }
    valid.tools = Some(crate::tools::ToolCalling { set, syntax });
    Ok(())
}

fn range(param: &str, v: Option<f32>, lo: f32, hi: f32, default: f32) -> Result<f32, ApiError> {
    match v {
        None => Ok(default),
        Some(x) if x.is_finite() && (lo..=hi).contains(&x) => Ok(x),
        Some(x) => {
            Err(ApiError::invalid(Some(param), format!("`{param}` must be between {lo} and {hi}, got {x}")))
        }
    }
}

/// Validates the fields of `body` and builds the engine request for `prompt`; the model's
/// context bounds the default length, its vocabulary the token ids of `logit_bias`.
pub(crate) fn validate_fields(
    body: &GenerationBody,
    endpoint: Endpoint,
    prompt: Prompt,
    model: ModelShape,
) -> Result<ValidatedRequest, ApiError> {
    let ModelShape { n_ctx, n_vocab, .. } = model;
    if let Some(n) = body.n
        && n != 1
    {
        return Err(ApiError::invalid(
            Some("n"),
            format!("`n` must be 1 (hearth returns one choice per request), got {n}"),
        ));
    }
    if let Some(n) = body.best_of
        && n != 1
    {
        return Err(ApiError::invalid(Some("best_of"), format!("`best_of` must be 1, got {n}")));
    }

    let mut sampling = SamplingParams {
        temperature: range("temperature", body.temperature, 0.0, 2.0, 1.0)?,
        top_p: range("top_p", body.top_p, 0.0, 1.0, 1.0)?,
        top_k: body.top_k.unwrap_or(0) as usize,
        min_p: range("min_p", body.min_p, 0.0, 1.0, 0.0)?,
        repetition_penalty: 1.0,
        presence_penalty: range("presence_penalty", body.presence_penalty, -2.0, 2.0, 0.0)?,
        frequency_penalty: range("frequency_penalty", body.frequency_penalty, -2.0, 2.0, 0.0)?,
        // OpenAI's penalties count every token of the completion.
        penalty_last_n: usize::MAX,
        seed: body.seed.as_ref().map(|s| s.bits()),
        ..SamplingParams::default()
    };
    if sampling.top_p == 0.0 {
        // Only the most likely token survives: the same as top_k = 1.
        sampling.top_p = 1.0;
        sampling.top_k = 1;
    }
    if let Some(r) = body.repetition_penalty {
        if !(r.is_finite() && r > 0.0) {
            return Err(ApiError::invalid(
                Some("repetition_penalty"),
                format!("`repetition_penalty` must be > 0, got {r}"),
            ));
        }
        sampling.repetition_penalty = r;
    }
    if let Some(bias) = &body.logit_bias {
        for (k, &v) in bias {
            let param = format!("logit_bias.{k}");
            let id = k.parse::<u32>().ok().filter(|&id| (id as usize) < n_vocab).ok_or_else(|| {
                ApiError::invalid(
                    Some(&param),
                    format!("`logit_bias` key {k:?} is not a token id below {n_vocab}"),
                )
            })?;
            if !(v.is_finite() && (-100.0..=100.0).contains(&v)) {
                return Err(ApiError::invalid(
                    Some(&param),
                    format!("`logit_bias` values must be between -100 and 100, got {v}"),
                ));
            }
            // -100 bans the token, as OpenAI documents.
            sampling.logit_bias.push((id, if v <= -100.0 { f32::NEG_INFINITY } else { v }));
        }
    }

    let logprobs = match (endpoint, &body.logprobs) {
        (_, None) | (Endpoint::Chat, Some(LogprobsInput::Flag(false))) => None,
        (Endpoint::Chat, Some(LogprobsInput::Flag(true))) => Some(body.top_logprobs.unwrap_or(0)),
        (Endpoint::Completions, Some(LogprobsInput::Count(n))) => Some(*n),
        (Endpoint::Chat, Some(LogprobsInput::Count(_))) => {
            return Err(ApiError::invalid(
                Some("logprobs"),
                "`logprobs` must be a boolean; give the count in `top_logprobs`",
            ));
        }
        (Endpoint::Completions, Some(LogprobsInput::Flag(_))) => {
            return Err(ApiError::invalid(
                Some("logprobs"),
                "`logprobs` must be an integer (alternatives per token) or null",
            ));
        }
    };
    if endpoint == Endpoint::Chat && logprobs.is_none() && body.top_logprobs.is_some_and(|n| n > 0) {
        return Err(ApiError::invalid(Some("top_logprobs"), "`top_logprobs` needs `logprobs: true`"));
    }
    let param = if endpoint == Endpoint::Chat { "top_logprobs" } else { "logprobs" };
    if let Some(n) = logprobs
        && n > MAX_TOP_LOGPROBS
    {
        return Err(ApiError::invalid(
            Some(param),
            format!("`{param}` must be at most {MAX_TOP_LOGPROBS}, got {n}"),
        ));
    }
    if let Some(n) = logprobs {
        sampling.logprobs = true;
        sampling.n_logprobs = n as usize;
    }
    sampling.validate().map_err(|e| ApiError::invalid(None, e.to_string()))?;

    let max_tokens = match body.max_completion_tokens.or(body.max_tokens) {
        None => n_ctx,
        Some(0) => {
            let p = if body.max_completion_tokens.is_some() { "max_completion_tokens" } else { "max_tokens" };
            return Err(ApiError::invalid(Some(p), format!("`{p}` must be at least 1")));
        }
        Some(n) => n as usize,
    };

    let stop = match &body.stop {
        None => Vec::new(),
        Some(StopInput::One(s)) => vec![s.clone()],
        Some(StopInput::Many(v)) => v.clone(),
    };
    if stop.len() > MAX_STOPS {
        return Err(ApiError::invalid(
            Some("stop"),
            format!("at most {MAX_STOPS} stop strings, got {}", stop.len()),
        ));
    }
    if let Some(i) = stop.iter().position(String::is_empty) {
        return Err(ApiError::invalid(Some(&format!("stop[{i}]")), "stop strings must not be empty"));
    }

    let mut warnings = Vec::new();
    let constraint = match &body.response_format {
        None | Some(ResponseFormat::Text) => None,
        Some(ResponseFormat::JsonObject) => Some(Constraint::JsonObject),
        Some(ResponseFormat::JsonSchema { json_schema }) => match &json_schema.schema {
            Some(schema) if schema.is_object() || schema.is_boolean() => {
                let mut schema = schema.clone();
                // JSON Schema: a format the validator does not know is an annotation.
                let unknown = hearth_grammar::drop_unknown_formats(&mut schema);
                if !unknown.is_empty() {
                    let list = unknown.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ");
                    if json_schema.strict == Some(true) {
                        return Err(ApiError::invalid(
                            Some("response_format.json_schema.schema"),
                            format!(
                                "{list}: hearth enforces the formats {}; with `strict: true` a format it \
                                 cannot enforce is refused (without it, it is ignored as an annotation)",
                                hearth_grammar::KNOWN_FORMATS.join(", ")
                            ),
                        ));
                    }
                    warnings.push(format!("response_format.json_schema: ignored {list} (not enforced)"));
                }
                Some(Constraint::JsonSchema(schema))
            }
            Some(_) => {
                return Err(ApiError::invalid(
                    Some("response_format.json_schema.schema"),
                    "the schema must be a JSON object",
                ));
            }
            None => {
                return Err(ApiError::invalid(
                    Some("response_format.json_schema.schema"),
                    "`json_schema` needs a `schema`",
                ));
            }
        },
    };

    let stream = body.stream.unwrap_or(false);
    let include_usage = body.stream_options.as_ref().and_then(|o| o.include_usage).unwrap_or(false);
    let mut request = Request::new(prompt);
    request.sampling = sampling;
    request.max_tokens = max_tokens;
    request.stop = stop;
    request.constraint = constraint;
    request.ignore_eos = body.ignore_eos.unwrap_or(false);
    Ok(ValidatedRequest {
        request,
        stream,
        include_usage,
        logprobs: logprobs.map(|n| n as usize),
        echo: body.echo.unwrap_or(false),
        tools: None,
        warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn validated(json: &str, endpoint: Endpoint) -> Result<ValidatedRequest, ApiError> {
        let body = request::parse(json.as_bytes()).unwrap();
        validate_fields(
            &body,
            endpoint,
            Prompt::text("x"),
            ModelShape { n_ctx: 512, n_vocab: 1000, tool_syntax: CallSyntax::Hermes },
        )
    }

    #[test]
    fn openai_defaults() {
        let p = validated("{}", Endpoint::Chat).unwrap();
        let s = &p.request.sampling;
        assert_eq!((s.temperature, s.top_p, s.top_k, s.min_p), (1.0, 1.0, 0, 0.0));
        assert_eq!(p.request.max_tokens, 512);
        assert!(!p.stream && p.logprobs.is_none() && p.request.constraint.is_none());
    }

    #[test]
    fn fields_map_onto_the_request() {
        let p = validated(
            r#"{"temperature":0.2,"top_p":0.9,"top_k":5,"min_p":0.1,"seed":-1,"stop":"END","max_completion_tokens":7,
                "max_tokens":99,"logprobs":true,"top_logprobs":3,"stream":true,"stream_options":{"include_usage":true},
                "response_format":{"type":"json_object"},"logit_bias":{"12":-100},"ignore_eos":true}"#,
            Endpoint::Chat,
        )
        .unwrap();
        let s = &p.request.sampling;
        assert_eq!((s.temperature, s.top_p, s.top_k, s.min_p, s.seed), (0.2, 0.9, 5, 0.1, Some(u64::MAX)));
        assert_eq!(s.logit_bias, vec![(12, f32::NEG_INFINITY)]);
        assert_eq!(p.request.stop, vec!["END".to_owned()]);
        assert_eq!(p.request.max_tokens, 7);
        assert_eq!(p.logprobs, Some(3));
        assert!(p.stream && p.include_usage);
        assert_eq!(p.request.constraint, Some(Constraint::JsonObject));
        assert!(p.request.ignore_eos);
        let c = validated(r#"{"logprobs":2}"#, Endpoint::Completions).unwrap();
        assert_eq!(c.logprobs, Some(2));
    }

    #[test]
    fn out_of_range_values_are_400_naming_the_parameter() {
        for (json, param) in [
            (r#"{"n":2}"#, "n"),
            (r#"{"temperature":2.5}"#, "temperature"),
            (r#"{"top_p":1.5}"#, "top_p"),
            (r#"{"presence_penalty":-3}"#, "presence_penalty"),
            (r#"{"max_tokens":0}"#, "max_tokens"),
            (r#"{"top_logprobs":2}"#, "top_logprobs"),
            (r#"{"logprobs":true,"top_logprobs":21}"#, "top_logprobs"),
            (r#"{"stop":["a",""]}"#, "stop[1]"),
            (r#"{"logit_bias":{"5000":1}}"#, "logit_bias.5000"),
            (
                r#"{"response_format":{"type":"json_schema","json_schema":{"name":"x"}}}"#,
                "response_format.json_schema.schema",
            ),
        ] {
            let e = validated(json, Endpoint::Chat).unwrap_err();
            assert_eq!(e.status, 400, "{json}");
            assert_eq!(e.param.as_deref(), Some(param), "{json}: {}", e.message);
        }
    }
}
