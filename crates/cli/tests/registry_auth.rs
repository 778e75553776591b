//! Registries that need more than plain HTTP: TLS with a self-signed CA in
//! the store's certs.d (Docker's layout), htpasswd Basic auth with `login` /
//! `logout` in Docker's config.json, and Docker Hub's bearer-token flow with
//! a token server whose grants differ per repository.

mod support;

use support::registry::{Registry, RegistryAuth, TestCa};
use support::token_server::{TokenServer, TokenServerOptions, grant_public_pull};
use support::{Store, TestImage, assert_success, docker_archive, gzip, small_layer};

fn store_with_image(tag: &str) -> Store {
    let s = Store::new();
    let image = TestImage::new(vec![gzip(&small_layer(tag))], &format!("local:{tag}"));
    assert_success(&s.load_bytes(&docker_archive(&[image])), &["load"]);
    s
}

fn login(store: &Store, host: &str, user: &str, password: &str) -> std::process::Output {
    store.run_stdin(
        &["login", "-u", user, "--password-stdin", host],
        format!("{password}\n").as_bytes(),
    )
}

#[test]
fn tls_registry_with_its_ca_in_certs_d() {
    let ca = TestCa::new();
    let Some(reg) = Registry::start("tls_registry_with_its_ca_in_certs_d", Some(&ca), RegistryAuth::None) else {
        return;
    };
    let a = store_with_image("tls");
    let name = format!("{}/secure/img:1", reg.host());
    a.ok(&["tag", "local:tls", &name]);
    // Without the CA the certificate is refused (and plain HTTP is no way
    // around it: the server speaks only TLS).
    let err = a.fails(&["push", &name]);
    assert!(err.to_lowercase().contains("certificate"), "{err}");
    ca.install_certs_d(&a.root().join("certs.d"), &reg.host());
    a.ok(&["push", &name]);
    let b = Store::new();
    ca.install_certs_d(&b.root().join("certs.d"), &reg.host());
    b.ok(&["pull", &name]);
    b.assert_check_clean();
}

#[test]
fn htpasswd_basic_auth_with_login_and_logout() {
    let auth = RegistryAuth::Htpasswd {
        user: "alice".into(),
        password: "s3cret-pw".into(),
    };
    let Some(reg) = Registry::start("htpasswd_basic_auth_with_login_and_logout", None, auth) else {
        return;
    };
    let host = reg.host();
    let a = store_with_image("basic");
    let name = format!("{host}/private/img:1");
    a.ok(&["tag", "local:basic", &name]);
    let err = a.fails(&["push", &name]);
    assert!(err.contains("unauthorized") || err.contains("401"), "{err}");

    let bad = login(&a, &host, "alice", "wrong");
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("incorrect username or password"), "{bad:?}");
    assert!(!a.docker_config().exists() || !std::fs::read_to_string(a.docker_config()).unwrap().contains(&host));

    let good = login(&a, &host, "alice", "s3cret-pw");
    assert_success(&good, &["login"]);
    assert_eq!(String::from_utf8_lossy(&good.stdout).trim(), "Login Succeeded");
    let config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(a.docker_config()).expect("config.json")).expect("json");
    assert!(config["auths"][&host]["auth"].is_string(), "{config}");

    a.ok(&["push", &name]);
    let b = Store::new();
    // Credentials written the way docker writes them are read back.
    std::fs::create_dir_all(b.docker_config().parent().unwrap()).unwrap();
    std::fs::copy(a.docker_config(), b.docker_config()).unwrap();
    b.ok(&["pull", &name]);
    assert_eq!(a.ok(&["logout", &host]).trim(), format!("Removing login credentials for {host}"));
    assert_eq!(a.ok(&["logout", &host]).trim(), format!("Not logged in to {host}"));
    let err = a.fails(&["pull", &name]);
    assert!(err.contains("unauthorized") || err.contains("401"), "{err}");
    b.assert_check_clean();
}

#[test]
fn bearer_tokens_with_a_scope_per_repository() {
    let tokens = TokenServer::start(TokenServerOptions {
        users: vec![("alice".into(), "pw-alice".into())],
        grant: grant_public_pull("public/"),
        ..TokenServerOptions::default()
    });
    let Some(reg) = Registry::start(
        "bearer_tokens_with_a_scope_per_repository",
        None,
        RegistryAuth::Token(tokens.config()),
    ) else {
        return;
    };
    let host = reg.host();
    let a = store_with_image("tok");
    let public = format!("{host}/public/app:1");
    let private = format!("{host}/private/app:1");
    a.ok(&["tag", "local:tok", &public]);
    a.ok(&["tag", "local:tok", &private]);
    let err = a.fails(&["push", &public]);
    assert!(err.contains("unauthorized") || err.contains("denied"), "{err}");

    assert_success(&login(&a, &host, "alice", "pw-alice"), &["login"]);
    assert!(!login(&a, &host, "alice", "nope").status.success());
    a.ok(&["push", &public]);
    a.ok(&["push", &private]);

    // Anonymous: public pulls, private does not.
    let anon = Store::new();
    anon.ok(&["pull", &public]);
    let err = anon.fails(&["pull", &private]);
    assert!(err.contains("unauthorized") || err.contains("denied"), "{err}");

    let requests = tokens.requests();
    let scopes: Vec<&String> = requests.iter().flat_map(|r| &r.scopes).collect();
    assert!(scopes.iter().any(|s| s.as_str() == "repository:public/app:pull"), "{scopes:?}");
    assert!(scopes.iter().any(|s| s.as_str() == "repository:private/app:pull,push"), "{scopes:?}");
    // Pulls ask for pull only; a token for one repository is never reused
    // for another (each scope was asked for separately).
    assert!(requests.iter().filter(|r| r.user.as_deref() == Some("alice")).count() >= 2, "{requests:?}");
    // A cross-repository mount asks for both scopes as separate parameters.
    assert!(
        requests.iter().any(|r| r.scopes.len() == 2 && r.user.as_deref() == Some("alice")),
        "{requests:?}"
    );
    anon.assert_check_clean();
}
