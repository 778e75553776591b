//! Unpack on the real filesystem: what a good layer becomes, and how hostile
//! layers are refused without a byte written outside the layer directory.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::*;
use crate::rawtar::{self, RawEntry};

struct Scratch {
    _dir: tempfile::TempDir,
    layer: PathBuf,
    outside: PathBuf,
}

fn scratch() -> Scratch {
    let dir = tempfile::tempdir().expect("tempdir");
    let layer = dir.path().join("layer");
    let outside = dir.path().join("outside");
    fs::create_dir(&layer).expect("mkdir");
    fs::create_dir(&outside).expect("mkdir");
    Scratch {
        layer,
        outside,
        _dir: dir,
    }
}

/// Says why a test cannot run here; under `BERTH_REQUIRE_ALL=1` (CI) that is a failure.
fn skip(test: &str, reason: &str) {
    if std::env::var_os("BERTH_REQUIRE_ALL").is_some_and(|v| v == "1") {
        panic!("{test}: prerequisite missing under BERTH_REQUIRE_ALL=1: {reason}");
    }
    eprintln!("SKIP {test}: {reason}");
}

fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

fn unpack(s: &Scratch, entries: &[RawEntry]) -> Result<UnpackStats> {
    unpack_layer(&rawtar::archive(entries)[..], &s.layer, Limits::default())
}

fn xattr(path: &Path, name: &str) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; 256];
    rustix::fs::lgetxattr(path, name, &mut buf)
        .ok()
        .map(|n| buf[..n].to_vec())
}

#[test]
fn writes_every_entry_kind_with_metadata() {
    if !is_root() {
        skip(
            "writes_every_entry_kind_with_metadata",
            "needs root for chown, mknod and trusted.* xattrs",
        );
        return;
    }
    let s = scratch();
    let entries = vec![
        RawEntry::dir("./"),
        RawEntry::dir("bin"),
        RawEntry::file("bin/tool", b"#!/bin/sh\necho hi\n").with_owner(1000, 1001),
        RawEntry::new(b"bin/suid", rawtar::REGULAR, 0o4755).with_data(b"x"),
        RawEntry::hardlink("bin/tool-link", "bin/tool"),
        RawEntry::symlink("bin/sh", "/bin/busybox"),
        RawEntry::new(b"dev/null", rawtar::CHAR, 0o666),
        RawEntry::new(b"run/fifo", rawtar::FIFO, 0o600),
        RawEntry::file("etc/caps", b"c")
            .with_pax("SCHILY.xattr.user.note", b"kept")
            .with_pax("SCHILY.xattr.trusted.evil", b"dropped"),
        RawEntry::file("etc/.wh.passwd", b""),
        RawEntry::dir("var/cache"),
        RawEntry::file("var/cache/.wh..wh..opq", b""),
        RawEntry::file("a/.wh..wh.plnk", b""),
    ];
    let mut entries = entries;
    entries[6].dev = (1, 3);
    let stats = unpack(&s, &entries).expect("unpack");
    let l = &s.layer;

    let tool = fs::metadata(l.join("bin/tool")).expect("tool");
    assert_eq!((tool.uid(), tool.gid()), (1000, 1001));
    assert_eq!(tool.mode() & 0o7777, 0o644);
    assert_eq!(tool.mtime(), 1_700_000_000);
    assert_eq!(
        fs::metadata(l.join("bin/suid")).expect("suid").mode() & 0o7777,
        0o4755
    );
    assert_eq!(
        fs::metadata(l.join("bin/tool-link")).expect("link").ino(),
        tool.ino(),
        "hard link shares the inode"
    );
    assert_eq!(
        fs::read_link(l.join("bin/sh")).expect("symlink"),
        Path::new("/bin/busybox")
    );
    let null = fs::symlink_metadata(l.join("dev/null")).expect("dev");
    assert!(null.file_type().is_char_device());
    assert_eq!(null.rdev(), rustix::fs::makedev(1, 3));
    assert_eq!(
        null.mode() & 0o777,
        0o666,
        "umask does not change device modes"
    );
    assert!(
        fs::symlink_metadata(l.join("run/fifo"))
            .expect("fifo")
            .file_type()
            .is_fifo()
    );
    assert_eq!(
        xattr(&l.join("etc/caps"), "user.note").as_deref(),
        Some(&b"kept"[..])
    );
    assert_eq!(
        xattr(&l.join("etc/caps"), "trusted.evil"),
        None,
        "trusted.* xattrs are dropped"
    );

    let whiteout = fs::symlink_metadata(l.join("etc/passwd")).expect("whiteout");
    assert!(whiteout.file_type().is_char_device());
    assert_eq!(
        whiteout.rdev(),
        0,
        "overlayfs whiteouts are 0/0 character devices"
    );
    assert!(!l.join("etc/.wh.passwd").exists());
    assert_eq!(
        xattr(&l.join("var/cache"), "trusted.overlay.opaque").as_deref(),
        Some(&b"y"[..])
    );
    assert!(!l.join("var/cache/.wh..wh..opq").exists());
    assert!(!l.join("a/.wh..wh.plnk").exists());
    assert_eq!(
        fs::metadata(l.join("bin")).expect("bin").mtime(),
        1_700_000_000,
        "dir mtimes survive their children"
    );

    // Size as Docker counts it: file bytes once per inode plus symlink targets.
    let script = "#!/bin/sh\necho hi\n".len() as u64;
    assert_eq!(stats.size, script + 1 + 1 + "/bin/busybox".len() as u64);
    assert_eq!(stats.entries, entries.len() as u64);
    assert_eq!(stats.diff_id, crate::Digest::of(&rawtar::archive(&entries)));
}

