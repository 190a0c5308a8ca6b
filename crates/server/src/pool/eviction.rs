//! The pool's eviction policy, pure data and functions: which loaded models to unload so that
//! another fits in the memory budget ([`make_room`]: least recently used idle ones first,
//! no more than needed, never one in use), and which have been idle past their keep-alive
//! ([`expired`], [`next_expiry`]). The async adapter (`pool/mod.rs`) takes a snapshot under
//! its lock, asks these functions, and acts on the answer.

use std::time::{Duration, Instant};

/// One resident (loaded or loading) model as the policy sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Resident {
    /// The model's index in the pool.
    pub index: usize,
    /// Memory it holds (file size plus KV caches, estimated).
    pub bytes: u64,
    /// When a request last started or finished on it.
    pub last_used: Instant,
    /// Requests are queued or running on it, or it is loading: never unloaded.
    pub in_use: bool,
    /// Unloaded after this long without requests; `None`: kept loaded.
    pub idle_unload: Option<Duration>,
}

/// What [`make_room`] decides.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Room {
    /// The new model fits once these (indices into the pool) are unloaded, possibly none.
    Fits {
        /// Least recently used first.
        evict: Vec<usize>,
    },
    /// It does not fit even with every idle model unloaded: models in use hold the rest.
    Full {
        /// Bytes held by models in use (loading ones included).
        in_use_bytes: u64,
        /// Their indices.
        in_use: Vec<usize>,
    },
}

/// Which of `resident` to unload so that `incoming` more bytes fit in `budget`: idle models,
/// least recently used first, stopping as soon as the rest fits. Models in use are never
/// chosen; when they alone leave no room, the answer is [`Room::Full`] and nothing is
/// unloaded.
pub(crate) fn make_room(resident: &[Resident], incoming: u64, budget: u64) -> Room {
    // In u128: sums of u64 sizes cannot overflow it.
    let held: u128 = resident.iter().map(|r| u128::from(r.bytes)).sum();
    let mut need = (held + u128::from(incoming)).saturating_sub(u128::from(budget));
    if need == 0 {
        return Room::Fits { evict: Vec::new() };
    }
    let in_use_bytes: u128 = resident.iter().filter(|r| r.in_use).map(|r| u128::from(r.bytes)).sum();
    if in_use_bytes + u128::from(incoming) > u128::from(budget) {
        let in_use = resident.iter().filter(|r| r.in_use).map(|r| r.index).collect();
        return Room::Full { in_use_bytes: u64::try_from(in_use_bytes).unwrap_or(u64::MAX), in_use };
    }
    let mut idle: Vec<&Resident> = resident.iter().filter(|r| !r.in_use).collect();
    idle.sort_by_key(|r| (r.last_used, r.index));
    let mut evict = Vec::new();
    for r in idle {
        if need == 0 {
            break;
        }
        evict.push(r.index);
        need = need.saturating_sub(u128::from(r.bytes));
    }
    Room::Fits { evict }
}

/// The models idle for at least their keep-alive at `now` (not in use, with one set).
pub(crate) fn expired(resident: &[Resident], now: Instant) -> Vec<usize> {
    resident
        .iter()
        .filter(|r| !r.in_use)
        .filter(|r| r.idle_unload.is_some_and(|d| now.saturating_duration_since(r.last_used) >= d))
        .map(|r| r.index)
        .collect()
}

