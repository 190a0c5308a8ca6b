//! Errors of the hub: each says what to do next.

use std::path::PathBuf;

/// What went wrong finding or fetching a model.
#[derive(Debug, thiserror::Error)]
#[allow(missing_docs)]
pub enum HubError {
    #[error(
        "'{name}' is neither a file nor a model in the catalog; known models: {known}. Pass a path to a .gguf file or one of those names"
    )]
    UnknownModel { name: String, known: String },
    #[error("model catalog is invalid: {0}")]
    Catalog(String),
    #[error("{host} is unreachable: {message}")]
    Unreachable { host: String, message: String },
    #[error("{what}: HTTP request to {url} failed: {message}")]
    Http { what: String, url: String, message: String },
    #[error(
        "{what}: sha256 {got} does not match the pinned {expected}; the download was corrupt or the file changed upstream"
    )]
    Sha { what: String, got: String, expected: String },
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{what}: {message}")]
    Archive { what: String, message: String },
    #[error("could not fetch '{name}' from any source:\n{tried}")]
    NoSource { name: String, tried: String },
    #[error("model '{name}' is not in the store ({path}); run `hearth pull {name}` first")]
    NotPulled { name: String, path: PathBuf },
}

pub(crate) trait IoContext<T> {
    fn at(self, path: &std::path::Path) -> Result<T, HubError>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn at(self, path: &std::path::Path) -> Result<T, HubError> {
        self.map_err(|source| HubError::Io { path: path.to_path_buf(), source })
    }
}
