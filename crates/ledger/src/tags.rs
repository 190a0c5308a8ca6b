//! A call's tags, gathered from what the client sent: the request's `metadata` object, its
//! `user` field and `X-Hearth-Tag-<Name>` headers (`X-Hearth-Tag-Feature: invoices` → tag
//! `feature` = `invoices`). Later sources win on the same key: metadata, then `user`, then
//! headers. Pure: the server passes the values it parsed.

use std::collections::BTreeMap;

/// The header prefix, compared case-insensitively.
pub const TAG_HEADER_PREFIX: &str = "x-hearth-tag-";

/// Longest tag key and value kept, in bytes (longer ones are cut at a character boundary), so
/// a hostile client cannot grow the ledger by megabytes per row.
pub const MAX_TAG_LEN: usize = 256;
/// Most tags kept per call (the first ones by source order, then key order).
pub const MAX_TAGS: usize = 32;

fn cut(s: &str) -> String {
    let mut end = s.len().min(MAX_TAG_LEN);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_owned()
}

/// The tags of a request. `metadata`: the request's `metadata` object (string values as they
/// are, other values as JSON text); `user`: its `user` field; `headers`: every header as
/// (name, value) — only `X-Hearth-Tag-*` ones are used, their suffix lower-cased.
pub fn collect<'a>(
    metadata: Option<&serde_json::Map<String, serde_json::Value>>,
    user: Option<&str>,
    headers: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> BTreeMap<String, String> {
    let mut tags = BTreeMap::new();
    let mut put = |k: &str, v: String| {
        if k.is_empty() || (tags.len() >= MAX_TAGS && !tags.contains_key(&cut(k))) {
            return;
        }
        tags.insert(cut(k), cut(&v));
    };
    for (k, v) in metadata.into_iter().flatten() {
        let v = match v {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        put(k, v);
    }
    if let Some(user) = user {
        put("user", user.to_owned());
    }
    for (name, value) in headers {
        let lower = name.to_ascii_lowercase();
        if let Some(key) = lower.strip_prefix(TAG_HEADER_PREFIX) {
            put(key, value.to_owned());
        }
    }
    tags
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_user_and_headers_merge_with_headers_last() {
        let meta = serde_json::json!({"feature": "search", "tier": 3, "team": "a"});
        let tags = collect(
            meta.as_object(),
            Some("u-1"),
            [
                ("X-Hearth-Tag-Feature", "invoices"),
                ("Content-Type", "application/json"),
                ("x-hearth-tag-Env", "prod"),
            ],
        );
        let want: BTreeMap<String, String> =
            [("env", "prod"), ("feature", "invoices"), ("team", "a"), ("tier", "3"), ("user", "u-1")]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect();
        assert_eq!(tags, want);
    }

    #[test]
    fn hostile_sizes_are_bounded() {
        let long = "é".repeat(1000);
        let headers: Vec<(String, String)> =
            (0..100).map(|i| (format!("X-Hearth-Tag-k{i:03}"), long.clone())).collect();
        let tags = collect(None, Some(&long), headers.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        assert_eq!(tags.len(), MAX_TAGS);
        assert!(tags.values().all(|v| v.len() <= MAX_TAG_LEN && v.chars().all(|c| c == 'é')));
        assert!(collect(None, None, [("X-Hearth-Tag-", "empty key")]).is_empty());
    }
}
