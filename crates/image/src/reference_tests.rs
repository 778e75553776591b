//! Unit and property tests for reference parsing.

use proptest::prelude::*;

use super::*;

fn full(s: &str) -> String {
    Reference::parse_normalized(s)
        .map(|r| r.to_string())
        .unwrap_or_else(|e| format!("ERR {e}"))
}

#[test]
fn normalises_like_docker() {
    let cases = [
        ("busybox", "docker.io/library/busybox"),
        ("busybox:1.36", "docker.io/library/busybox:1.36"),
        ("library/busybox", "docker.io/library/busybox"),
        ("user/app:v1", "docker.io/user/app:v1"),
        ("index.docker.io/busybox", "docker.io/library/busybox"),
        ("docker.io/busybox", "docker.io/library/busybox"),
        ("host:5000/a/b:t", "host:5000/a/b:t"),
        ("localhost/app", "localhost/app"),
        ("localhost:5000/app", "localhost:5000/app"),
        ("example.com/a/b/c", "example.com/a/b/c"),
        ("[::1]:5000/app:x", "[::1]:5000/app:x"),
        ("127.0.0.1:5000/app", "127.0.0.1:5000/app"),
        ("a__b/c--d.e_f", "docker.io/a__b/c--d.e_f"),
        ("localhost:5000", "docker.io/library/localhost:5000"),
    ];
    for (input, want) in cases {
        assert_eq!(full(input), want, "input {input:?}");
    }
}

#[test]
fn default_tag_only_without_tag_or_digest() {
    let d = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    let r = Reference::parse_with_default_tag("busybox").expect("valid");
    assert_eq!(r.to_string(), "docker.io/library/busybox:latest");
    assert_eq!(r.familiar_string(), "busybox:latest");
    let r = Reference::parse_with_default_tag(&format!("busybox@{d}")).expect("valid");
    assert_eq!(r.tag(), None);
    assert_eq!(r.familiar_string(), format!("busybox@{d}"));
    let r = Reference::parse_with_default_tag(&format!("busybox:1@{d}")).expect("valid");
    assert_eq!(r.to_string(), format!("docker.io/library/busybox:1@{d}"));
}

#[test]
fn familiar_names() {
    for (input, want) in [
        ("busybox", "busybox"),
        ("docker.io/library/busybox", "busybox"),
        ("docker.io/library/a/b", "library/a/b"),
        ("user/app", "user/app"),
        ("quay.io/x/y", "quay.io/x/y"),
    ] {
        let r = Reference::parse_normalized(input).expect("valid");
        assert_eq!(r.familiar_name(), want, "input {input:?}");
    }
}

#[test]
fn errors_carry_docker_meanings() {
    assert!(
        matches!(Reference::parse_normalized("Busybox"), Err(ReferenceError::Uppercase(n)) if n == "library/Busybox")
    );
    assert!(matches!(
        Reference::parse_normalized("user/App:v1"),
        Err(ReferenceError::Uppercase(_))
    ));
    assert!(matches!(
        Reference::parse_normalized("busybox:bad!tag"),
        Err(ReferenceError::Tag(_))
    ));
    assert!(matches!(
        Reference::parse_normalized("busybox:.hidden"),
        Err(ReferenceError::Tag(_))
    ));
    let long_tag = "a".repeat(129);
    assert!(matches!(
        Reference::parse_normalized(&format!("busybox:{long_tag}")),
        Err(ReferenceError::Tag(_))
    ));
    assert!(Reference::parse_normalized(&format!("busybox:{}", "a".repeat(128))).is_ok());
    let long_name = "a".repeat(250);
    assert!(matches!(
        Reference::parse_normalized(&long_name),
        Err(ReferenceError::TooLong(_))
    ));
    assert!(matches!(
        Reference::parse_normalized("busybox@sha256:abc"),
        Err(ReferenceError::Digest(_))
    ));
    assert!(matches!(
        Reference::parse_normalized("busybox@sha256:../../x"),
        Err(ReferenceError::Digest(_))
    ));
    assert!(matches!(
        Reference::parse_normalized(""),
        Err(ReferenceError::Empty)
    ));
    assert!(matches!(
        Reference::parse_normalized(&"a".repeat(64)),
        Err(ReferenceError::HexName(_))
    ));
    for bad in [
        "a..b", "a/", "/a", "a//b", "-a", "a-", "a___b", "host:/a", "host:x/a", ":tag", "a:b:c",
    ] {
        assert!(
            Reference::parse_normalized(bad).is_err(),
            "{bad:?} must be rejected"
        );
    }
}

