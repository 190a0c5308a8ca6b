//! `tojson` as Hugging Face's chat-template environment defines it: Python's
//! `json.dumps(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False)`.
//!
//! Jinja2's own `tojson` (and minijinja's) HTML-escapes `<>&'` and sorts keys; templates were
//! written against the HF override, which does neither, and llama.cpp's engine agrees with
//! HF (`common/jinja/value.cpp`). The output here is byte-identical to CPython's for the
//! values a template can build: `", "`/`": "` separators without indent, `","` with it,
//! floats in `repr` form (`1.0`, `1e+16`), `NaN`/`Infinity`, insertion-ordered keys.

use std::fmt::Write as _;

use minijinja::value::{Kwargs, Rest, ValueKind};
use minijinja::{Error, ErrorKind, Value};

/// Nesting deeper than this is refused (CPython would hit its recursion limit near 1000).
const MAX_DEPTH: usize = 256;

/// How to format: the keyword arguments of `json.dumps` that templates use.
#[derive(Clone, Debug)]
pub(crate) struct JsonStyle {
    /// Escape every non-ASCII character as `\uXXXX`.
    pub ensure_ascii: bool,
    /// `Some(prefix)`: pretty-print with one `prefix` per level.
    pub indent: Option<String>,
    /// Between items (`", "`, or `","` when indenting).
    pub item_sep: String,
    /// Between a key and its value (`": "`).
    pub key_sep: String,
    /// Sort object keys.
    pub sort_keys: bool,
}

impl Default for JsonStyle {
    fn default() -> Self {
        JsonStyle {
            ensure_ascii: false,
            indent: None,
            item_sep: ", ".to_owned(),
            key_sep: ": ".to_owned(),
            sort_keys: false,
        }
    }
}

/// The `tojson` filter: `x|tojson`, `x|tojson(indent=4)`, `x|tojson(ensure_ascii=True)`;
/// positional arguments follow HF's order (`ensure_ascii, indent, separators, sort_keys`).
pub(crate) fn tojson_filter(value: &Value, args: Rest<Value>, kwargs: Kwargs) -> Result<Value, Error> {
    if args.len() > 4 {
        return Err(Error::new(ErrorKind::TooManyArguments, "tojson takes at most 4 arguments"));
    }
    let pick = |pos: usize, name: &str| -> Result<Option<Value>, Error> {
        match kwargs.get::<Option<Value>>(name)? {
            Some(v) => Ok(Some(v)),
            None => Ok(args.get(pos).cloned()),
        }
    };
    let ensure_ascii = pick(0, "ensure_ascii")?;
    let indent = pick(1, "indent")?;
    let separators = pick(2, "separators")?;
    let sort_keys = pick(3, "sort_keys")?;
    kwargs.assert_all_used()?;

    let mut style = JsonStyle {
        ensure_ascii: ensure_ascii.is_some_and(|v| v.is_true()),
        sort_keys: sort_keys.is_some_and(|v| v.is_true()),
        ..JsonStyle::default()
    };
    style.indent = match indent {
        None => None,
        Some(v) if v.is_none() || v.is_undefined() => None,
        Some(v) => Some(if let Some(s) = v.as_str() {
            s.to_owned()
        } else if let Some(n) = v.as_i64() {
            " ".repeat(usize::try_from(n).unwrap_or(0))
        } else {
            return Err(Error::new(
                ErrorKind::InvalidOperation,
                format!("tojson: indent must be an int or str, not {}", v.kind()),
            ));
        }),
    };
    if style.indent.is_some() {
        style.item_sep = ",".to_owned();
    }
    if let Some(seps) = separators.filter(|v| !v.is_none() && !v.is_undefined()) {
        let parts: Vec<Value> = seps.try_iter()?.collect();
        match parts.as_slice() {
            [item, key] => {
                let as_str = |v: &Value| {
                    v.as_str().map(str::to_owned).ok_or_else(|| {
                        Error::new(ErrorKind::InvalidOperation, "tojson: separators must be two strings")
                    })
                };
                style.item_sep = as_str(item)?;
                style.key_sep = as_str(key)?;
            }
            _ => return Err(Error::new(ErrorKind::InvalidOperation, "tojson: separators must be a pair")),
        }
    }
    to_python_json(value, &style).map(Value::from)
}

/// Serializes `value` as `json.dumps` would with `style`.
pub(crate) fn to_python_json(value: &Value, style: &JsonStyle) -> Result<String, Error> {
    let mut out = String::new();
    write_value(&mut out, value, style, 0)?;
    Ok(out)
}

fn newline(out: &mut String, style: &JsonStyle, depth: usize) {
    if let Some(indent) = &style.indent {
        out.push('\n');
        for _ in 0..depth {
            out.push_str(indent);
        }
    }
}

fn write_value(out: &mut String, value: &Value, style: &JsonStyle, depth: usize) -> Result<(), Error> {
    if depth > MAX_DEPTH {
        return Err(Error::new(ErrorKind::InvalidOperation, "tojson: value nested too deeply"));
    }
    match value.kind() {
        // Jinja2 would raise on undefined; null keeps a half-filled tool schema renderable.
        ValueKind::Undefined | ValueKind::None => out.push_str("null"),
        ValueKind::Bool => out.push_str(if value.is_true() { "true" } else { "false" }),
        ValueKind::Number => write_number(out, value),
        ValueKind::String => write_string(out, value.as_str().unwrap_or_default(), style.ensure_ascii),
        ValueKind::Seq | ValueKind::Iterable => {
            let items: Vec<Value> = value.try_iter()?.collect();
            write_seq(out, &items, style, depth)?;
        }
        ValueKind::Map => write_map(out, value, style, depth)?,
        kind => {
            return Err(Error::new(
                ErrorKind::InvalidOperation,
                format!("tojson: object of type {kind} is not JSON serializable"),
            ));
        }
    }
    Ok(())
}

