//! Weights repacked once at load for the kernel table: Q4_K and Q6_K matrices interleaved 8
//! rows to a block, Q5_0 and Q8_0 16, where the table decodes that layout faster ([`QMatrix::wants_interleaved`]: the
//! AVX-512 table; the AVX2 table for Q4_K). The copies live beside the mapping for the model's lifetime; the
//! file's own pages of those tensors are then only read again for nothing (the page cache
//! may drop them).

use std::collections::HashMap;
use std::ops::Range;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use hearth_gguf::{GgufFile, TensorInfo};
use hearth_kernels::QMatrix;

/// Repacked matrices by tensor name, all in one anonymous mapping (asked to be backed by
/// transparent huge pages: fewer TLB misses and page-boundary stalls on the weight streams).
#[derive(Default)]
pub(crate) struct Repacked {
    map: Option<memmap2::Mmap>,
    by_name: HashMap<String, Range<usize>>,
}

impl std::fmt::Debug for Repacked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let bytes = self.map.as_ref().map_or(0, |m| m.len());
        f.debug_struct("Repacked").field("matrices", &self.by_name.len()).field("bytes", &bytes).finish()
    }
}

/// `(rows, cols)` of a 2-D tensor whose layout the kernel table wants interleaved.
fn wanted(t: &TensorInfo) -> Option<(usize, usize)> {
    let [cols, rows] = t.dims[..] else { return None };
    let (rows, cols) = (usize::try_from(rows).ok()?, usize::try_from(cols).ok()?);
    QMatrix::wants_interleaved(t.ty, rows).then_some((rows, cols))
}

impl Repacked {
    /// Repacks every matrix of `file` the process's kernel table wants interleaved, on all
    /// cores. A tensor whose bytes do not fit its shape is left out (loading it row-major
    /// then reports the error), and so is everything if the memory cannot be mapped.
    pub(crate) fn build(file: &GgufFile) -> Repacked {
        let mut todo: Vec<(&TensorInfo, usize, usize, Range<usize>)> = Vec::new();
        let mut total = 0usize;
        for t in file.tensors() {
            let Some((rows, cols)) = wanted(t) else { continue };
            let Some(len) = QMatrix::interleaved_len(t.ty, rows, cols) else { continue };
            if QMatrix::new(t.ty, rows, cols, file.data(t)).is_err() {
                continue;
            }
            let Some(end) = total.checked_add(len) else { break };
            todo.push((t, rows, cols, total..end));
            total = end;
        }
        if todo.is_empty() {
            return Repacked::default();
        }
        let start = Instant::now();
        let mut map = match memmap2::MmapMut::map_anon(total) {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(bytes = total, error = %e, "cannot map memory to repack weights; using the file's layout");
                return Repacked::default();
            }
        };
        #[cfg(target_os = "linux")]
        {
            // A hint: without transparent huge pages the mapping works the same.
            let _ = map.advise(memmap2::Advice::HugePage);
        }
        // Disjoint destination slices, one per tensor, handed out to the workers in turn.
        let mut rest: &mut [u8] = &mut map;
        let mut jobs = Vec::with_capacity(todo.len());
        for &(t, rows, cols, ref range) in &todo {
            let (dst, tail) = std::mem::take(&mut rest).split_at_mut(range.len());
            rest = tail;
            jobs.push((t, rows, cols, dst));
        }
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(jobs.len());
        let jobs = Mutex::new(jobs.into_iter());
        let failed = AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..threads {
                s.spawn(|| {
                    // A poisoned lock (a worker panicked) ends this worker too; the scope
                    // then propagates that panic.
                    while let Some((t, rows, cols, dst)) = jobs.lock().ok().and_then(|mut j| j.next()) {
                        if QMatrix::interleave(t.ty, rows, cols, file.data(t), dst).is_err() {
                            failed.fetch_add(1, Ordering::Relaxed);
                        }
                        // The file's copy is not read again (were the repack given up, a read
                        // would fault it back in from the page cache): out of this process's
                        // resident memory now, so the load never holds both copies of all
                        // the weights at once.
                        file.release_tensor_pages(t);
                    }
                });
            }
        });
        if failed.load(Ordering::Relaxed) > 0 {
            // Every length was checked above; a failure here is a bug, not bad input.
            tracing::warn!("repacking weights failed; using the file's layout");
            return Repacked::default();
        }
        let map = match map.make_read_only() {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(error = %e, "cannot protect repacked weights; using the file's layout");
                return Repacked::default();
            }
        };
        let by_name = todo.into_iter().map(|(t, _, _, range)| (t.name.clone(), range)).collect();
        let r = Repacked { map: Some(map), by_name };
        tracing::debug!(
            repacked = ?r,
            ms = start.elapsed().as_millis() as u64,
            "interleaved weight matrices for the kernel table"
        );
        r
    }

    /// Bytes of all repacked matrices.
    pub(crate) fn bytes(&self) -> usize {
        self.map.as_ref().map_or(0, |m| m.len())
    }

    /// The repacked bytes of tensor `name`, if it was repacked.
    pub(crate) fn get(&self, name: &str) -> Option<&[u8]> {
        let map = self.map.as_ref()?;
        self.by_name.get(name).map(|r| &map[r.clone()])
    }
}
