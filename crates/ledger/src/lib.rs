//! hearth's ledger: every call hearth serves or makes (local, remote, escalated, cached,
//! failed) becomes one row in SQLite (or, for a fleet of nodes, one PostgreSQL database), so
//! `hearth report` can show what routing and caching saved.
//!
//! - [`Ledger`] is the handle: [`Ledger::record`] never blocks (a bounded queue; a full queue
//!   drops the row and counts it in [`Ledger::dropped`]); one writer thread owns the store and
//!   commits rows in batched transactions ([`LedgerConfig::batch_rows`] /
//!   [`LedgerConfig::batch_ms`]); a failed batch is retried once, then dropped and counted;
//!   [`Ledger::flush`] and `Drop` write what is queued. Retention: [`Ledger::prune_older_than`]
//!   and [`LedgerConfig::retain_days`] (at start-up and daily).
//! - [`Store`] is the backend trait: [`SqliteStore`], the default (WAL, `synchronous=NORMAL`,
//!   schema versioned by `PRAGMA user_version`, see [`schema`]; nothing to install), and
//!   [`PostgresStore`] (`[ledger] url = "postgres://…"`: several nodes write one table, each
//!   row names its node in `service_instance_id`, `[ledger] instance` or the hostname; schema
//!   in `hearth_ledger_schema`, see [`pg_schema`]). [`Ledger::open_config`] picks one.
//!   [`Store::calls_since`] reads rows back; [`SqliteStore::open_read_only`] opens a file for
//!   a reader (never creating or migrating it).
//! - [`Call`] is the row; [`tags::collect`] builds its tags from the request.
//!
//! # Columns
//!
//! Columns follow the OpenTelemetry GenAI semantic conventions where one exists (the
//! attribute name with `.` → `_`); hearth's own names otherwise. PostgreSQL has the same
//! names; its types are `BIGINT`, `DOUBLE PRECISION`, `TEXT` and `BOOLEAN` for the 0/1 columns.
//!
//! | column | `Call` field | OpenTelemetry attribute |
//! |---|---|---|
//! | `id` | (row id) | |
//! | `time_unix_ms` | `time_unix_ms` | (span start time) |
//! | `request_id` | `request_id` | |
//! | `gen_ai_response_id` | `upstream_request_id` | `gen_ai.response.id` |
//! | `gen_ai_operation_name` | `operation` | `gen_ai.operation.name` |
//! | `task` | `task` | |
//! | `tags` (JSON object) | `tags` | |
//! | `route`, `reason` | `route`, `reason` | |
//! | `gen_ai_provider_name` | `provider` (`hearth` for local) | `gen_ai.provider.name` |
//! | `gen_ai_request_model` | `request_model` | `gen_ai.request.model` |
//! | `gen_ai_response_model` | `response_model` | `gen_ai.response.model` |
//! | `local`, `streamed` (0/1) | `local`, `streamed` | |
//! | `gen_ai_usage_input_tokens` | `input_tokens` (includes cached) | `gen_ai.usage.input_tokens` |
//! | `gen_ai_usage_output_tokens` | `output_tokens` | `gen_ai.usage.output_tokens` |
//! | `gen_ai_usage_cache_read_input_tokens` | `cache_read_tokens` | `gen_ai.usage.cache_read.input_tokens` |
//! | `gen_ai_usage_cache_creation_input_tokens` | `cache_creation_tokens` | `gen_ai.usage.cache_creation.input_tokens` |
//! | `semantic_cache_hit` (0/1) | `semantic_cache_hit` | |
//! | `latency_ms` | `latency_ms` | |
//! | `time_to_first_token_ms` | `time_to_first_token_ms` | (metric `gen_ai.server.time_to_first_token`) |
//! | `local_tokens_per_s` | `local_tokens_per_s` | |
//! | `complexity` | `complexity` | |
//! | `mean_logprob`, `min_logprob`, `label_margin` | same | |
//! | `cost_usd`, `baseline_cost_usd` | same | |
//! | `escalation_parent` | `escalation_parent` | |
//! | `status` (`ok`/`escalated`/`error`) | `status` | |
//! | `error_type` | `error_type` | `error.type` |
//! | `error_message` | `error_message` | |
//! | `service_instance_id` (v2) | `service_instance_id` | `service.instance.id` |
//!
//! Indexes: `time_unix_ms`; `(task, time_unix_ms)`; `(route, time_unix_ms)`.

#![forbid(unsafe_code)]

mod call;
mod config;
mod error;
mod ledger;
pub mod pg_schema;
pub mod report;
pub mod schema;
mod stats;
mod store;
pub mod tags;
mod worker;

pub use call::{Call, Status, now_unix_ms};
pub use config::{DEFAULT_FILE_NAME, LedgerConfig, default_path};
pub use error::LedgerError;
pub use ledger::Ledger;
pub use report::{Report, ReportError};
pub use stats::Stats;
pub use store::{PostgresStore, SqliteStore, Store};
