//! `hearth-monitor`: the quality monitor. A remote judge samples local answers; a task type
//! whose agreement drops moves up a tier (its route's `escalate_to`) by itself, and back when
//! shadow samples say it agrees again.
//!
//! - [`state`]: per task type counts, recent verdicts, the running test, the tier and its
//!   history; stratified sampling ([`state::MonitorState::offer`]); pure, saved as JSON.
//! - [`stats`]: the Wilson interval and the sequential probability ratio test.
//! - [`compare`]: exact comparison (labels, tag sets, JSON fields) for `exact_tasks`.
//! - [`pairwise`]: the pairwise judge prompt, its verdict schema, both orders.
//! - [`report`]: the state as rows per task type (`hearth report`, `/v1/hearth/routes`).
//! - [`remote`]: judge calls over hearth's Claude / OpenAI clients; [`batch`]: through the
//!   Message Batches API (`batch = true`, half price).
//! - [`Monitor`]: the running monitor, the router's [`hearth_router::Watch`]; judges on its
//!   own worker through a [`Judge`] (the thin adapter to the models).
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod batch;
pub mod compare;
pub mod judge;
mod monitor;
pub mod pairwise;
pub mod remote;
pub mod report;
pub mod state;
pub mod stats;

pub use judge::{Judge, JudgeError, JudgeReply};
pub use monitor::{Clock, Monitor, MonitorError, Sample, SampleKind, Verdict};
pub use state::{MonitorState, TaskState, Tier, TierChange};
pub use stats::{Interval, Sprt, SprtParams, TestState};
