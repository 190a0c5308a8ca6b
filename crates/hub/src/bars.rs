//! Terminal progress bars (feature `bars`): the one indicatif setup shared by the `hearth` CLI
//! and `cargo xtask`, so downloads, assembly and shape generation look the same everywhere.
//!
//! Bars are drawn on stderr and hidden when stderr is not a terminal; notes are always
//! printed.

use std::sync::Mutex;

use indicatif::{ProgressBar, ProgressStyle};

use crate::download::Progress;

/// One bar at a time, driven by [`Progress`] events: a byte bar with rate and ETA when the
/// total is known, a byte counter with a spinner when it is not.
#[derive(Debug, Default)]
pub struct Bars {
    bar: Mutex<Option<ProgressBar>>,
    prefix: &'static str,
}

impl Bars {
    /// Bars whose notes are printed as they are.
    pub fn new() -> Bars {
        Bars::default()
    }

    /// Bars whose notes are printed as `{prefix}: {note}` (e.g. `fixtures`).
    pub fn prefixed(prefix: &'static str) -> Bars {
        Bars { bar: Mutex::default(), prefix }
    }

    fn note_line(&self, msg: &str) -> String {
        if self.prefix.is_empty() { msg.to_owned() } else { format!("{}: {msg}", self.prefix) }
    }
}

impl Progress for Bars {
    fn begin(&self, label: &str, total: Option<u64>) {
        let (bar, template) = match total {
            Some(n) => {
                (ProgressBar::new(n), "{msg:40!} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}")
            }
            None => (ProgressBar::new_spinner(), "{msg:40!} {spinner} {bytes} {bytes_per_sec}"),
        };
        bar.set_style(style(template));
        bar.set_message(label.to_owned());
        if let Ok(mut b) = self.bar.lock()
            && let Some(old) = b.replace(bar)
        {
            old.finish_and_clear();
        }
    }

    fn advance(&self, n: u64) {
        if let Ok(b) = self.bar.lock()
            && let Some(b) = b.as_ref()
        {
            b.inc(n);
        }
    }

    fn end(&self) {
        if let Ok(mut b) = self.bar.lock()
            && let Some(b) = b.take()
        {
            b.finish_and_clear();
        }
    }

    fn note(&self, msg: &str) {
        let line = self.note_line(msg);
        match self.bar.lock().ok().as_deref().and_then(Option::as_ref) {
            // Printed above the bar, which is redrawn below it.
            Some(bar) => bar.suspend(|| eprintln!("{line}")),
            None => eprintln!("{line}"),
        }
    }
}

/// A bar counting `len` steps of work named `unit` (e.g. `runs`), with the elapsed time; the
/// caller sets its message, increments it and clears it with `finish_and_clear`.
pub fn steps(len: u64, unit: &str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    bar.set_style(style(&format!("{{msg:24}} [{{bar:30}}] {{pos}}/{{len}} {unit}, {{elapsed}}")));
    bar
}

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_parse() {
        for t in [
            "{msg:40!} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
            "{msg:40!} {spinner} {bytes} {bytes_per_sec}",
            "{msg:24} [{bar:30}] {pos}/{len} runs, {elapsed}",
        ] {
            assert!(ProgressStyle::with_template(t).is_ok(), "{t}");
        }
    }

    #[test]
    fn notes_carry_the_prefix() {
        assert_eq!(Bars::new().note_line("hello"), "hello");
        assert_eq!(Bars::prefixed("fixtures").note_line("hello"), "fixtures: hello");
    }

    #[test]
    fn a_second_begin_replaces_the_first_bar() {
        let bars = Bars::new();
        bars.begin("a", Some(10));
        bars.advance(3);
        bars.begin("b", None);
        bars.advance(5);
        let pos = bars.bar.lock().expect("lock").as_ref().map(ProgressBar::position);
        assert_eq!(pos, Some(5));
        bars.end();
        assert!(bars.bar.lock().expect("lock").is_none());
    }
}
