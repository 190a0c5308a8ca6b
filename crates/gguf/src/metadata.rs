//! Typed access to GGUF metadata. Integer getters accept any integer type whose value fits,
//! because writers disagree on widths (`u32` vs `i32` vs `u64` for the same key).

use std::collections::HashMap;

use crate::error::{GgufError, Result};
use crate::value::{Array, Value};

/// Metadata entries in file order, indexed by key.
#[derive(Clone, Debug, Default)]
pub struct Metadata {
    entries: Vec<(String, Value)>,
    index: HashMap<String, usize>,
}

impl Metadata {
    /// Builds the index; a key seen twice is an error.
    pub fn from_entries(entries: Vec<(String, Value)>) -> Result<Metadata> {
        let mut index = HashMap::with_capacity(entries.len());
        for (i, (k, _)) in entries.iter().enumerate() {
            if index.insert(k.clone(), i).is_some() {
                return Err(GgufError::DuplicateKey { key: k.clone() });
            }
        }
        Ok(Metadata { entries, index })
    }

    /// All entries in file order.
    pub fn entries(&self) -> &[(String, Value)] {
        &self.entries
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when there are no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The raw value of `key`.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.index.get(key).map(|&i| &self.entries[i].1)
    }

    /// True when `key` is present.
    pub fn contains(&self, key: &str) -> bool {
        self.index.contains_key(key)
    }

    fn require(&self, key: &str) -> Result<&Value> {
        self.get(key).ok_or_else(|| GgufError::MissingKey { key: key.to_owned() })
    }

    fn wrong(key: &str, expected: &'static str, v: &Value) -> GgufError {
        GgufError::WrongType { key: key.to_owned(), expected, found: v.type_name() }
    }

    fn int<T: TryFrom<i128>>(&self, key: &str, expected: &'static str) -> Result<Option<T>> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v
                .as_int()
                .and_then(|i| T::try_from(i).ok())
                .map(Some)
                .ok_or_else(|| Self::wrong(key, expected, v)),
        }
    }

    /// An integer key that must fit a `u32`; `None` when absent.
    pub fn opt_u32(&self, key: &str) -> Result<Option<u32>> {
        self.int(key, "u32")
    }

    /// An integer key that must fit a `u64`; `None` when absent.
    pub fn opt_u64(&self, key: &str) -> Result<Option<u64>> {
        self.int(key, "u64")
    }

    /// An integer key that must fit an `i64`; `None` when absent.
    pub fn opt_i64(&self, key: &str) -> Result<Option<i64>> {
        self.int(key, "i64")
    }

    /// An integer key that must fit a `usize`; `None` when absent.
    pub fn opt_usize(&self, key: &str) -> Result<Option<usize>> {
        self.int(key, "usize")
    }

    /// A required integer key that fits a `u32`.
    pub fn u32(&self, key: &str) -> Result<u32> {
        self.opt_u32(key)?.ok_or_else(|| GgufError::MissingKey { key: key.to_owned() })
    }

    /// A required integer key that fits a `u64`.
    pub fn u64(&self, key: &str) -> Result<u64> {
        self.opt_u64(key)?.ok_or_else(|| GgufError::MissingKey { key: key.to_owned() })
    }

    /// A required integer key that fits a `usize`.
    pub fn usize(&self, key: &str) -> Result<usize> {
        self.opt_usize(key)?.ok_or_else(|| GgufError::MissingKey { key: key.to_owned() })
    }

    /// A float key (f32 or f64; integers are accepted and converted); `None` when absent.
    pub fn opt_f32(&self, key: &str) -> Result<Option<f32>> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v.as_f64().map(|f| Some(f as f32)).ok_or_else(|| Self::wrong(key, "f32", v)),
        }
    }

    /// A required float key.
    pub fn f32(&self, key: &str) -> Result<f32> {
        self.opt_f32(key)?.ok_or_else(|| GgufError::MissingKey { key: key.to_owned() })
    }

    /// A bool key; `None` when absent.
    pub fn opt_bool(&self, key: &str) -> Result<Option<bool>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(v) => Err(Self::wrong(key, "bool", v)),
        }
    }

    /// A string key; `None` when absent.
    pub fn opt_str(&self, key: &str) -> Result<Option<&str>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(v) => Err(Self::wrong(key, "string", v)),
        }
    }

    /// A required string key.
    pub fn str(&self, key: &str) -> Result<&str> {
        self.opt_str(key)?.ok_or_else(|| GgufError::MissingKey { key: key.to_owned() })
    }

    /// An array key of any element type; `None` when absent.
    pub fn opt_array(&self, key: &str) -> Result<Option<&Array>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Array(a)) => Ok(Some(a)),
            Some(v) => Err(Self::wrong(key, "array", v)),
        }
    }

    /// An array of strings; `None` when absent.
    pub fn opt_str_array(&self, key: &str) -> Result<Option<&[String]>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Array(Array::String(v))) => Ok(Some(v)),
            Some(v) => Err(Self::wrong(key, "array<string>", v)),
        }
    }

    /// A required array of strings.
    pub fn str_array(&self, key: &str) -> Result<&[String]> {
        self.opt_str_array(key)?.ok_or_else(|| GgufError::MissingKey { key: key.to_owned() })
    }

    /// An array of f32; `None` when absent.
    pub fn opt_f32_array(&self, key: &str) -> Result<Option<&[f32]>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Array(Array::F32(v))) => Ok(Some(v)),
            Some(v) => Err(Self::wrong(key, "array<f32>", v)),
        }
    }

    /// An array of integers of any width, widened to i64; `None` when absent.
    pub fn opt_int_array(&self, key: &str) -> Result<Option<Vec<i64>>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Array(a)) => a.to_i64_vec().map(Some).ok_or_else(|| {
                Self::wrong(key, "array<integer>", self.require(key).unwrap_or(&Value::Bool(false)))
            }),
            Some(v) => Err(Self::wrong(key, "array<integer>", v)),
        }
    }

    /// `general.architecture`, which every model file has.
    pub fn architecture(&self) -> Result<&str> {
        self.str("general.architecture")
    }
}
