//! Integration tests across crates.
