//! Tool names and globs over them, as tool policies list them: `*` stands for any run of
//! characters and `?` for one. A glob is matched by the `regex` crate as an anchored
//! expression in which everything but `*` and `?` is escaped, so no other character has a
//! meaning.

use std::fmt;

use regex::Regex;

/// The longest pattern (and tool name) accepted.
pub const MAX_PATTERN_LEN: usize = 128;

/// A tool name, or a glob over tool names.
#[derive(Clone)]
pub struct ToolPattern {
    text: Box<str>,
    glob: Option<Regex>,
}

/// Text that is not a usable tool pattern.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "must be a tool name or a glob (`*`, `?`) of 1 to {MAX_PATTERN_LEN} characters without spaces"
)]
pub struct InvalidPattern;

impl ToolPattern {
    /// Reads `text`: an exact name unless it holds `*` or `?`.
    pub fn parse(text: &str) -> Result<Self, InvalidPattern> {
        let usable = (1..=MAX_PATTERN_LEN).contains(&text.chars().count())
            && !text.chars().any(|c| c.is_whitespace() || c.is_control());
        if !usable {
            return Err(InvalidPattern);
        }
        let glob = text.contains(['*', '?']).then(|| {
            let mut expression = String::with_capacity(text.len() + 8);
            expression.push('^');
            for c in text.chars() {
                match c {
                    '*' => expression.push_str(".*"),
                    '?' => expression.push('.'),
                    other => expression.push_str(&regex::escape(other.encode_utf8(&mut [0; 4]))),
                }
            }
            expression.push('$');
            Regex::new(&expression).expect("an escaped glob is a valid expression")
        });
        Ok(Self {
            text: text.into(),
            glob,
        })
    }

    /// Whether the tool `name` matches.
    pub fn matches(&self, name: &str) -> bool {
        match &self.glob {
            Some(glob) => glob.is_match(name),
            None => &*self.text == name,
        }
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Debug for ToolPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ToolPattern({})", self.text)
    }
}

impl PartialEq for ToolPattern {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl Eq for ToolPattern {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_exactly_and_globs_by_star_and_question_mark() {
        let exact = ToolPattern::parse("files.read").unwrap();
        assert!(exact.matches("files.read"));
        assert!(!exact.matches("filesXread"), "a dot is only a dot");
        let star = ToolPattern::parse("*_delete").unwrap();
        assert!(star.matches("repo_delete") && star.matches("_delete"));
        assert!(!star.matches("repo_delete_all"));
        let one = ToolPattern::parse("get_?").unwrap();
        assert!(one.matches("get_x") && !one.matches("get_xy"));
        let brackets = ToolPattern::parse("a[b]+(c)|d").unwrap();
        assert!(brackets.matches("a[b]+(c)|d") && !brackets.matches("ab"));
    }

    #[test]
    fn empty_long_or_spaced_patterns_are_refused() {
        for bad in ["", "a b", "tab\there", &"x".repeat(MAX_PATTERN_LEN + 1)] {
            assert_eq!(ToolPattern::parse(bad), Err(InvalidPattern), "{bad:?}");
        }
    }
}
