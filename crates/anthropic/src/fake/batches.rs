//! The fake's Message Batches API: `POST /v1/messages/batches` checks the body as the API
//! does (a non-empty `requests` list, each `custom_id` 1–64 of `a-zA-Z0-9_-` and unique,
//! `params` a messages request that does not stream) and answers every request at once (each
//! as `/v1/messages` would, the test's responder included, usage with `service_tier`
//! `batch`); the batch reports `in_progress` until it has been retrieved once, then `ended`,
//! so a client must poll. A request whose `params` the API would refuse is an `errored`
//! result, as the real API reports it.

use serde_json::{Value, json};

use super::validate::{self, Reject};
use super::{FakeConfig, Inner, reply};

/// A batch the fake holds.
#[derive(Debug, Clone)]
pub(crate) struct FakeBatch {
    id: String,
    created: String,
    retrieved: u32,
    results: Vec<Value>,
    succeeded: u64,
    errored: u64,
}

impl FakeBatch {
    fn ended(&self) -> bool {
        self.retrieved >= 2
    }

    /// The batch object (SDK `MessageBatch`).
    pub(crate) fn object(&self, base: &str) -> Value {
        let ended = self.ended();
        let n = self.results.len() as u64;
        json!({
            "id": self.id,
            "type": "message_batch",
            "processing_status": if ended { "ended" } else { "in_progress" },
            "request_counts": {
                "processing": if ended { 0 } else { n },
                "succeeded": if ended { self.succeeded } else { 0 },
                "errored": if ended { self.errored } else { 0 },
                "canceled": 0,
                "expired": 0,
            },
            "ended_at": if ended { Value::from(self.created.clone()) } else { Value::Null },
            "created_at": self.created,
            "expires_at": self.created,
            "archived_at": null,
            "cancel_initiated_at": null,
            "results_url": if ended { Value::from(format!("{base}/v1/messages/batches/{}/results", self.id)) } else { Value::Null },
        })
    }

    /// The results, one JSON line each (only once ended).
    pub(crate) fn jsonl(&self) -> Option<String> {
        self.ended().then(|| self.results.iter().map(|r| format!("{r}\n")).collect())
    }

    /// Counts a retrieval.
    pub(crate) fn retrieved(&mut self) {
        self.retrieved += 1;
    }
}

/// Checks a create body and answers every request; the new batch.
pub(crate) fn create(
    body: &[u8],
    config: &FakeConfig,
    inner: &mut Inner,
    serial: u64,
) -> Result<FakeBatch, Reject> {
    let v: Value =
        serde_json::from_slice(body).map_err(|e| Reject::invalid(format!("body: invalid JSON ({e})")))?;
    let object = v.as_object().ok_or_else(|| Reject::invalid("body: Input should be a valid dictionary"))?;
    if let Some(extra) = object.keys().find(|k| k.as_str() != "requests") {
        return Err(Reject::invalid(format!("{extra}: Extra inputs are not permitted")));
    }
    let requests = object
        .get("requests")
        .and_then(Value::as_array)
        .ok_or_else(|| Reject::invalid("requests: Field required"))?;
    if requests.is_empty() || requests.len() > 100_000 {
        return Err(Reject::invalid("requests: List should have between 1 and 100000 items"));
    }
    let mut seen = std::collections::HashSet::new();
    let mut batch = FakeBatch {
        id: format!("msgbatch_fake_{serial:08}"),
        created: "2026-12-04T00:00:00Z".into(),
        retrieved: 0,
        results: Vec::new(),
        succeeded: 0,
        errored: 0,
    };
    for (i, r) in requests.iter().enumerate() {
        let id = r.get("custom_id").and_then(Value::as_str).unwrap_or_default();
        let valid_id = (1..=64).contains(&id.len())
            && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !valid_id {
            return Err(Reject::invalid(format!(
                "requests.{i}.custom_id: String should match pattern '^[a-zA-Z0-9_-]{{1,64}}$'"
            )));
        }
        if !seen.insert(id.to_owned()) {
            return Err(Reject::invalid(format!(
                "requests.{i}.custom_id: {id:?} is not unique in the batch"
            )));
        }
        let params =
            r.get("params").ok_or_else(|| Reject::invalid(format!("requests.{i}.params: Field required")))?;
        if params.get("stream").and_then(Value::as_bool) == Some(true) {
            return Err(Reject::invalid(format!(
                "requests.{i}.params.stream: streaming is not supported in batches"
            )));
        }
        let bytes = serde_json::to_vec(params).unwrap_or_default();
        let result = match validate::messages_body(&bytes, config) {
            Ok(req) => {
                let mut message = reply::answer(&req, &format!("msg_fake_{serial:08}_{i}"), &mut inner.cache);
                if let Some(text) = config.responder.as_ref().and_then(|r| (r.0)(&req)) {
                    reply::replace_text(&mut message, text);
                }
                let mut message = serde_json::to_value(&message).unwrap_or_default();
                message["usage"]["service_tier"] = json!("batch");
                batch.succeeded += 1;
                json!({"type": "succeeded", "message": message})
            }
            Err(reject) => {
                batch.errored += 1;
                json!({"type": "errored", "error": {"type": "error", "error": {"type": reject.kind, "message": reject.message}}})
            }
        };
        batch.results.push(json!({"custom_id": id, "result": result}));
    }
    Ok(batch)
}