#[test]
fn compressed_layers_have_the_diff_id_of_their_tar() {
    let tar = rawtar::archive(&[RawEntry::file("hello", b"world")]);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&tar).expect("gzip");
    let gz = gz.finish().expect("gzip");
    let zs = zstd::encode_all(&tar[..], 3).expect("zstd");
    for (bytes, c) in [(gz, Compression::Gzip), (zs, Compression::Zstd)] {
        let s = scratch();
        let stats = unpack_layer(&bytes[..], &s.layer, Limits::default()).expect("unpack");
        assert_eq!(stats.compression, c);
        assert_eq!(stats.diff_id, crate::Digest::of(&tar));
        assert_eq!(fs::read(s.layer.join("hello")).expect("read"), b"world");
    }
}

#[test]
fn later_entries_replace_earlier_ones() {
    let s = scratch();
    unpack(
        &s,
        &[
            RawEntry::file("x", b"first"),
            RawEntry::file("x", b"second"),
            RawEntry::file("d/inner", b"i"),
            RawEntry::file("d", b"now a file"),
            RawEntry::dir("e"),
            RawEntry::file("e/keep", b"k"),
            RawEntry::dir("e"),
        ],
    )
    .expect("unpack");
    assert_eq!(fs::read(s.layer.join("x")).expect("x"), b"second");
    assert_eq!(fs::read(s.layer.join("d")).expect("d"), b"now a file");
    assert_eq!(
        fs::read(s.layer.join("e/keep")).expect("keep"),
        b"k",
        "a repeated directory merges"
    );
}

