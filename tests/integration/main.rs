//! Integration tests across crates.

mod big_shapes;
mod router_library;
