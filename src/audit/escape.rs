//! The templates' escaper: every value a page shows is masked (configured
//! secrets, `token=` and `unsubscribe=` values: `crate::redact::mask`) and
//! then HTML-escaped, so no template can forget either.

use std::fmt::{self, Write};

/// Registered for `.html` templates in `askama.toml`.
#[derive(Debug, Clone, Copy, Default)]
pub struct MaskedHtml;

impl askama::filters::Escaper for MaskedHtml {
    fn write_escaped_str<W: Write>(&self, dest: W, string: &str) -> fmt::Result {
        askama::filters::Html.write_escaped_str(dest, &crate::redact::mask(string))
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
    }
}
