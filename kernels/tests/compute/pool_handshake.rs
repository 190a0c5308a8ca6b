//! An exhaustive model check of `ThreadPool`'s park/wake handshakes (`kernels/src/pool.rs`).
//!
//! The pool's dispatcher and workers are modelled step by step — one step per atomic
//! operation of `dispatch_locked`, `run_claimed`, `try_claim`, `worker_loop`,
//! `wait_for_generation` and `Drop` — and every interleaving of a caller and its workers
//! over a few dispatches and the shutdown is explored (depth-first, each state once).
//!
//! Memory is x86-TSO, the weakest model the handshakes were written for and the one that
//! exhibited the missed wake-up fixed in f8b9029 (under qemu-user): a plain store goes into
//! the thread's FIFO store buffer and reaches memory at some later step, so a later load of
//! another location can pass it; a load sees the thread's own newest buffered store;
//! read-modify-writes (`swap`, `fetch_add`, `compare_exchange`) and `unpark`/`park` (atomic
//! swaps on the parker's state in std) first drain the buffer. `park` never returns
//! spuriously here, so correctness cannot lean on spurious wake-ups.
//!
//! Checked in every reachable state: no deadlock (some thread or store buffer can always
//! move until all threads have exited), and each index of a dispatch runs exactly once,
//! while its dispatch is in progress (a late run would read a dead job pointer). The same
//! check run on the handshakes as they were before f8b9029 (plain stores to announce a
//! park) must find the missed wake-up, so this test can tell a broken protocol from a sound
//! one. If `pool.rs` changes its protocol, this model must change with it.

use std::collections::HashSet;

/// How a thread announces that it is about to park.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Announce {
    /// `flag.swap(true, SeqCst)`: a full barrier (the code since f8b9029).
    Swap,
    /// `flag.store(true, SeqCst)`: a store a later load may pass (the code before f8b9029).
    Store,
}

// Memory locations.
const CLAIM: usize = 0; // generation · 8 + next index
const DONE: usize = 1;
const CALLER_SLEEPING: usize = 2;
const SHUTDOWN: usize = 3;
const SLEEPING: usize = 4; // + worker index (ith - 1)

const fn claim_word(generation: u8, index: u8) -> u8 {
    generation * 8 + index
}

/// Program counters. Caller (thread 0):
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Pc {
    // dispatch_locked
    Start,
    PublishClaim,
    WakeWorkers,
    OwnCall,
    TryClaim,
    Cas,
    RunClaimed,
    UnparkCaller,
    WaitDone,
    AnnounceCaller,
    RecheckDone,
    ParkCaller,
    ClearCallerSleeping,
    // Drop
    DropShutdown,
    DropClaim,
    DropSleeping,
    DropUnpark,
    Join,
    Exited,
    // worker_loop / wait_for_generation
    WaitGeneration,
    AnnounceWorker,
    RecheckGeneration,
    ParkWorker,
    CheckShutdown,
}

#[derive(Clone, PartialEq, Eq, Hash)]
struct Thread {
    pc: Pc,
    /// The caller's generation, or the generation a worker has seen.
    generation: u8,
    /// The claim word a compare-exchange expects, or the claimed index, or a worker index
    /// the caller is waking.
    reg: u8,
    /// Where `run_claimed` returns to.
    after_run: Pc,
    /// The parker's token (`unpark` before `park` makes `park` return at once).
    token: bool,
    /// Stores not yet in memory, oldest first.
    buffer: Vec<(usize, u8)>,
}

#[derive(Clone, PartialEq, Eq, Hash)]
struct State {
    mem: Vec<u8>,
    threads: Vec<Thread>,
    /// `ran[generation][ith]`: calls of index `ith` in dispatch `generation`.
    ran: Vec<Vec<u8>>,
}

struct Model {
    n_threads: u8,
    /// Dispatches the caller runs before dropping the pool.
    dispatches: u8,
    announce: Announce,
}

/// What exploring found.
#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    Sound { states: usize },
    Deadlock(String),
    Violation(String),
}

