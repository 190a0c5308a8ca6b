//! `hearth-eval`: what `hearth eval` measures and reports, as a library with no model code.
//!
//! - [`suite`]: suite files (one task per JSONL line: task type, messages, gold and scorer).
//! - [`score`] and [`python`]: the scorers (`label`, `fields`, `contains`, `python_tests` in a
//!   sandboxed subprocess with a time limit; `reference` is judged by the caller's remote).
//! - [`record`]: one task's run (the local answer, its confidence signals, the upper tier's).
//! - [`sweep`]: coverage / accuracy / cost as each escalation threshold sweeps, and the
//!   threshold that keeps the target accuracy with the most coverage.
//! - [`report`] and [`html`]: the table, JSON and the page with the curves.
//! - [`thresholds`]: the chosen thresholds written into the config (`--write-thresholds`).
//!
//! The runner (model calls, the judge) is `hearth eval` in the CLI: it starts the configured
//! server in-process and sends every task through it.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod html;
pub mod python;
pub mod record;
pub mod report;
pub mod score;
pub mod suite;
pub mod sweep;
pub mod thresholds;

pub use record::{Attempt, Record, Signal};
pub use report::{Costs, EvalReport, TaskReport, Upper};
pub use suite::{Case, Score};
pub use sweep::Target;