#[test]
fn sparse_files_are_written_with_holes() {
    let s = scratch();
    let src = s.outside.join("src");
    fs::create_dir(&src).expect("mkdir");
    let sparse = src.join("sparse");
    let f = fs::File::create(&sparse).expect("create");
    f.set_len(64 << 20).expect("truncate");
    std::os::unix::fs::FileExt::write_at(&f, b"middle", 32 << 20).expect("write");
    drop(f);
    let tarball = s.outside.join("sparse.tar");
    let status = std::process::Command::new("tar")
        .args(["--sparse", "--format=gnu", "-C"])
        .arg(&src)
        .args(["-cf"])
        .arg(&tarball)
        .arg("sparse")
        .status();
    match status {
        Ok(st) if st.success() => {}
        _ => {
            skip(
                "sparse_files_are_written_with_holes",
                "GNU tar is not available to build a sparse archive",
            );
            return;
        }
    }
    let stats = unpack_layer(
        fs::File::open(&tarball).expect("open"),
        &s.layer,
        Limits::default(),
    )
    .expect("unpack");
    let out = s.layer.join("sparse");
    let meta = fs::metadata(&out).expect("stat");
    assert_eq!(meta.len(), 64 << 20);
    assert!(
        meta.blocks() * 512 < 1 << 20,
        "holes preserved: {} blocks",
        meta.blocks()
    );
    let data = fs::read(&out).expect("read");
    assert_eq!(&data[32 << 20..(32 << 20) + 6], b"middle");
    assert_eq!(stats.size, 64 << 20);
}

/// Each hostile layer: an error naming the entry, nothing outside the layer.
fn assert_refused(entries: &[RawEntry], entry_name: &str, reason: &str) {
    let s = scratch();
    let err = unpack(&s, entries)
        .expect_err("hostile layer must be refused")
        .to_string();
    assert!(
        err.contains(entry_name),
        "error {err:?} should name entry {entry_name:?}"
    );
    assert!(err.contains(reason), "error {err:?} should say {reason:?}");
    assert_eq!(
        fs::read_dir(&s.outside).expect("ls").count(),
        0,
        "nothing written outside the layer"
    );
    assert!(!Path::new("/etc/berth-escape-test").exists());
}

#[test]
fn refuses_dot_dot_and_absolute_paths() {
    assert_refused(
        &[RawEntry::file("../outside/escaped", b"x")],
        "../outside/escaped",
        "\"..\"",
    );
    assert_refused(
        &[RawEntry::file("a/../../outside/escaped", b"x")],
        "a/../../outside/escaped",
        "\"..\"",
    );
    assert_refused(
        &[RawEntry::file("/etc/berth-escape-test", b"x")],
        "/etc/berth-escape-test",
        "absolute path",
    );
}

#[test]
fn refuses_writing_through_symlinks() {
    let outside = "../outside";
    assert_refused(
        &[
            RawEntry::symlink("link", outside),
            RawEntry::file("link/escaped", b"x"),
        ],
        "link/escaped",
        "symlink",
    );
    // An absolute symlink target would be the host's /etc if followed.
    assert_refused(
        &[
            RawEntry::symlink("etc", "/etc"),
            RawEntry::file("etc/berth-escape-test", b"x"),
        ],
        "etc/berth-escape-test",
        "symlink",
    );
    // Two hops: a -> b, b -> ../outside.
    assert_refused(
        &[
            RawEntry::symlink("b", outside),
            RawEntry::symlink("a", "b"),
            RawEntry::file("a/escaped", b"x"),
        ],
        "a/escaped",
        "symlink",
    );
    // A symlink as an intermediate directory for a new directory.
    assert_refused(
        &[RawEntry::symlink("d", outside), RawEntry::dir("d/sub")],
        "d/sub",
        "symlink",
    );
}

#[test]
fn refuses_hardlinks_outside_or_through_symlinks() {
    assert_refused(
        &[RawEntry::hardlink("passwd", "../../../../etc/passwd")],
        "passwd",
        "\"..\"",
    );
    assert_refused(
        &[RawEntry::hardlink("passwd", "/etc/passwd")],
        "passwd",
        "absolute path",
    );
    assert_refused(
        &[
            RawEntry::symlink("etc", "/etc"),
            RawEntry::hardlink("stolen", "etc/passwd"),
        ],
        "stolen",
        "symlink",
    );
    assert_refused(
        &[RawEntry::hardlink("dangling", "missing")],
        "dangling",
        "no such file",
    );
}

