//! Secrets out of everything the bridge stores, logs or shows of text that
//! came from outside: every configured secret (source tokens, ITOC360
//! tokens, page API keys, the audit password) and the value of any `token=`
//! or `unsubscribe=` URL parameter, wherever it sits; `meta.unsubscribe` of
//! a webhook body.
//!
//! [`mask`] is the one function every such path calls: an ITOC360 answer or
//! transport error before it is stored or logged, a status API error, each
//! log line, every value an audit page or JSON answer shows.

use std::sync::RwLock;

use serde_json::Value;

pub const REDACTED: &str = "[redacted]";

/// What a configured secret is replaced by.
pub const MASK: &str = "********";

/// Secrets shorter than this are not searched for in text: masking every
/// "ab" of a log line would garble it, and validation refuses tokens that
/// short anyway.
const MIN_SECRET_LEN: usize = 4;

/// The configured secrets of every configuration loaded in this process.
/// Global because the log writer needs it too; only ever grows.
static SECRETS: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// Adds secrets to those [`mask`] hides (empty and very short ones are
/// skipped). Called once a configuration is loaded.
pub fn remember(secrets: impl IntoIterator<Item = impl AsRef<str>>) {
    let mut known = SECRETS.write().unwrap_or_else(|e| e.into_inner());
    for s in secrets {
        let s = s.as_ref();
        if s.len() >= MIN_SECRET_LEN && !known.iter().any(|k| k == s) {
            known.push(s.to_owned());
        }
    }
    // Longest first, so a secret that contains another is masked whole.
    known.sort_by_key(|s| std::cmp::Reverse(s.len()));
}

/// Text from outside made safe to store, log or show: every configured
/// secret masked, then every secret URL parameter's value.
pub fn mask(text: &str) -> String {
    let known = SECRETS.read().unwrap_or_else(|e| e.into_inner());
    let hit = known.iter().any(|s| text.contains(s.as_str()));
    if !hit {
        return redact_text(text);
    }
    let mut out = text.to_owned();
    for s in known.iter() {
        if out.contains(s.as_str()) {
            out = out.replace(s.as_str(), MASK);
        }
    }
    redact_text(&out)
}

/// The shortest prefix of a secret that is masked where a cut ends the
/// text: a shorter one says too little to matter, and would mask ordinary
/// words.
const MIN_PREFIX_LEN: usize = 8;

/// Text from outside, masked (see [`mask`]) and then cut to `max_chars`
/// (with `…`): masking first, so a secret cut at the boundary is not left
/// half-visible; a cut that ends on the first 8 or more characters of a
/// secret masks them too.
pub fn mask_cut(text: &str, max_chars: usize) -> String {
    let masked = mask(text);
    let Some((cut_at, _)) = masked.char_indices().nth(max_chars) else {
        return masked;
    };
    let mut out = masked[..cut_at].to_owned();
    let known = SECRETS.read().unwrap_or_else(|e| e.into_inner());
    let tail_secret = known
        .iter()
        .flat_map(|s| {
            (MIN_PREFIX_LEN..s.len())
                .rev()
                .filter(|n| s.is_char_boundary(*n))
                .map(move |n| &s[..n])
        })
        .filter(|prefix| out.ends_with(prefix))
        .map(str::len)
        .max();
    if let Some(len) = tail_secret {
        out.truncate(out.len() - len);
        out.push_str(MASK);
    }
    out.push('…');
    out
}

/// One line of text as it may safely reach a log line: every hidden
/// character written out visibly (`\n`, `\u{1b}`, `\u{202e}`), so a value
/// cannot forge a line, move the cursor or reverse what follows.
pub fn printable(s: &str) -> std::borrow::Cow<'_, str> {
    visible(s, &[])
}

/// A line a command prints to the terminal, from text that came from
/// outside: masked (see [`mask`]), its hidden characters written out except
/// the tabs that separate its columns.
pub fn terminal_line(s: &str) -> String {
    visible(&mask(s), &['\t']).into_owned()
}

/// [`printable`] for text shown on a page, where line breaks and tabs are
/// part of the text (an update's body): only they stay as they are.
pub fn visible_on_page(s: &str) -> std::borrow::Cow<'_, str> {
    visible(s, &['\n', '\t', '\r'])
}

