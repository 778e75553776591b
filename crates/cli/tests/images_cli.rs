//! The image commands end to end: the real binary on a private store.

mod support;

use berth_image::rawtar::{self, RawEntry};
use support::{Store, TestImage, docker_archive, gzip, small_layer};

fn json(s: &str) -> serde_json::Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("not JSON ({e}): {s}"))
}

#[test]
fn import_then_list_inspect_and_history_like_docker() {
    let s = Store::new();
    let Some(id) = s.busybox("busybox:latest") else {
        return;
    };
    assert!(
        id.starts_with("sha256:") && id.len() == 71,
        "import prints the full ID: {id}"
    );

    let images = s.ok(&["images"]);
    let lines: Vec<&str> = images.lines().collect();
    assert_eq!(
        lines[0],
        "REPOSITORY   TAG       IMAGE ID       CREATED                  SIZE"
    );
    assert!(
        lines[1].starts_with(&format!("busybox      latest    {}   ", &id[7..19])),
        "{images}"
    );
    assert!(lines[1].ends_with("MB"), "{images}");
    assert_eq!(s.ok(&["images", "-q"]).trim(), &id[7..19]);
    assert_eq!(s.ok(&["images", "-q", "--no-trunc"]).trim(), id);
    assert_eq!(
        s.ok(&["image", "ls", "--format", "{{.Repository}}:{{.Tag}}"])
            .trim(),
        "busybox:latest"
    );
    let row = json(s.ok(&["images", "--format", "json"]).trim());
    assert_eq!(row["Repository"], "busybox");
    assert_eq!(row["ID"], &id[7..19]);
    assert_eq!(
        s.ok(&["images", "--filter", "reference=busy*", "-q"])
            .trim(),
        &id[7..19]
    );
    assert_eq!(s.ok(&["images", "busybox", "-q"]).trim(), &id[7..19]);
    assert_eq!(s.ok(&["images", "alpine", "-q"]).trim(), "");
    assert_eq!(
        s.ok(&["images", "--filter", "dangling=true", "-q"]).trim(),
        ""
    );
    assert!(
        s.ok(&["images", "--digests"])
            .lines()
            .next()
            .unwrap_or_default()
            .contains("DIGEST")
    );

    let inspect = json(&s.ok(&["image", "inspect", "busybox"]));
    let image = &inspect[0];
    assert_eq!(image["Id"], id.as_str());
    assert_eq!(image["RepoTags"], serde_json::json!(["busybox:latest"]));
    assert_eq!(image["Config"]["Cmd"], serde_json::json!(["sh"]));
    assert_eq!(image["Os"], "linux");
    assert_eq!(image["RootFS"]["Layers"].as_array().map(Vec::len), Some(1));
    assert!(image["Size"].as_u64().unwrap_or(0) > 1_000_000);
    assert_eq!(
        s.ok(&[
            "inspect",
            "--format",
            "{{.Id}} {{json .Config.Cmd}}",
            &id[7..11]
        ])
        .trim(),
        format!("{id} [\"sh\"]")
    );

    let history = s.ok(&["history", "busybox"]);
    let rows: Vec<&str> = history.lines().collect();
    assert_eq!(rows.len(), 2, "{history}");
    assert!(rows[0].starts_with("IMAGE          CREATED"), "{history}");
    assert!(
        rows[1].contains("Imported from -") && rows[1].starts_with(&id[7..19]),
        "{history}"
    );
    s.assert_check_clean();
}

