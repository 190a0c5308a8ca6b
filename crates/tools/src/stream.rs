//! Streaming a tool-enabled generation: text can be sent as it comes, a call only once it is
//! complete. [`CallDetector`] watches the output's start and says which it is.

use crate::CallSyntax;

/// What the output is, as far as its start shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Opening {
    /// Only whitespace or a prefix of the call opener so far: hold it back.
    Undecided,
    /// Text: send it (the grammar lets no call follow).
    Text,
    /// A call: hold everything until the output is complete, then [`crate::parse`] it.
    Call,
}

/// Reads a streamed output's pieces and releases those that are text.
#[derive(Clone, Debug)]
pub struct CallDetector {
    opener: &'static str,
    text: String,
    sent: usize,
    state: Opening,
}

impl CallDetector {
    /// A detector for `syntax`'s calls (`<tool_call>`; `{` for the JSON syntaxes).
    pub fn new(syntax: CallSyntax) -> CallDetector {
        let opener = match syntax {
            CallSyntax::Hermes => "<tool_call>",
            CallSyntax::Llama3 | CallSyntax::Json => "{",
        };
        CallDetector { opener, text: String::new(), sent: 0, state: Opening::Undecided }
    }

    /// Adds the next piece; returns the text to send now (empty while undecided or in a call).
    pub fn push(&mut self, piece: &str) -> &str {
        self.text.push_str(piece);
        if self.state == Opening::Undecided {
            let start = self.text.trim_start();
            self.state = if start.starts_with(self.opener) {
                Opening::Call
            } else if start.is_empty() || self.opener.starts_with(start) {
                Opening::Undecided
            } else {
                Opening::Text
            };
        }
        if self.state != Opening::Text {
            return "";
        }
        let from = self.sent;
        self.sent = self.text.len();
        &self.text[from..]
    }

    /// What the output is so far.
    pub fn opening(&self) -> Opening {
        self.state
    }

    /// The whole output so far.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The text held back and not sent (everything unless it turned out to be text).
    pub fn unsent(&self) -> &str {
        &self.text[self.sent..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_flows_and_calls_are_held() {
        let mut d = CallDetector::new(CallSyntax::Hermes);
        assert_eq!(d.push("\n"), "");
        assert_eq!(d.push("<tool"), "");
        assert_eq!(d.opening(), Opening::Undecided);
        assert_eq!(d.push("_call>\n{\"name\""), "");
        assert_eq!(d.opening(), Opening::Call);
        assert_eq!(d.unsent(), "\n<tool_call>\n{\"name\"");

        let mut d = CallDetector::new(CallSyntax::Hermes);
        assert_eq!(d.push("<t"), "");
        assert_eq!(d.push("able>"), "<table>");
        assert_eq!(d.push(" ok"), " ok");
        assert_eq!((d.opening(), d.unsent(), d.text()), (Opening::Text, "", "<table> ok"));

        let mut d = CallDetector::new(CallSyntax::Json);
        assert_eq!(d.push(" "), "");
        assert_eq!(d.push("Hi"), " Hi");
        let mut d = CallDetector::new(CallSyntax::Json);
        d.push(" {\"tool_calls\"");
        assert_eq!(d.opening(), Opening::Call);
    }
}
