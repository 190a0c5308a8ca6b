//! `cargo xtask deploy-check`: runs the commands of `deploy/oracle-free-tier.md` as written.
//!
//! Every ```` ```sh ```` block of the guide is run in order by one bash (`set -euo pipefail`);
//! ```` ```sh no-ci ```` blocks are skipped (building on a laptop, `scp`, installing
//! Tailscale, `journalctl`). The bash runs as root in a private mount namespace
//! (`unshare --mount`) whose `/etc`, `/usr/local` and `/var/lib` are overlays on throwaway
//! folders under `target/deploy-check`, so `useradd`, `install` and the unit file change
//! nothing on the machine. What a container lacks has stand-ins first on `PATH`:
//!
//! - `sudo [-u USER] [VAR=value ...] CMD`: runs CMD (as USER through `runuser`);
//! - `tailscale ip -4`: prints 127.0.0.1 (the private address becomes loopback);
//! - `systemctl daemon-reload` does nothing; `systemctl enable --now UNIT` starts the unit's
//!   `ExecStart` as its `User=`, with its `EnvironmentFile=`, `Environment=`,
//!   `StateDirectory=` and `WorkingDirectory=`, in the background (stopped at the end).
//!
//! The binary installed is the host's release build (x86_64); the aarch64 binary is checked
//! by `cargo xtask aarch64-e2e`. `ANTHROPIC_API_KEY` is a placeholder (the guide's check
//! request names the local model, so nothing goes upstream). After the run, the output must
//! hold the schema-following answer, the 401 without the key, and the ledger report's row.

use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail, ensure};
use serde_json::Value;

use crate::util::root;

/// The guide.
const GUIDE: &str = "deploy/oracle-free-tier.md";

/// Arguments of `deploy-check`.
#[derive(clap::Args)]
pub struct Args {}

/// The `sh` blocks CI runs, in order (`sh no-ci` blocks left out).
fn ci_blocks(markdown: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    // Inside a fence: whether CI runs it, and its lines so far.
    let mut current: Option<(bool, String)> = None;
    for line in markdown.lines() {
        match (&mut current, line.trim_start().strip_prefix("```")) {
            (None, Some(info)) => current = Some((info.trim() == "sh", String::new())),
            (Some((run, block)), Some(_)) => {
                if *run {
                    blocks.push(std::mem::take(block));
                }
                current = None;
            }
            (Some((_, block)), None) => {
                block.push_str(line);
                block.push('\n');
            }
            (None, None) => {}
        }
    }
    blocks
}

const SUDO: &str = r#"#!/bin/sh
# deploy-check stand-in: run as root already; -u USER through runuser.
if [ "$1" = "-u" ]; then user=$2; shift 2; exec runuser -u "$user" -- env "$@"; fi
exec env "$@"
"#;

const TAILSCALE: &str = r#"#!/bin/sh
# deploy-check stand-in: the private address is loopback here.
if [ "$*" = "ip -4" ]; then echo 127.0.0.1; exit 0; fi
echo "tailscale stand-in: only 'tailscale ip -4' is emulated, not '$*'" >&2
exit 1
"#;

const SYSTEMCTL: &str = r#"#!/bin/bash
# deploy-check stand-in for systemctl: no systemd in the sandbox.
set -euo pipefail
case "$*" in
  daemon-reload) exit 0 ;;
  "enable --now "*)
    unit=/etc/systemd/system/${3%.service}.service
    get() { sed -n "s/^$1=//p" "$unit"; }
    user=$(get User); group=$(get Group); state=$(get StateDirectory)
    if [ -n "$state" ]; then install -d -m "$(get StateDirectoryMode)" -o "$user" -g "$group" "/var/lib/$state"; fi
    (
      set -a; . "$(get EnvironmentFile)"; set +a
      while IFS= read -r kv; do [ -n "$kv" ] && export "$kv"; done <<< "$(get Environment)"
      cd "$(get WorkingDirectory)"
      umask "$(get UMask)"
      exec setsid runuser -u "$user" -- $(get ExecStart)
    ) >"$DEPLOY_CHECK/service.log" 2>&1 &
    echo $! >"$DEPLOY_CHECK/service.pid"
    echo "systemctl stand-in: started $unit's ExecStart as $user (pid $!)" ;;
  *) echo "systemctl stand-in: '$*' is not emulated" >&2; exit 1 ;;
esac
"#;