#[test]
fn tag_and_rmi_follow_docker_rules() {
    let s = Store::new();
    let Some(id) = s.busybox("busybox:latest") else {
        return;
    };
    s.ok(&["tag", "busybox", "bb:v1"]);
    s.ok(&["tag", &id[7..19], "other/repo:x"]);
    assert_eq!(
        s.ok(&["images", "-q"]).lines().count(),
        3,
        "one row per tag"
    );

    // By ID with tags in several repositories: refused without -f.
    let err = s.fails(&["rmi", &id[7..19]]);
    assert!(
        err.contains("must be forced") && err.contains("multiple repositories"),
        "{err}"
    );
    // By tag: only the tag goes.
    assert_eq!(s.ok(&["rmi", "bb:v1"]).trim(), "Untagged: bb:v1");
    assert_eq!(s.image_ids(), vec![id.clone()]);
    // Forced by ID: every tag, then the image and its layer.
    let out = s.ok(&["rmi", "-f", &id[7..19]]);
    assert!(
        out.contains("Untagged: busybox:latest") && out.contains("Untagged: other/repo:x"),
        "{out}"
    );
    assert!(out.contains(&format!("Deleted: {id}")), "{out}");
    assert_eq!(
        out.lines().filter(|l| l.starts_with("Deleted: ")).count(),
        2,
        "image and one layer: {out}"
    );
    assert!(s.image_ids().is_empty());
    s.assert_check_clean();
    s.assert_no_leftovers();
    let (blobs, snapshots) = (
        s.root.join("content/blobs/sha256"),
        s.root.join("snapshots"),
    );
    assert_eq!(
        std::fs::read_dir(blobs).map(|d| d.count()).unwrap_or(1),
        0,
        "blobs collected"
    );
    assert_eq!(
        std::fs::read_dir(snapshots).map(|d| d.count()).unwrap_or(1),
        0,
        "snapshots collected"
    );

    let err = s.fails(&["rmi", "nosuch"]);
    assert!(err.contains("No such image: nosuch:latest"), "{err}");
    let out = s.run(&["rmi", "nosuch"]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn shared_layers_stay_until_their_last_image_goes() {
    let s = Store::new();
    let base = small_layer("base");
    let a = TestImage::new(vec![base.clone(), small_layer("a")], "a:1");
    let b = TestImage::new(vec![base, small_layer("b")], "b:1");
    assert!(s.load_bytes(&docker_archive(&[a, b])).status.success());
    assert_eq!(s.image_ids().len(), 2);
    assert_eq!(
        std::fs::read_dir(s.root.join("snapshots"))
            .map(|d| d.count())
            .unwrap_or(0),
        3,
        "base unpacked once"
    );
    let out = s.ok(&["rmi", "a:1"]);
    assert_eq!(
        out.lines().filter(|l| l.starts_with("Deleted: ")).count(),
        2,
        "image a and its own top layer: {out}"
    );
    s.assert_check_clean();
    let ls = s.ok(&["history", "b:1"]);
    assert_eq!(ls.lines().count(), 3, "b still has both layers:\n{ls}");
}

#[test]
fn unique_id_prefixes_resolve_and_ambiguous_ones_are_errors() {
    let s = Store::new();
    let images: Vec<TestImage> = (0..17)
        .map(|i| {
            TestImage::new(
                vec![small_layer(&format!("p{i}"))],
                &format!("img{i}:latest"),
            )
        })
        .collect();
    assert!(s.load_bytes(&docker_archive(&images)).status.success());
    let ids = s.image_ids();
    assert_eq!(ids.len(), 17);
    // 17 IDs over 16 first digits: some digit is shared.
    let shared = (0..16)
        .map(|d| format!("{d:x}"))
        .find(|d| {
            ids.iter()
                .filter(|id| id[7..].starts_with(d.as_str()))
                .count()
                > 1
        })
        .expect("pigeonhole");
    let err = s.fails(&["image", "inspect", &shared]);
    assert!(err.contains("ambiguous"), "{err}");
    for id in &ids {
        let inspected = json(&s.ok(&["image", "inspect", &id[7..19]]));
        assert_eq!(inspected[0]["Id"], id.as_str());
    }
    let full = &ids[0];
    assert_eq!(
        json(&s.ok(&["image", "inspect", full]))[0]["Id"],
        full.as_str()
    );
    assert_eq!(
        json(&s.ok(&["image", "inspect", &full[7..]]))[0]["Id"],
        full.as_str()
    );
}

#[test]
fn save_and_load_round_trip_in_both_formats() {
    let s = Store::new();
    let Some(id) = s.busybox("busybox:latest") else {
        return;
    };
    s.ok(&["tag", "busybox", "localhost:5000/team/bb:2"]);
    let layers = json(&s.ok(&["image", "inspect", "busybox"]))[0]["RootFS"].clone();
    for format in ["docker", "oci"] {
        let file = s.dir.path().join(format!("save-{format}.tar"));
        s.ok(&[
            "save",
            "--format",
            format,
            "-o",
            file.to_str().unwrap_or_default(),
            "busybox",
            "localhost:5000/team/bb:2",
        ]);
        let listing = std::process::Command::new("tar")
            .arg("-tf")
            .arg(&file)
            .output()
            .expect("tar");
        let listing = String::from_utf8_lossy(&listing.stdout);
        assert!(
            listing.contains("oci-layout") && listing.contains("index.json"),
            "{listing}"
        );
        assert_eq!(
            listing.contains("manifest.json"),
            format == "docker",
            "{listing}"
        );

        let fresh = Store::new();
        let out = fresh.ok(&["load", "-i", file.to_str().unwrap_or_default()]);
        assert!(
            out.contains("Loaded image: busybox:latest")
                && out.contains("Loaded image: localhost:5000/team/bb:2"),
            "{out}"
        );
        assert_eq!(
            fresh.image_ids(),
            vec![id.clone()],
            "same image ID after {format} round trip"
        );
        assert_eq!(
            json(&fresh.ok(&["image", "inspect", "busybox"]))[0]["RootFS"],
            layers
        );
        fresh.assert_check_clean();
    }
    // Saving is deterministic: the same image gives the same bytes.
    let one = s.command(&["save", "busybox"]).output().expect("save");
    let two = s.command(&["save", "busybox"]).output().expect("save");
    assert!(one.status.success() && one.stdout == two.stdout && !one.stdout.is_empty());
    // Loading what is already there changes nothing.
    let out = s.run_stdin(&["load"], &one.stdout);
    assert!(out.status.success());
    assert_eq!(s.image_ids(), vec![id]);
    s.assert_check_clean();
}

#[test]
fn load_moves_tags_and_prune_removes_the_dangling_image() {
    let s = Store::new();
    let first = TestImage::new(vec![gzip(&small_layer("one"))], "app:latest");
    let second = TestImage::new(vec![small_layer("two")], "app:latest");
    let out = s.load_bytes(&docker_archive(&[first]));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "Loaded image: app:latest"
    );
    let old = s.image_ids();
    let out = s.load_bytes(&docker_archive(&[second]));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!(
            "The image app:latest already exists, renaming the old one with ID {}",
            old[0]
        )),
        "{stdout}"
    );
    assert_eq!(s.image_ids().len(), 2);
    let dangling = s.ok(&[
        "images",
        "--filter",
        "dangling=true",
        "--format",
        "{{.Repository}}:{{.Tag}} {{.ID}}",
    ]);
    assert_eq!(dangling.trim(), format!("<none>:<none> {}", &old[0][7..19]));
    let pruned = s.ok(&["image", "prune", "-f"]);
    assert!(
        pruned.starts_with("Deleted Images:\n") && pruned.contains(&format!("deleted: {}", old[0])),
        "{pruned}"
    );
    assert!(pruned.contains("Total reclaimed space: "), "{pruned}");
    assert_eq!(s.image_ids().len(), 1);
    s.assert_check_clean();
    let all = s.ok(&["image", "prune", "-a", "-f"]);
    assert!(all.contains("untagged: app:latest"), "{all}");
    assert!(s.image_ids().is_empty());
    s.assert_no_leftovers();
}

