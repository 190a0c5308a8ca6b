//! Safe data-parallel helpers on top of [`ThreadPool::run`], so crates without `unsafe`
//! (models, engine) can split mutable buffers across threads.

use std::sync::atomic::{AtomicUsize, Ordering};

use crate::ThreadPool;

/// A raw pointer that may cross threads; every use below states why accesses are disjoint.
struct Ptr<T>(*mut T);

impl<T> Clone for Ptr<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Ptr<T> {}

impl<T> Ptr<T> {
    #[inline]
    fn get(self) -> *mut T {
        self.0
    }
}

// SAFETY: only used to hand disjoint sub-slices of one exclusively borrowed buffer (and one
// distinct element of a per-thread slice) to pool threads for the duration of one dispatch.
unsafe impl<T: Send> Send for Ptr<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Sync for Ptr<T> {}

impl ThreadPool {
    /// Cuts `data` into consecutive chunks of `chunk` elements (the last may be shorter) and
    /// calls `f(index, chunk, local)` once per chunk, chunks claimed dynamically by all pool
    /// threads; `local` is `locals[ith]`, the calling thread's own scratch.
    ///
    /// # Panics
    /// If `chunk == 0` or `locals.len() < self.n_threads()`.
    pub fn for_each_chunk<T: Send, S: Send>(
        &self,
        data: &mut [T],
        chunk: usize,
        locals: &mut [S],
        f: &(dyn Fn(usize, &mut [T], &mut S) + Sync),
    ) {
        assert!(chunk > 0, "for_each_chunk: chunk size 0");
        assert!(
            locals.len() >= self.n_threads(),
            "for_each_chunk: {} locals for {} threads",
            locals.len(),
            self.n_threads()
        );
        let n_chunks = data.len().div_ceil(chunk);
        let len = data.len();
        let base = Ptr(data.as_mut_ptr());
        let loc = Ptr(locals.as_mut_ptr());
        let next = AtomicUsize::new(0);
        self.run(&|ith, _nth| {
            // SAFETY: `ith < n_threads() <= locals.len()`, and each thread index is used by
            // exactly one thread during this dispatch, so this is the only reference to it.
            let local = unsafe { &mut *loc.get().add(ith) };
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n_chunks {
                    break;
                }
                let start = i * chunk;
                let end = (start + chunk).min(len);
                // SAFETY: chunk `i` is claimed by exactly one thread (the atomic counter hands
                // out each index once); `[start, end)` lies inside `data`, which is borrowed
                // exclusively for the whole dispatch, and chunks do not overlap.
                let part = unsafe { std::slice::from_raw_parts_mut(base.get().add(start), end - start) };
                f(i, part, local);
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_chunk_is_visited_once_with_a_thread_local() {
        let pool = ThreadPool::new(2);
        let mut data = vec![0u32; 1003];
        let mut locals = vec![0usize; 2];
        pool.for_each_chunk(&mut data, 10, &mut locals, &|i, c, l| {
            *l += c.len();
            for (j, v) in c.iter_mut().enumerate() {
                *v = (i * 10 + j) as u32 + 1;
            }
        });
        assert!(data.iter().enumerate().all(|(j, v)| *v == j as u32 + 1));
        assert_eq!(locals.iter().sum::<usize>(), 1003);
    }
}
