//! `hearth pull`: download catalog models.

use anyhow::Result;

use hearth_hub::bars::Bars;

/// Arguments of `hearth pull`.
#[derive(clap::Args)]
pub struct Args {
    /// Catalog name (e.g. qwen2.5-coder:0.5b); the default model when omitted.
    model: Option<String>,
    /// List the catalog instead, marking models already pulled.
    #[arg(long)]
    list: bool,
    /// Skip Hugging Face and use the pinned mirrors only.
    #[arg(long)]
    no_hf: bool,
}

/// Runs `hearth pull`.
pub fn run(args: Args) -> Result<()> {
    let mut store = hearth_hub::Store::open_default()?;
    if args.no_hf {
        store = store.without_hf();
    }
    if args.list {
        for m in &store.catalog().models {
            let mark = if store.has(m)? { "pulled" } else { "" };
            let def = if m.default { " (default)" } else { "" };
            println!("{:24} {:>8.1} MB  {:6}  {}{def}", m.name, m.size as f64 / 1e6, mark, m.description);
        }
        println!("store: {}", store.dir().display());
        return Ok(());
    }
    let entry = match &args.model {
        Some(name) => store.catalog().find(name).ok_or_else(|| {
            anyhow::anyhow!("'{name}' is not in the catalog; known: {}", store.catalog().names())
        })?,
        None => store.catalog().default_model(),
    };
    let path = store.pull(entry, &Bars::new())?;
    println!("{}", path.display());
    Ok(())
}
