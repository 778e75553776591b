//! `WWW-Authenticate` challenges (RFC 7235) as registries send them:
//! `Bearer realm="…",service="…",scope="…"` or `Basic realm="…"`.

use std::collections::BTreeMap;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Challenge {
    Bearer {
        realm: String,
        service: Option<String>,
        scope: Option<String>,
    },
    Basic,
}

/// The first challenge berth can answer, from every `WWW-Authenticate`
/// header value of a response; None when none is usable.
pub fn parse<'a>(values: impl IntoIterator<Item = &'a str>) -> Option<Challenge> {
    let mut basic = false;
    for value in values {
        for (scheme, params) in split_challenges(value) {
            match scheme.to_ascii_lowercase().as_str() {
                "bearer" => {
                    if let Some(realm) = params.get("realm") {
                        return Some(Challenge::Bearer {
                            realm: realm.clone(),
                            service: params.get("service").cloned(),
                            scope: params.get("scope").cloned(),
                        });
                    }
                }
                "basic" => basic = true,
                _ => {}
            }
        }
    }
    basic.then_some(Challenge::Basic)
}

/// Splits one header value into (scheme, params) challenges. A new challenge
/// starts at a token not followed by `=`.
fn split_challenges(value: &str) -> Vec<(String, BTreeMap<String, String>)> {
    let mut out: Vec<(String, BTreeMap<String, String>)> = Vec::new();
    let mut rest = value.trim();
    while !rest.is_empty() {
        rest = rest.trim_start_matches([',', ' ', '\t']);
        let token_end = rest
            .find(|c: char| c == '=' || c == ',' || c.is_whitespace())
            .unwrap_or(rest.len());
        let token = &rest[..token_end];
        let after = rest[token_end..].trim_start_matches([' ', '\t']);
        if token.is_empty() {
            break;
        }
        if let Some(value_part) = after.strip_prefix('=') {
            let (value, remaining) = parse_value(value_part.trim_start());
            if let Some((_, params)) = out.last_mut() {
                params.insert(token.to_ascii_lowercase(), value);
            }
            rest = remaining;
        } else {
            out.push((token.to_string(), BTreeMap::new()));
            rest = after;
        }
    }
    out
}

/// A quoted string (with backslash escapes) or a token; returns the value and
/// what follows it.
fn parse_value(s: &str) -> (String, &str) {
    if let Some(body) = s.strip_prefix('"') {
        let mut value = String::new();
        let mut chars = body.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => {
                    if let Some((_, escaped)) = chars.next() {
                        value.push(escaped);
                    }
                }
                '"' => return (value, &body[i + 1..]),
                c => value.push(c),
            }
        }
        (value, "")
    } else {
        let end = s.find(',').unwrap_or(s.len());
        (s[..end].trim().to_string(), &s[end..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_hub_bearer() {
        let c = parse([
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull""#,
        ]);
        assert_eq!(
            c,
            Some(Challenge::Bearer {
                realm: "https://auth.docker.io/token".into(),
                service: Some("registry.docker.io".into()),
                scope: Some("repository:library/busybox:pull".into()),
            })
        );
    }

    #[test]
    fn basic_and_escapes_and_multiple() {
        assert_eq!(
            parse([r#"Basic realm="Registry Realm""#]),
            Some(Challenge::Basic)
        );
        let c = parse([r#"Basic realm="x", Bearer realm="http://a/t\"x",service=svc"#]);
        assert_eq!(
            c,
            Some(Challenge::Bearer {
                realm: "http://a/t\"x".into(),
                service: Some("svc".into()),
                scope: None,
            })
        );
        assert_eq!(parse(["Negotiate abc"]), None);
        assert_eq!(parse(["Bearer service=x"]), None);
    }
}
