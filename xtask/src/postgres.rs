//! `cargo xtask postgres start|stop|status`: a throwaway PostgreSQL server for hearth-ledger's
//! PostgreSQL tests (the fleet ledger), from Debian's `postgresql` package.
//!
//! `start` installs `postgresql` (and `openssl`) with apt when missing, creates a cluster
//! with `initdb` in a temp directory of its own (one per checkout), with a random password for
//! the user `hearth`, TLS (a test CA and a certificate for `localhost` / `127.0.0.1`) and a free
//! loopback port, starts it with `pg_ctl`, creates the database `hearth_test` and prints, on
//! stdout, one line for the shell:
//!
//! ```text
//! export HEARTH_TEST_POSTGRES_URL=postgres://hearth:…@127.0.0.1:PORT/hearth_test HEARTH_TEST_POSTGRES_CA=… HEARTH_TEST_POSTGRES_XTASK=…
//! ```
//!
//! (`eval "$(cargo xtask postgres start)"` before `cargo test -p hearth-ledger`). A stopped
//! cluster that is still there is started again with the same URL; a running one is reused.
//! `stop` shuts it down and removes its directory (`--keep` keeps it, for `start` to bring
//! back: the restart test). As root, the server runs as the `postgres` user (PostgreSQL refuses
//! root) and the directory is that user's.
//!
//! `cargo xtask test` starts one for the workspace tests and stops it afterwards, even when
//! they fail (see [`Server`]).

use std::fs;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};

use crate::apt;
use crate::service::TestService;
use crate::util::root;

const USER: &str = "hearth";
const DATABASE: &str = "hearth_test";
/// The OS user the server runs as when xtask runs as root.
const OS_USER: &str = "postgres";

/// Runs `cmd` (echoed, failing if it fails) with its stdout on stderr: stdout is for the
/// `export` line.
fn sh(cmd: &mut Command) -> Result<()> {
    crate::util::run(cmd.stdout(std::io::stderr()))
}

/// The cluster's directory and binaries.
#[derive(Debug)]
pub struct Cluster {
    /// Everything: `data/`, the socket, the TLS files, `url`, `server.log`.
    dir: PathBuf,
    /// `/usr/lib/postgresql/<version>/bin`.
    bin: PathBuf,
}

/// `cargo xtask postgres` and the guard `cargo xtask test` holds.
pub type Server = crate::service::Server<Cluster>;

impl TestService for Cluster {
    const NAME: &'static str = "PostgreSQL";
    const COMMAND: &'static str = "postgres";

    /// This checkout's cluster (installing PostgreSQL first if it is missing).
    fn here() -> Result<Cluster> {
        let bin = match bin_dir() {
            Some(b) => b,
            None => {
                apt::install(&["postgresql", "openssl"], false)?;
                bin_dir()
                    .context("postgresql is installed but /usr/lib/postgresql/*/bin/initdb is missing")?
            }
        };
        Ok(Cluster { dir: dir(), bin })
    }

    fn running(&self) -> bool {
        self.data().join("PG_VERSION").exists()
            && self
                .as_owner("pg_ctl")
                .arg("status")
                .arg("-D")
                .arg(self.data())
                .output()
                .is_ok_and(|o| o.status.success())
    }

    fn start(&self) -> Result<()> {
        if self.running() {
            eprintln!("test PostgreSQL server already running ({})", self.dir.display());
            return Ok(());
        }
        let fresh = !self.data().join("PG_VERSION").exists();
        if fresh {
            self.create()?;
        }
        let log = self.dir.join("server.log");
        sh(self
            .as_owner("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .arg("-l")
            .arg(&log)
            .args(["-w", "-t", "60", "start"]))
        .with_context(|| format!("starting PostgreSQL (its log: {})", log.display()))?;
        if fresh {
            let port = self.port()?;
            sh(Command::new(self.bin.join("createdb")).arg("-h").arg(&self.dir).args([
                "-p",
                &port.to_string(),
                "-U",
                USER,
                DATABASE,
            ]))?;
        }
        Ok(())
    }

    fn env(&self) -> Result<Vec<(&'static str, String)>> {
        let xtask = std::env::current_exe().context("finding the xtask binary")?;
        Ok(vec![
            ("HEARTH_TEST_POSTGRES_URL", self.url()?),
            ("HEARTH_TEST_POSTGRES_CA", self.dir.join("ca.pem").display().to_string()),
            ("HEARTH_TEST_POSTGRES_XTASK", xtask.display().to_string()),
        ])
    }

    fn stop(&self, keep: bool) -> Result<()> {
        if self.running() {
            sh(self.as_owner("pg_ctl").arg("-D").arg(self.data()).args(["-m", "fast", "-w", "stop"]))?;
        }
        if !keep && self.dir.exists() {
            fs::remove_dir_all(&self.dir).with_context(|| format!("removing {}", self.dir.display()))?;
        }
        Ok(())
    }
}

impl Cluster {
    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// `pg_ctl` (or another server binary) as the user that owns the cluster.
    fn as_owner(&self, tool: &str) -> Command {
        let program = self.bin.join(tool);
        if apt::is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", OS_USER, "--"]).arg(program);
            c
        } else {
            Command::new(program)
        }
    }

