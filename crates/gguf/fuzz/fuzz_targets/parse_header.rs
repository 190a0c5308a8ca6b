//! Fuzz target: `hearth_gguf::parse_header` on arbitrary bytes must return `Ok` or a typed
//! error, never panic, overflow or allocate beyond what the input backs. When it accepts,
//! every tensor view must lie in the input, every metadata accessor must agree with the value
//! type, and a `GgufWriter` re-write must parse back identical (see `exercise.rs`, shared with
//! the test suite).
#![no_main]

use hearth_gguf::{Limits, parse_header};
use libfuzzer_sys::fuzz_target;

#[path = "../../tests/hardening/exercise.rs"]
mod exercise;

fuzz_target!(|data: &[u8]| {
    match parse_header(data, &Limits::default()) {
        Ok(header) => {
            exercise::exercise(data, &header);
            exercise::round_trip(data, &header);
        }
        Err(e) => {
            std::hint::black_box(e.to_string());
        }
    }
});
