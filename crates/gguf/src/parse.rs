//! The hardened GGUF header parser: bytes in, [`Header`] out, or a [`GgufError`] naming the
//! key or tensor at fault. It never panics and never allocates more than the input can back:
//! every length is checked against the bytes that remain before anything is reserved.

use std::collections::HashSet;

use crate::error::{GgufError, Result};
use crate::metadata::Metadata;
use crate::value::{Array, Value, ValueType};
use crate::{DType, TensorInfo};

/// `"GGUF"` as it appears at offset 0.
pub const MAGIC: [u8; 4] = *b"GGUF";
/// Alignment of the tensor data section when `general.alignment` is absent.
pub const DEFAULT_ALIGNMENT: u64 = 32;

/// The metadata key that sets the data alignment.
const ALIGNMENT_KEY: &str = "general.alignment";
/// Largest `general.alignment` accepted (1 GiB); larger values only serve to make readers
/// and writers pad absurdly.
const MAX_ALIGNMENT: u64 = 1 << 30;

/// Caps applied while parsing untrusted files.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Longest string (key, value or tensor name) in bytes.
    pub max_string_len: u64,
    /// Most elements in one metadata array.
    pub max_array_len: u64,
    /// Deepest nesting of arrays inside arrays.
    pub max_depth: usize,
    /// Most dimensions of a tensor (ggml has 4).
    pub max_dims: u32,
    /// Most tensors in a file.
    pub max_tensors: u64,
    /// Most metadata entries in a file.
    pub max_kv: u64,
    /// Longest tensor name in bytes.
    pub max_tensor_name: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_string_len: 16 << 20,
            max_array_len: 1 << 24,
            max_depth: 4,
            max_dims: 4,
            max_tensors: 1 << 16,
            max_kv: 1 << 16,
            max_tensor_name: 256,
        }
    }
}

/// Everything before the tensor data: version, metadata, tensor infos and where data begins.
#[derive(Clone, Debug)]
pub struct Header {
    /// 2 or 3.
    pub version: u32,
    /// Key/value metadata in file order.
    pub metadata: Metadata,
    /// Tensor infos in file order.
    pub tensors: Vec<TensorInfo>,
    /// Alignment of the data section and of every tensor offset.
    pub alignment: u64,
    /// Absolute file offset where the tensor data section begins.
    pub data_offset: u64,
}

struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
    limits: &'a Limits,
}

impl<'a> Cursor<'a> {
    fn remaining(&self) -> u64 {
        (self.buf.len() - self.pos) as u64
    }

