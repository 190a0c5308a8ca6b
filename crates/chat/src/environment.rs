//! The minijinja environment, configured as Hugging Face's `apply_chat_template` configures
//! Jinja2: `trim_blocks`, `lstrip_blocks`, loop controls, lenient undefined values, no
//! autoescape, plus the globals and filters chat templates rely on.

use std::fmt;
use std::time::SystemTime;

use minijinja::syntax::SyntaxConfig;
use minijinja::value::{Rest, ValueKind};
use minijinja::{AutoEscape, Environment, Error, ErrorKind, Output, State, UndefinedBehavior, Value};

use crate::strftime::DateTime;
use crate::tojson::{python_float_repr, tojson_filter};

/// Name the template is registered under (appears in error locations: `chat:12`).
pub(crate) const TEMPLATE_NAME: &str = "chat";

/// Step budget of one render. Real templates spend 40–70 steps per message (gpt-oss,
/// DeepSeek V3.2, measured), so this allows conversations of ~70k messages while a hostile
/// template's nested `range(100000)` loops stop within a fraction of a second.
pub(crate) const RENDER_FUEL: u64 = 5_000_000;

/// The error a template's `raise_exception(msg)` call carries, so the caller can tell a
/// deliberate rejection from a broken template.
#[derive(Debug)]
pub(crate) struct RaisedException(pub(crate) String);

impl fmt::Display for RaisedException {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for RaisedException {}

/// A fresh environment holding `source` as the template [`TEMPLATE_NAME`].
pub(crate) fn build(source: String) -> Result<Environment<'static>, Error> {
    let mut env = Environment::new();
    let mut syntax = SyntaxConfig::builder();
    // HF: jinja2 ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True);
    // keep_trailing_newline stays false, as in Jinja2.
    syntax.trim_blocks(true).lstrip_blocks(true).keep_trailing_newline(false);
    env.set_syntax(syntax.build()?);
    // Jinja2's default `Undefined`: printing gives "", iterating gives nothing, tests and
    // `if` see false; only attribute access on an undefined value fails.
    env.set_undefined_behavior(UndefinedBehavior::Lenient);
    env.set_auto_escape_callback(|_| AutoEscape::None);
    env.set_formatter(python_formatter);
    env.set_fuel(Some(RENDER_FUEL));
    env.set_unknown_method_callback(unknown_method);
    minijinja_contrib::add_to_environment(&mut env);
    env.add_filter("tojson", tojson_filter);
    env.add_test("iterable", is_iterable);
    env.add_test("sequence", is_sequence);
    env.add_function("raise_exception", raise_exception);
    env.add_template_owned(TEMPLATE_NAME, source)?;
    Ok(env)
}

/// Prints values as Python's `str()` does. minijinja already writes `True`, `None` and
/// Python-style lists and dicts; floats are the exception (`1e16` is `1e+16` in Python).
fn python_formatter(out: &mut Output<'_>, state: &mut State<'_, '_>, value: &Value) -> Result<(), Error> {
    if value.kind() == ValueKind::Number
        && !value.is_integer()
        && let Ok(f) = f64::try_from(value.clone())
    {
        return out.write_str(&python_float_repr(f)).map_err(Error::from);
    }
    minijinja::escape_formatter(out, state, value)
}

/// Python methods on strings, dicts and lists (`.strip()`, `.get()`, `.items()`, ...), from
/// minijinja-contrib's `pycompat`.
fn unknown_method(
    state: &mut State<'_, '_>,
    value: &Value,
    method: &str,
    args: &[Value],
) -> Result<Value, Error> {
    minijinja_contrib::pycompat::unknown_method_callback(state, value, method, args)
}

/// Jinja2's `iterable` test (`iter(value)` succeeds): strings, lists, dicts and undefined
/// are, `none` and numbers are not. minijinja alone says `none is iterable`, which sends
/// `{% if tools is iterable and tools | length > 0 %}` into a length error.
fn is_iterable(value: &Value) -> bool {
    match value.kind() {
        ValueKind::None | ValueKind::Bool | ValueKind::Number | ValueKind::Invalid => false,
        ValueKind::Undefined | ValueKind::String | ValueKind::Bytes | ValueKind::Seq | ValueKind::Map => true,
        _ => value.try_iter().is_ok(),
    }
}

/// Jinja2's `sequence` test (has `len()` and `[]`): lists, strings, dicts and undefined.
fn is_sequence(value: &Value) -> bool {
    matches!(
        value.kind(),
        ValueKind::Undefined | ValueKind::String | ValueKind::Bytes | ValueKind::Seq | ValueKind::Map
    )
}

/// `raise_exception(message)`: fails the render with the template's message.
fn raise_exception(args: Rest<Value>) -> Result<Value, Error> {
    let message = args.iter().map(|v| v.to_string()).collect::<Vec<_>>().join(" ");
    Err(Error::new(ErrorKind::InvalidOperation, format!("raise_exception: {message}"))
        .with_source(RaisedException(message)))
}

/// The template variable `strftime_now(format)`: `now` (or the system clock) in UTC,
/// formatted like Python's `strftime`.
pub(crate) fn strftime_now(now: Option<SystemTime>) -> Value {
    let at = now.map_or_else(DateTime::now, DateTime::from_system_time);
    Value::from_function(move |format: &str| at.format(format))
}
