//! Builders and oracles shared by the suite: [`Raw`] writes byte-exact files that
//! `GgufWriter` refuses to produce, [`layout`] walks a valid file independently of the crate's
//! parser to say where each field lies, and `parse`/`parse_err` are shortcuts with the
//! default limits.

use hearth_gguf::{GgufError, Header, Limits, parse_header};

/// ggml type ids used by raw-built tensors.
pub const F32: u32 = 0;
pub const Q4_0: u32 = 2;

/// GGUF value type ids used by raw-built metadata.
pub const T_U32: u32 = 4;
pub const T_STRING: u32 = 8;
pub const T_ARRAY: u32 = 9;
pub const T_U64: u32 = 10;

/// Parses with the default limits.
pub fn parse(bytes: &[u8]) -> Result<Header, GgufError> {
    parse_header(bytes, &Limits::default())
}

/// Parses with the default limits and returns the error, failing the test on `Ok`.
pub fn parse_err(bytes: &[u8]) -> GgufError {
    match parse(bytes) {
        Ok(h) => {
            panic!("expected an error, parsed {} entries and {} tensors", h.metadata.len(), h.tensors.len())
        }
        Err(e) => e,
    }
}

/// Asserts that `err`'s message contains `needle` (a key or tensor name, quoted as the crate
/// quotes them).
#[track_caller]
pub fn assert_names(err: &GgufError, needle: &str) {
    let msg = err.to_string();
    assert!(msg.contains(needle), "error {msg:?} does not name {needle:?}");
}

/// A GGUF file written byte by byte.
#[derive(Debug, Default)]
pub struct Raw {
    buf: Vec<u8>,
}

impl Raw {
    /// Magic, `version`, tensor count and metadata count.
    pub fn new(version: u32, n_tensors: u64, n_kv: u64) -> Raw {
        Raw::default().bytes(b"GGUF").u32(version).u64(n_tensors).u64(n_kv)
    }

    /// Appends raw bytes.
    pub fn bytes(mut self, b: &[u8]) -> Raw {
        self.buf.extend_from_slice(b);
        self
    }

    /// Appends a little-endian u32.
    pub fn u32(self, v: u32) -> Raw {
        self.bytes(&v.to_le_bytes())
    }

    /// Appends a little-endian u64.
    pub fn u64(self, v: u64) -> Raw {
        self.bytes(&v.to_le_bytes())
    }

    /// Appends a length-prefixed string.
    pub fn str(self, s: &str) -> Raw {
        self.u64(s.len() as u64).bytes(s.as_bytes())
    }

    /// Appends a key and a value type id; the value must follow.
    pub fn kv(self, key: &str, type_id: u32) -> Raw {
        self.str(key).u32(type_id)
    }

    /// Appends a whole `u32` entry.
    pub fn kv_u32(self, key: &str, v: u32) -> Raw {
        self.kv(key, T_U32).u32(v)
    }

    /// Appends a tensor info.
    pub fn tensor(self, name: &str, dims: &[u64], type_id: u32, offset: u64) -> Raw {
        let mut r = self.str(name).u32(dims.len() as u32);
        for &d in dims {
            r = r.u64(d);
        }
        r.u32(type_id).u64(offset)
    }

    /// Appends zero bytes up to a multiple of `align`.
    pub fn pad(self, align: usize) -> Raw {
        let n = self.buf.len().next_multiple_of(align) - self.buf.len();
        self.zeros(n)
    }

    /// Appends `n` zero bytes.
    pub fn zeros(self, n: usize) -> Raw {
        self.bytes(&vec![0; n])
    }

    /// The bytes.
    pub fn build(self) -> Vec<u8> {
        self.buf
    }
}

/// Where one metadata entry or tensor info ends, and where its name (read first) ends.
#[derive(Clone, Debug)]
pub struct Span {
    pub name_end: usize,
    pub end: usize,
    pub name: String,
}

/// The layout of a valid file as found by [`layout`].
#[derive(Clone, Debug, Default)]
pub struct Layout {
    pub n_tensors: u64,
    pub n_kv: u64,
    pub kvs: Vec<Span>,
    pub tensors: Vec<Span>,
    /// Offsets of every u64 count or length: the two counts, string lengths, array lengths,
    /// dims, tensor offsets.
    pub u64_fields: Vec<usize>,
    /// Offsets of every u32 type id or dimension count.
    pub u32_fields: Vec<usize>,
    /// End of the last tensor info (before the padding to the data section).
    pub header_end: usize,
}

struct Walker<'a> {
    buf: &'a [u8],
    pos: usize,
    out: Layout,
}

impl Walker<'_> {
    fn u32(&mut self) -> u32 {
        self.out.u32_fields.push(self.pos);
        let v = u32::from_le_bytes(self.buf[self.pos..self.pos + 4].try_into().unwrap());
        self.pos += 4;
        v
    }

    fn u64(&mut self) -> u64 {
        self.out.u64_fields.push(self.pos);
        let v = u64::from_le_bytes(self.buf[self.pos..self.pos + 8].try_into().unwrap());
        self.pos += 8;
        v
    }

    fn string(&mut self) -> String {
        let n = self.u64() as usize;
        let s = String::from_utf8_lossy(&self.buf[self.pos..self.pos + n]).into_owned();
        self.pos += n;
        s
    }

    fn value(&mut self, type_id: u32) {
        match type_id {
            0 | 1 | 7 => self.pos += 1,
            2 | 3 => self.pos += 2,
            4..=6 => self.pos += 4,
            10..=12 => self.pos += 8,
            8 => {
                self.string();
            }
            9 => {
                let elem = self.u32();
                let n = self.u64();
                for _ in 0..n {
                    self.value(elem);
                }
            }
            t => panic!("layout: unknown value type {t} at {}", self.pos),
        }
    }
}

/// Walks a valid GGUF file (panics on an invalid one) and records where everything lies.
pub fn layout(buf: &[u8]) -> Layout {
    let mut w = Walker { buf, pos: 8, out: Layout::default() };
    w.out.n_tensors = w.u64();
    w.out.n_kv = w.u64();
    for _ in 0..w.out.n_kv {
        let name = w.string();
        let name_end = w.pos;
        let t = w.u32();
        w.value(t);
        w.out.kvs.push(Span { name_end, end: w.pos, name });
    }
    for _ in 0..w.out.n_tensors {
        let name = w.string();
        let name_end = w.pos;
        let n_dims = w.u32();
        for _ in 0..n_dims {
            w.u64();
        }
        w.u32();
        w.u64();
        w.out.tensors.push(Span { name_end, end: w.pos, name });
    }
    w.out.header_end = w.pos;
    w.out
}
