//! What `cargo xtask postgres` and `cargo xtask redis` share: a throwaway test server per
//! checkout ([`TestService`]), the `start|stop|status` commands ([`Args`], [`run`]) and the
//! guard `cargo xtask test` holds while the workspace tests run ([`Server`]).

use anyhow::{Result, bail};

/// A test server of this checkout: installed with apt when missing, created with a free
/// loopback port and a random password, reused while it runs.
pub trait TestService: Sized {
    /// The server's name in messages (`PostgreSQL`).
    const NAME: &'static str;
    /// The xtask command that manages it (`postgres`).
    const COMMAND: &'static str;
    /// This checkout's server (installing the package first if it is missing).
    fn here() -> Result<Self>;
    /// Whether it answers.
    fn running(&self) -> bool;
    /// Starts it, creating it first when needed.
    fn start(&self) -> Result<()>;
    /// Stops it and, unless `keep`, removes it.
    fn stop(&self, keep: bool) -> Result<()>;
    /// The variables the tests read (`HEARTH_TEST_…`).
    fn env(&self) -> Result<Vec<(&'static str, String)>>;

    /// `export K=V …`, the line `start` and `status` print for the shell.
    fn exports(&self) -> Result<String> {
        let vars: Vec<String> = self.env()?.into_iter().map(|(k, v)| format!("{k}={v}")).collect();
        Ok(format!("export {}", vars.join(" ")))
    }
}

/// Arguments of `postgres` and `redis`.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    cmd: Action,
}

#[derive(clap::Subcommand)]
enum Action {
    /// Start the test server (creating it if needed) and print its `export` line.
    Start,
    /// Stop the test server and remove it.
    Stop {
        /// Keep its directory (data, port, password) for the next `start`.
        #[arg(long)]
        keep: bool,
    },
    /// Print the `export` line if the server runs; fail if it does not.
    Status,
}

/// Runs `start|stop|status` for `S`.
pub fn run<S: TestService>(args: Args) -> Result<()> {
    let service = S::here()?;
    match args.cmd {
        Action::Start => {
            service.start()?;
            println!("{}", service.exports()?);
        }
        Action::Stop { keep } => service.stop(keep)?,
        Action::Status => {
            if !service.running() {
                bail!(
                    "the test {} server is not running (start it: cargo xtask {} start)",
                    S::NAME,
                    S::COMMAND
                );
            }
            println!("{}", service.exports()?);
        }
    }
    Ok(())
}

/// A server started for a test run: stopped and removed when dropped, unless it was already
/// running before (someone else's `cargo xtask … start`).
#[derive(Debug)]
pub struct Server<S: TestService> {
    service: S,
    ours: bool,
}

impl<S: TestService> Server<S> {
    /// Starts the test server (or finds it running).
    pub fn start() -> Result<Server<S>> {
        let service = S::here()?;
        let ours = !service.running();
        service.start()?;
        Ok(Server { service, ours })
    }

    /// The variables the tests read.
    pub fn env(&self) -> Result<Vec<(&'static str, String)>> {
        self.service.env()
    }
}

impl<S: TestService> Drop for Server<S> {
    fn drop(&mut self) {
        if self.ours
            && let Err(e) = self.service.stop(false)
        {
            eprintln!("warning: stopping the test {} server failed: {e:#}", S::NAME);
        }
    }
}
