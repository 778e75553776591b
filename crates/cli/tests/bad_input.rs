//! Hostile and broken archives: each is refused with an error naming the entry
//! or field, writes nothing outside the store, and leaves the store exactly as
//! it was (same files, same images, `system check` clean, no temp or orphan).

mod support;

use std::path::PathBuf;

use berth_image::rawtar::{self, RawEntry};
use support::{Store, TestImage, docker_archive, docker_archive_with, small_layer};

/// A store holding one good image, so "as it was" is not trivially empty.
fn seeded() -> Store {
    let s = Store::new();
    let out = s.load_bytes(&docker_archive(&[TestImage::new(
        vec![small_layer("seed")],
        "seed:1",
    )]));
    support::assert_success(&out, &["load seed"]);
    s
}

/// A path outside every store that a hostile entry tries to reach.
fn target(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("berth-escape-{name}-{}", std::process::id()))
}

fn assert_refused(archive: &[u8], needles: &[&str], escape: Option<&PathBuf>) {
    assert_refused_env(archive, needles, escape, &[]);
}

fn assert_refused_env(
    archive: &[u8],
    needles: &[&str],
    escape: Option<&PathBuf>,
    env: &[(&str, &str)],
) {
    let s = seeded();
    let before_tree = s.tree();
    let before_ids = s.image_ids();
    let mut cmd = s.command(&["load"]);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = support::run_with_stdin(cmd, archive);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(1),
        "load must fail cleanly; stderr: {stderr}"
    );
    for needle in needles {
        assert!(
            stderr.contains(needle),
            "error should mention {needle:?}: {stderr}"
        );
    }
    if let Some(path) = escape {
        assert!(
            !path.exists(),
            "{} was written outside the store",
            path.display()
        );
    }
    assert_eq!(s.image_ids(), before_ids, "no new image");
    assert_eq!(s.tree(), before_tree, "store files unchanged");
    s.assert_check_clean();
    s.assert_no_leftovers();
}

fn archive_with_layer(layer: Vec<u8>) -> Vec<u8> {
    docker_archive(&[TestImage::new(vec![layer], "evil:1")])
}

#[test]
fn dot_dot_and_absolute_paths() {
    let t = target("dotdot");
    let name = format!("../../../../../../..{}", t.display());
    assert_refused(
        &archive_with_layer(rawtar::archive(&[RawEntry::file(&name, b"x")])),
        &[&name, "\"..\""],
        Some(&t),
    );
    let t = target("abs");
    let name = t.display().to_string();
    assert_refused(
        &archive_with_layer(rawtar::archive(&[RawEntry::file(&name, b"x")])),
        &[&name, "absolute path"],
        Some(&t),
    );
}

#[test]
fn symlink_then_file_through_it() {
    let t = target("symlink");
    let dir = std::env::temp_dir();
    let leaf = t
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default()
        .to_string();
    let layer = rawtar::archive(&[
        RawEntry::symlink("tmp", dir.to_str().unwrap_or("/tmp")),
        RawEntry::file(&format!("tmp/{leaf}"), b"x"),
    ]);
    assert_refused(
        &archive_with_layer(layer),
        &[&format!("tmp/{leaf}"), "symlink"],
        Some(&t),
    );
}

#[test]
fn two_hop_symlink_escape() {
    let t = target("twohop");
    let leaf = t
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default()
        .to_string();
    let layer = rawtar::archive(&[
        RawEntry::symlink("b", "../../../../../../../../tmp"),
        RawEntry::symlink("a", "b"),
        RawEntry::file(&format!("a/{leaf}"), b"x"),
    ]);
    assert_refused(
        &archive_with_layer(layer),
        &[&format!("a/{leaf}"), "symlink"],
        Some(&t),
    );
}

#[test]
fn hardlinks_to_outside() {
    for target in ["../../../../../../etc/passwd", "/etc/passwd"] {
        let layer = rawtar::archive(&[RawEntry::hardlink("stolen", target)]);
        assert_refused(
            &archive_with_layer(layer),
            &["\"stolen\"", "hard link"],
            None,
        );
    }
    let layer = rawtar::archive(&[
        RawEntry::symlink("etc", "/etc"),
        RawEntry::hardlink("stolen", "etc/passwd"),
    ]);
    assert_refused(&archive_with_layer(layer), &["\"stolen\"", "symlink"], None);
}

#[test]
fn malformed_whiteouts() {
    for (name, reason) in [
        (".wh..", "invalid whiteout"),
        ("dir/.wh.", "invalid whiteout"),
        (".wh.x/y", "cannot have entries below it"),
    ] {
        let layer = rawtar::archive(&[RawEntry::file(name, b"")]);
        assert_refused(&archive_with_layer(layer), &[name, reason], None);
    }
}

#[test]
fn dot_entry_that_is_a_symlink() {
    let layer = rawtar::archive(&[RawEntry::symlink(".", "/"), RawEntry::file("etc/x", b"x")]);
    assert_refused(
        &archive_with_layer(layer),
        &["entry \".\"", "root must be a directory"],
        None,
    );
}

#[test]
fn five_thousand_character_name() {
    let name = format!("{}/file", "d".repeat(200)).repeat(25);
    assert!(name.len() >= 5000);
    let layer = rawtar::archive(&[RawEntry::file(&name, b"x")]);
    assert_refused(
        &archive_with_layer(layer),
        &[&name[..60], "bytes long; the limit is 4096"],
        None,
    );
}