#[test]
fn import_applies_changes_and_refuses_bad_ones_before_any_work() {
    let s = Store::new();
    let layer = rawtar::archive(&[RawEntry::file("hello", b"hi")]);
    let out = s.run_stdin(
        &[
            "import",
            "-c",
            "ENV A=1",
            "-c",
            "WORKDIR /w",
            "-c",
            "ENTRYPOINT [\"/hello\"]",
            "-m",
            "note",
            "-",
            "imp:1",
        ],
        &gzip(&layer),
    );
    support::assert_success(&out, &["import"]);
    let image = &json(&s.ok(&["image", "inspect", "imp:1"]))[0];
    assert_eq!(image["Config"]["Env"], serde_json::json!(["A=1"]));
    assert_eq!(image["Config"]["WorkingDir"], "/w");
    assert_eq!(image["Config"]["Entrypoint"], serde_json::json!(["/hello"]));
    assert_eq!(image["Comment"], "note");
    let before = s.tree();
    let out = s.run_stdin(&["import", "-c", "FROM busybox", "-", "bad:1"], &layer);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("FROM is not a valid change command"));
    let out = s.run_stdin(&["import", "-", "Bad:1"], &layer);
    assert!(String::from_utf8_lossy(&out.stderr).contains("must be lowercase"));
    // A broken file is named by its path (the history still says `-`,
    // as for the docker CLI, which sends a file as the request body).
    let broken = s.dir().join("broken-rootfs.tar");
    std::fs::write(&broken, b"not a tar at all, not even close").expect("write");
    let err = s.fails(&["import", &broken.display().to_string(), "broken:1"]);
    assert!(
        err.contains(&format!("import from {}", broken.display())),
        "the error names the file, not `-`:\n{err}"
    );
    assert_eq!(
        s.tree(),
        before,
        "refused imports leave the store as it was"
    );
}

