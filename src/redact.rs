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

/// Masks every string inside a JSON value (see [`mask`]).
pub fn mask_json(v: &mut Value) {
    match v {
        Value::String(s) => *s = mask(s),
        Value::Array(items) => items.iter_mut().for_each(mask_json),
        Value::Object(map) => map.values_mut().for_each(mask_json),
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
        let mut v = json!({"a": ["itoc-secret-token-1"], "b": {"c": "?unsubscribe=q"}, "n": 1});
        mask_json(&mut v);
        assert_eq!(
            v,
            json!({"a": ["********"], "b": {"c": "?unsubscribe=[redacted]"}, "n": 1})
        );
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
