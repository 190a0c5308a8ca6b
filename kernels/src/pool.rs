//! A persistent thread pool: the engine's one parallelism primitive.
//!
//! [`ThreadPool::new`] spawns `n - 1` workers once; [`ThreadPool::run`] hands one closure to
//! all of them and to the calling thread (thread 0), and returns when every thread is done.
//! A dispatch allocates nothing and spawns nothing: the closure is published through a
//! lifetime-erased pointer, a generation counter wakes the workers, and a countdown tells
//! the caller when the last one finished.
//!
//! Idle workers spin for [`ThreadPool::spin`] (a few µs, `std::hint::spin_loop`) and then
//! park, so a decode loop that pauses between dispatches does not burn a core. The caller
//! waits the same way for stragglers.
//!
//! Panics inside the closure, on any thread, are caught; once every thread has finished,
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
    /// Bumped once per dispatch (and once at shutdown); workers wait for it to change.
    generation: AtomicU64,
    /// `sleeping[ith - 1]`: set by worker `ith` just before it parks, cleared by whoever
    /// unparks it.
    sleeping: Box<[AtomicBool]>,
    /// The job of the current generation. Written only by the dispatching thread while no
    /// worker is between "saw the new generation" and "decremented `pending`".
    job: UnsafeCell<Option<JobPtr>>,
    /// Workers that have not finished the current job.
    pending: AtomicUsize,
    /// The dispatching thread, to unpark when the last worker finishes.
    caller: UnsafeCell<Option<Thread>>,
    caller_sleeping: AtomicBool,
    shutdown: AtomicBool,
    /// The first panic payload caught in a worker during the current dispatch.
    panic: Mutex<Option<Box<dyn Any + Send + 'static>>>,
}

// SAFETY: the `UnsafeCell` fields (`job`, `caller`) are written only by the thread that holds
// `ThreadPool::dispatch` while all workers are idle (pending == 0, before the generation
// bump with Release ordering) and read by workers only after they observe that bump with
// Acquire ordering and before they decrement `pending`; every other field is an atomic or a
// mutex. The job pointer itself is `Sync` (`Job` requires `Sync`).
unsafe impl Sync for Shared {}
// SAFETY: as above; `Thread` and the boxed panic payload (`Send`) are safe to move across
// threads, and the raw job pointer is only dereferenced under the protocol described there.
unsafe impl Send for Shared {}

