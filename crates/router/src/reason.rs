//! Why a request went where it went: the value of the `x-hearth-reason` header and of the
//! `reason` field of the response's `hearth` object.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why a target was chosen (serialized as the issue's strings: `task`, `complexity`, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// The route for the request's task names this target.
    Task,
    /// The complexity score is above the route's `max_complexity`: its `escalate_to`.
    Complexity,
    /// The local answer's token probabilities were below the route's thresholds: escalated.
    LowConfidence,
    /// The local answer was unusable (empty, refused, cut inside JSON): escalated.
    InvalidOutput,
    /// A spend cap is reached: served locally (or refused).
    Budget,
    /// The remote is cooling down after failures: its fallback served (or refused).
    RemoteUnavailable,
    /// The request named this model or remote.
    Explicit,
    /// No route lists the task and there is no `"*"` route: the first configured model.
    Default,
    /// The quality monitor moved the task type up to its route's `escalate_to` (its local
    /// answers agreed with the judge too rarely).
    Demoted,
}

impl Reason {
    /// The header value (`low_confidence`).
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Task => "task",
            Reason::Complexity => "complexity",
            Reason::LowConfidence => "low_confidence",
            Reason::InvalidOutput => "invalid_output",
            Reason::Budget => "budget",
            Reason::RemoteUnavailable => "remote_unavailable",
            Reason::Explicit => "explicit",
            Reason::Default => "default",
            Reason::Demoted => "demoted",
        }
    }

    /// Every reason.
    pub const ALL: [Reason; 9] = [
        Reason::Task,
        Reason::Complexity,
        Reason::LowConfidence,
        Reason::InvalidOutput,
        Reason::Budget,
        Reason::RemoteUnavailable,
        Reason::Explicit,
        Reason::Default,
        Reason::Demoted,
    ];
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_serialize_as_the_header_strings() {
        for r in Reason::ALL {
            let json = serde_json::to_string(&r).expect("serializes");
            assert_eq!(json, format!("\"{}\"", r.as_str()));
            assert_eq!(serde_json::from_str::<Reason>(&json).expect("parses"), r);
        }
        let issue = [
            "task",
            "complexity",
            "low_confidence",
            "invalid_output",
            "budget",
            "remote_unavailable",
            "explicit",
        ];
        for s in issue {
            assert!(Reason::ALL.iter().any(|r| r.as_str() == s), "{s}");
        }
    }
}
