//! The one error type of this crate. Every variant names the key or tensor it is about.

use std::path::PathBuf;

/// What went wrong reading, querying or writing a GGUF file.
#[derive(Debug, thiserror::Error)]
#[allow(missing_docs)]
pub enum GgufError {
    #[error("cannot open {path}: {source}")]
    Open { path: PathBuf, source: std::io::Error },
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    #[error("not a GGUF file: magic is {found:?}, expected \"GGUF\"")]
    BadMagic { found: [u8; 4] },
    #[error("GGUF version {0} is not supported (hearth reads v2 and v3)")]
    UnsupportedVersion(u32),
    #[error("big-endian GGUF files are not supported")]
    BigEndian,
    #[error("file truncated while reading {what}: need {need} bytes at offset {offset}, file has {file_len}")]
    Truncated { what: String, offset: u64, need: u64, file_len: u64 },
    #[error("{what}: string of {len} bytes exceeds the cap of {max}")]
    StringTooLong { what: String, len: u64, max: u64 },
    #[error("{what}: string is not valid UTF-8")]
    InvalidUtf8 { what: String },
    #[error("metadata key '{key}': array of {len} elements exceeds the cap of {max}")]
    ArrayTooLong { key: String, len: u64, max: u64 },
    #[error("metadata key '{key}': arrays nested deeper than {max}")]
    NestingTooDeep { key: String, max: usize },
    #[error("metadata key '{key}': unknown value type {type_id}")]
    UnknownValueType { key: String, type_id: u32 },
    #[error("metadata key '{key}' appears twice")]
    DuplicateKey { key: String },
    #[error("{count} {what} exceeds the cap of {max}")]
    TooMany { what: &'static str, count: u64, max: u64 },
    #[error("general.alignment = {value} is not a power of two of at most 2^30")]
    BadAlignment { value: u64 },
    #[error("tensor '{tensor}': {n_dims} dimensions, at most {max} allowed")]
    TooManyDims { tensor: String, n_dims: u32, max: u32 },
    #[error("tensor '{tensor}': element count or byte size overflows ({dims:?})")]
    ElementCountOverflow { tensor: String, dims: Vec<u64> },
    #[error("tensor '{tensor}': unknown or removed ggml type id {type_id}")]
    UnknownTensorType { tensor: String, type_id: u32 },
    #[error("tensor '{tensor}': row length {ne0} is not a multiple of the {ty} block size {block}")]
    RowNotBlockAligned { tensor: String, ty: crate::DType, ne0: u64, block: usize },
    #[error("tensor '{tensor}' appears twice")]
    DuplicateTensor { tensor: String },
    #[error("tensor '{tensor}': offset {offset} is not a multiple of the alignment {alignment}")]
    MisalignedTensor { tensor: String, offset: u64, alignment: u64 },
    #[error("tensor '{tensor}': bytes {offset}..{offset}+{len} lie outside the file ({file_len} bytes)")]
    TensorOutOfBounds { tensor: String, offset: u64, len: u64, file_len: u64 },
    #[error("tensor '{tensor}': name of {len} bytes exceeds the cap of {max}")]
    TensorNameTooLong { tensor: String, len: usize, max: usize },
    #[error("metadata key '{key}' is missing")]
    MissingKey { key: String },
    #[error("metadata key '{key}': expected {expected}, found {found}")]
    WrongType { key: String, expected: &'static str, found: String },
    #[error("tensor '{name}' not found")]
    TensorNotFound { name: String },
    #[error("writer: {0}")]
    Write(String),
}

/// Shorthand for results of this crate.
pub type Result<T, E = GgufError> = std::result::Result<T, E>;