impl State {
    fn load(&self, t: usize, loc: usize) -> u8 {
        let th = &self.threads[t];
        th.buffer.iter().rev().find(|(l, _)| *l == loc).map_or(self.mem[loc], |&(_, v)| v)
    }
    fn store(&mut self, t: usize, loc: usize, v: u8) {
        self.threads[t].buffer.push((loc, v));
    }
    fn drained(&self, t: usize) -> bool {
        self.threads[t].buffer.is_empty()
    }
    fn unpark(&mut self, t: usize) {
        self.threads[t].token = true;
    }
}

impl Model {
    fn workers(&self) -> usize {
        usize::from(self.n_threads) - 1
    }

    fn initial(&self) -> State {
        let n = usize::from(self.n_threads);
        let mut mem = vec![0; SLEEPING + self.workers()];
        mem[CLAIM] = claim_word(0, self.n_threads);
        let thread =
            |pc| Thread { pc, generation: 0, reg: 0, after_run: pc, token: false, buffer: Vec::new() };
        let mut threads = vec![thread(Pc::Start)];
        threads.extend((1..n).map(|_| thread(Pc::WaitGeneration)));
        State { mem, threads, ran: vec![vec![0; n]; usize::from(self.dispatches) + 2] }
    }

    /// Every state one step of thread `t` can lead to (empty: `t` cannot move now).
    fn step(&self, s: &State, t: usize) -> Result<Vec<State>, String> {
        let n = self.n_threads;
        let th = &s.threads[t];
        let g = th.generation;
        let mut next = s.clone();
        let rmw_ready = s.drained(t);
        match th.pc {
            // ---- the caller: dispatch_locked ----
            Pc::Start => {
                if g == self.dispatches {
                    next.threads[t].pc = Pc::DropShutdown;
                } else {
                    next.threads[t].generation = g + 1;
                    next.threads[t].pc = Pc::PublishClaim;
                    next.store(t, DONE, 0); // done.store(0, Relaxed)
                }
            }
            Pc::PublishClaim => {
                next.threads[t].pc = Pc::WakeWorkers;
                next.threads[t].reg = 0;
                next.store(t, CLAIM, claim_word(g, 1)); // claim.store(.., SeqCst)
            }
            Pc::WakeWorkers => {
                let w = usize::from(th.reg);
                if w == self.workers() {
                    next.threads[t].pc = Pc::OwnCall;
                } else if rmw_ready {
                    // if sleeping.swap(false, SeqCst) { w.unpark() }
                    next.threads[t].reg += 1;
                    if std::mem::replace(&mut next.mem[SLEEPING + w], 0) == 1 {
                        next.unpark(w + 1);
                    }
                } else {
                    return Ok(vec![]);
                }
            }
            Pc::OwnCall => {
                self.record_run(&mut next, g, 0)?;
                next.threads[t].pc = Pc::TryClaim;
                next.threads[t].after_run = Pc::TryClaim;
            }
            // ---- try_claim / run_claimed, on the caller and on workers ----
            Pc::TryClaim => {
                let word = s.load(t, CLAIM);
                let (generation, index) = (word / 8, word % 8);
                if generation != g || index >= n {
                    next.threads[t].pc = if t == 0 { Pc::WaitDone } else { Pc::WaitGeneration };
                } else {
                    next.threads[t].reg = word;
                    next.threads[t].pc = Pc::Cas;
                }
            }
            Pc::Cas => {
                if !rmw_ready {
                    return Ok(vec![]);
                }
                if next.mem[CLAIM] == th.reg {
                    next.mem[CLAIM] += 1;
                    next.threads[t].reg %= 8;
                    next.threads[t].pc = Pc::RunClaimed;
                } else {
                    next.threads[t].pc = Pc::TryClaim;
                }
            }
            Pc::RunClaimed => {
                if !rmw_ready {
                    return Ok(vec![]);
                }
                let (index, after) = (th.reg, th.after_run);
                self.record_run(&mut next, g, index)?;
                // if done.fetch_add(1, SeqCst) + 2 == n && caller_sleeping.swap(false, SeqCst)
                let old = next.mem[DONE];
                next.mem[DONE] = old + 1;
                next.threads[t].pc = if old + 2 == n { Pc::UnparkCaller } else { after };
            }
            Pc::UnparkCaller => {
                if !rmw_ready {
                    return Ok(vec![]);
                }
                next.threads[t].pc = th.after_run;
                if std::mem::replace(&mut next.mem[CALLER_SLEEPING], 0) == 1 {
                    next.unpark(0);
                }
            }
            // ---- the caller waits for the calls still running ----
            Pc::WaitDone => {
                if s.load(t, DONE) == n - 1 {
                    next.threads[t].pc = Pc::ClearCallerSleeping;
                } else {
                    // spin once more, or give up spinning
                    let mut spin = next.clone();
                    spin.threads[t].pc = Pc::WaitDone;
                    next.threads[t].pc = Pc::AnnounceCaller;
                    return Ok(vec![spin, next]);
                }
            }
            Pc::AnnounceCaller => match self.announce {
                Announce::Swap if !rmw_ready => return Ok(vec![]),
                Announce::Swap => {
                    next.mem[CALLER_SLEEPING] = 1;
                    next.threads[t].pc = Pc::RecheckDone;
                }
                Announce::Store => {
                    next.threads[t].pc = Pc::RecheckDone;
                    next.store(t, CALLER_SLEEPING, 1);
                }
            },
            Pc::RecheckDone => {
                next.threads[t].pc =
                    if s.load(t, DONE) == n - 1 { Pc::ClearCallerSleeping } else { Pc::ParkCaller };
            }
            Pc::ParkCaller | Pc::ParkWorker => {
                if !rmw_ready || !th.token {
                    return Ok(vec![]); // parked until unparked
                }
                next.threads[t].token = false;
                next.threads[t].pc = if th.pc == Pc::ParkCaller { Pc::WaitDone } else { Pc::WaitGeneration };
            }
            Pc::ClearCallerSleeping => {
                if let Some(i) = (0..usize::from(n)).find(|&i| s.ran[usize::from(g)][i] != 1) {
                    return Err(format!(
                        "dispatch {g} returned with index {i} run {} times",
                        s.ran[usize::from(g)][i]
                    ));
                }
                next.threads[t].pc = Pc::Start;
                next.store(t, CALLER_SLEEPING, 0);
            }
            // ---- Drop ----
            Pc::DropShutdown => {
                next.threads[t].pc = Pc::DropClaim;
                next.store(t, SHUTDOWN, 1);
            }
            Pc::DropClaim => {
                next.threads[t].pc = Pc::DropSleeping;
                next.threads[t].reg = 0;
                next.store(t, CLAIM, claim_word(g + 1, n));
            }
            Pc::DropSleeping => {
                if usize::from(th.reg) == self.workers() {
                    next.threads[t].pc = Pc::Join;
                } else {
                    next.threads[t].pc = Pc::DropUnpark;
                    let w = usize::from(th.reg);
                    next.store(t, SLEEPING + w, 0);
                }
            }
            Pc::DropUnpark => {
                if !rmw_ready {
                    return Ok(vec![]);
                }
                let w = usize::from(th.reg);
                next.threads[t].reg += 1;
                next.threads[t].pc = Pc::DropSleeping;
                next.unpark(w + 1);
            }
            Pc::Join => {
                if !s.threads[1..].iter().all(|w| w.pc == Pc::Exited) {
                    return Ok(vec![]);
                }
                next.threads[t].pc = Pc::Exited;
            }
            Pc::Exited => return Ok(vec![]),
            // ---- a worker: wait_for_generation, then claim ----
            Pc::WaitGeneration => {
                let seen = s.load(t, CLAIM) / 8;
                if seen != g {
                    next.threads[t].generation = seen;
                    next.threads[t].pc = Pc::CheckShutdown;
                } else {
                    let mut spin = next.clone();
                    spin.threads[t].pc = Pc::WaitGeneration;
                    next.threads[t].pc = Pc::AnnounceWorker;
                    return Ok(vec![spin, next]);
                }
            }
            Pc::AnnounceWorker => match self.announce {
                Announce::Swap if !rmw_ready => return Ok(vec![]),
                Announce::Swap => {
                    next.mem[SLEEPING + t - 1] = 1;
                    next.threads[t].pc = Pc::RecheckGeneration;
                }
                Announce::Store => {
                    next.threads[t].pc = Pc::RecheckGeneration;
                    next.store(t, SLEEPING + t - 1, 1);
                }
            },
            Pc::RecheckGeneration => {
                if s.load(t, CLAIM) / 8 != g {
                    next.threads[t].pc = Pc::WaitGeneration;
                    next.store(t, SLEEPING + t - 1, 0); // sleeping.store(false, Relaxed)
                } else {
                    next.threads[t].pc = Pc::ParkWorker;
                }
            }
            Pc::CheckShutdown => {
                if s.load(t, SHUTDOWN) == 1 {
                    next.threads[t].pc = Pc::Exited;
                } else {
                    next.threads[t].pc = Pc::TryClaim;
                    next.threads[t].after_run = Pc::TryClaim;
                }
            }
        }
        Ok(vec![next])
    }