    fn take(&mut self, n: u64, what: &dyn Fn() -> String) -> Result<&'a [u8]> {
        if n > self.remaining() {
            return Err(GgufError::Truncated {
                what: what(),
                offset: self.pos as u64,
                need: n,
                file_len: self.buf.len() as u64,
            });
        }
        let s = &self.buf[self.pos..self.pos + n as usize];
        self.pos += n as usize;
        Ok(s)
    }

    fn array<const N: usize>(&mut self, what: &dyn Fn() -> String) -> Result<[u8; N]> {
        let s = self.take(N as u64, what)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    fn u32(&mut self, what: &dyn Fn() -> String) -> Result<u32> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }

    fn u64(&mut self, what: &dyn Fn() -> String) -> Result<u64> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }

    /// A length-prefixed UTF-8 string, borrowed from the input.
    fn str(&mut self, what: &dyn Fn() -> String) -> Result<&'a str> {
        let len = self.u64(what)?;
        if len > self.limits.max_string_len {
            return Err(GgufError::StringTooLong { what: what(), len, max: self.limits.max_string_len });
        }
        let bytes = self.take(len, what)?;
        std::str::from_utf8(bytes).map_err(|_| GgufError::InvalidUtf8 { what: what() })
    }

    fn string(&mut self, what: &dyn Fn() -> String) -> Result<String> {
        self.str(what).map(str::to_owned)
    }

    /// Checks that `n` elements of at least `min` bytes each can still be read, before
    /// anything is allocated for them.
    fn check_count(&self, n: u64, min: u64, what: &dyn Fn() -> String) -> Result<()> {
        match n.checked_mul(min) {
            Some(need) if need <= self.remaining() => Ok(()),
            _ => Err(GgufError::Truncated {
                what: what(),
                offset: self.pos as u64,
                need: n.saturating_mul(min),
                file_len: self.buf.len() as u64,
            }),
        }
    }

    fn value(&mut self, key: &str, ty: ValueType, depth: usize) -> Result<Value> {
        let what = || format!("value of metadata key '{key}'");
        Ok(match ty {
            ValueType::U8 => Value::U8(self.array::<1>(&what)?[0]),
            ValueType::I8 => Value::I8(self.array::<1>(&what)?[0] as i8),
            ValueType::U16 => Value::U16(u16::from_le_bytes(self.array(&what)?)),
            ValueType::I16 => Value::I16(i16::from_le_bytes(self.array(&what)?)),
            ValueType::U32 => Value::U32(u32::from_le_bytes(self.array(&what)?)),
            ValueType::I32 => Value::I32(i32::from_le_bytes(self.array(&what)?)),
            ValueType::F32 => Value::F32(f32::from_le_bytes(self.array(&what)?)),
            ValueType::U64 => Value::U64(u64::from_le_bytes(self.array(&what)?)),
            ValueType::I64 => Value::I64(i64::from_le_bytes(self.array(&what)?)),
            ValueType::F64 => Value::F64(f64::from_le_bytes(self.array(&what)?)),
            ValueType::Bool => Value::Bool(self.array::<1>(&what)?[0] != 0),
            ValueType::String => Value::String(self.string(&what)?),
            ValueType::Array => Value::Array(self.array_value(key, depth + 1)?),
        })
    }

    fn array_value(&mut self, key: &str, depth: usize) -> Result<Array> {
        if depth > self.limits.max_depth {
            return Err(GgufError::NestingTooDeep { key: key.to_owned(), max: self.limits.max_depth });
        }
        let what = || format!("array header of metadata key '{key}'");
        let type_id = self.u32(&what)?;
        let ty = ValueType::from_id(type_id)
            .ok_or_else(|| GgufError::UnknownValueType { key: key.to_owned(), type_id })?;
        let n = self.u64(&what)?;
        if n > self.limits.max_array_len {
            return Err(GgufError::ArrayTooLong {
                key: key.to_owned(),
                len: n,
                max: self.limits.max_array_len,
            });
        }
        let what = || format!("array elements of metadata key '{key}'");
        self.check_count(n, ty.min_size(), &what)?;
        let n = n as usize;

        macro_rules! packed {
            ($variant:ident, $t:ty) => {{
                const W: usize = std::mem::size_of::<$t>();
                let bytes = self.take((n * W) as u64, &what)?;
                Array::$variant(
                    bytes
                        .chunks_exact(W)
                        .map(|c| <$t>::from_le_bytes(c.try_into().unwrap_or([0; W])))
                        .collect(),
                )
            }};
        }
        Ok(match ty {
            ValueType::U8 => Array::U8(self.take(n as u64, &what)?.to_vec()),
            ValueType::I8 => Array::I8(self.take(n as u64, &what)?.iter().map(|&b| b as i8).collect()),
            ValueType::Bool => Array::Bool(self.take(n as u64, &what)?.iter().map(|&b| b != 0).collect()),
            ValueType::U16 => packed!(U16, u16),
            ValueType::I16 => packed!(I16, i16),
            ValueType::U32 => packed!(U32, u32),
            ValueType::I32 => packed!(I32, i32),
            ValueType::F32 => packed!(F32, f32),
            ValueType::U64 => packed!(U64, u64),
            ValueType::I64 => packed!(I64, i64),
            ValueType::F64 => packed!(F64, f64),
            ValueType::String => {
                // Every element is checked before any is copied, so a truncated or hostile
                // array fails without first building the strings in front of the fault.
                let mut v = Vec::with_capacity(n);
                for i in 0..n {
                    v.push(self.str(&|| format!("element {i} of metadata key '{key}'"))?);
                }
                Array::String(v.into_iter().map(str::to_owned).collect())
            }
            ValueType::Array => {
                let mut v = Vec::with_capacity(n);
                for _ in 0..n {
                    v.push(self.array_value(key, depth + 1)?);
                }
                Array::Array(v)
            }
        })
    }
}

