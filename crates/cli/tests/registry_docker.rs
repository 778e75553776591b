//! Interoperability with docker through a real registry: what docker pushes,
//! berth pulls with the same digests; what berth pushes, docker pulls and
//! runs. A private dockerd (own roots and socket; 127.0.0.0/8 registries are
//! insecure to it by default, as to berth).

mod support;

use support::dockerd::Dockerd;
use support::registry::{Registry, RegistryAuth};
use support::{Store, TestImage, assert_success, docker_archive, gzip, small_layer};

#[test]
fn docker_and_berth_pull_what_the_other_pushed() {
    let test = "docker_and_berth_pull_what_the_other_pushed";
    let Some(reg) = Registry::start(test, None, RegistryAuth::None) else {
        return;
    };
    let Some(docker) = Dockerd::start(test) else {
        return;
    };
    let host = reg.host();

    // berth -> registry -> docker
    let berth = Store::new();
    let Some(_) = berth.busybox("busybox:latest") else {
        return;
    };
    let image = TestImage::new(vec![gzip(&small_layer("extra"))], "extra:1");
    assert_success(&berth.load_bytes(&docker_archive(&[image])), &["load"]);
    let from_berth = format!("{host}/berth/busybox:1");
    berth.ok(&["tag", "busybox:latest", &from_berth]);
    berth.ok(&["push", &from_berth]);
    let pulled = docker.ok(&["pull", &from_berth]);
    assert!(pulled.contains("Downloaded newer image"), "{pulled}");
    let docker_id = docker.ok(&["image", "inspect", "--format", "{{.Id}}", &from_berth]);
    let berth_id = berth.ok(&["image", "inspect", "--format", "{{.Id}}", &from_berth]);
    assert_eq!(docker_id.trim(), berth_id.trim());
    let docker_digest = docker.ok(&[
        "image",
        "inspect",
        "--format",
        "{{index .RepoDigests 0}}",
        &from_berth,
    ]);
    let berth_digests = berth.ok(&[
        "image",
        "inspect",
        "--format",
        "{{json .RepoDigests}}",
        &from_berth,
    ]);
    assert!(
        berth_digests.contains(docker_digest.trim()),
        "{docker_digest} vs {berth_digests}"
    );
    let ran = docker.ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        &from_berth,
        "echo",
        "ran in docker",
    ]);
    assert_eq!(ran.trim(), "ran in docker");

    // docker -> registry -> berth
    let from_docker = format!("{host}/docker/busybox:2");
    docker.ok(&["tag", &from_berth, &from_docker]);
    let pushed = docker.ok(&["push", &from_docker]);
    let fresh = Store::new();
    let out = fresh.ok(&["pull", &from_docker]);
    let digest = pushed
        .split_whitespace()
        .skip_while(|w| *w != "digest:")
        .nth(1)
        .expect("docker push prints the digest");
    assert!(
        out.contains(&format!("Digest: {digest}")),
        "{out}\n{pushed}"
    );
    let fresh_id = fresh.ok(&["image", "inspect", "--format", "{{.Id}}", &from_docker]);
    assert_eq!(fresh_id.trim(), docker_id.trim());
    fresh.assert_check_clean();
}