    /// Counts a call of `index` in dispatch `generation`, which must be running and not have
    /// run it yet.
    fn record_run(&self, s: &mut State, generation: u8, index: u8) -> Result<(), String> {
        let caller = &s.threads[0];
        let in_progress = caller.generation == generation
            && !matches!(caller.pc, Pc::Start | Pc::ClearCallerSleeping)
            && !matches!(caller.pc, Pc::DropShutdown | Pc::DropClaim | Pc::DropSleeping | Pc::DropUnpark)
            && !matches!(caller.pc, Pc::Join | Pc::Exited);
        let count = &mut s.ran[usize::from(generation)][usize::from(index)];
        if !in_progress || *count != 0 {
            return Err(format!("index {index} of dispatch {generation} ran again or after its dispatch"));
        }
        *count = 1;
        Ok(())
    }

    /// Every successor of `s`: a step of a thread, or one buffered store reaching memory.
    fn successors(&self, s: &State) -> Result<Vec<State>, String> {
        let mut out = Vec::new();
        for t in 0..s.threads.len() {
            out.extend(self.step(s, t)?);
            if let Some(&(loc, v)) = s.threads[t].buffer.first() {
                let mut flushed = s.clone();
                flushed.threads[t].buffer.remove(0);
                flushed.mem[loc] = v;
                out.push(flushed);
            }
        }
        Ok(out)
    }