impl Shared {
    fn lock_panic(&self) -> MutexGuard<'_, Option<Box<dyn Any + Send + 'static>>> {
        self.panic.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A fixed set of worker threads that run one closure on `n` threads per [`run`](Self::run).
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
    /// workers spawned now. `0` is treated as `1` (no workers: jobs run inline).
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
        let n_threads = n_threads.max(1);
        let shared = Arc::new(Shared {
            n_threads,
            spin,
            generation: AtomicU64::new(0),
            sleeping: (1..n_threads).map(|_| AtomicBool::new(false)).collect(),
            job: UnsafeCell::new(None),
            pending: AtomicUsize::new(0),
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

    /// Number of threads a job runs on, the caller included.
    pub fn n_threads(&self) -> usize {
        self.shared.n_threads
    }

    /// How long idle threads spin before parking.
    pub fn spin(&self) -> Duration {
        self.shared.spin
    }

    /// Runs `f(ith, nth)` for every `ith` in `0..nth` (`nth = n_threads()`), `ith = 0` on the
    /// calling thread, each on its own thread, and returns when all calls have returned.
    ///
    /// If any call panics, the first panic is resumed here after all threads finished.
    /// Called from inside a running job, it runs the calls serially on this thread.
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
        // does not return (nor unwind) before `pending` reaches 0, i.e. before every worker
        // is done with the pointer (workers never touch it after their decrement).
        let ptr: *const Job<'static> = unsafe { std::mem::transmute::<*const Job<'_>, *const Job<'static>>(f) };
        // SAFETY: we hold the dispatch lock and the previous dispatch ended with pending == 0,
        // so no worker reads these cells now (see `unsafe impl Sync for Shared`).
        unsafe {
            *sh.job.get() = Some(JobPtr(ptr));
            *sh.caller.get() = Some(thread::current());
        }
        sh.pending.store(nth - 1, Ordering::Relaxed);
        sh.generation.fetch_add(1, Ordering::SeqCst);
        for (w, sleeping) in self.workers.iter().zip(&sh.sleeping) {
            if sleeping.swap(false, Ordering::SeqCst) {
                w.unpark();
            }
        }

        let own = {
            let _g = InJobGuard::enter();
            panic::catch_unwind(AssertUnwindSafe(|| f(0, nth)))
        };

        // Wait for the workers: spin, then park until the last one unparks us.
        let start = Instant::now();
        let mut spins = 0u32;
        while sh.pending.load(Ordering::Acquire) != 0 {
            if spins < 64 || start.elapsed() < sh.spin {
                spins = spins.saturating_add(1);
                std::hint::spin_loop();
                continue;
            }
            sh.caller_sleeping.store(true, Ordering::SeqCst);
            if sh.pending.load(Ordering::SeqCst) == 0 {
                sh.caller_sleeping.store(false, Ordering::Relaxed);
                break;
            }
            thread::park();
        }
        sh.caller_sleeping.store(false, Ordering::Relaxed);
        // SAFETY: all workers are done with this generation (pending == 0, Acquire above).
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
        self.shared.shutdown.store(true, Ordering::SeqCst);
        self.shared.generation.fetch_add(1, Ordering::SeqCst);
        for (w, sleeping) in self.workers.iter().zip(&self.shared.sleeping) {
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
        let gen_now = wait_for_generation(sh, ith, seen);
        seen = gen_now;
        if sh.shutdown.load(Ordering::Acquire) {
            return;
        }
        // SAFETY: we observed the new generation with Acquire ordering, so the job written
        // before the bump is visible, and the dispatcher keeps it alive until we decrement
        // `pending` below.
        let job = unsafe { *sh.job.get() };
        if let Some(JobPtr(ptr)) = job {
            let result = {
                let _g = InJobGuard::enter();
                // SAFETY: see above: the pointee outlives this call.
                let f: &Job<'_> = unsafe { &*ptr };
                panic::catch_unwind(AssertUnwindSafe(|| f(ith, sh.n_threads)))
            };
            if let Err(payload) = result {
                let mut slot = sh.lock_panic();
                if slot.is_none() {
                    *slot = Some(payload);
                }
            }
        }
        // SAFETY: read before the decrement: after it the dispatcher may clear the slot.
        let caller = unsafe { (*sh.caller.get()).clone() };
        if sh.pending.fetch_sub(1, Ordering::AcqRel) == 1
            && sh.caller_sleeping.swap(false, Ordering::SeqCst)
            && let Some(t) = caller
        {
            t.unpark();
        }
    }
}

/// Spins, then parks, until `generation` differs from `seen`; returns the new value.
fn wait_for_generation(sh: &Shared, ith: usize, seen: u64) -> u64 {
    let sleeping = &sh.sleeping[ith - 1];
    let start = Instant::now();
    let mut spins = 0u32;
    loop {
        let g = sh.generation.load(Ordering::Acquire);
        if g != seen {
            return g;
        }
        if spins < 64 || start.elapsed() < sh.spin {
            spins = spins.saturating_add(1);
            std::hint::spin_loop();
            continue;
        }
        // Announce the park, then re-check: the dispatcher bumps the generation before it
        // reads `sleeping` (both SeqCst), so either we see the bump or it sees our flag.
        sleeping.store(true, Ordering::SeqCst);
        if sh.generation.load(Ordering::SeqCst) != seen {
            sleeping.store(false, Ordering::Relaxed);
            continue;
        }
        thread::park();
    }
}
