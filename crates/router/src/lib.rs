//! `hearth-router`: the policy that keeps easy work on local models and sends hard work to a
//! remote (Claude, or any OpenAI-compatible API), as pure data and functions.
//!
//! - [`config`]: the `hearth serve --config FILE.toml` format ([`RouterConfig`]) and its
//!   validation, which names the key at fault.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod config;
pub mod validate;

pub use config::{ConfigError, LocalModel, OnBudget, Provider, Remote, Route, RouterConfig, Target};
pub use validate::{Problem, Problems, process_env};
