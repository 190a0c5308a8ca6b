//! Remote health: a remote whose calls keep failing (after the client's own retries) is
//! cooled down, i.e. skipped by routing, for its `cooldown_secs`. As plain state with the
//! time passed in.
//!
//! `cooldown_after_failures` consecutive failures start a cooldown; a success resets the
//! count. When a cooldown ends the remote is tried again; if that call fails too (the count
//! is still at the threshold) it is cooled down again at once, like a circuit breaker's
//! half-open state. `cooldown_secs = 0` never cools a remote down.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use serde::Serialize;

use crate::config::Remote;

/// One remote's health.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RemoteHealth {
    /// Failed calls since the last success.
    pub consecutive_failures: u32,
    /// Skipped until then.
    pub cooled_until: Option<SystemTime>,
    /// The last failure's message (the upstream's error), for the 503 a client gets.
    pub last_error: Option<String>,
}

/// An active cooldown, as routing sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Cooldown {
    /// The remote.
    pub remote: String,
    /// When it will be tried again.
    #[serde(skip)]
    pub until: SystemTime,
    /// Seconds left (rounded up).
    pub secs_left: u64,
    /// Consecutive failures so far.
    pub failures: u32,
    /// The last upstream error.
    pub last_error: Option<String>,
}

/// The health of every remote, by name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Health {
    remotes: HashMap<String, RemoteHealth>,
}

impl Health {
    /// Every remote healthy.
    pub fn new() -> Self {
        Health::default()
    }

    /// Records a failed call to `remote` at `at`: returns the cooldown it started, if any.
    pub fn record_failure(&mut self, remote: &Remote, error: &str, at: SystemTime) -> Option<Cooldown> {
        let h = self.remotes.entry(remote.name.clone()).or_default();
        h.consecutive_failures = h.consecutive_failures.saturating_add(1);
        h.last_error = Some(error.to_owned());
        if remote.cooldown_secs > 0 && h.consecutive_failures >= remote.cooldown_after_failures {
            h.cooled_until = Some(at + Duration::from_secs(remote.cooldown_secs));
            tracing::warn!(remote = %remote.name, failures = h.consecutive_failures, secs = remote.cooldown_secs, error, "remote cooled down");
            return self.cooling(&remote.name, at);
        }
        None
    }

    /// Records a successful call: the failure count and any cooldown are cleared.
    pub fn record_success(&mut self, remote: &str) {
        self.remotes.remove(remote);
    }

    /// The cooldown `remote` is in at `now`, if any.
    pub fn cooling(&self, remote: &str, now: SystemTime) -> Option<Cooldown> {
        let h = self.remotes.get(remote)?;
        let until = h.cooled_until?;
        let left = until.duration_since(now).ok().filter(|d| !d.is_zero())?;
        Some(Cooldown {
            remote: remote.to_owned(),
            until,
            secs_left: left.as_secs() + u64::from(left.subsec_nanos() > 0),
            failures: h.consecutive_failures,
            last_error: h.last_error.clone(),
        })
    }

    /// The recorded health of `remote` (default: healthy).
    pub fn get(&self, remote: &str) -> RemoteHealth {
        self.remotes.get(remote).cloned().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use super::*;
    use crate::config::Provider;

    fn remote(after: u32, secs: u64) -> Remote {
        Remote {
            cooldown_after_failures: after,
            cooldown_secs: secs,
            ..Remote::new("claude", Provider::Anthropic, "m", 1.0, 5.0)
        }
    }

    fn t(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_000_000 + secs)
    }

    #[test]
    fn consecutive_failures_cool_down_until_the_time_is_up() {
        let r = remote(3, 30);
        let mut h = Health::new();
        assert_eq!(h.record_failure(&r, "529 overloaded", t(0)), None);
        assert_eq!(h.record_failure(&r, "529 overloaded", t(1)), None);
        assert_eq!(h.cooling("claude", t(1)), None);
        let c = h.record_failure(&r, "500 api_error", t(2)).expect("third failure cools down");
        assert_eq!((c.secs_left, c.failures, c.last_error.as_deref()), (30, 3, Some("500 api_error")));
        assert_eq!(h.cooling("claude", t(31)).map(|c| c.secs_left), Some(1));
        assert_eq!(h.cooling("claude", t(32)), None, "expired exactly at until");
        assert_eq!(h.cooling("other", t(3)), None);
    }

    #[test]
    fn a_failure_after_expiry_cools_down_again_and_a_success_resets() {
        let r = remote(2, 10);
        let mut h = Health::new();
        h.record_failure(&r, "e", t(0));
        h.record_failure(&r, "e", t(0));
        assert!(h.cooling("claude", t(5)).is_some());
        assert!(h.record_failure(&r, "still down", t(11)).is_some(), "the trial call failed");
        assert!(h.cooling("claude", t(20)).is_some());
        h.record_success("claude");
        assert_eq!(h.cooling("claude", t(20)), None);
        assert_eq!(h.get("claude"), RemoteHealth::default());
        assert_eq!(h.record_failure(&r, "e", t(21)), None, "the count starts again");
    }

    #[test]
    fn cooldown_secs_zero_never_cools_down() {
        let r = remote(1, 0);
        let mut h = Health::new();
        for i in 0..5 {
            assert_eq!(h.record_failure(&r, "e", t(i)), None);
        }
        assert_eq!(h.get("claude").consecutive_failures, 5);
    }
}
