//! The templates' escaper: every value a page shows is masked (configured
//! secrets, `token=` and `unsubscribe=` values: `crate::redact::mask`) and
//! and its hidden characters (controls, bidirectional overrides,
//! zero-width characters) written out visibly (`\u{202e}`), then
//! HTML-escaped, so no template can forget any of it.

use std::fmt::{self, Write};

/// Registered for `.html` templates in `askama.toml`.
#[derive(Debug, Clone, Copy, Default)]
pub struct MaskedHtml;

impl askama::filters::Escaper for MaskedHtml {
    fn write_escaped_str<W: Write>(&self, dest: W, string: &str) -> fmt::Result {
        let masked = crate::redact::mask(string);
        askama::filters::Html.write_escaped_str(dest, &crate::redact::visible_on_page(&masked))
    }
}

#[cfg(test)]
mod tests {
    use askama::filters::Escaper;

    use super::*;

    #[test]
    fn masks_then_escapes() {
        let mut out = String::new();
        MaskedHtml
            .write_escaped_str(&mut out, "<b>https://x/?token=s3cret&a=1</b>")
            .unwrap();
        assert_eq!(
            out,
            "&#60;b&#62;https://x/?token=[redacted]&#38;a=1&#60;/b&#62;"
        );
        let mut out = String::new();
        MaskedHtml
            .write_escaped_str(&mut out, "txt.\u{202e}exe\u{200b}\nnext")
            .unwrap();
        assert_eq!(out, "txt.\\u{202e}exe\\u{200b}\nnext");
    }
}
