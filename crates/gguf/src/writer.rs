//! A GGUF v3 writer: metadata and tensor infos first, then tensor data streamed from a
//! callback so multi-gigabyte files never sit in memory.

use std::collections::HashSet;
use std::io::{self, Write};

use crate::DType;
use crate::error::{GgufError, Result};
use crate::parse::{Limits, MAGIC, alignment_of, element_count, truncate_at_char};
use crate::value::{Array, Value};

/// Most dims a tensor may have (ggml's `GGML_MAX_DIMS`).
const MAX_DIMS: u32 = 4;

/// A tensor to be written: its name, type and dims (`dims[0]` is the row length).
#[derive(Clone, Debug)]
pub struct TensorSpec {
    /// Tensor name.
    pub name: String,
    /// Element type.
    pub ty: DType,
    /// Dimensions, innermost first.
    pub dims: Vec<u64>,
}

impl TensorSpec {
    /// Bytes of this tensor's data. Errors unless the reader would accept the shape: at most
    /// 4 dims, each and their product within `i64`, and a row length that is a
    /// whole number of blocks.
    pub fn n_bytes(&self) -> Result<u64> {
        if self.dims.len() > MAX_DIMS as usize {
            return Err(GgufError::TooManyDims {
                tensor: self.name.clone(),
                n_dims: self.dims.len() as u32,
                max: MAX_DIMS,
            });
        }
        let ne0 = self.dims.first().copied().unwrap_or(1);
        element_count(&self.dims)
            .filter(|_| ne0 % self.ty.block_size() as u64 == 0)
            .and_then(|n| self.ty.bytes_for(n))
            .ok_or_else(|| {
                GgufError::Write(format!(
                    "tensor '{}': dims {:?} do not fit {}",
                    self.name, self.dims, self.ty
                ))
            })
    }
}

/// Builds a GGUF file.
#[derive(Debug, Default)]
pub struct GgufWriter {
    metadata: Vec<(String, Value)>,
    tensors: Vec<TensorSpec>,
    names: HashSet<String>,
}

impl GgufWriter {
    /// An empty file.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a metadata entry (a key set twice is replaced in place).
    pub fn set(&mut self, key: impl Into<String>, value: Value) -> &mut Self {
        let key = key.into();
        match self.metadata.iter_mut().find(|(k, _)| *k == key) {
            Some(e) => e.1 = value,
            None => self.metadata.push((key, value)),
        }
        self
    }

    /// Adds a tensor; its data is supplied to [`GgufWriter::write`]. Shapes and names the
    /// reader would reject with its default [`Limits`] are refused here.
    pub fn add_tensor(&mut self, name: impl Into<String>, ty: DType, dims: &[u64]) -> Result<&mut Self> {
        let spec = TensorSpec { name: name.into(), ty, dims: dims.to_vec() };
        let max = Limits::default().max_tensor_name;
        if spec.name.len() > max {
            return Err(GgufError::TensorNameTooLong {
                tensor: truncate_at_char(&spec.name, max),
                len: spec.name.len(),
                max,
            });
        }
        spec.n_bytes()?;
        if !self.names.insert(spec.name.clone()) {
            return Err(GgufError::DuplicateTensor { tensor: spec.name });
        }
        self.tensors.push(spec);
        Ok(self)
    }

    /// The tensors added so far.
    pub fn tensors(&self) -> &[TensorSpec] {
        &self.tensors
    }

    /// The alignment `general.alignment` asks for, validated as the reader does, so the
    /// writer never produces a file its own reader rejects.
    fn alignment(&self) -> Result<u64> {
        alignment_of(self.metadata.iter().find(|(k, _)| k == "general.alignment").map(|(_, v)| v))
    }