    fn explore(&self) -> Verdict {
        let start = self.initial();
        let mut seen = HashSet::from([start.clone()]);
        let mut stack = vec![start];
        while let Some(s) = stack.pop() {
            let next = match self.successors(&s) {
                Ok(next) => next,
                Err(e) => return Verdict::Violation(e),
            };
            if next.is_empty() && s.threads[0].pc != Pc::Exited {
                let pcs: Vec<_> = s.threads.iter().map(|t| (t.pc, t.generation)).collect();
                return Verdict::Deadlock(format!("no thread can move: {pcs:?}, memory {:?}", s.mem));
            }
            for n in next {
                if seen.insert(n.clone()) {
                    stack.push(n);
                }
            }
        }
        Verdict::Sound { states: seen.len() }
    }
}

#[test]
fn park_handshakes_never_lose_a_wake_up() {
    // One worker over three dispatches (a late wake-up of one dispatch meeting the next), and
    // two workers racing for the indices of one (5.3M states for two dispatches: too slow
    // for every run).
    for (n_threads, dispatches) in [(2, 3), (3, 1)] {
        let verdict = Model { n_threads, dispatches, announce: Announce::Swap }.explore();
        assert!(matches!(verdict, Verdict::Sound { .. }), "{n_threads} threads: {verdict:?}");
        eprintln!("{n_threads} threads, {dispatches} dispatches: {verdict:?}");
    }
}

#[test]
fn the_handshakes_before_f8b9029_lose_a_wake_up() {
    // Announcing the park with a plain store lets the re-check load pass it: the caller reads
    // `done` before its flag is visible, the last worker reads the flag before it is set,
    // and the caller parks with nobody left to wake it.
    let verdict = Model { n_threads: 2, dispatches: 1, announce: Announce::Store }.explore();
    assert!(matches!(verdict, Verdict::Deadlock(_)), "{verdict:?}");
    eprintln!("before f8b9029: {verdict:?}");
}
