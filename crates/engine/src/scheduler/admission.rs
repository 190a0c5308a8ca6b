//! The scheduler's policy, as pure functions of a snapshot: whether a request is accepted,
//! which slot serves it (and whose cache it copies), and how one forward pass's token budget
//! is shared. The engine thread ([`super::worker`]) only carries these decisions out.

use crate::sequence::Demand;

/// Whether one more request may wait: requests waiting or being served stay below the slots
/// plus the queue length (so `max_queue = 0` still admits a request while a slot is idle).
pub(crate) fn accepts(queued: usize, busy: usize, slots: usize, max_queue: usize) -> bool {
    queued + busy < slots + max_queue
}

/// What the placement policy knows of one slot for a given prompt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SlotView {
    /// Serving a request.
    pub busy: bool,
    /// Leading prompt tokens already in its cache (at most prompt length - 1).
    pub reusable: usize,
}

/// Where a request goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Placement {
    /// The idle slot that serves it.
    pub slot: usize,
    /// A slot whose cache holds a longer prefix of the prompt, and that prefix's length:
    /// copy it instead of recomputing.
    pub copy_from: Option<(usize, usize)>,
}

/// The idle slot whose cache shares the longest prefix with the prompt (the first such on a
/// tie); when another slot (busy or not) shares a longer one, its keys and values are copied.
/// `None` when every slot is busy.
pub(crate) fn place(slots: &[SlotView]) -> Option<Placement> {
    let mut slot: Option<usize> = None;
    for (i, s) in slots.iter().enumerate() {
        if !s.busy && slot.is_none_or(|b| s.reusable > slots[b].reusable) {
            slot = Some(i);
        }
    }
    let slot = slot?;
    let here = slots[slot].reusable;
    let mut donor: Option<usize> = None;
    for (i, s) in slots.iter().enumerate() {
        if i != slot && s.reusable > here && donor.is_none_or(|d| s.reusable > slots[d].reusable) {
            donor = Some(i);
        }
    }
    Some(Placement { slot, copy_from: donor.map(|d| (d, slots[d].reusable)) })
}

/// Tokens granted to each sequence in one pass of at most `n_batch` tokens: every decoding
/// sequence runs all its tokens (they are due together); prompts share what is left, in slot
/// order, in chunks as large as fits.
pub(crate) fn share_batch(demands: &[Demand], n_batch: usize, grants: &mut Vec<usize>) {
    grants.clear();
    let decoding: usize = demands.iter().map(|d| if let Demand::Decode(n) = d { *n } else { 0 }).sum();
    let mut budget = n_batch.saturating_sub(decoding);
    for d in demands {
        grants.push(match *d {
            Demand::Idle => 0,
            Demand::Decode(n) => n,
            Demand::Prefill(left) => {
                let n = left.min(budget);
                budget -= n;
                n
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(busy: bool, reusable: usize) -> SlotView {
        SlotView { busy, reusable }
    }

    #[test]
    fn max_queue_zero_admits_while_a_slot_is_idle() {
        assert!(accepts(0, 0, 1, 0));
        assert!(accepts(0, 1, 2, 0));
        assert!(!accepts(0, 2, 2, 0));
        assert!(!accepts(1, 1, 2, 0));
    }

    #[test]
    fn the_queue_holds_max_queue_beyond_the_slots() {
        assert!(accepts(3, 2, 2, 4));
        assert!(!accepts(4, 2, 2, 4));
    }

    #[test]
    fn no_idle_slot_no_placement() {
        assert_eq!(place(&[view(true, 3), view(true, 0)]), None);
        assert_eq!(place(&[]), None);
    }

    #[test]
    fn picks_the_idle_slot_with_the_longest_prefix() {
        let p = place(&[view(false, 1), view(true, 0), view(false, 5), view(false, 5)]).unwrap();
        assert_eq!(p, Placement { slot: 2, copy_from: None });
    }

    #[test]
    fn copies_a_longer_prefix_from_a_busy_slot() {
        let p = place(&[view(false, 2), view(true, 9), view(true, 4)]).unwrap();
        assert_eq!(p, Placement { slot: 0, copy_from: Some((1, 9)) });
    }

    #[test]
    fn first_idle_slot_when_nothing_is_shared() {
        let p = place(&[view(true, 0), view(false, 0), view(false, 0)]).unwrap();
        assert_eq!(p, Placement { slot: 1, copy_from: None });
    }

    #[test]
    fn decodes_run_whole_and_prompts_share_the_rest() {
        let mut g = Vec::new();
        share_batch(
            &[Demand::Decode(1), Demand::Prefill(700), Demand::Decode(3), Demand::Prefill(50)],
            512,
            &mut g,
        );
        assert_eq!(g, vec![1, 508, 3, 0]);
        share_batch(&[Demand::Prefill(10), Demand::Idle, Demand::Prefill(10)], 15, &mut g);
        assert_eq!(g, vec![10, 0, 5]);
    }

    #[test]
    fn decodes_beyond_the_batch_still_run() {
        let mut g = Vec::new();
        share_batch(&[Demand::Decode(3), Demand::Decode(3), Demand::Prefill(4)], 4, &mut g);
        assert_eq!(g, vec![3, 3, 0]);
    }
}
