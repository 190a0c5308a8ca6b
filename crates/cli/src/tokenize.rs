//! `hearth tokenize`: text to token ids with the model's own tokenizer, one text from the
//! command line or many from a JSON-lines file (one model load for all of them).

use std::io::{BufRead, Write};

use anyhow::{Context, Result, bail};
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
    /// Tokenize many texts: FILE has one JSON string per line ("-" for stdin); one JSON
    /// array of ids is printed per line, in order. Blank lines are skipped.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["text", "json"])]
    jsonl: Option<String>,
    /// The text (may be empty; put `--` before text that starts with `-`).
    #[arg(allow_hyphen_values = false, required_unless_present = "jsonl")]
    text: Option<String>,
}

/// Runs `hearth tokenize`.
pub fn run(args: Args) -> Result<()> {
    let path = crate::resolve::model_file(&args.model)?;
    let file = GgufFile::open(&path).with_context(|| format!("reading {}", path.display()))?;
    let tok = Tokenizer::from_gguf(file.metadata())?;
    let specials = Specials { add_bos_eos: args.add_special, parse_control: args.special };
    if let Some(jsonl) = &args.jsonl {
        return many(&tok, specials, jsonl);
    }
    let ids = tok.encode(args.text.as_deref().unwrap_or_default(), specials);
    if args.json {
        println!("{}", serde_json::to_string(&ids)?);
    } else {
        for id in ids {
            println!("{id}\t{:?}", String::from_utf8_lossy(&tok.token_to_piece(id, true)));
        }
    }
    Ok(())
}

/// `--jsonl`: one JSON array of ids per JSON string line of `path`.
fn many(tok: &Tokenizer, specials: Specials, path: &str) -> Result<()> {
    let input: Box<dyn BufRead> = if path == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        let f = std::fs::File::open(path).with_context(|| format!("opening {path}"))?;
        Box::new(std::io::BufReader::new(f))
    };
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for (i, line) in input.lines().enumerate() {
        let line = line.with_context(|| format!("reading {path}"))?;
        if line.trim().is_empty() {
            continue;
        }
        let text: String = match serde_json::from_str(&line) {
            Ok(text) => text,
            Err(e) => bail!("{path}:{}: each line must be one JSON string, like \"Hello world\": {e}", i + 1),
        };
        serde_json::to_writer(&mut out, &tok.encode(&text, specials))?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(())
}
