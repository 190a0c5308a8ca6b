//! What the fuzz target and the mutation sweep do with a header that parsed: check the
//! invariants an accepted header promises, touch every tensor view and metadata accessor,
//! then re-write the file with `GgufWriter` and check the re-parse is identical.
//!
//! Shared by `#[path]` with `crates/gguf/fuzz/fuzz_targets/parse_header.rs`, so the fuzzer
//! and the test suite check the same things. Uses nothing but `hearth_gguf`.

use std::hint::black_box;

use hearth_gguf::{Array, GgufWriter, Header, Limits, Metadata, TensorInfo, Value, parse_header};

/// Re-writes are skipped above this much tensor data, to keep each run fast.
const MAX_REWRITE_BYTES: u64 = 1 << 22;

/// The bytes of `t` inside `buf`, or `None` when they do not lie inside it.
pub fn tensor_view<'a>(buf: &'a [u8], header: &Header, t: &TensorInfo) -> Option<&'a [u8]> {
    let start = header.data_offset.checked_add(t.offset)?;
    let end = start.checked_add(t.n_bytes)?;
    buf.get(usize::try_from(start).ok()?..usize::try_from(end).ok()?)
}

/// Checks what an accepted header promises and touches every view and accessor.
pub fn exercise(buf: &[u8], header: &Header) {
    assert!(header.version == 2 || header.version == 3, "version {}", header.version);
    assert!(header.alignment.is_power_of_two(), "alignment {}", header.alignment);
    assert_eq!(header.data_offset % header.alignment, 0);
    for t in &header.tensors {
        let view = tensor_view(buf, header, t)
            .unwrap_or_else(|| panic!("tensor '{}' accepted out of bounds", t.name));
        assert_eq!(view.len() as u64, t.n_bytes);
        assert_eq!(t.offset % header.alignment, 0, "tensor '{}'", t.name);
        assert_eq!(
            t.dims.iter().try_fold(1u64, |a, &d| a.checked_mul(d)),
            Some(t.n_elements),
            "tensor '{}'",
            t.name
        );
        assert_eq!(t.ne0().checked_mul(t.n_rows()), Some(t.n_elements), "tensor '{}'", t.name);
        assert_eq!(t.ty.bytes_for(t.n_elements), Some(t.n_bytes), "tensor '{}'", t.name);
        assert_eq!(t.ne0() % t.ty.block_size() as u64, 0, "tensor '{}'", t.name);
        black_box((t.ty.to_string(), t.ty.type_size(), view.first(), view.last()));
    }
    touch_metadata(&header.metadata);
}

fn touch_metadata(m: &Metadata) {
    let _ = black_box((m.len(), m.is_empty(), m.architecture().map(str::len)));
    for (k, v) in m.entries() {
        // The index finds this very entry (by address: a NaN is not equal to itself).
        assert!(m.get(k).is_some_and(|got| std::ptr::eq(got, v)), "key '{k}'");
        assert!(m.contains(k));
        // Each getter succeeds exactly when the value has its type.
        assert_eq!(m.opt_u32(k).is_ok(), v.as_int().is_some_and(|i| u32::try_from(i).is_ok()), "key '{k}'");
        assert_eq!(m.opt_u64(k).is_ok(), v.as_int().is_some_and(|i| u64::try_from(i).is_ok()), "key '{k}'");
        assert_eq!(m.opt_i64(k).is_ok(), v.as_int().is_some_and(|i| i64::try_from(i).is_ok()), "key '{k}'");
        assert_eq!(m.opt_f32(k).is_ok(), v.as_f64().is_some(), "key '{k}'");
        assert_eq!(m.opt_bool(k).is_ok(), matches!(v, Value::Bool(_)), "key '{k}'");
        assert_eq!(m.opt_str(k).is_ok(), matches!(v, Value::String(_)), "key '{k}'");
        assert_eq!(m.opt_array(k).is_ok(), matches!(v, Value::Array(_)), "key '{k}'");
        assert_eq!(m.opt_str_array(k).is_ok(), matches!(v, Value::Array(Array::String(_))), "key '{k}'");
        assert_eq!(m.opt_f32_array(k).is_ok(), matches!(v, Value::Array(Array::F32(_))), "key '{k}'");
        let _ = black_box((m.opt_usize(k), m.opt_int_array(k), m.u32(k), m.u64(k), m.usize(k), m.f32(k)));
        let _ = black_box((m.str(k).map(str::len), m.str_array(k).map(<[String]>::len)));
        if let Err(e) = m.u32(k) {
            black_box(e.to_string());
        }
        black_box((v.to_string(), v.type_name(), v.as_int(), v.as_f64(), v.value_type()));
        if let Value::Array(a) = v {
            touch_array(a);
        }
    }
}

fn touch_array(a: &Array) {
    black_box((a.len(), a.is_empty(), a.element_type(), a.to_i64_vec()));
    if let Array::Array(inner) = a {
        inner.iter().for_each(touch_array);
    }
}

/// Re-writes an accepted file with `GgufWriter` and checks that the reader accepts the result
/// and finds the same metadata, tensor infos (but offsets, which the writer packs) and bytes.
pub fn round_trip(buf: &[u8], header: &Header) {
    let total: u64 = header.tensors.iter().map(|t| t.n_bytes).sum();
    if total > MAX_REWRITE_BYTES {
        return;
    }
    let mut w = GgufWriter::new();
    for (k, v) in header.metadata.entries() {
        w.set(k.clone(), v.clone());
    }
    let mut views = Vec::with_capacity(header.tensors.len());
    for t in &header.tensors {
        if let Err(e) = w.add_tensor(t.name.clone(), t.ty, &t.dims) {
            panic!("the writer refuses tensor '{}' that the reader accepted: {e}", t.name);
        }
        views.push(tensor_view(buf, header, t).unwrap_or_default());
    }
    let bytes =
        w.to_bytes(&views).unwrap_or_else(|e| panic!("the writer refuses a header the reader accepted: {e}"));
    let again = parse_header(&bytes, &Limits::default())
        .unwrap_or_else(|e| panic!("the reader refuses what the writer wrote: {e}"));
    assert_eq!(again.version, 3);
    assert_eq!(again.alignment, header.alignment);
    // Debug, not PartialEq: a NaN read back is still the same value.
    assert_eq!(format!("{:?}", again.metadata.entries()), format!("{:?}", header.metadata.entries()));
    assert_eq!(again.tensors.len(), header.tensors.len());
    for ((a, b), view) in again.tensors.iter().zip(&header.tensors).zip(&views) {
        assert_eq!(
            (&a.name, &a.dims, a.ty, a.n_elements, a.n_bytes),
            (&b.name, &b.dims, b.ty, b.n_elements, b.n_bytes)
        );
        assert_eq!(tensor_view(&bytes, &again, a), Some(*view), "tensor '{}'", a.name);
    }
}
