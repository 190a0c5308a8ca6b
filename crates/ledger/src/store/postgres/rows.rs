//! A [`Call`] as a PostgreSQL row: the binary `COPY` that writes a batch, and the reader.
//!
//! Types: `BIGINT` for times, counts and milliseconds (a `u64` above `i64::MAX` is stored as
//! `i64::MAX`, as in SQLite), `DOUBLE PRECISION` for scores and costs, `BOOLEAN` for
//! `local` / `streamed` / `semantic_cache_hit` (SQLite's 0/1), `TEXT` for the rest, `tags`
//! included (the same JSON object text as in SQLite; `tags::jsonb` to query it). PostgreSQL
//! text cannot hold the NUL character: one is stored as U+FFFD, so that a stray NUL in an
//! error message cannot fail its whole batch.

use std::borrow::Cow;

use postgres::Row;
use postgres::binary_copy::BinaryCopyInWriter;
use postgres::types::{ToSql, Type};

use super::super::columns::{COLUMNS, select_sql};
use crate::call::{Call, Status};
use crate::error::LedgerError;

/// The type of each of [`COLUMNS`], in order.
pub(crate) const TYPES: [Type; 32] = [
    Type::INT8,   // time_unix_ms
    Type::TEXT,   // request_id
    Type::TEXT,   // gen_ai_response_id
    Type::TEXT,   // gen_ai_operation_name
    Type::TEXT,   // task
    Type::TEXT,   // tags
    Type::TEXT,   // route
    Type::TEXT,   // reason
    Type::TEXT,   // gen_ai_provider_name
    Type::TEXT,   // gen_ai_request_model
    Type::TEXT,   // gen_ai_response_model
    Type::BOOL,   // local
    Type::BOOL,   // streamed
    Type::INT8,   // gen_ai_usage_input_tokens
    Type::INT8,   // gen_ai_usage_output_tokens
    Type::INT8,   // gen_ai_usage_cache_read_input_tokens
    Type::INT8,   // gen_ai_usage_cache_creation_input_tokens
    Type::BOOL,   // semantic_cache_hit
    Type::INT8,   // latency_ms
    Type::INT8,   // time_to_first_token_ms
    Type::FLOAT8, // local_tokens_per_s
    Type::FLOAT8, // complexity
    Type::FLOAT8, // mean_logprob
    Type::FLOAT8, // min_logprob
    Type::FLOAT8, // label_margin
    Type::FLOAT8, // cost_usd
    Type::FLOAT8, // baseline_cost_usd
    Type::TEXT,   // escalation_parent
    Type::TEXT,   // status
    Type::TEXT,   // error_type
    Type::TEXT,   // error_message
    Type::TEXT,   // service_instance_id
];

/// `COPY calls (…) FROM STDIN (FORMAT binary)`.
pub(crate) fn copy_sql() -> String {
    format!("COPY calls ({}) FROM STDIN (FORMAT binary)", COLUMNS.join(", "))
}

/// `SELECT id, … FROM calls WHERE time_unix_ms >= $1 ORDER BY time_unix_ms, id`.
pub(crate) fn since_sql() -> String {
    format!("{} WHERE time_unix_ms >= $1 ORDER BY time_unix_ms, id", select_sql())
}

fn text(s: &str) -> Cow<'_, str> {
    if s.contains('\0') { Cow::Owned(s.replace('\0', "\u{fffd}")) } else { Cow::Borrowed(s) }
}

fn opt_text(s: &Option<String>) -> Option<Cow<'_, str>> {
    s.as_deref().map(text)
}