    /// Writes the file. `data(i, spec, out)` must write exactly `spec.n_bytes()` bytes of
    /// tensor `i`; the writer checks the count and adds the alignment padding.
    pub fn write<W: Write>(
        &self,
        out: W,
        mut data: impl FnMut(usize, &TensorSpec, &mut dyn Write) -> io::Result<()>,
    ) -> Result<()> {
        let align = self.alignment()?;
        // Lay the data section out before writing anything, so a bad spec leaves `out` empty.
        let mut offsets = Vec::with_capacity(self.tensors.len());
        let mut sizes = Vec::with_capacity(self.tensors.len());
        let mut offset = 0u64;
        for t in &self.tensors {
            let n = t.n_bytes()?;
            offsets.push(offset);
            sizes.push(n);
            offset = n
                .div_ceil(align)
                .checked_mul(align)
                .and_then(|padded| offset.checked_add(padded))
                .ok_or_else(|| {
                    GgufError::Write(format!("tensor '{}': data section exceeds 2^64 bytes", t.name))
                })?;
        }
        let mut w = Counting { inner: io::BufWriter::with_capacity(1 << 20, out), n: 0 };
        w.write_all(&MAGIC)?;
        w.write_all(&3u32.to_le_bytes())?;
        w.write_all(&(self.tensors.len() as u64).to_le_bytes())?;
        w.write_all(&(self.metadata.len() as u64).to_le_bytes())?;
        for (k, v) in &self.metadata {
            write_str(&mut w, k)?;
            w.write_all(&(v.value_type() as u32).to_le_bytes())?;
            write_value(&mut w, v)?;
        }
        for (t, offset) in self.tensors.iter().zip(&offsets) {
            write_str(&mut w, &t.name)?;
            w.write_all(&(t.dims.len() as u32).to_le_bytes())?;
            for d in &t.dims {
                w.write_all(&d.to_le_bytes())?;
            }
            w.write_all(&t.ty.id().to_le_bytes())?;
            w.write_all(&offset.to_le_bytes())?;
        }
        pad(&mut w, align)?;
        for (i, t) in self.tensors.iter().enumerate() {
            let before = w.n;
            data(i, t, &mut w)?;
            let wrote = w.n - before;
            if wrote != sizes[i] {
                return Err(GgufError::Write(format!(
                    "tensor '{}': callback wrote {wrote} bytes, expected {}",
                    t.name, sizes[i]
                )));
            }
            pad(&mut w, align)?;
        }
        w.inner.flush()?;
        Ok(())
    }

    /// Writes the file into memory, taking each tensor's bytes from `data[i]`.
    pub fn to_bytes(&self, data: &[&[u8]]) -> Result<Vec<u8>> {
        if data.len() != self.tensors.len() {
            return Err(GgufError::Write(format!(
                "{} tensors but {} data slices",
                self.tensors.len(),
                data.len()
            )));
        }
        let mut out = Vec::new();
        self.write(&mut out, |i, _, w| w.write_all(data[i]))?;
        Ok(out)
    }
}

struct Counting<W: Write> {
    inner: W,
    n: u64,
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.n += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

fn pad<W: Write>(w: &mut Counting<W>, align: u64) -> io::Result<()> {
    let rem = w.n % align;
    if rem != 0 {
        w.write_all(&vec![0u8; (align - rem) as usize])?;
    }
    Ok(())
}

fn write_str(w: &mut impl Write, s: &str) -> io::Result<()> {
    w.write_all(&(s.len() as u64).to_le_bytes())?;
    w.write_all(s.as_bytes())
}

fn write_value(w: &mut impl Write, v: &Value) -> io::Result<()> {
    match v {
        Value::U8(x) => w.write_all(&[*x]),
        Value::I8(x) => w.write_all(&x.to_le_bytes()),
        Value::U16(x) => w.write_all(&x.to_le_bytes()),
        Value::I16(x) => w.write_all(&x.to_le_bytes()),
        Value::U32(x) => w.write_all(&x.to_le_bytes()),
        Value::I32(x) => w.write_all(&x.to_le_bytes()),
        Value::F32(x) => w.write_all(&x.to_le_bytes()),
        Value::Bool(x) => w.write_all(&[*x as u8]),
        Value::String(s) => write_str(w, s),
        Value::Array(a) => write_array(w, a),
        Value::U64(x) => w.write_all(&x.to_le_bytes()),
        Value::I64(x) => w.write_all(&x.to_le_bytes()),
        Value::F64(x) => w.write_all(&x.to_le_bytes()),
    }
}

fn write_array(w: &mut impl Write, a: &Array) -> io::Result<()> {
    w.write_all(&(a.element_type() as u32).to_le_bytes())?;
    w.write_all(&(a.len() as u64).to_le_bytes())?;
    macro_rules! each {
        ($v:expr) => {
            for x in $v {
                w.write_all(&x.to_le_bytes())?;
            }
        };
    }
    match a {
        Array::U8(v) => w.write_all(v)?,
        Array::I8(v) => each!(v),
        Array::U16(v) => each!(v),
        Array::I16(v) => each!(v),
        Array::U32(v) => each!(v),
        Array::I32(v) => each!(v),
        Array::F32(v) => each!(v),
        Array::Bool(v) => {
            for x in v {
                w.write_all(&[*x as u8])?;
            }
        }
        Array::String(v) => {
            for s in v {
                write_str(w, s)?;
            }
        }
        Array::Array(v) => {
            for x in v {
                write_array(w, x)?;
            }
        }
        Array::U64(v) => each!(v),
        Array::I64(v) => each!(v),
        Array::F64(v) => each!(v),
    }
    Ok(())
}
