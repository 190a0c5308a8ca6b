//! A persistent thread pool: the engine's one parallelism primitive.
//!
//! [`ThreadPool::new`] spawns `n - 1` workers once; [`ThreadPool::run`] calls one closure
//! `f(ith, nth)` once for every `ith` in `0..nth` — `ith = 0` on the calling thread, the
//! others on the workers — and returns when all calls have returned. A dispatch allocates
//! nothing and spawns nothing: the closure is published through a lifetime-erased pointer
//! and an atomic *claim word* (generation, next index); threads claim indices from it.
//!
//! A worker that has not picked up its index by the time the caller finished its own is not
//! waited for: the caller claims and runs the remaining indices itself. So a worker that is
//! slow to wake (parked, or descheduled on a busy 2-core box) never delays a dispatch; the
//! caller only waits for calls that have already started. Code must therefore not assume
//! that `ith ≥ 1` runs on a thread other than the caller's — only that each `ith` runs once.
//!
//! Idle workers spin for [`ThreadPool::spin`] (a few µs, `std::hint::spin_loop`) and then
//! park, so a decode loop that pauses between dispatches does not burn a core. The caller
//! waits the same way for calls still running.
//!
//! Panics inside the closure, on any thread, are caught; once every call has finished,
//! `run` resumes the first panic on the caller. The pool stays usable afterwards.
//!
//! Nesting: `run` called from inside a running job (on any pool) does not dispatch; it runs
//! the inner closure serially on the current thread for every `ith` in `0..nth` — correct,
//! never deadlocking, but without parallelism. Concurrent `run` calls on one pool from
//! different threads are serialised by a lock.

use std::any::Any;
use std::cell::{Cell, UnsafeCell};
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle, Thread};
use std::time::{Duration, Instant};

/// The closure type a dispatch runs: `f(ith, nth)`.
pub type Job<'a> = dyn Fn(usize, usize) + Sync + 'a;

/// Default time an idle thread spins before parking.
pub const DEFAULT_SPIN: Duration = Duration::from_micros(20);

/// Most threads a pool can have (the claim word keeps the next index in 16 bits).
pub const MAX_THREADS: usize = (1 << INDEX_BITS) - 1;

const INDEX_BITS: u32 = 16;
const INDEX_MASK: u64 = (1 << INDEX_BITS) - 1;

/// Packs a claim word: generation in the high bits, next unclaimed index in the low bits.
#[inline]
fn claim_word(generation: u64, index: usize) -> u64 {
    (generation << INDEX_BITS) | index as u64
}

#[inline]
fn generation_of(word: u64) -> u64 {
    word >> INDEX_BITS
}

thread_local! {
    /// True while this thread executes a pool job (detects nested `run`).
    static IN_JOB: Cell<bool> = const { Cell::new(false) };
}

/// Marks the current thread as inside a job until dropped.
struct InJobGuard {
    was: bool,
}

impl InJobGuard {
    fn enter() -> Self {
        InJobGuard { was: IN_JOB.with(|c| c.replace(true)) }
    }
}

impl Drop for InJobGuard {
    fn drop(&mut self) {
        IN_JOB.with(|c| c.set(self.was));
    }
}

