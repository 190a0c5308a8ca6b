//! Integration tests across crates.

mod big_shapes;
