//! Tags from Hugging Face's Jinja extensions that minijinja does not parse.
//!
//! `{% generation %}...{% endgeneration %}` (HF's `AssistantTracker`, used by Kimi K2 and
//! others) marks the assistant's tokens for training masks; for rendering it is a plain block
//! whose body is output. It is rewritten to `{% if true %}...{% endif %}`, keeping the tag's
//! whitespace-control markers (`{%-`, `-%}`) so trimming is unchanged.

/// `source` with HF-only block tags replaced by equivalents minijinja understands.
pub(crate) fn rewrite(source: &str) -> String {
    let mut out = String::with_capacity(source.len());
    let mut rest = source;
    while let Some(start) = rest.find("{%") {
        out.push_str(&rest[..start]);
        let tag = &rest[start..];
        match rewrite_tag(tag) {
            Some((replacement, consumed)) => {
                out.push_str(&replacement);
                rest = &tag[consumed..];
            }
            None => {
                out.push_str("{%");
                rest = &tag[2..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// For a `tag` starting with `{%` that is `{%[-+] (end)generation [-+]%}`, the rewritten tag
/// and the number of bytes it replaces.
fn rewrite_tag(tag: &str) -> Option<(String, usize)> {
    let body = &tag[2..];
    let (open_ws, body) = split_marker(body);
    let trimmed = body.trim_start();
    let (keyword, after) = if let Some(after) = trimmed.strip_prefix("endgeneration") {
        ("endif", after)
    } else if let Some(after) = trimmed.strip_prefix("generation") {
        ("if true", after)
    } else {
        return None;
    };
    let after_ws = after.trim_start();
    let close_ws = match after_ws.as_bytes().first() {
        Some(b'-') => "-",
        Some(b'+') => "+",
        _ => "",
    };
    let after_marker = &after_ws[close_ws.len()..];
    // A keyword followed by more text (`{% generation_x %}`) is some other tag: no `%}`.
    let end = after_marker.strip_prefix("%}")?;
    let consumed = tag.len() - end.len();
    Some((format!("{{%{open_ws} {keyword} {close_ws}%}}"), consumed))
}

/// Splits a leading `-` or `+` whitespace-control marker off `s`.
fn split_marker(s: &str) -> (&str, &str) {
    match s.as_bytes().first() {
        Some(b'-') => ("-", &s[1..]),
        Some(b'+') => ("+", &s[1..]),
        _ => ("", s),
    }
}

#[cfg(test)]
mod tests {
    use super::rewrite;

    #[test]
    fn generation_blocks_become_if_true() {
        assert_eq!(rewrite("a{%- generation %}b{% endgeneration -%}c"), "a{%- if true %}b{% endif -%}c");
        assert_eq!(rewrite("{%generation%}x{%endgeneration%}"), "{% if true %}x{% endif %}");
    }

    #[test]
    fn other_tags_are_untouched() {
        let src = "{% if generation_prompt %}{{ '{%' }}{% endif %}{% set generationx = 1 %}";
        assert_eq!(rewrite(src), src);
    }
}