#[test]
fn reference_errors_carry_docker_meanings() {
    let s = Store::new();
    assert!(
        s.load_bytes(&docker_archive(&[TestImage::new(
            vec![small_layer("r")],
            "r:1"
        )]))
        .status
        .success()
    );
    let cases = [
        (
            "Upper:1",
            "repository name (library/Upper) must be lowercase",
        ),
        ("r:bad!tag", "invalid tag \"bad!tag\""),
        ("r@sha256:123", "invalid digest"),
    ];
    for (target, want) in cases {
        let err = s.fails(&["tag", "r:1", target]);
        assert!(err.contains(want), "tag {target}: {err}");
    }
    let long = "a".repeat(300);
    assert!(
        s.fails(&["tag", "r:1", &long])
            .contains("must not be more than 255 characters")
    );
    assert_eq!(
        s.run(&["images", "--bogus"]).status.code(),
        Some(125),
        "bad flags exit 125 as in Docker"
    );
}

#[test]
fn system_df_counts_shared_layers_once() {
    let s = Store::new();
    let base = small_layer("shared");
    let images = [
        TestImage::new(vec![base.clone()], "x:1"),
        TestImage::new(vec![base, small_layer("y")], "y:1"),
    ];
    assert!(s.load_bytes(&docker_archive(&images)).status.success());
    let df = s.ok(&["system", "df"]);
    let lines: Vec<&str> = df.lines().collect();
    assert_eq!(
        lines[0],
        "TYPE            TOTAL     ACTIVE    SIZE      RECLAIMABLE"
    );
    assert!(
        lines[1].starts_with("Images          2         0         20.02kB"),
        "{df}"
    );
    let verbose = s.ok(&["system", "df", "-v"]);
    assert!(
        verbose.contains("SHARED SIZE") && verbose.contains("10.01kB"),
        "{verbose}"
    );
}

