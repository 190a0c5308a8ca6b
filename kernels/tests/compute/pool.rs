//! `ThreadPool`: every index runs once per dispatch, panics propagate, nesting and
//! concurrent callers neither deadlock nor lose work, parked workers wake up, and a worker
//! that is late never delays the caller.

use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use hearth_kernels::ThreadPool;

#[test]
fn every_index_runs_once() {
    for n in 1..=5 {
        let pool = ThreadPool::new(n);
        assert_eq!(pool.n_threads(), n);
        let hits: Vec<AtomicUsize> = (0..n).map(|_| AtomicUsize::new(0)).collect();
        pool.run(&|ith, nth| {
            assert_eq!(nth, n);
            hits[ith].fetch_add(1, Ordering::Relaxed);
        });
        for (i, h) in hits.iter().enumerate() {
            assert_eq!(h.load(Ordering::Relaxed), 1, "thread {i} of {n}");
        }
    }
}

#[test]
fn zero_threads_means_one() {
    let pool = ThreadPool::new(0);
    assert_eq!(pool.n_threads(), 1);
    let hits = AtomicUsize::new(0);
    pool.run(&|ith, nth| {
        assert_eq!((ith, nth), (0, 1));
        hits.fetch_add(1, Ordering::Relaxed);
    });
    assert_eq!(hits.into_inner(), 1);
}

#[test]
fn many_short_dispatches() {
    for n in [2, 3, 4] {
        let pool = ThreadPool::new(n);
        let total = AtomicUsize::new(0);
        // Fewer rounds when the pool oversubscribes a small machine.
        let rounds = if n <= 2 { 20_000 } else { 4_000 };
        for _ in 0..rounds {
            pool.run(&|ith, _| {
                total.fetch_add(ith + 1, Ordering::Relaxed);
            });
        }
        assert_eq!(total.into_inner(), rounds * n * (n + 1) / 2);
    }
}

#[test]
fn results_written_by_workers_are_visible_to_the_caller() {
    let pool = ThreadPool::new(3);
    let mut out = vec![0u64; 3 * 1000];
    for round in 0..200u64 {
        let cells: Vec<AtomicUsize> = (0..out.len()).map(|_| AtomicUsize::new(0)).collect();
        pool.run(&|ith, nth| {
            for i in (ith..cells.len()).step_by(nth) {
                cells[i].store(i + round as usize, Ordering::Relaxed);
            }
        });
        for (o, c) in out.iter_mut().zip(&cells) {
            *o = c.load(Ordering::Relaxed) as u64;
        }
        assert!(out.iter().enumerate().all(|(i, &v)| v == i as u64 + round));
    }
}

#[test]
fn parked_workers_wake_up() {
    // Zero spin: workers park right away; sleeping between dispatches makes sure they do.
    let pool = ThreadPool::with_spin(3, Duration::ZERO).expect("spawn");
    let total = AtomicUsize::new(0);
    for i in 0..50 {
        if i % 10 == 0 {
            std::thread::sleep(Duration::from_millis(5));
        }
        pool.run(&|_, _| {
            total.fetch_add(1, Ordering::Relaxed);
        });
    }
    assert_eq!(total.into_inner(), 150);
}

#[test]
fn slow_worker_parks_the_caller_and_wakes_it() {
    let pool = ThreadPool::with_spin(2, Duration::ZERO).expect("spawn");
    let done = AtomicUsize::new(0);
    for _ in 0..5 {
        pool.run(&|ith, _| {
            if ith == 1 {
                std::thread::sleep(Duration::from_millis(3));
            }
            done.fetch_add(1, Ordering::Relaxed);
        });
    }
    assert_eq!(done.into_inner(), 10);
}

