//! `python_tests`: an answer's code and its tests run in a Python subprocess, in a fresh temp
//! directory, with a time limit.
//!
//! The harness (written next to the program) installs, before the program runs: resource
//! limits (address space, file size, CPU seconds), and an audit hook (PEP 578) that refuses
//! opening a file for writing outside the temp directory, deleting, renaming or creating
//! anything outside it, starting processes, forking, loading native code through `ctypes`
//! and opening network connections. The program runs with the temp directory as its working
//! and home directory, an empty environment (`PATH` aside) and `python3 -I` (no user site,
//! no `PYTHON*` variables). Past the time limit the process is killed.
//!
//! This is the guard HumanEval's own harness and most code evals use: enough to keep a
//! model's code from damaging the box by accident; it is not a security boundary against
//! hostile code (run untrusted suites in a container).

use std::fs;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The default time limit.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// How a test run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The program and its tests ran to the end with exit status 0.
    Passed,
    /// They failed: the last line of the error output (the exception), or the exit status.
    Failed(String),
    /// Killed at the time limit.
    TimedOut,
}

/// The interpreter and its limits.
#[derive(Debug, Clone)]
pub struct Sandbox {
    /// The Python interpreter (default `python3`; `HEARTH_PYTHON` overrides).
    pub python: PathBuf,
    /// Address space limit in bytes.
    pub memory_bytes: u64,
}

impl Default for Sandbox {
    fn default() -> Self {
        let python =
            std::env::var_os("HEARTH_PYTHON").filter(|p| !p.is_empty()).unwrap_or_else(|| "python3".into());
        Sandbox { python: PathBuf::from(python), memory_bytes: 2 << 30 }
    }
}

/// Why tests could not be run at all (not a failed test).
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// The temp directory or its files could not be made.
    #[error("cannot prepare the sandbox: {0}")]
    Io(#[from] std::io::Error),
    /// The interpreter cannot be started.
    #[error("cannot start {python}: {source} (install Python 3.8+ or set HEARTH_PYTHON)")]
    NoPython {
        /// The interpreter tried.
        python: String,
        /// Why.
        source: std::io::Error,
    },
}

const HARNESS: &str = r#"
import os, sys, resource
ROOT = os.path.realpath(sys.argv[1])
MEM, CPU = int(sys.argv[2]), int(sys.argv[3])
for lim, val in ((resource.RLIMIT_AS, MEM), (resource.RLIMIT_FSIZE, 16 << 20), (resource.RLIMIT_CPU, CPU)):
    try:
        resource.setrlimit(lim, (val, val))
    except (ValueError, OSError):
        pass
with open(os.path.join(ROOT, "program.py"), encoding="utf-8") as f:
    SOURCE = f.read()

def _inside(path):
    if isinstance(path, int):
        return True
    try:
        p = os.fsdecode(path)
    except TypeError:
        return False
    real = os.path.realpath(os.path.join(ROOT, p))
    return real == ROOT or real.startswith(ROOT + os.sep)

_WRITE = os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_TRUNC
_PATH_EVENTS = {"os.remove", "os.rmdir", "os.mkdir", "os.chmod", "os.chown", "os.truncate", "os.utime",
                "os.chdir", "shutil.rmtree", "shutil.copyfile", "shutil.copymode", "shutil.copystat",
                "shutil.copytree", "shutil.move", "shutil.chown"}
_TWO_PATHS = {"os.rename", "os.link", "os.symlink"}
_NEVER = {"os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork", "os.forkpty", "os.kill",
          "os.killpg", "subprocess.Popen", "socket.connect", "socket.bind", "socket.sendto",
          "ctypes.dlopen", "ctypes.dlsym", "ctypes.call_function", "os.startfile", "pty.spawn",
          "os.putenv", "os.unsetenv", "sys.unraisablehook"}

def _hook(event, args):
    if event == "open":
        path, mode, flags = args
        writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
            isinstance(flags, int) and flags & _WRITE)
        if writing and not _inside(path):
            raise PermissionError("sandbox: writing outside the temp directory: %r" % (path,))
    elif event in _PATH_EVENTS:
        if args and not _inside(args[0]):
            raise PermissionError("sandbox: %s outside the temp directory" % event)
    elif event in _TWO_PATHS:
        if not all(_inside(a) for a in args[:2]):
            raise PermissionError("sandbox: %s outside the temp directory" % event)
    elif event in _NEVER:
        raise PermissionError("sandbox: %s is not allowed" % event)
    elif event == "import" and args and args[0] in ("ctypes", "_ctypes", "_posixsubprocess", "multiprocessing"):
        raise PermissionError("sandbox: import of %s is not allowed" % args[0])