fn int(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn opt_int(n: Option<u64>) -> Option<i64> {
    n.map(int)
}

/// Writes `c` as one row of the binary `COPY` from [`copy_sql`].
pub(crate) fn write(w: &mut BinaryCopyInWriter<'_>, c: &Call) -> Result<(), postgres::Error> {
    let tags = serde_json::to_string(&c.tags).unwrap_or_else(|_| "{}".to_owned());
    let (request_id, upstream, operation, task) =
        (text(&c.request_id), opt_text(&c.upstream_request_id), text(&c.operation), opt_text(&c.task));
    // serde_json writes a NUL inside a tag as the escape `\u0000`: the text has none.
    let (route, reason, provider) = (text(&c.route), text(&c.reason), text(&c.provider));
    let (request_model, response_model) = (text(&c.request_model), opt_text(&c.response_model));
    let tokens = [opt_int(c.input_tokens), opt_int(c.output_tokens), opt_int(c.cache_read_tokens)];
    let cache_creation = opt_int(c.cache_creation_tokens);
    let (latency, ttft) = (int(c.latency_ms), opt_int(c.time_to_first_token_ms));
    let (parent, status) = (opt_text(&c.escalation_parent), c.status.as_str());
    let (error_type, error_message, instance) =
        (opt_text(&c.error_type), opt_text(&c.error_message), opt_text(&c.service_instance_id));
    let values: [&(dyn ToSql + Sync); 32] = [
        &c.time_unix_ms,
        &request_id,
        &upstream,
        &operation,
        &task,
        &tags,
        &route,
        &reason,
        &provider,
        &request_model,
        &response_model,
        &c.local,
        &c.streamed,
        &tokens[0],
        &tokens[1],
        &tokens[2],
        &cache_creation,
        &c.semantic_cache_hit,
        &latency,
        &ttft,
        &c.local_tokens_per_s,
        &c.complexity,
        &c.mean_logprob,
        &c.min_logprob,
        &c.label_margin,
        &c.cost_usd,
        &c.baseline_cost_usd,
        &parent,
        &status,
        &error_type,
        &error_message,
        &instance,
    ];
    w.write(&values)
}

fn count(row: &Row, i: usize) -> Result<Option<u64>, postgres::Error> {
    Ok(row.try_get::<_, Option<i64>>(i)?.map(|n| u64::try_from(n).unwrap_or(0)))
}

/// The row id and the [`Call`] of a row from [`since_sql`].
pub(crate) fn read(row: &Row) -> Result<(i64, Call), LedgerError> {
    let id: i64 = row.try_get(0)?;
    let tags: String = row.try_get(6)?;
    let tags = serde_json::from_str(&tags).map_err(|e| LedgerError::Decode {
        id,
        column: "tags",
        message: e.to_string(),
    })?;
    let status: String = row.try_get(29)?;
    let status = Status::parse(&status).ok_or_else(|| LedgerError::Decode {
        id,
        column: "status",
        message: format!("unknown status {status:?}"),
    })?;
    let call = Call {
        time_unix_ms: row.try_get(1)?,
        request_id: row.try_get(2)?,
        upstream_request_id: row.try_get(3)?,
        operation: row.try_get(4)?,
        task: row.try_get(5)?,
        tags,
        route: row.try_get(7)?,
        reason: row.try_get(8)?,
        provider: row.try_get(9)?,
        request_model: row.try_get(10)?,
        response_model: row.try_get(11)?,
        local: row.try_get(12)?,
        streamed: row.try_get(13)?,
        input_tokens: count(row, 14)?,
        output_tokens: count(row, 15)?,
        cache_read_tokens: count(row, 16)?,
        cache_creation_tokens: count(row, 17)?,
        semantic_cache_hit: row.try_get(18)?,
        latency_ms: count(row, 19)?.unwrap_or(0),
        time_to_first_token_ms: count(row, 20)?,
        local_tokens_per_s: row.try_get(21)?,
        complexity: row.try_get(22)?,
        mean_logprob: row.try_get(23)?,
        min_logprob: row.try_get(24)?,
        label_margin: row.try_get(25)?,
        cost_usd: row.try_get(26)?,
        baseline_cost_usd: row.try_get(27)?,
        escalation_parent: row.try_get(28)?,
        status,
        error_type: row.try_get(30)?,
        error_message: row.try_get(31)?,
        service_instance_id: row.try_get(32)?,
    };
    Ok((id, call))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_type_per_column_and_nul_is_replaced() {
        assert_eq!(TYPES.len(), COLUMNS.len());
        assert!(copy_sql().contains("(time_unix_ms, request_id,"));
        assert_eq!(text("a\0b"), "a\u{fffd}b");
        assert!(matches!(text("plain"), Cow::Borrowed("plain")));
    }
}
