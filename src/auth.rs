//! Secret comparisons in constant time, and masking secrets for display.
//!
//! Both sides are hashed first, so the comparison takes the same time
//! whatever the lengths, and every configured token is compared (no early
//! exit), so timing tells nothing about which source is close.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::config::{Secret, Source};

/// True when `given` equals `secret`, in constant time.
pub fn secret_matches(given: &str, secret: &Secret) -> bool {
    let a = Sha256::digest(given.as_bytes());
    let b = Sha256::digest(secret.expose().as_bytes());
    a.ct_eq(&b).into()
}

/// The source whose token is `given`, comparing with every source.
pub fn match_source<'a>(sources: &'a [Source], given: &str) -> Option<&'a Source> {
    let mut found = None;
    for s in sources {
        if secret_matches(given, &s.token) && found.is_none() {
            found = Some(s);
        }
    }
    found
}

/// A webhook URL with its token masked, for logs and pages.
pub fn masked_webhook_url(public_url: &str) -> String {
    format!(
        "{}/webhooks/statuspage?token=********",
        public_url.trim_end_matches('/')
    )
}

/// The (user, password) of an `Authorization: Basic …` header value; the
/// scheme is case-insensitive (RFC 7617).
/// The user name of a request's Basic credentials ("" without any): who
/// asked for a change, for the record.
pub fn user_of(req: &actix_web::HttpRequest) -> String {
    let header = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok());
    basic_credentials(header)
        .map(|(user, _)| user)
        .unwrap_or_default()
}

pub fn basic_credentials(header: Option<&str>) -> Option<(String, String)> {
    use base64::Engine;
    let (scheme, encoded) = header?.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, pass) = text.split_once(':').unwrap_or((&text, ""));
    Some((user.to_owned(), pass.to_owned()))
}

/// Checks an `Authorization: Basic …` header value against the audit
/// credentials, in constant time.
pub fn basic_auth_matches(header: Option<&str>, username: &str, password: &Secret) -> bool {
    let Some((user, pass)) = basic_credentials(header) else {
        return false;
    };
    let user_ok = secret_matches(&user, &Secret::new(username));
    let pass_ok = secret_matches(&pass, password);
    user_ok & pass_ok
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    fn sources() -> Vec<Source> {
        vec![
            Source {
                name: "a".into(),
                token: Secret::new("token-a"),
            },
            Source {
                name: "b".into(),
                token: Secret::new("token-b"),
            },
        ]
    }

    #[test]
    fn matches_the_right_source() {
        let s = sources();
        assert_eq!(
            match_source(&s, "token-b").map(|s| s.name.as_str()),
            Some("b")
        );
        assert_eq!(
            match_source(&s, "token-a").map(|s| s.name.as_str()),
            Some("a")
        );
        assert!(match_source(&s, "token-").is_none());
        assert!(match_source(&s, "").is_none());
    }

    #[test]
    fn basic_auth() {
        let enc = |s: &str| {
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(s)
            )
        };
        let pw = Secret::new("pw");
        assert!(basic_auth_matches(Some(&enc("oncall:pw")), "oncall", &pw));
        assert!(!basic_auth_matches(
            Some(&enc("oncall:nope")),
            "oncall",
            &pw
        ));
        assert!(!basic_auth_matches(Some(&enc("other:pw")), "oncall", &pw));
        assert!(!basic_auth_matches(Some("Bearer x"), "oncall", &pw));
        let lower = enc("oncall:pw").replacen("Basic", "basic", 1);
        assert!(basic_auth_matches(Some(&lower), "oncall", &pw));
        let upper = enc("oncall:pw").replacen("Basic", "BASIC", 1);
        assert!(basic_auth_matches(Some(&upper), "oncall", &pw));
        assert!(!basic_auth_matches(Some("Basically x"), "oncall", &pw));
        assert!(!basic_auth_matches(None, "oncall", &pw));
        assert!(!basic_auth_matches(Some("Basic !!!"), "oncall", &pw));
    }

    #[test]
    fn masked_url_hides_token() {
        assert_eq!(
            masked_webhook_url("http://h:1/"),
            "http://h:1/webhooks/statuspage?token=********"
        );
    }
}