#[test]
fn refuses_malformed_whiteouts_and_a_symlink_root() {
    assert_refused(&[RawEntry::file(".wh..", b"")], ".wh..", "invalid whiteout");
    assert_refused(
        &[RawEntry::file("dir/.wh.", b"")],
        "dir/.wh.",
        "invalid whiteout",
    );
    assert_refused(&[RawEntry::file(".wh.a/b", b"")], ".wh.a/b", "whiteout");
    assert_refused(
        &[RawEntry::symlink(".", "../outside")],
        "\".\"",
        "root must be a directory",
    );
    assert_refused(
        &[RawEntry::symlink("./", "/")],
        "\"./\"",
        "root must be a directory",
    );
}

#[test]
fn refuses_overlong_names() {
    let name = "a/".repeat(2500);
    let err_name = &name[..40];
    assert_refused(&[RawEntry::file(&name, b"x")], err_name, "5000 bytes");
}

#[test]
fn truncated_layers_fail_clearly() {
    let tar = rawtar::archive(&[
        RawEntry::file("big", &vec![7u8; 100_000]),
        RawEntry::file("after", b"x"),
    ]);
    let s = scratch();
    let err = unpack_layer(&tar[..50_000], &s.layer, Limits::default())
        .expect_err("truncated")
        .to_string();
    assert!(
        err.contains("truncated layer") && err.contains("\"big\""),
        "{err}"
    );

    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&tar).expect("gzip");
    let gz = gz.finish().expect("gzip");
    let s = scratch();
    let err = unpack_layer(&gz[..gz.len() - 20], &s.layer, Limits::default())
        .expect_err("truncated gzip")
        .to_string();
    assert!(err.contains("layer"), "{err}");
}