/// When the next idle model's keep-alive runs out, if any will (models in use have none
/// running: their clock starts when they become idle).
pub(crate) fn next_expiry(resident: &[Resident]) -> Option<Instant> {
    resident
        .iter()
        .filter(|r| !r.in_use)
        .filter_map(|r| r.idle_unload.and_then(|d| r.last_used.checked_add(d)))
        .min()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MB: u64 = 1 << 20;

    fn at(t0: Instant, secs: u64) -> Instant {
        t0 + Duration::from_secs(secs)
    }

    fn model(index: usize, bytes: u64, last_used: Instant, in_use: bool) -> Resident {
        Resident { index, bytes, last_used, in_use, idle_unload: Some(Duration::from_secs(300)) }
    }

    #[test]
    fn nothing_is_unloaded_while_the_new_model_fits() {
        let t0 = Instant::now();
        let r = [model(0, 100 * MB, t0, false), model(1, 100 * MB, at(t0, 1), false)];
        assert_eq!(make_room(&r, 100 * MB, 300 * MB), Room::Fits { evict: vec![] });
        assert_eq!(make_room(&[], 300 * MB, 300 * MB), Room::Fits { evict: vec![] });
    }

    #[test]
    fn the_least_recently_used_idle_model_goes_first_and_only_as_many_as_needed() {
        let t0 = Instant::now();
        let r = [
            model(0, 100 * MB, at(t0, 5), false),
            model(1, 100 * MB, at(t0, 1), false),
            model(2, 100 * MB, at(t0, 3), false),
        ];
        assert_eq!(make_room(&r, 100 * MB, 300 * MB), Room::Fits { evict: vec![1] });
        assert_eq!(make_room(&r, 150 * MB, 300 * MB), Room::Fits { evict: vec![1, 2] });
        assert_eq!(make_room(&r, 300 * MB, 300 * MB), Room::Fits { evict: vec![1, 2, 0] });
    }

    #[test]
    fn a_model_in_use_is_never_unloaded_even_when_it_is_the_oldest() {
        let t0 = Instant::now();
        let r = [model(0, 100 * MB, t0, true), model(1, 100 * MB, at(t0, 9), false)];
        assert_eq!(make_room(&r, 100 * MB, 200 * MB), Room::Fits { evict: vec![1] });
    }

    #[test]
    fn models_in_use_that_leave_no_room_make_it_full_and_unload_nothing() {
        let t0 = Instant::now();
        let r = [
            model(0, 100 * MB, t0, true),
            model(1, 50 * MB, at(t0, 1), false),
            model(2, 120 * MB, at(t0, 2), true),
        ];
        assert_eq!(
            make_room(&r, 100 * MB, 300 * MB),
            Room::Full { in_use_bytes: 220 * MB, in_use: vec![0, 2] }
        );
        // A model larger than the whole budget never fits.
        assert_eq!(make_room(&[], 400 * MB, 300 * MB), Room::Full { in_use_bytes: 0, in_use: vec![] });
    }

    #[test]
    fn equal_last_use_breaks_ties_by_index_and_sizes_do_not_overflow() {
        let t0 = Instant::now();
        let r = [model(1, u64::MAX / 2, t0, false), model(0, u64::MAX / 2, t0, false)];
        assert_eq!(make_room(&r, u64::MAX / 2, u64::MAX), Room::Fits { evict: vec![0] });
    }

    #[test]
    fn idle_models_expire_after_their_own_keep_alive() {
        let t0 = Instant::now();
        let mut r = vec![
            model(0, MB, t0, false),
            Resident { idle_unload: Some(Duration::from_secs(10)), ..model(1, MB, t0, false) },
            Resident { idle_unload: None, ..model(2, MB, t0, false) },
            Resident { idle_unload: Some(Duration::from_secs(1)), ..model(3, MB, t0, true) },
        ];
        assert_eq!(expired(&r, at(t0, 9)), Vec::<usize>::new());
        assert_eq!(expired(&r, at(t0, 10)), vec![1]);
        assert_eq!(expired(&r, at(t0, 300)), vec![0, 1]);
        assert_eq!(next_expiry(&r), Some(at(t0, 10)));
        r.retain(|m| m.index != 1);
        assert_eq!(next_expiry(&r), Some(at(t0, 300)));
        r.retain(|m| m.index == 2 || m.index == 3);
        assert_eq!(next_expiry(&r), None, "kept-loaded and in-use models never expire");
        assert_eq!(expired(&r, at(t0, 100_000)), Vec::<usize>::new());
    }

    #[test]
    fn a_zero_keep_alive_expires_at_once() {
        let t0 = Instant::now();
        let r = [Resident { idle_unload: Some(Duration::ZERO), ..model(0, MB, t0, false) }];
        assert_eq!(expired(&r, t0), vec![0]);
        assert_eq!(next_expiry(&r), Some(t0));
    }
}