/// A job pointer with its lifetime erased; valid only during the dispatch that published it.
#[derive(Clone, Copy)]
struct JobPtr(*const Job<'static>);

/// State shared by the caller and the workers.
struct Shared {
    n_threads: usize,
    spin: Duration,
    /// `(generation << 16) | next_index`: a dispatch stores `(g + 1, 1)`; threads claim
    /// index `i < n_threads` by a compare-exchange to `(g + 1, i + 1)`. Claims of an older
    /// generation fail, so a late worker can never take part in a later dispatch by mistake.
    claim: AtomicU64,
    /// Calls with `ith ≥ 1` finished in the current dispatch.
    done: AtomicUsize,
    /// `sleeping[ith - 1]`: set by worker `ith` just before it parks, cleared by whoever
    /// unparks it.
    sleeping: Box<[AtomicBool]>,
    /// The job of the current generation. Written only by the dispatching thread before it
    /// publishes the generation; read only by threads that claimed an index of it.
    job: UnsafeCell<Option<JobPtr>>,
    /// The dispatching thread, to unpark when the last call finishes. Same protocol as `job`.
    caller: UnsafeCell<Option<Thread>>,
    caller_sleeping: AtomicBool,
    shutdown: AtomicBool,
    /// The first panic payload caught on a worker during the current dispatch.
    panic: Mutex<Option<Box<dyn Any + Send + 'static>>>,
}

// SAFETY: the `UnsafeCell` fields (`job`, `caller`) are written only by the thread holding
// `ThreadPool::dispatch`, before it publishes a new generation in `claim` (SeqCst store),
// while no thread can hold a claim (every index of the previous generation was claimed and
// its call finished). They are read only by a thread that won a claim of that generation
// (AcqRel compare-exchange, so the writes are visible), before it reports completion in
// `done`; the dispatcher waits for all completions before writing them again. Every other
// field is an atomic or a mutex, and the job pointer is `Sync` (`Job` requires it).
unsafe impl Sync for Shared {}
// SAFETY: as above; `Thread` and the boxed panic payload (`Send`) may move across threads,
// and the raw job pointer is only dereferenced under that protocol.
unsafe impl Send for Shared {}

impl Shared {
    fn lock_panic(&self) -> MutexGuard<'_, Option<Box<dyn Any + Send + 'static>>> {
        self.panic.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Claims the next index of generation `generation`, if one is left.
    #[inline]
    fn try_claim(&self, generation: u64) -> Option<usize> {
        let mut word = self.claim.load(Ordering::Acquire);
        loop {
            let index = (word & INDEX_MASK) as usize;
            if generation_of(word) != generation || index >= self.n_threads {
                return None;
            }
            match self.claim.compare_exchange_weak(word, word + 1, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return Some(index),
                Err(now) => word = now,
            }
        }
    }

    /// Runs call `ith` of the current job (which the calling thread has claimed), catching a
    /// panic into `self.panic`, and reports completion.
    fn run_claimed(&self, ith: usize) {
        // SAFETY: the caller won the claim of `ith` in the current generation, so `job` holds
        // that generation's pointer, and the dispatcher keeps the closure alive until `done`
        // counts this call (see `unsafe impl Sync for Shared`).
        let (job, caller) = unsafe { (*self.job.get(), (*self.caller.get()).clone()) };
        if let Some(JobPtr(ptr)) = job {
            let result = {
                let _g = InJobGuard::enter();
                // SAFETY: as above, the closure outlives this call.
                let f: &Job<'_> = unsafe { &*ptr };
                panic::catch_unwind(AssertUnwindSafe(|| f(ith, self.n_threads)))
            };
            if let Err(payload) = result {
                let mut slot = self.lock_panic();
                if slot.is_none() {
                    *slot = Some(payload);
                }
            }
        }
        // After this increment the dispatcher may return: touch nothing of the job after it.
        // SeqCst (not AcqRel): with the caller's `caller_sleeping` swap and `done` load this
        // is a Dekker handshake, which needs both sides in the single SeqCst order.
        if self.done.fetch_add(1, Ordering::SeqCst) + 2 == self.n_threads
            && self.caller_sleeping.swap(false, Ordering::SeqCst)
            && let Some(t) = caller
        {
            t.unpark();
        }
    }
}

/// A fixed set of worker threads that run one closure for `n` indices per [`run`](Self::run).
///
/// ```
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// let pool = hearth_kernels::ThreadPool::new(2);
/// let sum = AtomicUsize::new(0);
/// pool.run(&|ith, nth| {
///     assert_eq!(nth, 2);
///     sum.fetch_add(ith + 1, Ordering::Relaxed);
/// });
/// assert_eq!(sum.into_inner(), 3);
/// ```
pub struct ThreadPool {
    shared: Arc<Shared>,
    /// Worker `ith` is `workers[ith - 1]`.
    workers: Vec<Thread>,
    handles: Vec<JoinHandle<()>>,
    /// Serialises dispatches from different threads.
    dispatch: Mutex<()>,
}

impl std::fmt::Debug for ThreadPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ThreadPool")
            .field("n_threads", &self.shared.n_threads)
            .field("spin", &self.shared.spin)
            .finish()
    }
}

