//! Progress bars on stderr for long work (downloads, benchmarks).

use std::sync::Mutex;

use indicatif::{ProgressBar, ProgressStyle};

/// indicatif bars driven by [`hearth_hub::Progress`] events.
#[derive(Default)]
pub struct Bars {
    bar: Mutex<Option<ProgressBar>>,
}

impl hearth_hub::Progress for Bars {
    fn begin(&self, label: &str, total: Option<u64>) {
        let bar = match total {
            Some(n) => ProgressBar::new(n),
            None => ProgressBar::new_spinner(),
        };
        bar.set_style(
            ProgressStyle::with_template(
                "{msg:40!} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        bar.set_message(label.to_owned());
        if let Ok(mut b) = self.bar.lock() {
            *b = Some(bar);
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
        eprintln!("{msg}");
    }
}

/// Resolves a MODEL argument (path or catalog name), downloading catalog models on first use.
pub fn resolve_model(model: &str) -> anyhow::Result<std::path::PathBuf> {
    let store = hearth_hub::Store::open_default()?;
    Ok(store.resolve(model, true, &Bars::default())?)
}
