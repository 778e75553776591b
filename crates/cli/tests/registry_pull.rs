//! Pull and push against a real registry server (Debian's docker-registry,
//! the distribution software Docker Hub runs) on 127.0.0.1, started by each
//! test with its own storage: layers gzip, zstd and plain; a multi-arch
//! index pushed by skopeo; pull by digest; all tags; a committed image
//! round-tripping into a fresh store with identical digests; the implicit
//! pull of `run`; and skopeo reading what berth pushed.

mod support;

use std::process::Command;

use std::time::Duration;

use support::oci_layout::{self, PlatformImage};
use support::pty::Pty;
use support::registry::{Registry, RegistryAuth};
use support::{Store, TestImage, assert_success, docker_archive, gzip, small_layer};

fn registry(test: &str) -> Option<Registry> {
    Registry::start(test, None, RegistryAuth::None)
}

/// (image ID, repo digests) of `name` in `store`.
fn identity(store: &Store, name: &str) -> (String, String) {
    let out = store.ok(&[
        "image",
        "inspect",
        "--format",
        "{{.Id}} {{json .RepoDigests}}",
        name,
    ]);
    let (id, digests) = out.trim().split_once(' ').expect("two fields");
    (id.to_string(), digests.to_string())
}

fn three_layer_image(tag: &str) -> TestImage {
    TestImage::new(
        vec![
            gzip(&small_layer("gz")),
            oci_layout::zstd(&small_layer("zst")),
            small_layer("plain"),
        ],
        tag,
    )
}

/// A fresh store holding [`three_layer_image`] as `local`, also tagged `remote`.
fn store_with_three_layers(local: &str, remote: &str) -> Store {
    let store = Store::new();
    assert_success(
        &store.load_bytes(&docker_archive(&[three_layer_image(local)])),
        &["load"],
    );
    store.ok(&["tag", local, remote]);
    store
}

#[test]
fn push_then_pull_gzip_zstd_and_plain_layers_into_a_fresh_store() {
    let Some(reg) = registry("push_then_pull_gzip_zstd_and_plain_layers_into_a_fresh_store") else {
        return;
    };
    let name = format!("{}/team/multi:1", reg.host());
    let a = store_with_three_layers("multi:1", &name);
    let pushed = a.ok(&["push", &name]);
    assert!(pushed.contains("Pushed"), "{pushed}");
    assert!(pushed.contains("1: digest: sha256:"), "{pushed}");

    // A second push finds every layer there already.
    let again = a.ok(&["push", &name]);
    assert!(
        again.contains("Layer already exists") && !again.contains("Pushed"),
        "{again}"
    );

    let b = Store::new();
    let pulled = b.ok(&["pull", &name]);
    assert!(pulled.contains("1: Pulling from team/multi"), "{pulled}");
    assert_eq!(pulled.matches("Pull complete").count(), 3, "{pulled}");
    assert!(
        pulled.contains("Status: Downloaded newer image for"),
        "{pulled}"
    );
    assert!(pulled.trim_end().ends_with(&name), "{pulled}");

    let (id_a, digests_a) = identity(&a, &name);
    let (id_b, digests_b) = identity(&b, &name);
    assert_eq!(id_a, id_b, "same config digest after the round trip");
    assert_eq!(
        digests_a, digests_b,
        "same manifest digest after the round trip"
    );
    assert_eq!(
        a.ok(&["image", "inspect", "--format", "{{json .RootFS}}", &name]),
        b.ok(&["image", "inspect", "--format", "{{json .RootFS}}", &name])
    );

    let up_to_date = b.ok(&["pull", &name]);
    assert!(
        up_to_date.contains("Status: Image is up to date for"),
        "{up_to_date}"
    );
    // An image the store has: no layer is looked at, none shown (docker).
    assert!(!up_to_date.contains("Already exists"), "{up_to_date}");

    // --digests shows the manifest digest; -q prints only the name.
    let listed = b.ok(&[
        "images",
        "--digests",
        "--format",
        "{{.Repository}}:{{.Tag}} {{.Digest}}",
    ]);
    let digest = digests_b
        .split('@')
        .nth(1)
        .unwrap_or("")
        .trim_end_matches(['"', ']']);
    assert!(
        listed.contains(&format!("{}/team/multi:1 {digest}", reg.host())),
        "{listed}\n{digest}"
    );
    let c = Store::new();
    assert_eq!(c.ok(&["pull", "-q", &name]).trim(), name);
    for s in [&a, &b, &c] {
        s.assert_check_clean();
        s.assert_no_leftovers();
    }
}