fn write_seq(out: &mut String, items: &[Value], style: &JsonStyle, depth: usize) -> Result<(), Error> {
    if items.is_empty() {
        out.push_str("[]");
        return Ok(());
    }
    out.push('[');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push_str(&style.item_sep);
        }
        newline(out, style, depth + 1);
        write_value(out, item, style, depth + 1)?;
    }
    newline(out, style, depth);
    out.push(']');
    Ok(())
}

fn write_map(out: &mut String, value: &Value, style: &JsonStyle, depth: usize) -> Result<(), Error> {
    let mut entries = Vec::new();
    for key in value.try_iter()? {
        let item = value.get_item(&key)?;
        entries.push((key_string(&key)?, item));
    }
    if style.sort_keys {
        entries.sort_by(|a, b| a.0.cmp(&b.0));
    }
    if entries.is_empty() {
        out.push_str("{}");
        return Ok(());
    }
    out.push('{');
    for (i, (key, item)) in entries.iter().enumerate() {
        if i > 0 {
            out.push_str(&style.item_sep);
        }
        newline(out, style, depth + 1);
        write_string(out, key, style.ensure_ascii);
        out.push_str(&style.key_sep);
        write_value(out, item, style, depth + 1)?;
    }
    newline(out, style, depth);
    out.push('}');
    Ok(())
}

/// Python turns int/float/bool/None keys into strings and refuses anything else.
fn key_string(key: &Value) -> Result<String, Error> {
    match key.kind() {
        ValueKind::String => Ok(key.as_str().unwrap_or_default().to_owned()),
        ValueKind::Bool => Ok(if key.is_true() { "true" } else { "false" }.to_owned()),
        ValueKind::None => Ok("null".to_owned()),
        ValueKind::Number => {
            let mut s = String::new();
            write_number(&mut s, key);
            Ok(s)
        }
        kind => Err(Error::new(
            ErrorKind::InvalidOperation,
            format!("tojson: keys must be str, int, float, bool or None, not {kind}"),
        )),
    }
}

fn write_number(out: &mut String, value: &Value) {
    if value.is_integer() {
        // Integers of any width print as their decimal digits.
        let _ = write!(out, "{value}");
    } else {
        let f = f64::try_from(value.clone()).unwrap_or(f64::NAN);
        out.push_str(&python_float_repr(f));
    }
}

/// CPython's `float.__repr__` (as `json.dumps` prints floats): the shortest digits that
/// round-trip, positional for exponents in `-4..16`, else `d.ddde+XX`.
pub(crate) fn python_float_repr(f: f64) -> String {
    if f.is_nan() {
        return "NaN".to_owned();
    }
    if f.is_infinite() {
        return if f > 0.0 { "Infinity" } else { "-Infinity" }.to_owned();
    }
    let sign = if f.is_sign_negative() { "-" } else { "" };
    // `{:e}` gives the shortest round-trip digits: "1.2345e3", "1e-7", "0e0".
    let sci = format!("{:e}", f.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let n = digits.len() as i32;
    if (-4..16).contains(&exp) {
        if exp >= 0 {
            let int_len = exp + 1;
            if n <= int_len {
                let zeros = "0".repeat((int_len - n) as usize);
                format!("{sign}{digits}{zeros}.0")
            } else {
                let (a, b) = digits.split_at(int_len as usize);
                format!("{sign}{a}.{b}")
            }
        } else {
            let zeros = "0".repeat((-exp - 1) as usize);
            format!("{sign}0.{zeros}{digits}")
        }
    } else {
        let (first, rest) = digits.split_at(1);
        let frac = if rest.is_empty() { String::new() } else { format!(".{rest}") };
        let esign = if exp < 0 { '-' } else { '+' };
        format!("{sign}{first}{frac}e{esign}{:02}", exp.abs())
    }
}

/// A JSON string literal with Python's escapes (`\n`, `\u001b`, and with `ensure_ascii`
/// every non-ASCII character as `\uXXXX`, astral ones as surrogate pairs).
fn write_string(out: &mut String, s: &str, ensure_ascii: bool) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c if ensure_ascii && !(' '..='~').contains(&c) => {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_repr_matches_cpython() {
        // Left: CPython 3.12 `repr(x)` for the same literal.
        let cases: [(f64, &str); 14] = [
            (1.0, "1.0"),
            (0.1, "0.1"),
            (-0.0, "-0.0"),
            (0.0, "0.0"),
            (1234.5, "1234.5"),
            (1e16, "1e+16"),
            (1.5e16, "1.5e+16"),
            (123456789012345.6, "123456789012345.6"),
            (1e15, "1000000000000000.0"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1.25e-7, "1.25e-07"),
            (1e300, "1e+300"),
            (-2.5, "-2.5"),
        ];
        for (f, want) in cases {
            assert_eq!(python_float_repr(f), want, "repr({f:?})");
        }
        assert_eq!(python_float_repr(f64::NAN), "NaN");
        assert_eq!(python_float_repr(f64::NEG_INFINITY), "-Infinity");
    }

    #[test]
    fn strings_escape_like_json_dumps() {
        let v = Value::from("a\"b\\c\n\u{1b}\u{7f}é😀");
        let plain = to_python_json(&v, &JsonStyle::default()).unwrap();
        assert_eq!(plain, "\"a\\\"b\\\\c\\n\\u001b\u{7f}é😀\"");
        let ascii = to_python_json(&v, &JsonStyle { ensure_ascii: true, ..JsonStyle::default() }).unwrap();
        assert_eq!(ascii, "\"a\\\"b\\\\c\\n\\u001b\\u007f\\u00e9\\ud83d\\ude00\"");
    }
}