#[test]
fn gzip_bomb_stops_at_the_byte_limit() {
    // 1 GiB of zeros compresses to about 1 MiB; the limit stops it at 8 MiB.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let entry_header = rawtar::archive(&[RawEntry::file("bomb", &[])]);
    let mut header = entry_header[..512].to_vec();
    // Patch the size field of the header to 1 GiB and fix the checksum.
    let size = format!("{:011o}\0", 1u64 << 30);
    header[124..136].copy_from_slice(size.as_bytes());
    header[148..156].copy_from_slice(b"        ");
    let sum: u32 = header.iter().map(|&b| b as u32).sum();
    header[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    gz.write_all(&header).expect("gzip");
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..1024 {
        gz.write_all(&zeros).expect("gzip");
    }
    let bomb = gz.finish().expect("gzip");
    assert!(bomb.len() < 2 << 20);
    let s = scratch();
    let limits = Limits {
        max_bytes: 8 << 20,
        max_entries: 100,
    };
    let err = unpack_layer(&bomb[..], &s.layer, limits)
        .expect_err("bomb")
        .to_string();
    assert!(err.contains("limit of 8388608 bytes"), "{err}");
    let written: u64 = fs::metadata(s.layer.join("bomb"))
        .map(|m| m.len())
        .unwrap_or(0);
    assert!(written <= 8 << 20, "stopped at the limit, wrote {written}");
}

#[test]
fn entry_count_limit() {
    let entries: Vec<RawEntry> = (0..50)
        .map(|i| RawEntry::file(&format!("f{i}"), b""))
        .collect();
    let s = scratch();
    let err = unpack_layer(
        &rawtar::archive(&entries)[..],
        &s.layer,
        Limits {
            max_bytes: u64::MAX,
            max_entries: 10,
        },
    )
    .expect_err("too many entries")
    .to_string();
    assert!(err.contains("limit of 10 entries"), "{err}");
}

#[test]
fn root_entry_sets_root_metadata() {
    let s = scratch();
    unpack(&s, &[RawEntry::new(b"./", rawtar::DIRECTORY, 0o711)]).expect("unpack");
    assert_eq!(
        fs::metadata(&s.layer).expect("stat").permissions().mode() & 0o777,
        0o711
    );
}

/// A GNU sparse archive of `src/name` made by GNU tar; None (after `skip`)
/// without GNU tar.
fn gnu_sparse_tar(s: &Scratch, test: &str, build: impl FnOnce(&fs::File)) -> Option<PathBuf> {
    let src = s.outside.join("src");
    fs::create_dir_all(&src).expect("mkdir");
    let f = fs::File::create(src.join("big")).expect("create");
    build(&f);
    drop(f);
    let tarball = s.outside.join("sparse.tar");
    let status = std::process::Command::new("tar")
        .args(["--sparse", "--format=gnu", "-C"])
        .arg(&src)
        .args(["-cf"])
        .arg(&tarball)
        .arg("big")
        .status();
    match status {
        Ok(st) if st.success() => Some(tarball),
        _ => {
            skip(test, "GNU tar is not available to build a sparse archive");
            None
        }
    }
}

#[test]
fn a_terabyte_sparse_file_costs_its_extents_not_its_size() {
    let test = "a_terabyte_sparse_file_costs_its_extents_not_its_size";
    let s = scratch();
    // Forty data extents (so the map needs extension blocks) over 1 TiB.
    let Some(tarball) = gnu_sparse_tar(&s, test, |f| {
        f.set_len(1 << 40).expect("truncate");
        for i in 0..40u64 {
            std::os::unix::fs::FileExt::write_at(
                f,
                format!("extent {i}").as_bytes(),
                i * (25 << 30),
            )
            .expect("write");
        }
    }) else {
        return;
    };
    assert!(
        fs::metadata(&tarball).unwrap().len() < 1 << 20,
        "the archive is small"
    );
    let started = std::time::Instant::now();
    let stats = unpack_layer(
        fs::File::open(&tarball).expect("open"),
        &s.layer,
        Limits {
            max_bytes: 2 << 40,
            ..Limits::default()
        },
    )
    .expect("unpack");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "holes are skipped, not read: {:?}",
        started.elapsed()
    );
    let out = fs::File::open(s.layer.join("big")).expect("open");
    let meta = out.metadata().unwrap();
    assert_eq!(meta.len(), 1 << 40);
    assert!(meta.blocks() * 512 < 64 << 20, "{} blocks", meta.blocks());
    for i in [0u64, 1, 17, 39] {
        let want = format!("extent {i}");
        let mut got = vec![0u8; want.len()];
        std::os::unix::fs::FileExt::read_exact_at(&out, &mut got, i * (25 << 30)).unwrap();
        assert_eq!(got, want.as_bytes());
    }
    assert_eq!(stats.size, 1 << 40);

    // The limit counts the apparent size, and says so at once.
    let again = scratch();
    let started = std::time::Instant::now();
    let err = unpack_layer(
        fs::File::open(&tarball).expect("open"),
        &again.layer,
        Limits {
            max_bytes: 1 << 30,
            ..Limits::default()
        },
    )
    .unwrap_err();
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    assert!(matches!(err, Error::LimitExceeded(_)), "{err}");
    assert!(err.to_string().contains("\"big\""), "{err}");
}

#[test]
fn a_sparse_file_cut_short_is_a_truncated_layer() {
    let test = "a_sparse_file_cut_short_is_a_truncated_layer";
    let s = scratch();
    let Some(tarball) = gnu_sparse_tar(&s, test, |f| {
        f.set_len(1 << 30).expect("truncate");
        std::os::unix::fs::FileExt::write_at(f, &[7u8; 100_000], 1 << 29).expect("write");
    }) else {
        return;
    };
    let bytes = fs::read(&tarball).unwrap();
    // Cut inside the stored data (after the header block).
    let cut = &bytes[..512 + 50_000];
    let err = unpack_layer(cut, &s.layer, Limits::default()).unwrap_err();
    assert!(err.to_string().contains("truncated"), "{err}");
}