/// Parses the header of a GGUF file held entirely in `buf` (usually an mmap), checking every
/// tensor's bytes lie inside `buf`.
pub fn parse_header(buf: &[u8], limits: &Limits) -> Result<Header> {
    let mut c = Cursor { buf, pos: 0, limits };
    let magic: [u8; 4] = c.array(&|| "magic".into())?;
    if magic != MAGIC {
        return Err(GgufError::BadMagic { found: magic });
    }
    let version = c.u32(&|| "version".into())?;
    match version {
        2 | 3 => {}
        // A big-endian writer stores 3 as 0x03000000.
        v if v.swap_bytes() == 2 || v.swap_bytes() == 3 => return Err(GgufError::BigEndian),
        v => return Err(GgufError::UnsupportedVersion(v)),
    }
    let n_tensors = c.u64(&|| "tensor count".into())?;
    let n_kv = c.u64(&|| "metadata count".into())?;
    if n_tensors > limits.max_tensors {
        return Err(GgufError::TooMany { what: "tensors", count: n_tensors, max: limits.max_tensors });
    }
    if n_kv > limits.max_kv {
        return Err(GgufError::TooMany { what: "metadata entries", count: n_kv, max: limits.max_kv });
    }
    // A key/value pair takes at least 8 (key length) + 4 (type) + 1 bytes.
    c.check_count(n_kv, 13, &|| "metadata entries".into())?;

    let mut entries = Vec::with_capacity(n_kv as usize);
    for i in 0..n_kv {
        let key = c.string(&|| format!("key of metadata entry {i}"))?;
        let type_id = c.u32(&|| format!("type of metadata key '{key}'"))?;
        let ty = ValueType::from_id(type_id)
            .ok_or_else(|| GgufError::UnknownValueType { key: key.clone(), type_id })?;
        let value = c.value(&key, ty, 0)?;
        entries.push((key, value));
    }
    let metadata = Metadata::from_entries(entries)?;

    let alignment = alignment_of(metadata.get(ALIGNMENT_KEY))?;

    // A tensor info takes at least 8 (name length) + 4 (n_dims) + 4 (type) + 8 (offset).
    c.check_count(n_tensors, 24, &|| "tensor infos".into())?;
    let mut tensors = Vec::with_capacity(n_tensors as usize);
    let mut seen = HashSet::with_capacity(n_tensors as usize);
    for i in 0..n_tensors {
        let name = c.string(&|| format!("name of tensor {i}"))?;
        if name.len() > limits.max_tensor_name {
            let shown = truncate_at_char(&name, limits.max_tensor_name);
            return Err(GgufError::TensorNameTooLong {
                len: name.len(),
                max: limits.max_tensor_name,
                tensor: shown,
            });
        }
        let what = || format!("info of tensor '{name}'");
        let n_dims = c.u32(&what)?;
        if n_dims > limits.max_dims {
            return Err(GgufError::TooManyDims { tensor: name, n_dims, max: limits.max_dims });
        }
        let mut dims = Vec::with_capacity(n_dims as usize);
        for _ in 0..n_dims {
            dims.push(c.u64(&what)?);
        }
        let type_id = c.u32(&what)?;
        let offset = c.u64(&what)?;
        let ty = DType::from_id(type_id)
            .ok_or_else(|| GgufError::UnknownTensorType { tensor: name.clone(), type_id })?;
        let n_elements = element_count(&dims)
            .ok_or_else(|| GgufError::ElementCountOverflow { tensor: name.clone(), dims: dims.clone() })?;
        let ne0 = dims.first().copied().unwrap_or(1);
        if ne0 % ty.block_size() as u64 != 0 {
            return Err(GgufError::RowNotBlockAligned { tensor: name, ty, ne0, block: ty.block_size() });
        }
        let n_bytes = ty
            .bytes_for(n_elements)
            .ok_or_else(|| GgufError::ElementCountOverflow { tensor: name.clone(), dims: dims.clone() })?;
        if offset % alignment != 0 {
            return Err(GgufError::MisalignedTensor { tensor: name, offset, alignment });
        }
        if !seen.insert(name.clone()) {
            return Err(GgufError::DuplicateTensor { tensor: name });
        }
        tensors.push(TensorInfo { name, dims, ty, offset, n_elements, n_bytes });
    }

    let header_end = c.pos as u64;
    let data_offset = header_end.div_ceil(alignment) * alignment;
    let file_len = buf.len() as u64;
    for t in &tensors {
        let start = data_offset.checked_add(t.offset);
        let end = start.and_then(|s| s.checked_add(t.n_bytes));
        match end {
            Some(end) if end <= file_len => {}
            _ => {
                return Err(GgufError::TensorOutOfBounds {
                    tensor: t.name.clone(),
                    offset: data_offset.saturating_add(t.offset),
                    len: t.n_bytes,
                    file_len,
                });
            }
        }
    }
    Ok(Header { version, metadata, tensors, alignment, data_offset })
}

/// The data alignment a `general.alignment` value (or its absence) asks for. Like llama.cpp,
/// only a `u32` is accepted, and it must be a power of two (here also at most 1 GiB).
pub(crate) fn alignment_of(value: Option<&Value>) -> Result<u64> {
    match value {
        None => Ok(DEFAULT_ALIGNMENT),
        Some(&Value::U32(a)) => {
            let a = u64::from(a);
            if a.is_power_of_two() && a <= MAX_ALIGNMENT {
                Ok(a)
            } else {
                Err(GgufError::BadAlignment { value: a })
            }
        }
        Some(v) => {
            Err(GgufError::WrongType { key: ALIGNMENT_KEY.into(), expected: "u32", found: v.type_name() })
        }
    }
}

/// The product of `dims`, or `None` when a dim exceeds `i64::MAX` (ggml's `ne` is signed) or
/// the product of the non-zero dims does. Zero dims are skipped for the overflow check so
/// that no partial product (the row count, a stride) can overflow either, even when another
/// dim is zero and the element count is 0.
pub(crate) fn element_count(dims: &[u64]) -> Option<u64> {
    const MAX: u64 = i64::MAX as u64;
    let nonzero = dims.iter().try_fold(1u64, |acc, &d| acc.checked_mul(d.max(1)).filter(|&n| n <= MAX))?;
    Some(if dims.contains(&0) { 0 } else { nonzero })
}

/// `s` cut to at most `max` bytes on a char boundary, with `...` when cut, so an error about
/// a megabyte-long name does not carry the whole name.
pub(crate) fn truncate_at_char(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &s[..end])
}
