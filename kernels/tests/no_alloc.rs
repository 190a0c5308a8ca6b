//! After warm-up, a pool dispatch, `matmul` and `matmul_many` allocate nothing (on any
//! thread): a counting global allocator watches a steady-state decode-like loop.
//!
//! No libtest harness (`harness = false`): its main thread books the running test in a hash
//! map while the test thread already runs, which the counter saw as 1 in 4 runs.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use hearth_kernels::testing::{random_f32, random_row};
use hearth_kernels::{Activations, DType, QMatrix, ThreadPool, matmul, matmul_many, ops};

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards every call to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn main() {
    steady_state_matmul_does_not_allocate();
    println!("no_alloc: steady_state_matmul_does_not_allocate ... ok");
}

fn steady_state_matmul_does_not_allocate() {
    let cols = 512;
    let wq = random_row(DType::Q4_K, 256 * cols, 1);
    let wk = random_row(DType::Q8_0, 64 * cols, 2);
    let wv = random_row(DType::Q6_K, 64 * cols, 3);
    // Q4_K in the layout a model loader repacks it into where the table reads it (AVX2 and
    // AVX-512), else the file's.
    let mut wq_il = vec![0u8; QMatrix::interleaved_len(DType::Q4_K, 256, cols).expect("interleavable")];
    QMatrix::interleave(DType::Q4_K, 256, cols, &wq, &mut wq_il).expect("interleavable");
    let q = if QMatrix::wants_interleaved(DType::Q4_K, 256) {
        QMatrix::interleaved(DType::Q4_K, 256, cols, &wq_il).expect("valid")
    } else {
        QMatrix::new(DType::Q4_K, 256, cols, &wq).expect("valid")
    };
    let k = QMatrix::new(DType::Q8_0, 64, cols, &wk).expect("valid");
    let v = QMatrix::new(DType::Q6_K, 64, cols, &wv).expect("valid");
    // The layout a model loader repacks Q6_K into where the process's table has a kernel for
    // it (AVX-512; elsewhere the loader keeps the file's layout, so neither does this).
    let mut wo_il = vec![0u8; QMatrix::interleaved_len(DType::Q6_K, 64, cols).expect("interleavable")];
    let wo = random_row(DType::Q6_K, 64 * cols, 6);
    QMatrix::interleave(DType::Q6_K, 64, cols, &wo, &mut wo_il).expect("interleavable");
    let o = QMatrix::wants_interleaved(DType::Q6_K, 64)
        .then(|| QMatrix::interleaved(DType::Q6_K, 64, cols, &wo_il).expect("valid"));
    let pool = ThreadPool::new(2);
    let input = random_f32(8 * cols, 1.0, 4);
    let norm_w = random_f32(cols, 1.0, 5);
    let mut x = Activations::with_capacity(8, cols);
    let (mut oq, mut ok, mut ov) = (vec![0.0; 8 * 256], vec![0.0; 8 * 64], vec![0.0; 8 * 64]);
    let mut oo = vec![0.0; 8 * 64];

    let mut step = |n: usize| {
        let xs = x.fill(n, cols);
        for (dst, src) in xs.chunks_exact_mut(cols).zip(input.chunks_exact(cols)) {
            ops::rmsnorm(src, &norm_w, 1e-5, dst);
        }
        matmul_many(&pool, &mut [(&q, &mut oq[..n * 256]), (&k, &mut ok[..n * 64])], &mut x);
        matmul(&pool, &v, &mut x, &mut ov[..n * 64]);
        if let Some(o) = &o {
            matmul(&pool, o, &mut x, &mut oo[..n * 64]);
        }
        pool.run(&|ith, _| {
            std::hint::black_box(ith);
        });
    };
    // Warm-up: the largest batch sizes every buffer; first calls fill lazy tables.
    step(8);
    step(1);
    // And every worker thread has started (std allocates once at thread start, which the OS
    // may run late): index 0 waits until all indices run at once, so no index is taken over
    // by the caller and each worker must have picked its own up.
    let started = AtomicUsize::new(0);
    pool.run(&|_, nth| {
        started.fetch_add(1, Ordering::SeqCst);
        while started.load(Ordering::SeqCst) < nth {
            std::hint::spin_loop();
        }
    });
    let before = ALLOCATIONS.load(Ordering::SeqCst);
    for i in 0..200 {
        step(1 + i % 8);
    }
    let after = ALLOCATIONS.load(Ordering::SeqCst);
    assert_eq!(after - before, 0, "allocations in 200 steady-state steps");
    // The counter does count.
    std::hint::black_box(Vec::<u8>::with_capacity(16));
    assert!(ALLOCATIONS.load(Ordering::SeqCst) > after);
}