impl ThreadPool {
    /// A pool that runs jobs on `n_threads` threads: the caller plus `n_threads - 1`
    /// workers spawned now. `0` is treated as `1` (no workers: jobs run inline); more than
    /// [`MAX_THREADS`] as [`MAX_THREADS`].
    ///
    /// # Panics
    /// If the OS refuses to spawn a thread (as `std::thread::spawn` does); use
    /// [`try_new`](Self::try_new) to get the error instead.
    pub fn new(n_threads: usize) -> Self {
        match Self::try_new(n_threads) {
            Ok(pool) => pool,
            Err(e) => panic!("failed to spawn thread-pool workers: {e}"),
        }
    }

    /// Like [`new`](Self::new), returning the spawn error instead of panicking.
    pub fn try_new(n_threads: usize) -> std::io::Result<Self> {
        Self::with_spin(n_threads, DEFAULT_SPIN)
    }

    /// Like [`try_new`](Self::try_new) with an explicit spin time before idle threads park.
    pub fn with_spin(n_threads: usize, spin: Duration) -> std::io::Result<Self> {
        let n_threads = n_threads.clamp(1, MAX_THREADS);
        let shared = Arc::new(Shared {
            n_threads,
            spin,
            claim: AtomicU64::new(claim_word(0, n_threads)),
            done: AtomicUsize::new(0),
            sleeping: (1..n_threads).map(|_| AtomicBool::new(false)).collect(),
            job: UnsafeCell::new(None),
            caller: UnsafeCell::new(None),
            caller_sleeping: AtomicBool::new(false),
            shutdown: AtomicBool::new(false),
            panic: Mutex::new(None),
        });
        let mut pool = ThreadPool {
            shared: Arc::clone(&shared),
            workers: Vec::with_capacity(n_threads - 1),
            handles: Vec::with_capacity(n_threads - 1),
            dispatch: Mutex::new(()),
        };
        for ith in 1..n_threads {
            let sh = Arc::clone(&shared);
            // On error `pool` is dropped, which shuts down the workers spawned so far.
            let handle = thread::Builder::new()
                .name(format!("hearth-worker-{ith}"))
                .spawn(move || worker_loop(&sh, ith))?;
            pool.workers.push(handle.thread().clone());
            pool.handles.push(handle);
        }
        Ok(pool)
    }

    /// Number of indices a job runs for (`nth`): the caller plus the workers.
    pub fn n_threads(&self) -> usize {
        self.shared.n_threads
    }

    /// How long idle threads spin before parking.
    pub fn spin(&self) -> Duration {
        self.shared.spin
    }

    /// Calls `f(ith, nth)` once for every `ith` in `0..nth` (`nth = n_threads()`): `ith = 0`
    /// on the calling thread, the others on workers (or on the caller, when it is free before
    /// a worker picked its index up). Returns when all calls have returned.
    ///
    /// The caller takes over no index while its own call 0 runs, and a worker claims a second
    /// index only after finishing its first, so calls that all wait for each other (a barrier
    /// inside the job) do run concurrently, each on its own thread.
    ///
    /// If any call panics, the first panic is resumed here after all calls finished.
    /// Called from inside a running job, it runs the calls serially on this thread (a job
    /// with an internal barrier must not be nested).
    pub fn run(&self, f: &Job<'_>) {
        let nth = self.shared.n_threads;
        if nth == 1 {
            let _g = InJobGuard::enter();
            f(0, 1);
            return;
        }
        if IN_JOB.with(Cell::get) {
            for ith in 0..nth {
                f(ith, nth);
            }
            return;
        }
        let _lock = self.dispatch.lock().unwrap_or_else(PoisonError::into_inner);
        self.dispatch_locked(f);
    }

