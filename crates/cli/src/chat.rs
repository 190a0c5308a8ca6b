//! `hearth chat`: an interactive conversation, streamed. The session keeps its KV cache
//! between turns, so each turn only processes the new messages.

use std::io::{BufRead, Write};
use std::ops::ControlFlow;

use anyhow::Result;
use hearth_engine::{Message, Prompt};

use crate::common::{ModelArgs, SamplingArgs};

/// Arguments of `hearth chat`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    model: ModelArgs,
    /// A system prompt for the conversation.
    #[arg(long, short)]
    system: Option<String>,
    #[command(flatten)]
    sampling: SamplingArgs,
}

/// Runs `hearth chat`.
pub fn run(args: Args) -> Result<()> {
    let engine = args.model.load()?;
    let mut session = engine.session();
    let mut history: Vec<Message> = args.system.iter().map(Message::system).collect();
    eprintln!(
        "hearth chat — {} ({} kernels, {} threads). /reset clears the conversation, /exit or Ctrl-D quits.",
        engine.model().config().arch.prefix(),
        hearth_kernels::kernels().name(),
        engine.pool().n_threads()
    );
    let stdin = std::io::stdin();
    let mut line = String::new();
    loop {
        eprint!("> ");
        line.clear();
        if stdin.lock().read_line(&mut line)? == 0 {
            eprintln!();
            return Ok(());
        }
        let input = line.trim_end_matches(['\n', '\r']);
        match input.trim() {
            "" => continue,
            "/exit" | "/quit" => return Ok(()),
            "/reset" => {
                history.retain(|m| m.role == "system");
                session.reset();
                eprintln!("(conversation cleared)");
                continue;
            }
            _ => {}
        }
        history.push(Message::user(input));
        let req = args.sampling.request(Prompt::Messages(history.clone()));
        let stdout = std::io::stdout();
        let result = session.generate(&req, |ev| {
            let mut out = stdout.lock();
            let _ = out.write_all(ev.text.as_bytes());
            let _ = out.flush();
            ControlFlow::Continue(())
        });
        println!();
        match result {
            Ok(done) => history.push(Message::assistant(done.text)),
            Err(e) => {
                history.pop();
                eprintln!("error: {e}");
            }
        }
    }
}