sys.addaudithook(_hook)
del _hook
namespace = {"__name__": "__main__", "__builtins__": __builtins__}
exec(compile(SOURCE, "program.py", "exec"), namespace)
"#;

impl Sandbox {
    /// Runs `program` then `tests` (one file, in that order) within `timeout`.
    pub fn run(&self, program: &str, tests: &str, timeout: Duration) -> Result<Outcome, SandboxError> {
        let dir = tempfile::Builder::new().prefix("hearth-eval-py").tempdir()?;
        let root = dir.path().canonicalize()?;
        fs::write(root.join("program.py"), format!("{program}\n\n{tests}\n"))?;
        let harness = root.join("harness.py");
        fs::write(&harness, HARNESS)?;
        let out = fs::File::create(root.join("stdout.txt"))?;
        let err_path = root.join("stderr.txt");
        let err = fs::File::create(&err_path)?;
        let cpu = timeout.as_secs().saturating_add(1).to_string();
        let mut child = Command::new(&self.python)
            .arg("-I")
            .arg("-B")
            .arg(&harness)
            .arg(&root)
            .arg(self.memory_bytes.to_string())
            .arg(cpu)
            .current_dir(&root)
            .env_clear()
            .env("PATH", "/usr/local/bin:/usr/bin:/bin")
            .env("HOME", &root)
            .env("TMPDIR", &root)
            .env("PYTHONHASHSEED", "0")
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|source| SandboxError::NoPython { python: self.python.display().to_string(), source })?;
        let deadline = Instant::now() + timeout;
        let status = loop {
            if let Some(status) = child.try_wait()? {
                break Some(status);
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        let Some(status) = status else {
            return Ok(Outcome::TimedOut);
        };
        if status.success() {
            return Ok(Outcome::Passed);
        }
        let stderr = fs::read_to_string(&err_path).unwrap_or_default();
        let last = stderr.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("").trim();
        let why =
            if last.is_empty() { format!("exit status {status}") } else { last.chars().take(300).collect() };
        Ok(Outcome::Failed(why))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(program: &str, tests: &str) -> Outcome {
        Sandbox::default().run(program, tests, Duration::from_secs(5)).expect("python3 runs")
    }

    #[test]
    fn passing_and_failing_tests() {
        assert_eq!(run("def add(a, b):\n    return a + b", "assert add(2, 3) == 5"), Outcome::Passed);
        let Outcome::Failed(why) = run("def add(a, b):\n    return a - b", "assert add(2, 3) == 5") else {
            panic!()
        };
        assert!(why.contains("AssertionError"), "{why}");
        let Outcome::Failed(why) = run("def add(a, b)\n    return a + b", "") else { panic!() };
        assert!(why.contains("SyntaxError"), "{why}");
    }

    #[test]
    fn a_loop_is_killed_at_the_limit() {
        let t0 = Instant::now();
        let outcome =
            Sandbox::default().run("while True:\n    pass", "", Duration::from_millis(500)).unwrap();
        assert_eq!(outcome, Outcome::TimedOut);
        assert!(t0.elapsed() < Duration::from_secs(4), "{:?}", t0.elapsed());
    }

    #[test]
    fn code_cannot_write_outside_its_temp_dir_nor_start_processes() {
        let outside = tempfile::tempdir().unwrap();
        let target = outside.path().join("pwned.txt");
        let keep = outside.path().join("keep.txt");
        fs::write(&keep, "data").unwrap();
        let attempts = [
            format!("open({:?}, 'w').write('x')", target.display().to_string()),
            format!("import os\nos.open({:?}, os.O_WRONLY | os.O_CREAT)", target.display().to_string()),
            format!("import os\nos.remove({:?})", keep.display().to_string()),
            format!("import os\nos.rename({:?}, 'here.txt')", keep.display().to_string()),
            format!("import shutil\nshutil.rmtree({:?})", outside.path().display().to_string()),
            format!("import os\nos.system('touch {}')", target.display()),
            format!("import subprocess\nsubprocess.run(['touch', {:?}])", target.display().to_string()),
            "import ctypes".to_owned(),
            "import socket\nsocket.create_connection(('127.0.0.1', 9))".to_owned(),
        ];
        for code in &attempts {
            let outcome = run(code, "");
            assert!(
                matches!(&outcome, Outcome::Failed(why) if why.contains("PermissionError")),
                "{code}: {outcome:?}"
            );
        }
        assert!(!target.exists());
        assert_eq!(fs::read_to_string(&keep).unwrap(), "data");
        // Inside its own directory it may write and read back.
        let ok = "open('scratch.txt', 'w').write('x')\nassert open('scratch.txt').read() == 'x'";
        assert_eq!(run(ok, ""), Outcome::Passed);
    }
}
