//! Integration tests of the compute layer (one binary):
//!
//! - `pool`: `ThreadPool` — every index runs once per dispatch, panics propagate, nesting and
//!   concurrent callers neither deadlock nor lose work, parked and late workers.
//! - `pool_handshake`: an exhaustive model check of the pool's park/wake handshakes (every
//!   interleaving, x86-TSO store buffers): no missed wake-up, each index run once.
//! - `ops`: the f32 ops — the SIMD table against its scalar twin, both against f64 math.
//! - `rope`: RoPE against a hand-written f64 formula, and the relations between its forms.
//! - `matmul`: `matmul`/`matmul_many` against f64 math on dequantized weights (per-type
//!   budgets) and against the row dot products (exact), over batch sizes, odd row counts,
//!   thread counts, kernel tables and real fixture tensors.
//! - `batch`: the batch kernels behind `matmul` (multi-row, multi-token, repacking GEMM):
//!   bit-identical to the row dot at every batch size and position, independent of the
//!   thread count, within budget of the scalar table and f64, no overflow at extreme quants.
//!
//! SIMD paths are compared with `Kernels::scalar()` (and its `ops()`) explicitly, so they are
//! checked under `HEARTH_KERNELS=scalar` too (which only switches the process-wide tables).
//! `tests/no_alloc.rs` is a separate binary: it installs a counting global allocator.

mod batch;
mod matmul;
mod ops;
mod pool;
mod pool_handshake;
mod rope;
