//! `format` as JSON Schema defines it: an annotation unless the validator knows the format.
//!
//! llguidance enforces the formats it has a regular expression for ([`KNOWN_FORMATS`]) and
//! refuses any other name ("Unknown format: path"). JSON Schema (2019-09 and later) treats a
//! format a validator does not know as an annotation that constrains nothing, so a schema
//! written for another tool (`"format": "path"`, `"format": "cidr"`) is valid. These helpers
//! find such formats, so a caller can drop them (with a warning) or refuse them (strict mode).

use serde_json::Value;

/// The `format` values llguidance enforces (its `lookup_format`).
pub const KNOWN_FORMATS: [&str; 11] =
    ["date-time", "time", "date", "duration", "email", "hostname", "ipv4", "ipv6", "uuid", "uri", "unknown"];

/// Keywords whose value is an object of subschemas.
const SCHEMA_MAPS: [&str; 4] = ["properties", "patternProperties", "$defs", "definitions"];
/// Keywords whose value is one subschema or an array of them.
const SCHEMA_VALUES: [&str; 7] =
    ["additionalProperties", "additionalItems", "items", "prefixItems", "anyOf", "oneOf", "allOf"];
/// Deepest nesting walked (serde_json's parser stops at 128 anyway).
const MAX_DEPTH: usize = 256;

/// A `format` the grammar engine does not know, and where it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownFormat {
    /// The format's name, e.g. `cidr`.
    pub format: String,
    /// JSON pointer of the schema object holding it, e.g. `/properties/net` (`/` for the root).
    pub path: String,
}

impl std::fmt::Display for UnknownFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "unknown format {:?} at {}", self.format, self.path)
    }
}

/// The formats in `schema` that the grammar engine does not know and would refuse: a string
/// `format` in a schema object that may hold a string (no `type`, or `type` naming
/// `string`); llguidance ignores `format` elsewhere. In document order.
pub fn unknown_formats(schema: &Value) -> Vec<UnknownFormat> {
    let mut copy = schema.clone();
    drop_unknown_formats(&mut copy)
}

/// Removes from `schema` every `format` that [`unknown_formats`] reports (JSON Schema's
/// annotation semantics), and returns them.
pub fn drop_unknown_formats(schema: &mut Value) -> Vec<UnknownFormat> {
    let mut found = Vec::new();
    walk(schema, &mut String::new(), 0, &mut found);
    found
}

fn walk(v: &mut Value, path: &mut String, depth: usize, found: &mut Vec<UnknownFormat>) {
    if depth > MAX_DEPTH {
        return;
    }
    let Value::Object(obj) = v else { return };
    let may_be_string = match obj.get("type") {
        None => true,
        Some(Value::String(t)) => t == "string",
        Some(Value::Array(ts)) => ts.iter().any(|t| t == "string"),
        Some(_) => true,
    };
    if may_be_string
        && let Some(Value::String(f)) = obj.get("format")
        && !KNOWN_FORMATS.contains(&f.as_str())
    {
        let path = if path.is_empty() { "/".to_owned() } else { path.clone() };
        found.push(UnknownFormat { format: f.clone(), path });
        obj.remove("format");
    }
    for (key, val) in obj.iter_mut() {
        let len = path.len();
        if SCHEMA_MAPS.contains(&key.as_str()) {
            if let Value::Object(map) = val {
                for (name, sub) in map.iter_mut() {
                    push_segment(path, key);
                    push_segment(path, name);
                    walk(sub, path, depth + 1, found);
                    path.truncate(len);
                }
            }
        } else if SCHEMA_VALUES.contains(&key.as_str()) {
            match val {
                Value::Array(items) => {
                    for (i, sub) in items.iter_mut().enumerate() {
                        push_segment(path, key);
                        push_segment(path, &i.to_string());
                        walk(sub, path, depth + 1, found);
                        path.truncate(len);
                    }
                }
                sub => {
                    push_segment(path, key);
                    walk(sub, path, depth + 1, found);
                    path.truncate(len);
                }
            }
        }
    }
}

/// Appends `/segment` with JSON-pointer escaping (`~` → `~0`, `/` → `~1`); also used by
/// [`crate::schema_check`], which walks schemas the same way.
pub(crate) fn push_segment(path: &mut String, segment: &str) {
    path.push('/');
    for c in segment.chars() {
        match c {
            '~' => path.push_str("~0"),
            '/' => path.push_str("~1"),
            c => path.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unknown_formats_are_found_and_dropped_known_ones_kept() {
        let mut s = json!({
            "type": "object",
            "properties": {
                "file": {"type": "string", "format": "path"},
                "net": {"anyOf": [{"format": "cidr"}, {"type": "null"}]},
                "when": {"type": "string", "format": "date-time"},
                "n": {"type": "integer", "format": "int32"},
                "format": {"type": "string"},
            },
            "$defs": {"a/b": {"type": ["string", "null"], "format": "x"}},
        });
        let found = drop_unknown_formats(&mut s);
        let pairs: Vec<(&str, &str)> = found.iter().map(|u| (u.format.as_str(), u.path.as_str())).collect();
        assert_eq!(
            pairs,
            [("path", "/properties/file"), ("cidr", "/properties/net/anyOf/0"), ("x", "/$defs/a~1b")]
        );
        assert!(s["properties"]["file"].get("format").is_none());
        assert_eq!(s["properties"]["when"]["format"], "date-time");
        // llguidance ignores `format` on non-strings; so does this.
        assert_eq!(s["properties"]["n"]["format"], "int32");
        assert_eq!(found[0].to_string(), "unknown format \"path\" at /properties/file");
        assert!(unknown_formats(&s).is_empty());
    }
}