#[test]
fn pull_by_digest_then_tag_and_all_tags() {
    let Some(reg) = registry("pull_by_digest_then_tag_and_all_tags") else {
        return;
    };
    let a = Store::new();
    let images = [
        TestImage::new(vec![gzip(&small_layer("one"))], "x:1"),
        TestImage::new(vec![gzip(&small_layer("two"))], "x:2"),
    ];
    assert_success(&a.load_bytes(&docker_archive(&images)), &["load"]);
    for t in ["1", "2"] {
        let name = format!("{}/x:{t}", reg.host());
        a.ok(&["tag", &format!("x:{t}"), &name]);
        a.ok(&["push", "-q", &name]);
    }
    let (_, digests) = identity(&a, &format!("{}/x:1", reg.host()));
    let digest = digests
        .split('@')
        .nth(1)
        .expect("a repo digest")
        .trim_end_matches(['"', ']'])
        .to_string();

    let b = Store::new();
    let by_digest = format!("{}/x@{digest}", reg.host());
    let out = b.ok(&["pull", &by_digest]);
    assert!(out.contains(&format!("{digest}: Pulling from x")), "{out}");
    assert!(out.contains(&format!("Digest: {digest}")), "{out}");
    let again = b.ok(&["pull", &by_digest]);
    assert!(again.contains("Image is up to date"), "{again}");
    // No tag came with it; tagging works on the digest reference.
    assert!(!b.ok(&["images", "--format", "{{.Tag}}"]).contains('1'));
    b.ok(&["tag", &by_digest, "mine:v1"]);
    assert!(
        b.ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"])
            .contains("mine:v1")
    );

    let c = Store::new();
    let all = c.ok(&["pull", "-a", &format!("{}/x", reg.host())]);
    assert!(
        all.contains("1: Pulling from x") && all.contains("2: Pulling from x"),
        "{all}"
    );
    let tags = c.ok(&["images", "--format", "{{.Tag}}"]);
    assert!(tags.contains('1') && tags.contains('2'), "{tags}");
    // A digest that is malformed never reaches the registry.
    let err = c.fails(&["pull", &format!("{}/x@sha256:../../x", reg.host())]);
    assert!(err.contains("sha256:../../x"), "{err}");
    let err = c.fails(&["pull", &format!("{}/nothere:1", reg.host())]);
    assert!(err.contains("nothere") && err.contains("unknown"), "{err}");
    c.assert_check_clean();
}

fn skopeo(test: &str) -> bool {
    if Command::new("skopeo").arg("--version").output().is_err() {
        support::skip(test, "skopeo is not installed");
        return false;
    }
    true
}