/// Runs the guide; fails unless every block succeeds and the output shows the checks.
pub fn run(_args: Args) -> Result<()> {
    if !cfg!(target_os = "linux") {
        bail!("deploy-check needs Linux (mount namespaces, overlayfs)");
    }
    let guide = std::fs::read_to_string(root().join(GUIDE)).with_context(|| format!("reading {GUIDE}"))?;
    let blocks = ci_blocks(&guide);
    ensure!(blocks.len() >= 6, "{GUIDE}: only {} sh blocks", blocks.len());

    // What the guide's commands use beyond coreutils and util-linux (unshare, runuser).
    crate::apt::install(&["curl", "systemd", "passwd"], false)?;
    let bin = crate::util::test_bins()?.join("hearth");

    let dir = crate::dist::target_dir().join("deploy-check");
    if dir.exists() {
        std::fs::remove_dir_all(&dir).with_context(|| format!("clearing {}", dir.display()))?;
    }
    let (home, standins) = (dir.join("home"), dir.join("bin"));
    for d in [&home, &standins] {
        std::fs::create_dir_all(d)?;
    }
    // What step 1's scp leaves in the home folder.
    std::fs::copy(&bin, home.join("hearth"))?;
    for f in ["hearth.toml", "hearth.service"] {
        std::fs::copy(root().join("deploy/oracle-free-tier").join(f), home.join(f))?;
    }
    for (name, text) in [("sudo", SUDO), ("tailscale", TAILSCALE), ("systemctl", SYSTEMCTL)] {
        executable(&standins.join(name), text)?;
    }

    let mut script = String::from("set -euo pipefail\n");
    for d in ["etc", "usr/local", "var/lib"] {
        let o = dir.join("overlay").join(d.replace('/', "-"));
        script.push_str(&format!(
            "mkdir -p {u} {w} && mount -t overlay overlay -o lowerdir=/{d},upperdir={u},workdir={w} /{d}\n",
            u = o.join("upper").display(),
            w = o.join("work").display(),
        ));
    }
    script.push_str(&format!(
        "export PATH={}:/usr/local/bin:$PATH DEPLOY_CHECK={} ANTHROPIC_API_KEY=sk-ant-deploy-check-placeholder\n",
        standins.display(),
        dir.display()
    ));
    script.push_str("unset HEARTH_API_KEY HEARTH_HOST HEARTH_MODELS HEARTH_LOG\n");
    script.push_str(&format!(
        "stop() {{ if [ -f {p} ]; then kill -- -$(cat {p}) 2>/dev/null || true; sleep 1; fi; }}\ntrap stop EXIT\n",
        p = dir.join("service.pid").display()
    ));
    script.push_str(&format!("cd {}\n", home.display()));
    for (i, block) in blocks.iter().enumerate() {
        script.push_str(&format!("echo '--- {GUIDE}, block {}'\nset -x\n{block}set +x\n", i + 1));
    }
    let script_path = dir.join("guide.sh");
    std::fs::write(&script_path, &script)?;

    eprintln!("$ unshare --mount --propagation private bash {}", script_path.display());
    let out = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "bash"])
        .arg(&script_path)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .context("running unshare (util-linux; needs root)")?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    print!("{stdout}");
    if !out.status.success() {
        let log = std::fs::read_to_string(dir.join("service.log")).unwrap_or_default();
        bail!("{GUIDE}: a command failed ({}); the service's log:\n{log}", out.status);
    }
    check_output(&stdout)
}

/// The guide's checks, read off its output.
fn check_output(stdout: &str) -> Result<()> {
    let reply = stdout
        .lines()
        .find_map(|l| serde_json::from_str::<Value>(l).ok().filter(|v| v.get("choices").is_some()))
        .context("no chat completion in the output")?;
    let content = reply["choices"][0]["message"]["content"].as_str().context("no content")?;
    let answer: Value =
        serde_json::from_str(content).with_context(|| format!("content is not JSON: {content}"))?;
    ensure!(
        matches!(answer["sentiment"].as_str(), Some("positive" | "negative")),
        "the answer does not follow the schema: {content}"
    );
    ensure!(
        stdout.contains("without the key: HTTP 401"),
        "the request without the key was not refused with 401"
    );
    ensure!(
        stdout.lines().any(|l| l.starts_with("TOTAL") && l.split_whitespace().nth(1) == Some("1")),
        "the ledger report does not show the one call"
    );
    println!(
        "deploy-check: {GUIDE} ran as written: answer {content}, 401 without the key, the call in the report"
    );
    Ok(())
}

fn executable(path: &Path, text: &str) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_sh_blocks_are_run() {
        let md = "text\n```sh\na\nb\n```\n```sh no-ci\nc\n```\n```toml\nd\n```\n  ```sh\ne\n  ```\n";
        assert_eq!(ci_blocks(md), ["a\nb\n", "e\n"]);
    }

    #[test]
    fn the_guide_has_its_steps() {
        let guide = std::fs::read_to_string(root().join(GUIDE)).unwrap();
        let all = ci_blocks(&guide).concat();
        for step in [
            "useradd",
            "hearth pull",
            "systemd-analyze verify",
            "systemctl enable --now",
            "curl",
            "hearth report",
        ] {
            assert!(all.contains(step), "{step} is not run by CI");
        }
    }
}
