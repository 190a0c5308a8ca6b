//! Refuses JSON Schema keywords that llguidance cannot enforce, whichever draft the schema
//! declares.
//!
//! llguidance already refuses unimplemented keywords of the schema's own draft, but a keyword
//! of another draft (`if` under draft-06, `dependentRequired` under draft-07) is, by the
//! specification, an unknown keyword and silently ignored. A user who writes it means it, so
//! it is refused here, with a JSON pointer to where it is.

use serde_json::Value;

use crate::GrammarError;
use crate::formats::push_segment;

/// Validation keywords of any draft that llguidance does not enforce.
const UNSUPPORTED: [&str; 19] = [
    "not",
    "if",
    "then",
    "else",
    "dependencies",
    "dependentRequired",
    "dependentSchemas",
    "contains",
    "minContains",
    "maxContains",
    "uniqueItems",
    "propertyNames",
    "unevaluatedItems",
    "unevaluatedProperties",
    "$dynamicRef",
    "$dynamicAnchor",
    "$recursiveRef",
    "$recursiveAnchor",
    "contentSchema",
];

/// Keywords whose value is an object of subschemas.
const SCHEMA_MAPS: [&str; 4] = ["properties", "patternProperties", "$defs", "definitions"];

/// Keywords whose value is one subschema (or, for `items`, possibly an array of them).
const SCHEMA_VALUES: [&str; 3] = ["additionalProperties", "additionalItems", "items"];

/// Keywords whose value is an array of subschemas.
const SCHEMA_ARRAYS: [&str; 4] = ["prefixItems", "anyOf", "oneOf", "allOf"];

/// Deepest nesting walked; deeper schemas are refused (serde_json's parser stops at 128).
const MAX_DEPTH: usize = 256;

/// Checks every subschema of `schema` for unsupported keywords, and for literals and
/// patterns over the compile-time limits (see `limits`).
pub(crate) fn check_schema(schema: &Value) -> Result<(), GrammarError> {
    walk(schema, &mut String::new(), 0)
}

fn walk(v: &Value, path: &mut String, depth: usize) -> Result<(), GrammarError> {
    if depth > MAX_DEPTH {
        return Err(GrammarError::Schema(format!("nested deeper than {MAX_DEPTH} levels at `{path}`")));
    }
    let Value::Object(obj) = v else { return Ok(()) };
    for (key, val) in obj {
        // `uniqueItems: false` asks for nothing.
        if UNSUPPORTED.contains(&key.as_str()) && !(key == "uniqueItems" && val == &Value::Bool(false)) {
            let path = if path.is_empty() { "/".to_owned() } else { path.clone() };
            return Err(GrammarError::UnsupportedKeyword { keyword: key.clone(), path });
        }
    }
    crate::limits::check_schema_object(obj, if path.is_empty() { "/" } else { path })?;
    for (key, val) in obj {
        let key = key.as_str();
        let len = path.len();
        if SCHEMA_MAPS.contains(&key) {
            if let Value::Object(map) = val {
                for (name, sub) in map {
                    push_segment(path, key);
                    push_segment(path, name);
                    walk(sub, path, depth + 1)?;
                    path.truncate(len);
                }
            }
        } else if SCHEMA_VALUES.contains(&key) || SCHEMA_ARRAYS.contains(&key) {
            match val {
                Value::Array(items) => {
                    for (i, sub) in items.iter().enumerate() {
                        push_segment(path, key);
                        push_segment(path, &i.to_string());
                        walk(sub, path, depth + 1)?;
                        path.truncate(len);
                    }
                }
                sub => {
                    push_segment(path, key);
                    walk(sub, path, depth + 1)?;
                    path.truncate(len);
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn refused(schema: Value) -> (String, String) {
        match check_schema(&schema) {
            Err(GrammarError::UnsupportedKeyword { keyword, path }) => (keyword, path),
            other => panic!("expected UnsupportedKeyword, got {other:?}"),
        }
    }

    #[test]
    fn finds_keywords_in_nested_subschemas() {
        assert_eq!(refused(json!({"not": {"type": "string"}})), ("not".into(), "/".into()));
        let s = json!({"properties": {"a/b": {"items": {"uniqueItems": true}}}});
        assert_eq!(refused(s), ("uniqueItems".into(), "/properties/a~1b/items".into()));
        let s = json!({"$defs": {"x": {"anyOf": [{}, {"if": {}, "then": {}}]}}});
        assert_eq!(refused(s).1, "/$defs/x/anyOf/1");
    }

    #[test]
    fn data_and_property_names_are_not_keywords() {
        // A property called `not`, a const holding `contains`, `uniqueItems: false`.
        let s = json!({
            "properties": {"not": {"type": "string", "const": "x"}},
            "default": {"contains": 1},
            "enum": [{"if": 1}],
            "uniqueItems": false,
        });
        assert!(check_schema(&s).is_ok());
    }
}