#[test]
fn multi_arch_index_pushed_by_skopeo_picks_the_platform() {
    let test = "multi_arch_index_pushed_by_skopeo_picks_the_platform";
    let Some(reg) = registry(test) else { return };
    if !skopeo(test) {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let (index, manifests) = oci_layout::write_multi_arch(
        dir.path(),
        &[
            PlatformImage {
                architecture: "amd64",
                image: TestImage::new(vec![gzip(&small_layer("amd"))], "m"),
            },
            PlatformImage {
                architecture: "arm64",
                image: TestImage::new(vec![oci_layout::zstd(&small_layer("arm"))], "m"),
            },
        ],
    );
    let name = format!("{}/multi/arch:1", reg.host());
    let out = Command::new("skopeo")
        .args([
            "copy",
            "--all",
            "--dest-tls-verify=false",
            "--preserve-digests",
        ])
        .arg(format!("oci:{}:latest", dir.path().display()))
        .arg(format!("docker://{name}"))
        .output()
        .expect("skopeo");
    assert_success(&out, &["skopeo copy"]);

    let host_store = Store::new();
    host_store.ok(&["pull", &name]);
    let arch = host_store.ok(&[
        "image",
        "inspect",
        "--format",
        "{{.Architecture}} {{json .RepoDigests}}",
        &name,
    ]);
    assert!(arch.starts_with("amd64 "), "{arch}");
    assert!(
        arch.contains(&index.to_string()),
        "repo digest is the index's: {arch}"
    );

    let arm = Store::new();
    let out = arm.ok(&["pull", "--platform", "linux/arm64", &name]);
    assert!(out.contains(&format!("Digest: {index}")), "{out}");
    let arch = arm.ok(&["image", "inspect", "--format", "{{.Architecture}}", &name]);
    assert_eq!(arch.trim(), "arm64");

    // By the platform manifest's own digest, too.
    let by_manifest = Store::new();
    by_manifest.ok(&[
        "pull",
        &format!("{}/multi/arch@{}", reg.host(), manifests[1]),
    ]);
    let err = Store::new().fails(&["pull", "--platform", "linux/s390x", &name]);
    assert!(
        err.contains("no matching manifest for linux/s390x"),
        "{err}"
    );
    for s in [&host_store, &arm, &by_manifest] {
        s.assert_check_clean();
    }
}

#[test]
fn skopeo_reads_what_berth_pushed() {
    let test = "skopeo_reads_what_berth_pushed";
    let Some(reg) = registry(test) else { return };
    if !skopeo(test) {
        return;
    }
    let name = format!("{}/s:1", reg.host());
    let a = store_with_three_layers("s:1", &name);
    a.ok(&["push", &name]);
    let (_, digests) = identity(&a, &name);
    let out = Command::new("skopeo")
        .args(["inspect", "--tls-verify=false", "--format", "{{.Digest}}"])
        .arg(format!("docker://{name}"))
        .output()
        .expect("skopeo");
    assert_success(&out, &["skopeo inspect"]);
    let digest = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(
        digests.contains(&digest),
        "skopeo sees {digest}, berth recorded {digests}"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let out = Command::new("skopeo")
        .args(["copy", "--src-tls-verify=false"])
        .arg(format!("docker://{name}"))
        .arg(format!("oci:{}:s", dir.path().display()))
        .output()
        .expect("skopeo");
    assert_success(&out, &["skopeo copy (verifies every blob)"]);
}

#[test]
fn committed_image_round_trips_and_run_pulls_implicitly() {
    let test = "committed_image_round_trips_and_run_pulls_implicitly";
    let Some(a) = support::container_store(test) else {
        return;
    };
    let Some(reg) = registry(test) else { return };
    a.ok(&[
        "run",
        "--name",
        "w1",
        "busybox",
        "sh",
        "-c",
        "echo committed > /made-here",
    ]);
    let name = format!("{}/team/committed:1", reg.host());
    a.ok(&["commit", "w1", &name]);
    a.ok(&["push", &name]);

    let Some(b) = support::container_store(test) else {
        return;
    };
    let out = b.outcome(&["run", "--rm", &name, "cat", "/made-here"]);
    assert_eq!(out.0, 0, "{out:?}");
    assert_eq!(out.1, "committed\n");
    assert!(
        out.2
            .contains(&format!("Unable to find image '{name}' locally")),
        "{}",
        out.2
    );
    assert_eq!(identity(&a, &name), identity(&b, &name));

    // --pull never refuses; --pull always fetches again (up to date).
    let err = b.outcome(&[
        "run",
        "--rm",
        "--pull",
        "never",
        &format!("{}/team/absent:1", reg.host()),
        "true",
    ]);
    assert_eq!(err.0, 125, "{err:?}");
    let again = b.outcome(&["run", "--rm", "--pull", "always", &name, "true"]);
    assert_eq!(again.0, 0, "{again:?}");
    assert!(again.2.contains("Image is up to date"), "{}", again.2);
    // An image that is nowhere: 125 and the registry's words.
    let missing = b.outcome(&[
        "run",
        "--rm",
        &format!("{}/team/absent:1", reg.host()),
        "true",
    ]);
    assert_eq!(missing.0, 125, "{missing:?}");
    assert!(missing.2.contains("absent"), "{}", missing.2);
    b.assert_check_clean();
}

#[test]
fn a_terminal_gets_progress_bars_per_layer() {
    let Some(reg) = registry("a_terminal_gets_progress_bars_per_layer") else {
        return;
    };
    let name = format!("{}/tty/img:1", reg.host());
    let a = store_with_three_layers("tty:1", &name);
    a.ok(&["push", "-q", &name]);
    let b = Store::new();
    let mut pty = Pty::spawn(b.command(&["pull", &name]));
    assert_eq!(pty.wait(Duration::from_secs(30)), 0, "{}", pty.output());
    let out = pty.output();
    // indicatif draws each layer's line with its short ID and final state,
    // then the summary lines follow as on a pipe.
    assert!(out.matches("Pull complete").count() >= 3, "{out}");
    assert!(out.contains("1: Pulling from tty/img"), "{out}");
    assert!(out.contains("Status: Downloaded newer image for"), "{out}");
    b.assert_check_clean();
}
