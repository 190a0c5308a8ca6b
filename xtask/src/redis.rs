//! `cargo xtask redis start|stop|status`: a throwaway Redis server for hearth-cache's Redis
//! tests (the cache shared by several nodes), from Debian's `redis-server` package.
//!
//! `start` installs `redis-server` with apt when missing, writes a config of its own in a temp
//! directory (one per checkout: a free loopback port, a random password, no persistence),
//! starts the server daemonised, waits until it answers `PING`, and prints, on stdout, one line
//! for the shell:
//!
//! ```text
//! export HEARTH_TEST_REDIS_URL=redis://:…@127.0.0.1:PORT/0
//! ```
//!
//! (`eval "$(cargo xtask redis start)"` before `cargo test -p hearth-cache`). A running
//! server is reused; a stopped one whose directory is still there is started again with the
//! same URL. `stop` shuts it down and removes its directory (`--keep` keeps it).
//!
//! `cargo xtask test` starts one for the workspace tests and stops it afterwards, even when
//! they fail (see [`Server`]).

use std::fs;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};

use crate::apt;
use crate::service::TestService;
use crate::util::root;

/// How long `start` waits for the server to answer, and `stop` for it to exit.
const WAIT: Duration = Duration::from_secs(20);

/// This checkout's server: its directory (`redis.conf`, `url`, `redis.pid`, `redis.log`) and
/// the `redis-server` binary.
#[derive(Debug)]
pub struct Instance {
    dir: PathBuf,
    bin: PathBuf,
}

/// `cargo xtask redis` and the guard `cargo xtask test` holds.
pub type Server = crate::service::Server<Instance>;

impl TestService for Instance {
    const NAME: &'static str = "Redis";
    const COMMAND: &'static str = "redis";

    /// This checkout's instance (installing Redis first if it is missing).
    fn here() -> Result<Instance> {
        let bin = PathBuf::from("/usr/bin/redis-server");
        if !bin.exists() {
            apt::install(&["redis-server"], false)?;
            if !bin.exists() {
                bail!("redis-server is installed but {} is missing", bin.display());
            }
        }
        Ok(Instance { dir: dir(), bin })
    }

    fn running(&self) -> bool {
        self.url().is_ok_and(|url| ping(&url).is_ok())
    }

    fn start(&self) -> Result<()> {
        if self.running() {
            eprintln!("test Redis server already running ({})", self.dir.display());
            return Ok(());
        }
        if !self.dir.join("redis.conf").exists() {
            self.create()?;
        }
        let log = self.dir.join("redis.log");
        crate::util::run(Command::new(&self.bin).arg(self.dir.join("redis.conf")).stdout(std::io::stderr()))
            .with_context(|| format!("starting redis-server (its log: {})", log.display()))?;
        let url = self.url()?;
        let deadline = Instant::now() + WAIT;
        loop {
            match ping(&url) {
                Ok(()) => return Ok(()),
                Err(e) if Instant::now() > deadline => {
                    return Err(e.context(format!(
                        "redis-server did not answer PING within {WAIT:?} (its log: {})",
                        log.display()
                    )));
                }
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        }
    }

    fn env(&self) -> Result<Vec<(&'static str, String)>> {
        Ok(vec![("HEARTH_TEST_REDIS_URL", self.url()?)])
    }

    fn stop(&self, keep: bool) -> Result<()> {
        if self.running() {
            let url = self.url()?;
            // The server closes the connection instead of answering.
            let _ = command(&url, "SHUTDOWN NOSAVE");
            let deadline = Instant::now() + WAIT;
            while self.running() {
                if Instant::now() > deadline {
                    bail!("the test Redis server ({}) did not stop within {WAIT:?}", self.dir.display());
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        if !keep && self.dir.exists() {
            fs::remove_dir_all(&self.dir).with_context(|| format!("removing {}", self.dir.display()))?;
        }
        Ok(())
    }
}

impl Instance {
    fn url(&self) -> Result<String> {
        let path = self.dir.join("url");
        fs::read_to_string(&path)
            .with_context(|| format!("reading {} (is the server created?)", path.display()))
    }

    /// The directory, a config (free loopback port, password, no persistence) and the URL.
    fn create(&self) -> Result<()> {
        if self.dir.exists() {
            fs::remove_dir_all(&self.dir).with_context(|| format!("removing {}", self.dir.display()))?;
        }
        fs::create_dir_all(&self.dir).with_context(|| format!("creating {}", self.dir.display()))?;
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let password = password();
        let d = self.dir.display();
        let conf = format!(
            "# cargo xtask redis\nbind 127.0.0.1\nport {port}\nprotected-mode yes\ndaemonize yes\n\
             pidfile {d}/redis.pid\nlogfile {d}/redis.log\ndir {d}\nsave \"\"\nappendonly no\n\
             requirepass {password}\n"
        );
        fs::write(self.dir.join("redis.conf"), conf)?;
        fs::write(self.dir.join("url"), format!("redis://:{password}@127.0.0.1:{port}/0"))?;
        Ok(())
    }
}

/// `PING` through `url`; `Ok` when the server answers `PONG`.
fn ping(url: &str) -> Result<()> {
    let reply = command(url, "PING")?;
    if !reply.starts_with("+PONG") {
        bail!("the test Redis server answered PING with {reply:?}");
    }
    Ok(())
}

/// Sends `AUTH` and then the inline command `cmd` to the server of `url`
/// (`redis://:password@host:port/db`, as [`Instance::create`] writes it); its reply's first line.
fn command(url: &str, cmd: &str) -> Result<String> {
    let rest = url.strip_prefix("redis://:").context("not a redis://:password@host:port URL")?;
    let (password, hostport) = rest.rsplit_once('@').context("no password in the URL")?;
    let hostport = hostport.split('/').next().unwrap_or(hostport);
    let mut conn = TcpStream::connect(hostport).with_context(|| format!("connecting to {hostport}"))?;
    conn.set_read_timeout(Some(Duration::from_secs(2)))?;
    conn.write_all(format!("AUTH {password}\r\n{cmd}\r\n").as_bytes())?;
    let mut reply = Vec::new();
    let mut buf = [0u8; 256];
    // "+OK\r\n" for AUTH, then the command's line.
    while reply.iter().filter(|&&b| b == b'\n').count() < 2 {
        let n = conn.read(&mut buf)?;
        if n == 0 {
            break;
        }
        reply.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&reply).into_owned();
    let mut lines = text.lines();
    match lines.next() {
        Some("+OK") => Ok(lines.next().unwrap_or_default().to_owned()),
        other => bail!("the test Redis server refused AUTH: {other:?}"),
    }
}

/// This checkout's server directory, in the temp directory, named after the checkout so
/// worktrees do not collide.
fn dir() -> PathBuf {
    let root = root().canonicalize().unwrap_or_else(|_| root());
    std::env::temp_dir().join(format!("hearth-redis-{:08x}", fnv(&root)))
}

/// FNV-1a of the path: stable across builds, unlike std's hasher.
fn fnv(path: &Path) -> u32 {
    path.as_os_str()
        .as_encoded_bytes()
        .iter()
        .fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)) as u32
}

/// A password that differs for each server (it only guards a throwaway one).
fn password() -> String {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    format!("pw{:x}{:x}", nanos, std::process::id())
}
