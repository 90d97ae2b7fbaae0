//! What text from outside may hide: characters that change how the text
//! around them reads without showing themselves.

/// Controls (CR, LF, ESC …), bidirectional marks, overrides and isolates,
/// and zero-width characters.
pub fn is_hidden(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061C}'
                | '\u{180E}'
                | '\u{200B}'..='\u{200F}'
                | '\u{2028}'..='\u{202E}'
                | '\u{2060}'..='\u{2069}'
                | '\u{FEFF}'
        )
}

/// Whether `s` shows anything: some character that is neither white space
/// nor hidden.
pub fn shows_something(s: &str) -> bool {
    s.chars().any(|c| !c.is_whitespace() && !is_hidden(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hidden_and_visible() {
        for c in [
            '\n', '\r', '\u{1b}', '\u{202e}', '\u{200b}', '\u{feff}', '\u{2066}',
        ] {
            assert!(is_hidden(c), "{c:?}");
        }
        for c in ['a', 'é', ' ', '€', '\u{2070}'] {
            assert!(!is_hidden(c), "{c:?}");
        }
        assert!(!shows_something(" \u{200b}\u{202e} \t"));
        assert!(shows_something("\u{200b}x"));
    }
}
