//! The `calls` columns in insert order, and the mapping between a [`Call`] and a row.

use rusqlite::types::Value;
use rusqlite::{Row, Statement};

use crate::call::{Call, Status};
use crate::error::LedgerError;

/// Every column a [`Call`] fills, in the order [`bind`] binds them.
pub const COLUMNS: &[&str] = &[
    "time_unix_ms",
    "request_id",
    "gen_ai_response_id",
    "gen_ai_operation_name",
    "task",
    "tags",
    "route",
    "reason",
    "gen_ai_provider_name",
    "gen_ai_request_model",
    "gen_ai_response_model",
    "local",
    "streamed",
    "gen_ai_usage_input_tokens",
    "gen_ai_usage_output_tokens",
    "gen_ai_usage_cache_read_input_tokens",
    "gen_ai_usage_cache_creation_input_tokens",
    "semantic_cache_hit",
    "latency_ms",
    "time_to_first_token_ms",
    "local_tokens_per_s",
    "complexity",
    "mean_logprob",
    "min_logprob",
    "label_margin",
    "cost_usd",
    "baseline_cost_usd",
    "escalation_parent",
    "status",
    "error_type",
    "error_message",
    "service_instance_id",
];

/// `INSERT INTO calls (…) VALUES (?1, …)`.
pub fn insert_sql() -> String {
    let marks: Vec<String> = (1..=COLUMNS.len()).map(|i| format!("?{i}")).collect();
    format!("INSERT INTO calls ({}) VALUES ({})", COLUMNS.join(", "), marks.join(", "))
}

/// `SELECT id, … FROM calls`.
pub fn select_sql() -> String {
    select_sql_with(|_| true)
}

/// `SELECT id, … FROM calls` for a file that may predate some columns: a column for which
/// `present` is false is read as `NULL` (every column a migration added is nullable), so a
/// read-only reader takes an older file as it is.
pub fn select_sql_with(present: impl Fn(&str) -> bool) -> String {
    let list: Vec<String> =
        COLUMNS.iter().map(|&c| if present(c) { c.to_owned() } else { format!("NULL AS {c}") }).collect();
    format!("SELECT id, {} FROM calls", list.join(", "))
}

fn int(v: Option<u64>) -> Value {
    v.map_or(Value::Null, |n| Value::Integer(i64::try_from(n).unwrap_or(i64::MAX)))
}

fn real(v: Option<f64>) -> Value {
    v.map_or(Value::Null, Value::Real)
}

fn text(v: &Option<String>) -> Value {
    v.clone().map_or(Value::Null, Value::Text)
}

/// Runs `stmt` (from [`insert_sql`]) for `c`.
pub fn insert(stmt: &mut Statement<'_>, c: &Call) -> Result<(), LedgerError> {
    let tags = serde_json::to_string(&c.tags).unwrap_or_else(|_| "{}".to_owned());
    let values: [Value; 32] = [
        Value::Integer(c.time_unix_ms),
        Value::Text(c.request_id.clone()),
        text(&c.upstream_request_id),
        Value::Text(c.operation.clone()),
        text(&c.task),
        Value::Text(tags),
        Value::Text(c.route.clone()),
        Value::Text(c.reason.clone()),
        Value::Text(c.provider.clone()),
        Value::Text(c.request_model.clone()),
        text(&c.response_model),
        Value::Integer(c.local.into()),
        Value::Integer(c.streamed.into()),
        int(c.input_tokens),
        int(c.output_tokens),
        int(c.cache_read_tokens),
        int(c.cache_creation_tokens),
        Value::Integer(c.semantic_cache_hit.into()),
        int(Some(c.latency_ms)),
        int(c.time_to_first_token_ms),
        real(c.local_tokens_per_s),
        real(c.complexity),
        real(c.mean_logprob),
        real(c.min_logprob),
        real(c.label_margin),
        Value::Real(c.cost_usd),
        real(c.baseline_cost_usd),
        text(&c.escalation_parent),
        Value::Text(c.status.as_str().to_owned()),
        text(&c.error_type),
        text(&c.error_message),
        text(&c.service_instance_id),
    ];
    stmt.execute(rusqlite::params_from_iter(values))?;
    Ok(())
}

fn count(row: &Row<'_>, i: usize) -> rusqlite::Result<Option<u64>> {
    Ok(row.get::<_, Option<i64>>(i)?.map(|n| u64::try_from(n).unwrap_or(0)))
}

/// The [`Call`] of a row from [`select_sql`] (its row id names the row in a decode error).
pub fn read(row: &Row<'_>) -> Result<Call, LedgerError> {
    let id: i64 = row.get(0)?;
    let tags: String = row.get(6)?;
    let tags = serde_json::from_str(&tags).map_err(|e| LedgerError::Decode {
        id,
        column: "tags",
        message: e.to_string(),
    })?;
    let status: String = row.get(29)?;
    let status = Status::parse(&status).ok_or_else(|| LedgerError::Decode {
        id,
        column: "status",
        message: format!("unknown status {status:?}"),
    })?;
    let call = Call {
        time_unix_ms: row.get(1)?,
        request_id: row.get(2)?,
        upstream_request_id: row.get(3)?,
        operation: row.get(4)?,
        task: row.get(5)?,
        tags,
        route: row.get(7)?,
        reason: row.get(8)?,
        provider: row.get(9)?,
        request_model: row.get(10)?,
        response_model: row.get(11)?,
        local: row.get(12)?,
        streamed: row.get(13)?,
        input_tokens: count(row, 14)?,
        output_tokens: count(row, 15)?,
        cache_read_tokens: count(row, 16)?,
        cache_creation_tokens: count(row, 17)?,
        semantic_cache_hit: row.get(18)?,
        latency_ms: count(row, 19)?.unwrap_or(0),
        time_to_first_token_ms: count(row, 20)?,
        local_tokens_per_s: row.get(21)?,
        complexity: row.get(22)?,
        mean_logprob: row.get(23)?,
        min_logprob: row.get(24)?,
        label_margin: row.get(25)?,
        cost_usd: row.get(26)?,
        baseline_cost_usd: row.get(27)?,
        escalation_parent: row.get(28)?,
        status,
        error_type: row.get(30)?,
        error_message: row.get(31)?,
        service_instance_id: row.get(32)?,
    };
    Ok(call)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sql_names_every_column_once() {
        let mut seen = std::collections::BTreeSet::new();
        assert!(COLUMNS.iter().all(|c| seen.insert(*c)));
        assert!(insert_sql().ends_with(&format!("?{})", COLUMNS.len())));
    }
}