#[test]
fn worker_panic_propagates_and_pool_survives() {
    let pool = ThreadPool::new(3);
    for bad in [1, 2] {
        let err = panic::catch_unwind(AssertUnwindSafe(|| {
            pool.run(&|ith, _| {
                if ith == bad {
                    panic!("boom in worker {ith}");
                }
            })
        }))
        .expect_err("panic must reach the caller");
        let msg = err.downcast_ref::<String>().cloned().unwrap_or_default();
        assert_eq!(msg, format!("boom in worker {bad}"));
    }
    let total = AtomicUsize::new(0);
    pool.run(&|_, _| {
        total.fetch_add(1, Ordering::Relaxed);
    });
    assert_eq!(total.into_inner(), 3);
}

#[test]
fn caller_panic_waits_for_workers_then_propagates() {
    let pool = ThreadPool::new(2);
    let worker_done = AtomicUsize::new(0);
    let r = panic::catch_unwind(AssertUnwindSafe(|| {
        pool.run(&|ith, _| {
            if ith == 0 {
                panic!("boom in caller");
            }
            std::thread::sleep(Duration::from_millis(10));
            worker_done.fetch_add(1, Ordering::SeqCst);
        })
    }));
    assert!(r.is_err());
    // The worker finished before `run` unwound: the closure's borrows were still alive.
    assert_eq!(worker_done.load(Ordering::SeqCst), 1);
}

#[test]
fn every_thread_panicking_is_one_panic() {
    let pool = ThreadPool::new(4);
    let r = panic::catch_unwind(AssertUnwindSafe(|| pool.run(&|_, _| panic!("all"))));
    assert!(r.is_err());
    let ok = AtomicUsize::new(0);
    pool.run(&|_, _| {
        ok.fetch_add(1, Ordering::Relaxed);
    });
    assert_eq!(ok.into_inner(), 4);
}

#[test]
fn nested_run_executes_serially() {
    let pool = ThreadPool::new(3);
    let inner = AtomicUsize::new(0);
    pool.run(&|_, _| {
        pool.run(&|ith, nth| {
            assert_eq!(nth, 3);
            inner.fetch_add(ith + 1, Ordering::Relaxed);
        });
    });
    // Each of the 3 outer threads ran the 3 inner indices: 3 * (1 + 2 + 3).
    assert_eq!(inner.into_inner(), 18);
}

#[test]
fn concurrent_callers_are_serialised() {
    let pool = Arc::new(ThreadPool::new(2));
    let total = Arc::new(AtomicUsize::new(0));
    let callers: Vec<_> = (0..4)
        .map(|_| {
            let pool = Arc::clone(&pool);
            let total = Arc::clone(&total);
            std::thread::spawn(move || {
                for _ in 0..2000 {
                    pool.run(&|_, _| {
                        total.fetch_add(1, Ordering::Relaxed);
                    });
                }
            })
        })
        .collect();
    for c in callers {
        c.join().expect("caller thread");
    }
    assert_eq!(total.load(Ordering::Relaxed), 4 * 2000 * 2);
}

#[test]
fn a_late_worker_does_not_delay_the_caller() {
    // Zero spin and a pause: the worker is parked when the dispatch starts. Index 1 is run
    // exactly once, by whichever thread claims it first.
    let pool = ThreadPool::with_spin(2, Duration::ZERO).expect("spawn");
    let caller = std::thread::current().id();
    let mut on_caller = 0;
    for _ in 0..20 {
        std::thread::sleep(Duration::from_millis(1));
        let runs = AtomicUsize::new(0);
        let by_caller = AtomicUsize::new(0);
        pool.run(&|ith, _| {
            if ith == 1 {
                runs.fetch_add(1, Ordering::SeqCst);
                if std::thread::current().id() == caller {
                    by_caller.fetch_add(1, Ordering::SeqCst);
                }
            }
        });
        assert_eq!(runs.into_inner(), 1);
        on_caller += by_caller.into_inner();
    }
    eprintln!("index 1 ran on the caller in {on_caller} of 20 dispatches");
}

#[test]
fn drop_joins_idle_workers() {
    for _ in 0..50 {
        let pool = ThreadPool::new(4);
        pool.run(&|_, _| {});
        drop(pool);
    }
}
