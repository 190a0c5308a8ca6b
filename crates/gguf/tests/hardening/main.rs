//! Hardening suite for `hearth-gguf`, one test binary: hostile headers (every rejection is a
//! typed error naming the key or tensor), writer round-trips, truncation and mutation sweeps
//! over real fixture headers, and regressions found by the `parse_header` fuzz target.
//!
//! A counting global allocator ([`alloc_count`]) lets tests assert that a hostile header is
//! rejected without allocating what it claims to hold.

mod alloc_count;
mod exercise;
mod hostile_header;
mod regressions;
mod robustness;
mod seeds;
mod support;
mod truncation;
mod writer_round_trip;
