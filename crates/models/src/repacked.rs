//! Weights repacked once at load for the kernel table: Q4_K and Q6_K matrices interleaved 8
//! rows to a block where the table decodes that layout faster ([`QMatrix::wants_interleaved`]: the
//! AVX-512 table, so far). The copies live beside the mapping for the model's lifetime; the
//! file's own pages of those tensors are then only read again for nothing (the page cache
//! may drop them).

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use hearth_gguf::{GgufFile, TensorInfo};
use hearth_kernels::QMatrix;

/// Repacked matrices by tensor name.
#[derive(Default)]
pub(crate) struct Repacked {
    by_name: HashMap<String, Vec<u8>>,
}

impl std::fmt::Debug for Repacked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let bytes: usize = self.by_name.values().map(Vec::len).sum();
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
    /// then reports the error).
    pub(crate) fn build(file: &GgufFile) -> Repacked {
        let todo: Vec<(&TensorInfo, usize, usize)> =
            file.tensors().iter().filter_map(|t| wanted(t).map(|(r, c)| (t, r, c))).collect();
        if todo.is_empty() {
            return Repacked::default();
        }
        let start = Instant::now();
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(todo.len());
        let next = AtomicUsize::new(0);
        let done: Vec<Vec<(String, Vec<u8>)>> = std::thread::scope(|s| {
            let workers: Vec<_> = (0..threads)
                .map(|_| {
                    s.spawn(|| {
                        let mut out = Vec::new();
                        loop {
                            let i = next.fetch_add(1, Ordering::Relaxed);
                            let Some(&(t, rows, cols)) = todo.get(i) else { break };
                            let Some(len) = QMatrix::interleaved_len(t.ty, rows, cols) else { continue };
                            let mut dst = vec![0u8; len];
                            if QMatrix::interleave(t.ty, rows, cols, file.data(t), &mut dst).is_ok() {
                                out.push((t.name.clone(), dst));
                            }
                        }
                        out
                    })
                })
                .collect();
            // A worker only panics on a bug in `interleave` (it checks every length first).
            workers.into_iter().map(|w| w.join().unwrap_or_default()).collect()
        });
        let by_name: HashMap<String, Vec<u8>> = done.into_iter().flatten().collect();
        let r = Repacked { by_name };
        tracing::debug!(
            repacked = ?r,
            ms = start.elapsed().as_millis() as u64,
            "interleaved K-quant matrices for the kernel table"
        );
        r
    }

    /// The repacked bytes of tensor `name`, if it was repacked.
    pub(crate) fn get(&self, name: &str) -> Option<&[u8]> {
        self.by_name.get(name).map(Vec::as_slice)
    }
}