    fn dispatch_locked(&self, f: &Job<'_>) {
        let sh = &*self.shared;
        let nth = sh.n_threads;
        // SAFETY: the lifetime is erased only for the duration of this call: this function
        // does not return (nor unwind) before every claimed call has reported completion,
        // and no call can be claimed after all indices are (see `unsafe impl Sync for Shared`).
        let ptr: *const Job<'static> =
            unsafe { std::mem::transmute::<*const Job<'_>, *const Job<'static>>(f) };
        // SAFETY: we hold the dispatch lock and the previous dispatch ended with every index
        // claimed and finished, so no thread reads these cells now.
        unsafe {
            *sh.job.get() = Some(JobPtr(ptr));
            *sh.caller.get() = Some(thread::current());
        }
        sh.done.store(0, Ordering::Relaxed);
        let generation = generation_of(sh.claim.load(Ordering::Relaxed)) + 1;
        // Index 0 is the caller's; workers claim from 1.
        sh.claim.store(claim_word(generation, 1), Ordering::SeqCst);
        for (w, sleeping) in self.workers.iter().zip(&sh.sleeping) {
            if sleeping.swap(false, Ordering::SeqCst) {
                w.unpark();
            }
        }

        let own = {
            let _g = InJobGuard::enter();
            panic::catch_unwind(AssertUnwindSafe(|| f(0, nth)))
        };
        // Take over the indices no worker has picked up yet.
        while let Some(ith) = sh.try_claim(generation) {
            sh.run_claimed(ith);
        }

        // Wait for calls still running on workers: spin, then park until the last unparks us.
        let start = Instant::now();
        let mut spins = 0u32;
        while sh.done.load(Ordering::Acquire) != nth - 1 {
            if spins < 64 || start.elapsed() < sh.spin {
                spins = spins.saturating_add(1);
                std::hint::spin_loop();
                continue;
            }
            // A swap, not a store: a read-modify-write is a full barrier everywhere (under
            // qemu-user on x86 a SeqCst store could still pass the following load, and this
            // caller would park after missing the last worker's wake-up).
            sh.caller_sleeping.swap(true, Ordering::SeqCst);
            if sh.done.load(Ordering::SeqCst) == nth - 1 {
                break;
            }
            thread::park();
        }
        sh.caller_sleeping.store(false, Ordering::SeqCst);
        // SAFETY: every index of this generation is claimed and finished (done == nth - 1,
        // Acquire above): nobody reads the cell until the next dispatch publishes a new one.
        unsafe {
            *sh.job.get() = None;
        }

        let worker_panic = sh.lock_panic().take();
        if let Err(payload) = own {
            panic::resume_unwind(payload);
        }
        if let Some(payload) = worker_panic {
            panic::resume_unwind(payload);
        }
    }
}

impl Drop for ThreadPool {
    fn drop(&mut self) {
        let sh = &*self.shared;
        sh.shutdown.store(true, Ordering::SeqCst);
        // A new generation with nothing to claim wakes every worker to see the shutdown.
        let generation = generation_of(sh.claim.load(Ordering::Relaxed)) + 1;
        sh.claim.store(claim_word(generation, sh.n_threads), Ordering::SeqCst);
        for (w, sleeping) in self.workers.iter().zip(&sh.sleeping) {
            sleeping.store(false, Ordering::SeqCst);
            w.unpark();
        }
        for h in self.handles.drain(..) {
            // Workers catch job panics, so a join error cannot carry one; nothing to report.
            let _ = h.join();
        }
    }
}

fn worker_loop(sh: &Shared, ith: usize) {
    let mut seen = 0u64;
    loop {
        seen = wait_for_generation(sh, ith, seen);
        if sh.shutdown.load(Ordering::Acquire) {
            return;
        }
        while let Some(i) = sh.try_claim(seen) {
            sh.run_claimed(i);
        }
    }
}

/// Spins, then parks, until the claim word's generation differs from `seen`; returns it.
fn wait_for_generation(sh: &Shared, ith: usize, seen: u64) -> u64 {
    let sleeping = &sh.sleeping[ith - 1];
    let start = Instant::now();
    let mut spins = 0u32;
    loop {
        let g = generation_of(sh.claim.load(Ordering::Acquire));
        if g != seen {
            return g;
        }
        if spins < 64 || start.elapsed() < sh.spin {
            spins = spins.saturating_add(1);
            std::hint::spin_loop();
            continue;
        }
        // Announce the park, then re-check: the dispatcher publishes the generation before it
        // reads `sleeping` (both SeqCst), so either we see the new generation or it sees our
        // flag and unparks us.
        sleeping.swap(true, Ordering::SeqCst); // a full barrier, as for `caller_sleeping`
        if generation_of(sh.claim.load(Ordering::SeqCst)) != seen {
            sleeping.store(false, Ordering::Relaxed);
            continue;
        }
        thread::park();
    }
}