#[test]
fn system_check_finds_and_repairs_corruption() {
    let s = Store::new();
    let images = [
        TestImage::new(vec![small_layer("c1")], "c:1"),
        TestImage::new(vec![small_layer("c2")], "d:1"),
    ];
    assert!(s.load_bytes(&docker_archive(&images)).status.success());
    s.assert_check_clean();
    let layer_blob = json(&s.ok(&["image", "inspect", "c:1"]))[0]["RootFS"]["Layers"][0]
        .as_str()
        .unwrap_or_default()
        .to_string();
    // For an uncompressed layer the blob digest is the diff ID.
    let path = s.root.join("content/blobs/sha256").join(&layer_blob[7..]);
    std::fs::write(&path, b"tampered").expect("tamper");
    std::fs::write(s.root.join("content/blobs/sha256/stray"), b"?").expect("stray");
    std::fs::create_dir(s.root.join("snapshots/999")).expect("orphan dir");
    let out = s.run(&["system", "check"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("corrupt") && stdout.contains("stray") && stdout.contains("snapshots/999"),
        "{stdout}"
    );
    let repaired = s.ok(&["system", "check", "--repair"]);
    assert!(repaired.contains("removed image"), "{repaired}");
    s.assert_check_clean();
    assert_eq!(
        s.ok(&["images", "--format", "{{.Repository}}"]).trim(),
        "d",
        "the intact image survives"
    );
}

/// An OCI image layout tar with one index listing an amd64 and an arm64 image
/// (a multi-platform index nested under the top-level one).
fn multi_platform_layout(tag_annotation: Option<&str>) -> (Vec<u8>, String, String) {
    use berth_image::Digest;
    let mut entries = vec![RawEntry::file(
        "oci-layout",
        br#"{"imageLayoutVersion":"1.0.0"}"#,
    )];
    let mut manifests = Vec::new();
    let mut configs = Vec::new();
    for (arch, zstd) in [("amd64", true), ("arm64", false)] {
        let tar = small_layer(arch);
        let layer = if zstd {
            zstd::encode_all(&tar[..], 3).expect("zstd")
        } else {
            gzip(&tar)
        };
        let media = if zstd {
            "application/vnd.oci.image.layer.v1.tar+zstd"
        } else {
            "application/vnd.oci.image.layer.v1.tar+gzip"
        };
        let config = serde_json::to_vec(&serde_json::json!({
            "architecture": arch, "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": [Digest::of(&tar).to_string()]},
        }))
        .expect("json");
        let manifest = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": Digest::of(&config).to_string(), "size": config.len()},
            "layers": [{"mediaType": media, "digest": Digest::of(&layer).to_string(), "size": layer.len()}],
        }))
        .expect("json");
        for blob in [&layer, &config, &manifest] {
            entries.push(RawEntry::file(
                &format!("blobs/sha256/{}", Digest::of(blob).hex()),
                blob,
            ));
        }
        manifests.push(serde_json::json!({
            "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": Digest::of(&manifest).to_string(),
            "size": manifest.len(), "platform": {"architecture": arch, "os": "linux"},
        }));
        configs.push(Digest::of(&config).to_string());
    }
    let index = serde_json::to_vec(&serde_json::json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": manifests})).expect("json");
    entries.push(RawEntry::file(
        &format!("blobs/sha256/{}", berth_image::Digest::of(&index).hex()),
        &index,
    ));
    let mut top = serde_json::json!({"mediaType": "application/vnd.oci.image.index.v1+json", "digest": berth_image::Digest::of(&index).to_string(), "size": index.len()});
    if let Some(name) = tag_annotation {
        top["annotations"] = serde_json::json!({"org.opencontainers.image.ref.name": name});
    }
    entries.push(RawEntry::file(
        "index.json",
        &serde_json::to_vec(&serde_json::json!({"schemaVersion": 2, "manifests": [top]}))
            .expect("json"),
    ));
    (
        rawtar::archive(&entries),
        configs[0].clone(),
        configs[1].clone(),
    )
}

#[test]
fn oci_layouts_load_the_host_platform_from_a_multi_platform_index() {
    let s = Store::new();
    let (archive, amd64, arm64) = multi_platform_layout(Some("localhost/multi:1"));
    let out = s.run_stdin(&["load"], &archive);
    support::assert_success(&out, &["load"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "Loaded image: localhost/multi:1"
    );
    let image = &json(&s.ok(&["image", "inspect", "localhost/multi:1"]))[0];
    assert_eq!(
        image["Id"],
        amd64.as_str(),
        "the amd64 image is chosen on this host"
    );
    assert_ne!(amd64, arm64);
    assert_eq!(image["Architecture"], "amd64");
    // The zstd layer unpacked: history shows its size.
    assert!(s.ok(&["history", "localhost/multi:1"]).contains("10kB"));
    s.assert_check_clean();

    // A bare tag in ref.name names no repository: the image loads untagged.
    let s = Store::new();
    let (archive, amd64, _) = multi_platform_layout(Some("latest"));
    let out = s.ok(&["load", "-i", &{
        let p = s.dir.path().join("layout.tar");
        std::fs::write(&p, &archive).expect("write");
        p.display().to_string()
    }]);
    assert_eq!(out.trim(), format!("Loaded image ID: {amd64}"));
    assert_eq!(
        s.ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"])
            .trim(),
        "<none>:<none>"
    );
}