#[test]
fn error_messages_name_the_bad_value() {
    let e = Reference::parse_normalized("Busybox")
        .expect_err("uppercase")
        .to_string();
    assert_eq!(
        e,
        "invalid reference format: repository name (library/Busybox) must be lowercase"
    );
    let e = Reference::parse_normalized("busybox:bad!tag")
        .expect_err("bad tag")
        .to_string();
    assert!(e.contains("\"bad!tag\""), "{e}");
}

#[test]
fn glob_matches_like_go_path_match() {
    assert!(glob_match("busy*", "busybox"));
    assert!(glob_match("busybox:*", "busybox:latest"));
    assert!(!glob_match("*", "user/app"));
    assert!(glob_match("*/*", "user/app"));
    assert!(glob_match("b?sybox", "busybox"));
    assert!(glob_match("[a-c]usybox", "busybox"));
    assert!(!glob_match("[^a-c]usybox", "busybox"));
    let r = Reference::parse_with_default_tag("busybox").expect("valid");
    assert!(familiar_match("busybox", &r));
    assert!(familiar_match("busybox:latest", &r));
    assert!(familiar_match("busy*", &r));
    assert!(!familiar_match("alpine", &r));
}

fn path_component() -> impl Strategy<Value = String> {
    "[a-z0-9]{1,8}((\\.|_|__|-{1,3})[a-z0-9]{1,8}){0,2}"
}

fn domain() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("localhost/".to_string()),
        "[a-z][a-z0-9-]{0,6}[a-z0-9]\\.[a-z]{2,5}/",
        ("[a-z]{1,8}", 1u16..65535).prop_map(|(h, p)| format!("{h}:{p}/")),
    ]
}

fn reference_string() -> impl Strategy<Value = String> {
    (
        domain(),
        prop::collection::vec(path_component(), 1..4),
        prop::option::of("[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}"),
        prop::option::of("[0-9a-f]{64}"),
    )
        .prop_map(|(d, parts, tag, digest)| {
            let mut s = format!("{d}{}", parts.join("/"));
            if let Some(t) = tag {
                s.push(':');
                s.push_str(&t);
            }
            if let Some(h) = digest {
                s.push_str("@sha256:");
                s.push_str(&h);
            }
            s
        })
        .prop_filter(
            "a first component with '.' is a registry host by Docker's rule",
            |s| {
                let first = s.split('/').next().unwrap_or_default();
                !(s.contains('/')
                    && first.contains('.')
                    && !first.contains(':')
                    && first.contains('_'))
            },
        )
        .prop_filter("not a bare 64-hex name", |s| {
            !(s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()))
        })
}

proptest! {
    #[test]
    fn grammar_strings_parse_and_round_trip(s in reference_string()) {
        let r = Reference::parse_normalized(&s);
        if s.split(['@', ':']).next().unwrap_or_default().len() + 20 > NAME_TOTAL_LENGTH_MAX {
            return Ok(());
        }
        let r = r.map_err(|e| TestCaseError::fail(format!("{s:?}: {e}")))?;
        // The canonical form parses back to the same reference, and so does the familiar form.
        prop_assert_eq!(Reference::parse_normalized(&r.to_string()), Ok(r.clone()));
        prop_assert_eq!(Reference::parse_normalized(&r.familiar_string()), Ok(r.clone()));
        // Normalising twice changes nothing.
        let again = Reference::parse_normalized(&r.to_string()).map(|x| x.to_string());
        prop_assert_eq!(again, Ok(r.to_string()));
    }

    #[test]
    fn uppercase_paths_are_rejected_as_uppercase(s in reference_string(), idx in 0usize..100) {
        let Ok(r) = Reference::parse_normalized(&s) else { return Ok(()) };
        // Uppercase one letter of the last path component.
        let path = r.path().to_string();
        let last_start = path.rfind('/').map(|i| i + 1).unwrap_or(0);
        let letters: Vec<usize> = path[last_start..].char_indices().filter(|(_, c)| c.is_ascii_lowercase()).map(|(i, _)| i + last_start).collect();
        prop_assume!(!letters.is_empty());
        let at = letters[idx % letters.len()];
        let mut upper = path.clone();
        upper.replace_range(at..at + 1, &path[at..at + 1].to_ascii_uppercase());
        let input = format!("{}/{}", r.domain(), upper);
        prop_assert!(matches!(Reference::parse_normalized(&input), Err(ReferenceError::Uppercase(_))), "{}", input);
    }

    #[test]
    fn arbitrary_input_never_panics(s in "\\PC{0,300}") {
        let _ = Reference::parse_normalized(&s);
    }
}
