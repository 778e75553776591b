//! Interoperability with real Docker (a private dockerd from Debian's
//! docker.io) and skopeo, both ways, with identical image IDs and layer
//! digests.

mod support;

use support::dockerd::Dockerd;
use support::{Store, TestImage, docker_archive, gzip, small_layer};

fn json(s: &str) -> serde_json::Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("not JSON ({e}): {s}"))
}

/// (ID, layer diff IDs) as an engine reports them.
fn identity(inspect_json: &str) -> (String, serde_json::Value) {
    let v = json(inspect_json);
    (
        v[0]["Id"].as_str().unwrap_or_default().to_string(),
        v[0]["RootFS"]["Layers"].clone(),
    )
}

#[test]
fn docker_loads_what_berth_saves_and_berth_loads_what_docker_saves() {
    let Some(docker) = Dockerd::start("docker_interop") else {
        return;
    };
    let s = Store::new();
    let Some(_) = s.busybox("busybox:latest") else {
        return;
    };
    let multi = TestImage::new(
        vec![
            small_layer("base"),
            gzip(&small_layer("mid")),
            small_layer("top"),
        ],
        "multi:1",
    );
    support::assert_success(&s.load_bytes(&docker_archive(&[multi])), &["load multi"]);

    // berth -> docker
    let archive = docker.dir().join("from-berth.tar");
    let archive_arg = archive.to_str().unwrap_or_default();
    s.ok(&["save", "-o", archive_arg, "busybox", "multi:1"]);
    let loaded = docker.ok(&["load", "-i", archive_arg]);
    assert!(
        loaded.contains("Loaded image: busybox:latest") && loaded.contains("Loaded image: multi:1"),
        "{loaded}"
    );
    for name in ["busybox:latest", "multi:1"] {
        let berth = identity(&s.ok(&["image", "inspect", name]));
        let dock = identity(&docker.ok(&["image", "inspect", name]));
        assert_eq!(
            berth, dock,
            "{name}: same image ID and layer digests in docker"
        );
    }

    // docker -> berth: an image docker made itself, and one it re-exports.
    let tar = support::busybox_tar().unwrap_or_default();
    let out = support::run_with_stdin(
        docker.command(&["import", "-c", "CMD [\"sh\"]", "-", "dockerbb:1"]),
        &tar,
    );
    assert!(
        out.status.success(),
        "docker import: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    docker.ok(&["tag", "multi:1", "multi:2"]);
    let exported = docker.dir().join("from-docker.tar");
    let exported_arg = exported.to_str().unwrap_or_default();
    docker.ok(&["save", "-o", exported_arg, "dockerbb:1", "multi:2"]);
    let fresh = Store::new();
    let loaded = fresh.ok(&["load", "-i", exported_arg]);
    assert!(
        loaded.contains("Loaded image: dockerbb:1") && loaded.contains("Loaded image: multi:2"),
        "{loaded}"
    );
    for name in ["dockerbb:1", "multi:2"] {
        let dock = identity(&docker.ok(&["image", "inspect", name]));
        let berth = identity(&fresh.ok(&["image", "inspect", name]));
        assert_eq!(
            berth, dock,
            "{name}: same image ID and layer digests in berth"
        );
    }
    let history = fresh.ok(&["history", "-q", "multi:2"]);
    assert_eq!(history.lines().count(), 3, "three layers:\n{history}");
    fresh.assert_check_clean();
}

#[test]
fn skopeo_reads_both_save_formats() {
    let on_path = std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join("skopeo").is_file()));
    if !on_path {
        support::skip(
            "skopeo_reads_both_save_formats",
            "skopeo is not installed (apt-get install skopeo)",
        );
        return;
    }
    let s = Store::new();
    let image = TestImage::new(vec![small_layer("s1"), gzip(&small_layer("s2"))], "sk:1");
    support::assert_success(&s.load_bytes(&docker_archive(&[image])), &["load"]);
    let id = s.image_ids().remove(0);
    for (format, transport) in [
        ("oci", "oci-archive"),
        ("docker", "oci-archive"),
        ("docker", "docker-archive"),
    ] {
        let file = s.dir.path().join(format!("{format}-{transport}.tar"));
        s.ok(&[
            "save",
            "--format",
            format,
            "-o",
            file.to_str().unwrap_or_default(),
            "sk:1",
        ]);
        let dest = s.dir.path().join(format!("copy-{format}-{transport}"));
        // skopeo verifies every blob's digest as it copies.
        let out = std::process::Command::new("skopeo")
            .args([
                "copy",
                "--quiet",
                &format!("{transport}:{}", file.display()),
                &format!("dir:{}", dest.display()),
            ])
            .output()
            .expect("skopeo");
        assert!(
            out.status.success(),
            "skopeo copy {transport} of berth's {format} save: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let manifest =
            json(&std::fs::read_to_string(dest.join("manifest.json")).unwrap_or_default());
        assert_eq!(
            manifest["config"]["digest"],
            id.as_str(),
            "{format}/{transport}: config digest is the image ID"
        );
        assert_eq!(manifest["layers"].as_array().map(Vec::len), Some(2));
    }

    // And the other way: an OCI archive skopeo writes loads into berth.
    let docker_save = s.dir.path().join("for-skopeo.tar");
    s.ok(&[
        "save",
        "-o",
        docker_save.to_str().unwrap_or_default(),
        "sk:1",
    ]);
    let oci = s.dir.path().join("by-skopeo.tar");
    let out = std::process::Command::new("skopeo")
        .args([
            "copy",
            "--quiet",
            &format!("docker-archive:{}", docker_save.display()),
            &format!("oci-archive:{}:example.com/sk:2", oci.display()),
        ])
        .output()
        .expect("skopeo");
    assert!(
        out.status.success(),
        "skopeo copy to oci-archive: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let fresh = Store::new();
    let loaded = fresh.ok(&["load", "-i", oci.to_str().unwrap_or_default()]);
    assert!(loaded.contains("Loaded image"), "{loaded}");
    // skopeo may rewrite the config on conversion; the layers are the same.
    let layers = |store: &Store, name: &str| {
        json(&store.ok(&["image", "inspect", name]))[0]["RootFS"]["Layers"].clone()
    };
    assert_eq!(
        layers(&fresh, "example.com/sk:2"),
        layers(&s, "sk:1"),
        "skopeo's OCI archive carries the same layers"
    );
    let listing = std::process::Command::new("tar")
        .arg("-xOf")
        .arg(&oci)
        .arg("index.json")
        .output()
        .expect("tar");
    let index = json(&String::from_utf8_lossy(&listing.stdout));
    let manifest_digest = index["manifests"][0]["digest"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let manifest = std::process::Command::new("tar")
        .arg("-xOf")
        .arg(&oci)
        .arg(format!("blobs/sha256/{}", &manifest_digest[7..]))
        .output()
        .expect("tar");
    let config_digest =
        json(&String::from_utf8_lossy(&manifest.stdout))["config"]["digest"].clone();
    assert_eq!(
        fresh.image_ids(),
        vec![config_digest.as_str().unwrap_or_default().to_string()],
        "image ID is skopeo's config digest"
    );
    fresh.assert_check_clean();
}
