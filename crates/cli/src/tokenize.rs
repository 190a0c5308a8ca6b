//! `hearth tokenize`: text to token ids with the model's own tokenizer.

use anyhow::{Context, Result};
use hearth_gguf::GgufFile;
use hearth_tokenizer::{Specials, Tokenizer};

/// Arguments of `hearth tokenize`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// A .gguf file or a catalog name.
    #[arg(long, short)]
    model: String,
    /// Parse special-token text (e.g. `<|im_start|>`) into special ids.
    #[arg(long)]
    special: bool,
    /// Add BOS/EOS where the model asks for them.
    #[arg(long)]
    add_special: bool,
    /// Print a JSON array instead of one `id<TAB>piece` line per token.
    #[arg(long)]
    json: bool,
    /// The text (may be empty; put `--` before text that starts with `-`).
    #[arg(allow_hyphen_values = false)]
    text: String,
}

/// Runs `hearth tokenize`.
pub fn run(args: Args) -> Result<()> {
    let path = crate::resolve::model_file(&args.model)?;
    let file = GgufFile::open(&path).with_context(|| format!("reading {}", path.display()))?;
    let tok = Tokenizer::from_gguf(file.metadata())?;
    let ids = tok.encode(&args.text, Specials { add_bos_eos: args.add_special, parse_control: args.special });
    if args.json {
        println!("{}", serde_json::to_string(&ids)?);
    } else {
        for id in ids {
            println!("{id}\t{:?}", String::from_utf8_lossy(&tok.token_to_piece(id, true)));
        }
    }
    Ok(())
}