fn visible<'a>(s: &'a str, keep: &[char]) -> std::borrow::Cow<'a, str> {
    let shown = |c: char| keep.contains(&c) || !crate::rules::text::is_hidden(c);
    if s.chars().all(shown) {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match c {
            c if shown(c) => out.push(c),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Masks every string inside a JSON value, object keys included (see
/// [`mask`]).
pub fn mask_json(v: &mut Value) {
    match v {
        Value::String(s) => *s = mask(s),
        Value::Array(items) => items.iter_mut().for_each(mask_json),
        Value::Object(map) => {
            *map = std::mem::take(map)
                .into_iter()
                .map(|(k, mut v)| {
                    mask_json(&mut v);
                    (mask(&k), v)
                })
                .collect();
        }
        _ => {}
    }
}

/// URL parameters whose values are secrets.
const SECRET_PARAMS: [&str; 2] = ["token=", "unsubscribe="];

/// Masks the values of secret URL parameters in free text.
pub fn redact_text(s: &str) -> String {
    let lower = s.to_ascii_lowercase();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        let hit = SECRET_PARAMS
            .iter()
            .filter_map(|p| lower[i..].find(p).map(|at| (i + at, p.len())))
            .min_by_key(|(at, _)| *at);
        let Some((at, len)) = hit else {
            out.push_str(&s[i..]);
            break;
        };
        let value_start = at + len;
        out.push_str(&s[i..value_start]);
        let value_len = s[value_start..]
            .find(|c: char| {
                c == '&' || c == '#' || c == '"' || c == '\'' || c == '<' || c.is_whitespace()
            })
            .unwrap_or(s.len() - value_start);
        if value_len > 0 {
            out.push_str(REDACTED);
        }
        i = value_start + value_len;
    }
    out
}

/// Redacts a webhook body in place.
pub fn redact_json(v: &mut Value) {
    if let Some(meta) = v.get_mut("meta").and_then(Value::as_object_mut)
        && meta.contains_key("unsubscribe")
    {
        meta.insert("unsubscribe".into(), Value::String(REDACTED.into()));
    }
    mask_json(v);
}

/// A stored body for display: redacted, pretty JSON when it is JSON.
pub fn body_for_display(raw: &str) -> String {
    match serde_json::from_str::<Value>(raw) {
        Ok(mut v) => {
            redact_json(&mut v);
            serde_json::to_string_pretty(&v).unwrap_or_default()
        }
        Err(_) => mask(raw),
    }
}

/// A stored body as JSON for the API: redacted; a non-JSON body becomes a
/// string.
pub fn body_for_api(raw: &str) -> Value {
    match serde_json::from_str::<Value>(raw) {
        Ok(mut v) => {
            redact_json(&mut v);
            v
        }
        Err(_) => Value::String(mask(raw)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn text() {
        assert_eq!(
            redact_text("see https://x/?unsubscribe=abc123&x=1 and ?token=zz"),
            "see https://x/?unsubscribe=[redacted]&x=1 and ?token=[redacted]"
        );
        assert_eq!(redact_text("Token=AbC#frag"), "Token=[redacted]#frag");
        assert_eq!(redact_text("no secrets here"), "no secrets here");
        assert_eq!(redact_text("token="), "token=");
        // A value ends at the first character that cannot be in it.
        for end in ["&", "#", "\"", "'", "<", " ", "\n"] {
            assert_eq!(
                redact_text(&format!("?token=s3cret{end}rest")),
                format!("?token=[redacted]{end}rest"),
                "{end:?}"
            );
        }
        assert_eq!(
            redact_text("ünïcode token=é€ ok"),
            "ünïcode token=[redacted] ok"
        );
    }

    #[test]
    fn configured_secrets_are_masked() {
        remember([
            "itoc-secret-token-1",
            "",
            "ab",
            "itoc-secret-token-1-longer",
        ]);
        assert_eq!(
            mask("HTTP 401: bad Authorization: Bearer itoc-secret-token-1-longer!"),
            "HTTP 401: bad Authorization: Bearer ********!"
        );
        assert_eq!(
            mask("itoc-secret-token-1 and itoc-secret-token-1"),
            "******** and ********"
        );
        assert_eq!(mask("ab stays, so does abc"), "ab stays, so does abc");
        assert_eq!(mask("x?token=abc y"), "x?token=[redacted] y");
        let mut v = json!({"a": ["itoc-secret-token-1"], "b": {"c": "?unsubscribe=q"}, "n": 1,
                           "itoc-secret-token-1": {"x?token=k": 2}});
        mask_json(&mut v);
        assert_eq!(
            v,
            json!({"a": ["********"], "b": {"c": "?unsubscribe=[redacted]"}, "n": 1,
                   "********": {"x?token=[redacted]": 2}})
        );
    }

    #[test]
    fn a_cut_never_leaves_a_secret_or_its_start() {
        remember(["itoc-cut-secret-0123456789"]);
        let echoed = format!(
            "{}Authorization: Bearer itoc-cut-secret-0123456789 and so on",
            "x".repeat(260)
        );
        // Cut inside the secret: masking first hides it whole.
        let cut = mask_cut(&echoed, 300);
        assert!(!cut.contains("itoc-cut"), "{cut}");
        assert!(cut.contains("Bearer ********"), "{cut}");
        // A text that itself ends on the secret's first 8+ characters.
        let partial = format!("{}Bearer itoc-cut-secr and more", "y".repeat(281));
        let cut = mask_cut(&partial, 300);
        assert!(cut.ends_with("Bearer ********…"), "{cut}");
        // Shorter than 8 characters of it: left alone; short text: whole.
        let seven = mask_cut(&format!("{}itoc-cut-more", "z".repeat(293)), 300);
        assert!(seven.ends_with("itoc-cu…"), "{seven}");
        assert_eq!(mask_cut("short", 300), "short");
    }

    #[test]
    fn hidden_characters_are_written_out() {
        assert_eq!(
            printable("a\r\nfake=1 \u{1b}[31mred \u{202e}cba\u{200b}"),
            "a\\r\\nfake=1 \\u{1b}[31mred \\u{202e}cba\\u{200b}"
        );
        assert!(matches!(
            printable("plain ünïcode"),
            std::borrow::Cow::Borrowed(_)
        ));
        assert_eq!(visible_on_page("line\nnext\u{202e}"), "line\nnext\\u{202e}");
        assert_eq!(terminal_line("a\tb\u{1b}[2J\n"), "a\tb\\u{1b}[2J\\n");
    }

    #[test]
    fn json_bodies() {
        let mut v = json!({"meta": {"unsubscribe": "http://a/?unsubscribe=s3cret", "documentation": "d"},
                           "incident": {"name": "x", "incident_updates": [{"body": "call http://h/?token=t0k"}]}});
        redact_json(&mut v);
        let s = v.to_string();
        assert!(!s.contains("s3cret") && !s.contains("t0k"), "{s}");
        assert_eq!(v["meta"]["unsubscribe"], REDACTED);
        assert_eq!(v["meta"]["documentation"], "d");
        assert!(body_for_display("not json ?token=abc").ends_with("token=[redacted]"));
    }
}
