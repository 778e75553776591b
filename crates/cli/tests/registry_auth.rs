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
    let Some(reg) = Registry::start(
        "tls_registry_with_its_ca_in_certs_d",
        Some(&ca),
        RegistryAuth::None,
    ) else {
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
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("incorrect username or password"),
        "{bad:?}"
    );
    assert!(
        !a.docker_config().exists()
            || !std::fs::read_to_string(a.docker_config())
                .unwrap()
                .contains(&host)
    );

    let good = login(&a, &host, "alice", "s3cret-pw");
    assert_success(&good, &["login"]);
    assert_eq!(
        String::from_utf8_lossy(&good.stdout).trim(),
        "Login Succeeded"
    );
    let config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(a.docker_config()).expect("config.json"))
            .expect("json");
    assert!(config["auths"][&host]["auth"].is_string(), "{config}");

    a.ok(&["push", &name]);
    let b = Store::new();
    // Credentials written the way docker writes them are read back.
    std::fs::create_dir_all(b.docker_config().parent().unwrap()).unwrap();
    std::fs::copy(a.docker_config(), b.docker_config()).unwrap();
    b.ok(&["pull", &name]);
    assert_eq!(
        a.ok(&["logout", &host]).trim(),
        format!("Removing login credentials for {host}")
    );
    // docker 28 says the same when there was nothing to remove.
    assert_eq!(
        a.ok(&["logout", &host]).trim(),
        format!("Removing login credentials for {host}")
    );
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
    assert!(
        err.contains("unauthorized") || err.contains("denied"),
        "{err}"
    );

    assert_success(&login(&a, &host, "alice", "pw-alice"), &["login"]);
    assert!(!login(&a, &host, "alice", "nope").status.success());
    a.ok(&["push", &public]);
    a.ok(&["push", &private]);

    // Anonymous: public pulls, private does not.
    let anon = Store::new();
    anon.ok(&["pull", &public]);
    let err = anon.fails(&["pull", &private]);
    assert!(
        err.contains("unauthorized") || err.contains("denied"),
        "{err}"
    );

    let requests = tokens.requests();
    let scopes: Vec<&String> = requests.iter().flat_map(|r| &r.scopes).collect();
    assert!(
        scopes
            .iter()
            .any(|s| s.as_str() == "repository:public/app:pull"),
        "{scopes:?}"
    );
    assert!(
        scopes
            .iter()
            .any(|s| s.as_str() == "repository:private/app:pull,push"),
        "{scopes:?}"
    );
    // Pulls ask for pull only; a token for one repository is never reused
    // for another (each scope was asked for separately).
    assert!(
        requests
            .iter()
            .filter(|r| r.user.as_deref() == Some("alice"))
            .count()
            >= 2,
        "{requests:?}"
    );
    // A cross-repository mount asks for both scopes as separate parameters.
    assert!(
        requests
            .iter()
            .any(|r| r.scopes.len() == 2 && r.user.as_deref() == Some("alice")),
        "{requests:?}"
    );
    anon.assert_check_clean();
}

#[test]
fn credential_helper_named_by_creds_store() {
    let auth = RegistryAuth::Htpasswd {
        user: "bob".into(),
        password: "helper-pw".into(),
    };
    let Some(reg) = Registry::start("credential_helper_named_by_creds_store", None, auth) else {
        return;
    };
    let host = reg.host();
    // A credential helper speaking Docker's protocol, keeping secrets in a file.
    let bin = tempfile::tempdir().expect("tempdir");
    let vault = bin.path().join("vault");
    let script = format!(
        r#"#!/bin/sh
case "$1" in
store) cat > "{vault}" ;;
get) read host; if [ -f "{vault}" ]; then cat "{vault}"; else echo "credentials not found in native keychain"; exit 1; fi ;;
erase) rm -f "{vault}" ;;
esac
"#,
        vault = vault.display()
    );
    let helper = bin.path().join("docker-credential-berthtest");
    std::fs::write(&helper, script).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        bin.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );

    let a = store_with_image("helper");
    std::fs::create_dir_all(a.docker_config().parent().unwrap()).unwrap();
    std::fs::write(a.docker_config(), r#"{"credsStore":"berthtest"}"#).unwrap();
    let name = format!("{host}/vaulted/img:1");
    a.ok(&["tag", "local:helper", &name]);
    let mut login = a.command(&["login", "-u", "bob", "--password-stdin", &host]);
    login.env("PATH", &path);
    let out = support::run_with_stdin(login, b"helper-pw\n");
    assert_success(&out, &["login via helper"]);
    let stored = std::fs::read_to_string(&vault).expect("the helper got the secret");
    assert!(
        stored.contains("helper-pw") && stored.contains(&host),
        "{stored}"
    );
    let config = std::fs::read_to_string(a.docker_config()).unwrap();
    assert!(
        !config.contains("helper-pw"),
        "secret written to config.json: {config}"
    );
    let out = a
        .command(&["push", &name])
        .env("PATH", &path)
        .output()
        .expect("push");
    assert_success(&out, &["push with helper credentials"]);
}

#[test]
fn a_docker_hub_mirror_serves_library_images() {
    let Some(mirror) = Registry::start(
        "a_docker_hub_mirror_serves_library_images",
        None,
        RegistryAuth::None,
    ) else {
        return;
    };
    let a = store_with_image("mirror");
    a.ok(&[
        "tag",
        "local:mirror",
        &format!("{}/library/mirrored:1", mirror.host()),
    ]);
    a.ok(&["push", &format!("{}/library/mirrored:1", mirror.host())]);
    let b = Store::new();
    std::fs::create_dir_all(b.root()).unwrap();
    std::fs::write(
        b.root().join("registries.toml"),
        format!("registry_mirrors = [\"http://{}\"]\n", mirror.host()),
    )
    .unwrap();
    // `mirrored:1` is docker.io/library/mirrored:1: the mirror answers for
    // Docker Hub (which this machine cannot reach at all).
    let out = b.ok(&["pull", "mirrored:1"]);
    assert!(
        out.contains("Status: Downloaded newer image for mirrored:1"),
        "{out}"
    );
    assert!(
        out.trim_end().ends_with("docker.io/library/mirrored:1"),
        "{out}"
    );
    assert!(
        b.ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"])
            .contains("mirrored:1")
    );
}
