//! The routing headers every routed response carries — `x-hearth-route` (the target's name),
//! `x-hearth-reason` (`Reason::as_str()`), `x-hearth-cost-usd` (decimal USD, `0` for local) —
//! and the `hearth` object of non-streamed JSON bodies.

use axum::http::{HeaderName, HeaderValue};
use axum::response::Response;
use hearth_router::Decision;
use serde_json::{Value, json};

/// `x-hearth-route`.
pub(crate) const ROUTE: &str = "x-hearth-route";
/// `x-hearth-reason`.
pub(crate) const REASON: &str = "x-hearth-reason";
/// `x-hearth-cost-usd`.
pub(crate) const COST: &str = "x-hearth-cost-usd";

/// What a response says about how it was routed.
#[derive(Debug, Clone)]
pub(crate) struct RouteInfo {
    /// The target that answered (or was refused).
    pub route: String,
    /// The reason (`task`, `low_confidence`, …).
    pub reason: &'static str,
    /// USD paid for the request (both attempts of an escalation).
    pub cost_usd: f64,
}

/// `cost` as a decimal without exponent: `0` when nothing was paid.
pub(crate) fn format_cost(cost: f64) -> String {
    if cost <= 0.0 || !cost.is_finite() {
        return "0".to_owned();
    }
    let s = format!("{cost:.9}");
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// Puts the three headers on `resp`.
pub(crate) fn apply(resp: &mut Response, info: &RouteInfo) {
    let h = resp.headers_mut();
    for (name, value) in
        [(ROUTE, info.route.clone()), (REASON, info.reason.to_owned()), (COST, format_cost(info.cost_usd))]
    {
        if let Ok(v) = HeaderValue::from_str(&value) {
            h.insert(HeaderName::from_static(name), v);
        }
    }
}

/// The `hearth` object of a non-streamed body.
pub(crate) fn hearth_object(decision: &Decision, info: &RouteInfo) -> Value {
    json!({
        "route": info.route,
        "reason": info.reason,
        "task": decision.task.name,
        "task_source": decision.task.source,
        "complexity": decision.complexity.score,
        "preferred": decision.preferred,
        "note": decision.note,
        "cost_usd": info.cost_usd,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn costs_are_plain_decimals() {
        assert_eq!(format_cost(0.0), "0");
        assert_eq!(format_cost(0.000_015), "0.000015");
        assert_eq!(format_cost(1.5), "1.5");
        assert_eq!(format_cost(f64::NAN), "0");
    }
}
