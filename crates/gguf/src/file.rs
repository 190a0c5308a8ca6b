//! A GGUF file opened by mmap: parsed header plus borrowed views of tensor bytes.

use std::fs::File;
use std::path::{Path, PathBuf};

use memmap2::{Mmap, MmapMut};

use crate::error::{GgufError, Result};
use crate::parse::{Header, Limits, parse_header};
use crate::{Metadata, TensorInfo};

/// An open GGUF file. Tensor data stays in the page cache: [`GgufFile::tensor_data`] borrows
/// from the mapping, so loading a 4 GB model costs no copy and no resident memory until read.
#[derive(Debug)]
pub struct GgufFile {
    path: PathBuf,
    map: Mmap,
    header: Header,
    /// Whether `map` maps a file (not an anonymous copy of bytes).
    file_backed: bool,
}

impl GgufFile {
    /// Maps and parses `path` with the default [`Limits`].
    pub fn open(path: impl AsRef<Path>) -> Result<GgufFile> {
        Self::open_with(path, &Limits::default())
    }

    /// Maps and parses `path` with the given caps.
    pub fn open_with(path: impl AsRef<Path>, limits: &Limits) -> Result<GgufFile> {
        let path = path.as_ref().to_path_buf();
        let file = File::open(&path).map_err(|source| GgufError::Open { path: path.clone(), source })?;
        // SAFETY: the mapping is read-only and private to this process. The contract of
        // memmap2 is that the file must not be truncated or modified while mapped; hearth
        // documents that model files are immutable while loaded (ARCHITECTURE.md), as
        // llama.cpp does. Every view handed out is bounds-checked against the mapped length
        // at parse time, so a well-behaved file can never be read out of bounds.
        let map =
            unsafe { Mmap::map(&file) }.map_err(|source| GgufError::Open { path: path.clone(), source })?;
        let header = parse_header(&map, limits)?;
        Ok(GgufFile { path, map, header, file_backed: true })
    }

    /// Parses a GGUF file held in memory (tests, fuzzing, files received over the network)
    /// with the default [`Limits`]. The bytes are copied into an anonymous read-only mapping,
    /// so the result behaves exactly like a mapped file; its path is `<memory>`.
    pub fn from_bytes(bytes: &[u8]) -> Result<GgufFile> {
        Self::from_bytes_with(bytes, &Limits::default())
    }

    /// [`GgufFile::from_bytes`] with the given caps.
    pub fn from_bytes_with(bytes: &[u8], limits: &Limits) -> Result<GgufFile> {
        let mut anon = MmapMut::map_anon(bytes.len())?;
        anon.copy_from_slice(bytes);
        let map = anon.make_read_only()?;
        let header = parse_header(&map, limits)?;
        Ok(GgufFile { path: PathBuf::from("<memory>"), map, header, file_backed: false })
    }

    /// Advises the kernel that tensor data will be read soon and sequentially.
    pub fn advise_willneed(&self) {
        #[cfg(unix)]
        {
            let _ = self.map.advise(memmap2::Advice::WillNeed);
        }
    }

    /// Drops this process's mapping of the pages that hold only `info`'s data (whole 64 KiB
    /// runs inside it), for a caller that copied the tensor out (a repacked layout): they
    /// stop counting as this process's resident memory. Reading them again still works and
    /// gives the same bytes (faulted back in from the page cache or the file). A file held in
    /// memory ([`GgufFile::from_bytes`]) is left as it is.
    pub fn release_tensor_pages(&self, info: &TensorInfo) {
        #[cfg(unix)]
        {
            if !self.file_backed {
                return;
            }
            const RUN: usize = 64 << 10;
            let data = self.data(info);
            let base = self.map.as_ptr() as usize;
            let start = (data.as_ptr() as usize - base).next_multiple_of(RUN);
            let end = (data.as_ptr() as usize - base + data.len()) / RUN * RUN;
            if end > start {
                // SAFETY: the mapping is a read-only file mapping that this process never
                // writes, so MADV_DONTNEED only drops page-table entries: any later access
                // faults the same file bytes back in. (The danger of DONTNEED, zeroing private
                // or anonymous pages, applies to `from_bytes` mappings, excluded above.) The
                // range lies inside the mapping (inside `data`).
                let _ = unsafe {
                    self.map.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, start, end - start)
                };
            }
        }
        #[cfg(not(unix))]
        let _ = info;
    }

    /// The path the file was opened from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// GGUF version (2 or 3).
    pub fn version(&self) -> u32 {
        self.header.version
    }

    /// The parsed header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The metadata.
    pub fn metadata(&self) -> &Metadata {
        &self.header.metadata
    }

    /// Tensor infos in file order.
    pub fn tensors(&self) -> &[TensorInfo] {
        &self.header.tensors
    }

    /// The info of tensor `name`.
    pub fn tensor(&self, name: &str) -> Option<&TensorInfo> {
        self.header.tensors.iter().find(|t| t.name == name)
    }

    /// Size of the mapped file in bytes.
    pub fn file_len(&self) -> u64 {
        self.map.len() as u64
    }

    /// The whole mapped file.
    pub fn bytes(&self) -> &[u8] {
        &self.map
    }

    /// The bytes of a tensor, borrowed from the mapping. `info` must come from this file's
    /// [`GgufFile::tensors`]; bounds were checked at parse time, and an info from elsewhere
    /// that does not fit yields an empty slice rather than a panic.
    pub fn data(&self, info: &TensorInfo) -> &[u8] {
        let start = self.header.data_offset.saturating_add(info.offset);
        let end = start.saturating_add(info.n_bytes);
        usize::try_from(start)
            .ok()
            .zip(usize::try_from(end).ok())
            .and_then(|(s, e)| self.map.get(s..e))
            .unwrap_or(&[])
    }

    /// The bytes of the tensor called `name`.
    pub fn tensor_data(&self, name: &str) -> Result<(&TensorInfo, &[u8])> {
        let info = self.tensor(name).ok_or_else(|| GgufError::TensorNotFound { name: name.to_owned() })?;
        Ok((info, self.data(info)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{DType, GgufWriter, Value};

    #[test]
    fn from_bytes_reads_what_the_writer_wrote() {
        let mut w = GgufWriter::new();
        w.set("general.architecture", Value::String("llama".into()));
        w.add_tensor("t", DType::F32, &[2]).unwrap();
        let bytes = w.to_bytes(&[&[0, 0, 128, 63, 0, 0, 0, 64]]).unwrap();
        let f = GgufFile::from_bytes(&bytes).unwrap();
        assert_eq!(f.path(), Path::new("<memory>"));
        assert_eq!(f.metadata().architecture().unwrap(), "llama");
        assert_eq!(f.tensor_data("t").unwrap().1, &[0, 0, 128, 63, 0, 0, 0, 64]);
    }

    #[test]
    fn from_bytes_of_nothing_is_an_error() {
        assert!(matches!(GgufFile::from_bytes(&[]), Err(GgufError::Truncated { .. })));
    }
}