    /// `initdb` with a password, a free port, loopback only, TLS on.
    fn create(&self) -> Result<()> {
        if self.dir.exists() {
            fs::remove_dir_all(&self.dir).with_context(|| format!("removing {}", self.dir.display()))?;
        }
        fs::create_dir_all(&self.dir).with_context(|| format!("creating {}", self.dir.display()))?;
        let password = password();
        let port = free_port()?;
        tls_files(&self.dir)?;
        let pwfile = self.dir.join("pwfile");
        fs::write(&pwfile, &password)?;
        self.chown()?;
        sh(self
            .as_owner("initdb")
            .arg("-D")
            .arg(self.data())
            .args(["-U", USER, "-E", "UTF8", "--locale=C", "--auth-local=trust", "--auth-host=scram-sha-256"])
            .arg(format!("--pwfile={}", pwfile.display())))?;
        fs::remove_file(&pwfile)?;
        let dir = self.dir.display();
        let settings = format!(
            "\n# cargo xtask postgres\nport = {port}\nlisten_addresses = '127.0.0.1'\n\
             unix_socket_directories = '{dir}'\nssl = on\nssl_cert_file = '{dir}/server.crt'\n\
             ssl_key_file = '{dir}/server.key'\nmax_connections = 200\n"
        );
        let conf = self.data().join("postgresql.conf");
        let mut text = fs::read_to_string(&conf)?;
        text.push_str(&settings);
        fs::write(&conf, text)?;
        let url = format!("postgres://{USER}:{password}@127.0.0.1:{port}/{DATABASE}");
        fs::write(self.dir.join("url"), url)?;
        Ok(())
    }

    /// As root: the directory becomes the server user's.
    fn chown(&self) -> Result<()> {
        if apt::is_root() {
            sh(Command::new("chown").args(["-R", &format!("{OS_USER}:{OS_USER}")]).arg(&self.dir))?;
        }
        Ok(())
    }

    fn url(&self) -> Result<String> {
        let path = self.dir.join("url");
        fs::read_to_string(&path)
            .with_context(|| format!("reading {} (is the cluster created?)", path.display()))
    }

    fn port(&self) -> Result<u16> {
        let url = self.url()?;
        let port =
            url.rsplit_once(':').and_then(|(_, tail)| tail.split('/').next()).and_then(|p| p.parse().ok());
        port.with_context(|| format!("no port in {}", self.dir.join("url").display()))
    }
}

/// The newest `/usr/lib/postgresql/<version>/bin` that has `initdb`.
fn bin_dir() -> Option<PathBuf> {
    let mut found: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, bin)| bin)
}

/// This checkout's cluster directory: in the temp directory (readable by the `postgres` user,
/// unlike a checkout under /root), named after the checkout so worktrees do not collide.
fn dir() -> PathBuf {
    let root = root().canonicalize().unwrap_or_else(|_| root());
    // FNV-1a: stable across builds, unlike std's hasher.
    let hash = root
        .as_os_str()
        .as_encoded_bytes()
        .iter()
        .fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3));
    std::env::temp_dir().join(format!("hearth-postgres-{:08x}", hash as u32))
}

/// A free loopback port (the OS picks one; it is free again once the listener is dropped).
fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A password that is different for each cluster (it only guards a throwaway server).
fn password() -> String {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    format!("pw{:x}{:x}", nanos, std::process::id())
}

/// A test CA (`ca.pem`) and the server's certificate for `localhost` and `127.0.0.1`
/// (`server.crt`, `server.key`), made with the openssl command.
fn tls_files(dir: &Path) -> Result<()> {
    fs::write(
        dir.join("ca.cnf"),
        "[req]\ndistinguished_name = dn\nx509_extensions = ext\nprompt = no\n[dn]\nCN = hearth test CA\n\
         [ext]\nbasicConstraints = critical,CA:TRUE\nkeyUsage = critical,keyCertSign,cRLSign\n\
         subjectKeyIdentifier = hash\n",
    )?;
    fs::write(
        dir.join("server.ext"),
        "subjectAltName = DNS:localhost,IP:127.0.0.1\nbasicConstraints = CA:FALSE\n\
         keyUsage = critical,digitalSignature\nextendedKeyUsage = serverAuth\nauthorityKeyIdentifier = keyid\n",
    )?;
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    let openssl = || {
        let mut c = Command::new("openssl");
        c.current_dir(dir);
        c
    };
    sh(openssl()
        .args(["req", "-x509", "-new"])
        .args(ec)
        .args(["-days", "30", "-config", "ca.cnf", "-keyout", "ca.key", "-out", "ca.pem"]))?;
    sh(openssl().args(["req", "-new"]).args(ec).args([
        "-subj",
        "/CN=localhost",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
    ]))?;
    sh(openssl().args([
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "30",
        "-extfile",
        "server.ext",
        "-out",
        "server.crt",
    ]))?;
    // PostgreSQL refuses a key that others can read.
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(dir.join("server.key"), fs::Permissions::from_mode(0o600))?;
    Ok(())
}
