//! Which local model of the pool a request's `model` field names: a configured name goes to
//! that model; `auto` (and a request without `model`) to [`auto_target`]; anything else is a
//! 404 `model_not_found` listing what there is.

use crate::pool::{AUTO, ModelPool, PoolError};

/// The index of the model `requested` names in `pool`.
pub(crate) fn local_model(requested: Option<&str>, pool: &ModelPool) -> Result<usize, PoolError> {
    let names: Vec<&str> = pool.specs().iter().map(|s| s.name.as_str()).collect();
    choose(requested, &names)
}

/// [`local_model`] over the names alone.
fn choose(requested: Option<&str>, names: &[&str]) -> Result<usize, PoolError> {
    match requested {
        None | Some(AUTO) => Ok(auto_target(names)),
        Some(name) => names.iter().position(|n| *n == name).ok_or_else(|| PoolError::Unknown {
            name: name.to_owned(),
            available: names.iter().map(|n| n.to_string()).chain([AUTO.to_owned()]).collect(),
        }),
    }
}

/// Where `"model": "auto"` goes while hearth has no routes: the first configured local
/// model. The router replaces this decision (issue 10: task, complexity, escalation).
pub(crate) fn auto_target(names: &[&str]) -> usize {
    debug_assert!(!names.is_empty(), "a pool has at least one model");
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_pick_their_model_and_auto_or_none_the_first() {
        let names = ["small", "coder"];
        assert_eq!(choose(Some("coder"), &names), Ok(1));
        assert_eq!(choose(Some("small"), &names), Ok(0));
        assert_eq!(choose(Some("auto"), &names), Ok(0));
        assert_eq!(choose(None, &names), Ok(0));
    }

    #[test]
    fn an_unknown_name_lists_the_available_ones() {
        let e = choose(Some("gpt-4o"), &["small", "coder"]).unwrap_err();
        assert_eq!(
            e,
            PoolError::Unknown {
                name: "gpt-4o".into(),
                available: vec!["small".into(), "coder".into(), "auto".into()]
            }
        );
        assert!(e.to_string().contains(r#""small", "coder", "auto""#), "{e}");
    }
}