#[test]
fn truncated_layer() {
    let layer = rawtar::archive(&[
        RawEntry::file("big", &vec![1u8; 200_000]),
        RawEntry::file("after", b"x"),
    ]);
    let mut image = TestImage::new(vec![layer[..100_000].to_vec()], "trunc:1");
    // The config promises the whole layer.
    image.diff_ids = Some(vec![berth_image::Digest::of(&layer).to_string()]);
    assert_refused(
        &docker_archive(&[image]),
        &["layer 0", "truncated layer", "\"big\""],
        None,
    );
}

#[test]
fn wrong_diff_id() {
    let mut image = TestImage::new(vec![small_layer("w")], "wrong:1");
    let wrong = berth_image::Digest::of(b"something else").to_string();
    image.diff_ids = Some(vec![wrong.clone()]);
    assert_refused(
        &docker_archive(&[image]),
        &["diff ID mismatch", &wrong],
        None,
    );
}

#[test]
fn malformed_manifest_and_config_json() {
    let image = TestImage::new(vec![small_layer("m")], "m:1");
    assert_refused(
        &docker_archive_with(&[image], Some(b"[{\"Config\": ".to_vec()), vec![]),
        &["manifest.json", "invalid JSON"],
        None,
    );

    let layer = small_layer("c");
    let layer_name = format!("{}/layer.tar", berth_image::Digest::of(&layer).hex());
    let manifest =
        serde_json::json!([{"Config": "config.json", "RepoTags": ["c:1"], "Layers": [layer_name]}]);
    let archive = rawtar::archive(&[
        RawEntry::file(&layer_name, &layer),
        RawEntry::file("config.json", b"{\"architecture\": \"amd64\", \"os\": "),
        RawEntry::file("manifest.json", manifest.to_string().as_bytes()),
    ]);
    assert_refused(
        &archive,
        &["[0].Config", "config.json", "invalid JSON"],
        None,
    );

    // Valid JSON, wrong shape: a config without rootfs.
    let archive = rawtar::archive(&[
        RawEntry::file(&layer_name, &layer),
        RawEntry::file(
            "config.json",
            b"{\"architecture\": \"amd64\", \"os\": \"linux\"}",
        ),
        RawEntry::file("manifest.json", manifest.to_string().as_bytes()),
    ]);
    assert_refused(&archive, &["config.json", "rootfs"], None);
}

#[test]
fn layer_path_outside_the_archive() {
    let image = TestImage::new(vec![small_layer("o")], "o:1");
    let config = image.config();
    let config_name = format!("{}.json", berth_image::Digest::of(&config).hex());
    for path in ["../../../etc/passwd", "/etc/passwd"] {
        let manifest =
            serde_json::json!([{"Config": config_name, "RepoTags": ["o:1"], "Layers": [path]}]);
        let archive = rawtar::archive(&[
            RawEntry::file(&config_name, &config),
            RawEntry::file("manifest.json", manifest.to_string().as_bytes()),
        ]);
        assert_refused(&archive, &["Layers[0]", path, "outside the archive"], None);
    }
    // A symlink inside the archive that climbs out of it.
    let manifest = serde_json::json!([{"Config": config_name, "RepoTags": ["o:1"], "Layers": ["x/layer.tar"]}]);
    let archive = rawtar::archive(&[
        RawEntry::symlink("x/layer.tar", "../../../../etc/passwd"),
        RawEntry::file(&config_name, &config),
        RawEntry::file("manifest.json", manifest.to_string().as_bytes()),
    ]);
    assert_refused(&archive, &["Layers[0]", "outside the archive"], None);
}

#[test]
fn gzip_bomb_over_the_limit() {
    // 256 MiB of zeros in one file, a few hundred KiB compressed.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let header = rawtar::archive(&[RawEntry::file("bomb", &[])]);
    let mut h = header[..512].to_vec();
    h[124..136].copy_from_slice(format!("{:011o}\0", 256u64 << 20).as_bytes());
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|&b| b as u32).sum();
    h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    std::io::Write::write_all(&mut gz, &h).expect("gzip");
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..257 {
        std::io::Write::write_all(&mut gz, &zeros).expect("gzip");
    }
    let bomb = gz.finish().expect("gzip");
    let mut image = TestImage::new(vec![bomb], "bomb:1");
    image.diff_ids = Some(vec![berth_image::Digest::of(b"unknown").to_string()]);
    assert_refused_env(
        &docker_archive(&[image]),
        &["limit of 16777216 bytes"],
        None,
        &[("BERTH_LAYER_MAX_BYTES", "16777216")],
    );
}

#[test]
fn truncated_and_foreign_archives() {
    let good = docker_archive(&[TestImage::new(vec![small_layer("t")], "t:1")]);
    assert_refused(&good[..good.len() / 2], &["truncated archive"], None);
    assert_refused(b"this is not a tar file at all, just some text that is long enough to read a header from it.......", &["archive"], None);
    assert_refused(
        &rawtar::archive(&[RawEntry::file("hello.txt", b"hi")]),
        &["neither manifest.json", "index.json"],
        None,
    );
}
