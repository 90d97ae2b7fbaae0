//! Secrets out of everything the audit shows: `meta.unsubscribe` and the
//! value of any `token=` or `unsubscribe=` URL parameter, wherever it sits.

use serde_json::Value;

pub const REDACTED: &str = "[redacted]";

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
    walk(v);
}

fn walk(v: &mut Value) {
    match v {
        Value::String(s) => *s = redact_text(s),
        Value::Array(items) => items.iter_mut().for_each(walk),
        Value::Object(map) => map.values_mut().for_each(walk),
        _ => {}
    }
}

/// A stored body for display: redacted, pretty JSON when it is JSON.
pub fn body_for_display(raw: &str) -> String {
    match serde_json::from_str::<Value>(raw) {
        Ok(mut v) => {
            redact_json(&mut v);
            serde_json::to_string_pretty(&v).unwrap_or_default()
        }
        Err(_) => redact_text(raw),
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
        Err(_) => Value::String(redact_text(raw)),
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
        assert_eq!(
            redact_text("ünïcode token=é€ ok"),
            "ünïcode token=[redacted] ok"
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
