//! Layer diff on the real filesystem: an upper directory with every kind of
//! entry, read back with the `tar` crate, unpacked again with
//! [`crate::unpack`], and a real overlayfs mount.

use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use rustix::fs::{self as rfs, AtFlags, FileType, Mode, Timespec, Timestamps, XattrFlags};
use tar::EntryType;

use super::*;
use crate::unpack::{Limits, unpack_layer};

const T: i64 = 1_700_000_000;

/// Says why a test cannot run here; under `BERTH_REQUIRE_ALL=1` (CI) that is a failure.
fn skip(test: &str, reason: &str) {
    if std::env::var_os("BERTH_REQUIRE_ALL").is_some_and(|v| v == "1") {
        panic!("{test}: prerequisite missing under BERTH_REQUIRE_ALL=1: {reason}");
    }
    eprintln!("SKIP {test}: {reason}");
}

/// Whether this process may make whiteouts and set `trusted.*` xattrs (root
/// in the initial user namespace, in practice). The reason if not.
fn privileged(dir: &Path) -> Result<(), String> {
    let probe = dir.join("probe");
    rfs::mknodat(
        rfs::CWD,
        &probe,
        FileType::CharacterDevice,
        Mode::empty(),
        rfs::makedev(0, 0),
    )
    .map_err(|e| format!("cannot create a 0/0 character device: {e}"))?;
    fs::remove_file(&probe).map_err(|e| e.to_string())?;
    rfs::setxattr(dir, "trusted.probe", b"1", XattrFlags::empty())
        .map_err(|e| format!("cannot set trusted.* xattrs: {e}"))?;
    rfs::removexattr(dir, "trusted.probe").map_err(|e| e.to_string())?;
    Ok(())
}

fn set_mtime(path: &Path, secs: i64) {
    let t = Timespec {
        tv_sec: secs,
        tv_nsec: 0,
    };
    rfs::utimensat(
        rfs::CWD,
        path,
        &Timestamps {
            last_access: t,
            last_modification: t,
        },
        AtFlags::SYMLINK_NOFOLLOW,
    )
    .expect("utimensat");
}

fn file(path: &Path, data: &[u8], mode: u32) {
    fs::write(path, data).expect("write");
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).expect("chmod");
}

fn dir(path: &Path, mode: u32) {
    fs::create_dir(path).expect("mkdir");
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).expect("chmod");
}

fn xattr(path: &Path, name: &str, value: &[u8]) {
    rfs::lsetxattr(path, name, value, XattrFlags::empty()).expect("setxattr");
}

fn get_xattr(path: &Path, name: &str) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; 256];
    rfs::lgetxattr(path, name, &mut buf)
        .ok()
        .map(|n| buf[..n].to_vec())
}

fn long_name() -> String {
    "n".repeat(150)
}

fn long_target() -> String {
    format!("../{}", "t/".repeat(70))
}

/// A version 2 `security.capability` granting CAP_NET_BIND_SERVICE.
const NET_BIND_CAP: [u8; 20] = [
    0x01, 0x00, 0x00, 0x02, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00,
];

/// An upper directory with every kind of entry. Every date is fixed, so two
/// builds encode identically.
fn build_upper(u: &Path) {
    dir(&u.join("a"), 0o755);
    let f = u.join("a/file.txt");
    file(&f, b"hello\n", 0o644);
    std::os::unix::fs::chown(&f, Some(1000), Some(1001)).expect("chown");
    // chown clears capabilities, so attributes come after it.
    xattr(&f, "user.b", b"2");
    xattr(&f, "user.a", b"1");
    xattr(&f, "security.capability", &NET_BIND_CAP);
    xattr(&f, "trusted.overlay.origin", b"bookkeeping");
    xattr(&f, "user.overlay.impure", b"y");
    std::os::unix::fs::symlink("../target", u.join("a/link")).expect("symlink");
    file(&u.join("a.txt"), b"a.txt", 0o600);

    dir(&u.join("bin"), 0o755);
    file(&u.join("bin/suid"), b"s", 0o4755);
    file(&u.join("bin/tool"), b"tool", 0o755);
    dir(&u.join("z"), 0o755);
    fs::hard_link(u.join("bin/tool"), u.join("z/tool-again")).expect("link");

    dir(&u.join("dev"), 0o755);
    rfs::mknodat(
        rfs::CWD,
        u.join("dev/null"),
        FileType::CharacterDevice,
        Mode::from_raw_mode(0o666),
        rfs::makedev(1, 3),
    )
    .expect("mknod");
    fs::set_permissions(u.join("dev/null"), fs::Permissions::from_mode(0o666)).expect("chmod");

    rfs::mknodat(
        rfs::CWD,
        u.join("gone"),
        FileType::CharacterDevice,
        Mode::empty(),
        rfs::makedev(0, 0),
    )
    .expect("whiteout");

    dir(&u.join("long"), 0o755);
    file(&u.join("long").join(long_name()), b"long", 0o644);
    std::os::unix::fs::symlink(long_target(), u.join("long/sym")).expect("symlink");

    dir(&u.join("opq"), 0o750);
    xattr(&u.join("opq"), "trusted.overlay.opaque", b"y");
    file(&u.join("opq/kept"), b"kept", 0o644);
    dir(&u.join("uopq"), 0o755);
    xattr(&u.join("uopq"), "user.overlay.opaque", b"y");

    dir(&u.join("run"), 0o755);
    rfs::mknodat(
        rfs::CWD,
        u.join("run/fifo"),
        FileType::Fifo,
        Mode::from_raw_mode(0o600),
        0,
    )
    .expect("mkfifo");
    fs::set_permissions(u.join("run/fifo"), fs::Permissions::from_mode(0o600)).expect("chmod");
    drop(std::os::unix::net::UnixListener::bind(u.join("run/sock")).expect("socket"));

    dir(&u.join("sticky"), 0o1777);

    // Dates last, deepest first: creating children changes a directory's.
    let mut paths = Vec::new();
    collect(u, &mut paths);
    paths.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    for p in paths {
        set_mtime(&p, T);
    }
    set_mtime(&f, T + 1);
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in fs::read_dir(dir).expect("readdir") {
        let path = e.expect("entry").path();
        if fs::symlink_metadata(&path).expect("lstat").is_dir() {
            collect(&path, out);
        }
        out.push(path);
    }
}

/// One entry as the `tar` crate reads it back.
#[derive(Debug, Clone)]
struct Seen {
    path: String,
    kind: EntryType,
    link: Option<String>,
    mode: u32,
    uid: u64,
    gid: u64,
    mtime: u64,
    dev: (u32, u32),
    data: Vec<u8>,
    /// All PAX records, in order.
    pax: Vec<(String, Vec<u8>)>,
}

fn read_back(tar_bytes: &[u8]) -> Vec<Seen> {
    let mut archive = tar::Archive::new(tar_bytes);
    let mut out = Vec::new();
    for entry in archive.entries().expect("entries") {
        let mut entry = entry.expect("entry");
        let mut pax = Vec::new();
        if let Some(exts) = entry.pax_extensions().expect("pax") {
            for ext in exts {
                let ext = ext.expect("pax record");
                pax.push((
                    String::from_utf8_lossy(ext.key_bytes()).into_owned(),
                    ext.value_bytes().to_vec(),
                ));
            }
        }
        let h = entry.header();
        let mut r = Seen {
            path: String::from_utf8_lossy(&entry.path_bytes()).into_owned(),
            kind: h.entry_type(),
            link: entry
                .link_name_bytes()
                .map(|l| String::from_utf8_lossy(&l).into_owned()),
            mode: h.mode().expect("mode"),
            uid: h.uid().expect("uid"),
            gid: h.gid().expect("gid"),
            mtime: h.mtime().expect("mtime"),
            dev: (
                h.device_major().ok().flatten().unwrap_or(0),
                h.device_minor().ok().flatten().unwrap_or(0),
            ),
            data: Vec::new(),
            pax,
        };
        assert_eq!(h.username_bytes(), Some(&b""[..]), "{}: uname", r.path);
        assert_eq!(h.groupname_bytes(), Some(&b""[..]), "{}: gname", r.path);
        entry.read_to_end(&mut r.data).expect("data");
        out.push(r);
    }
    out
}

fn layer_of(upper: &Path) -> (Vec<u8>, DiffStats) {
    let mut out = Vec::new();
    let stats = write_layer(upper, &mut out).expect("write_layer");
    (out, stats)
}

fn find<'a>(entries: &'a [Seen], path: &str) -> &'a Seen {
    entries
        .iter()
        .find(|e| e.path == path)
        .unwrap_or_else(|| panic!("no entry {path}"))
}

#[test]
fn upper_dir_becomes_sorted_oci_entries() {
    let tmp = tempfile::tempdir().expect("tempdir");
    if let Err(reason) = privileged(tmp.path()) {
        skip("upper_dir_becomes_sorted_oci_entries", &reason);
        return;
    }
    let upper = tmp.path().join("upper");
    fs::create_dir(&upper).expect("mkdir");
    build_upper(&upper);

    let (bytes, stats) = layer_of(&upper);
    let entries = read_back(&bytes);
    let long_file = format!("long/{}", long_name());
    let listing: Vec<(&str, EntryType)> = entries.iter().map(|e| (&*e.path, e.kind)).collect();
    assert_eq!(
        listing,
        vec![
            ("a/", EntryType::Directory),
            ("a/file.txt", EntryType::Regular),
            ("a/link", EntryType::Symlink),
            ("a.txt", EntryType::Regular),
            ("bin/", EntryType::Directory),
            ("bin/suid", EntryType::Regular),
            ("bin/tool", EntryType::Regular),
            ("dev/", EntryType::Directory),
            ("dev/null", EntryType::Char),
            (".wh.gone", EntryType::Regular),
            ("long/", EntryType::Directory),
            (&*long_file, EntryType::Regular),
            ("long/sym", EntryType::Symlink),
            ("opq/", EntryType::Directory),
            ("opq/.wh..wh..opq", EntryType::Regular),
            ("opq/kept", EntryType::Regular),
            ("run/", EntryType::Directory),
            ("run/fifo", EntryType::Fifo),
            ("sticky/", EntryType::Directory),
            ("uopq/", EntryType::Directory),
            ("uopq/.wh..wh..opq", EntryType::Regular),
            ("z/", EntryType::Directory),
            ("z/tool-again", EntryType::Link),
        ],
        "sorted at every level, parents first, socket skipped"
    );
    assert_eq!(stats.entries, entries.len() as u64);
    assert_eq!(stats.bytes, bytes.len() as u64);
    assert_eq!(bytes.len() % 512, 0);
    assert!(bytes.ends_with(&[0u8; 1024]));

    let f = find(&entries, "a/file.txt");
    assert_eq!(f.data, b"hello\n");
    assert_eq!(
        (f.mode, f.uid, f.gid, f.mtime),
        (0o644, 1000, 1001, T as u64 + 1)
    );
    assert_eq!(
        f.pax,
        vec![
            (
                "SCHILY.xattr.security.capability".to_string(),
                NET_BIND_CAP.to_vec()
            ),
            ("SCHILY.xattr.user.a".to_string(), b"1".to_vec()),
            ("SCHILY.xattr.user.b".to_string(), b"2".to_vec()),
        ],
        "xattrs sorted, overlay's own dropped"
    );

    assert_eq!(find(&entries, "a/link").link.as_deref(), Some("../target"));
    assert_eq!(find(&entries, "a.txt").mode, 0o600);
    assert_eq!(find(&entries, "a/").mode, 0o755);
    assert_eq!(find(&entries, "a/").mtime, T as u64);
    assert_eq!(find(&entries, "bin/suid").mode, 0o4755);
    assert_eq!(find(&entries, "bin/tool").data, b"tool");
    assert_eq!(find(&entries, "sticky/").mode, 0o1777);
    assert_eq!(find(&entries, "opq/").mode, 0o750);
    assert!(
        find(&entries, "opq/").pax.is_empty(),
        "trusted.overlay.opaque is not emitted"
    );
    assert!(find(&entries, "uopq/").pax.is_empty());
    assert_eq!(find(&entries, "opq/kept").data, b"kept");

    let null = find(&entries, "dev/null");
    assert_eq!((null.dev, null.mode), ((1, 3), 0o666));
    assert_eq!(find(&entries, "run/fifo").mode, 0o600);

    for marker in [".wh.gone", "opq/.wh..wh..opq", "uopq/.wh..wh..opq"] {
        let m = find(&entries, marker);
        assert_eq!(
            (m.mode, m.uid, m.gid, m.mtime, m.data.len()),
            (0, 0, 0, 0, 0),
            "{marker}"
        );
    }

    let again = find(&entries, "z/tool-again");
    assert_eq!(again.link.as_deref(), Some("bin/tool"));
    assert!(again.data.is_empty());

    let long = find(&entries, &long_file);
    assert_eq!(long.data, b"long");
    assert_eq!(
        long.pax,
        vec![("path".to_string(), long_file.clone().into_bytes())]
    );
    let sym = find(&entries, "long/sym");
    assert_eq!(sym.link.as_deref(), Some(&*long_target()));
    assert_eq!(sym.pax[0].0, "linkpath");
}

#[test]
fn same_content_gives_identical_bytes() {
    let tmp = tempfile::tempdir().expect("tempdir");
    if let Err(reason) = privileged(tmp.path()) {
        skip("same_content_gives_identical_bytes", &reason);
        return;
    }
    let one = tmp.path().join("one");
    let two = tmp.path().join("two");
    fs::create_dir(&one).expect("mkdir");
    fs::create_dir(&two).expect("mkdir");
    build_upper(&one);
    build_upper(&two);
    let (first, _) = layer_of(&one);
    let (second, _) = layer_of(&one);
    assert!(first == second, "writing twice gives the same bytes");
    let (other, _) = layer_of(&two);
    assert!(
        first == other,
        "a second directory with the same content (other inodes, other readdir order) gives the same bytes"
    );
    assert_eq!(
        crate::Digest::of(&first),
        crate::Digest::of(&other),
        "same diff ID"
    );
}

#[test]
fn round_trip_through_unpack_restores_whiteouts_and_opaque_dirs() {
    let tmp = tempfile::tempdir().expect("tempdir");
    if let Err(reason) = privileged(tmp.path()) {
        skip(
            "round_trip_through_unpack_restores_whiteouts_and_opaque_dirs",
            &reason,
        );
        return;
    }
    let upper = tmp.path().join("upper");
    let dest = tmp.path().join("dest");
    fs::create_dir(&upper).expect("mkdir");
    fs::create_dir(&dest).expect("mkdir");
    build_upper(&upper);
    let (bytes, stats) = layer_of(&upper);

    let unpacked = unpack_layer(&bytes[..], &dest, Limits::default()).expect("unpack");
    assert_eq!(unpacked.entries, stats.entries);
    assert_eq!(unpacked.diff_id, crate::Digest::of(&bytes));

    let gone = fs::symlink_metadata(dest.join("gone")).expect("whiteout");
    assert!(gone.file_type().is_char_device());
    assert_eq!(gone.rdev(), 0);
    assert!(!dest.join(".wh.gone").exists());
    for d in ["opq", "uopq"] {
        assert_eq!(
            get_xattr(&dest.join(d), "trusted.overlay.opaque").as_deref(),
            Some(&b"y"[..]),
            "{d} is opaque again"
        );
        assert!(!dest.join(d).join(".wh..wh..opq").exists());
    }
    assert_eq!(fs::read(dest.join("opq/kept")).expect("kept"), b"kept");

    let f = fs::metadata(dest.join("a/file.txt")).expect("file");
    assert_eq!((f.uid(), f.gid(), f.mode() & 0o7777), (1000, 1001, 0o644));
    assert_eq!(
        get_xattr(&dest.join("a/file.txt"), "security.capability").as_deref(),
        Some(&NET_BIND_CAP[..])
    );
    assert_eq!(
        get_xattr(&dest.join("a/file.txt"), "trusted.overlay.origin"),
        None
    );
    assert_eq!(
        fs::metadata(dest.join("z/tool-again")).expect("link").ino(),
        fs::metadata(dest.join("bin/tool")).expect("tool").ino()
    );
    assert_eq!(
        fs::read(dest.join("long").join(long_name())).expect("long"),
        b"long"
    );
    assert_eq!(
        fs::read_link(dest.join("long/sym")).expect("symlink"),
        Path::new(&long_target())
    );
    let null = fs::symlink_metadata(dest.join("dev/null")).expect("dev");
    assert!(null.file_type().is_char_device());
    assert_eq!(null.rdev(), rfs::makedev(1, 3));

    // The unpacked directory is an upper directory again: its layer is the
    // same stream, byte for byte.
    let (again, _) = layer_of(&dest);
    assert!(bytes == again, "upper -> layer -> upper -> layer is stable");
}

#[test]
fn xattrs_of_symlinks_are_their_own() {
    let tmp = tempfile::tempdir().expect("tempdir");
    if let Err(reason) = privileged(tmp.path()) {
        skip("xattrs_of_symlinks_are_their_own", &reason);
        return;
    }
    let upper = tmp.path().join("upper");
    fs::create_dir(&upper).expect("mkdir");
    file(&upper.join("target"), b"t", 0o644);
    xattr(&upper.join("target"), "trusted.of-target", b"t");
    std::os::unix::fs::symlink("target", upper.join("sym")).expect("symlink");
    xattr(&upper.join("sym"), "trusted.of-link", b"l");
    let entries = read_back(&layer_of(&upper).0);
    assert_eq!(
        find(&entries, "sym").pax,
        vec![("SCHILY.xattr.trusted.of-link".to_string(), b"l".to_vec())]
    );
    assert_eq!(
        find(&entries, "target").pax,
        vec![("SCHILY.xattr.trusted.of-target".to_string(), b"t".to_vec())]
    );
}

#[test]
fn large_ids_and_old_dates_use_pax() {
    let tmp = tempfile::tempdir().expect("tempdir");
    if let Err(reason) = privileged(tmp.path()) {
        skip("large_ids_and_old_dates_use_pax", &reason);
        return;
    }
    let upper = tmp.path().join("upper");
    let dest = tmp.path().join("dest");
    fs::create_dir(&upper).expect("mkdir");
    fs::create_dir(&dest).expect("mkdir");
    let f = upper.join("f");
    file(&f, b"x", 0o644);
    std::os::unix::fs::chown(&f, Some(3_000_000), Some(3_000_001)).expect("chown");
    set_mtime(&f, -1);
    let (bytes, _) = layer_of(&upper);
    let entries = read_back(&bytes);
    assert_eq!(
        find(&entries, "f").pax,
        vec![
            ("uid".to_string(), b"3000000".to_vec()),
            ("gid".to_string(), b"3000001".to_vec()),
            ("mtime".to_string(), b"-1".to_vec()),
        ]
    );
    unpack_layer(&bytes[..], &dest, Limits::default()).expect("unpack");
    let m = fs::metadata(dest.join("f")).expect("f");
    assert_eq!((m.uid(), m.gid(), m.mtime()), (3_000_000, 3_000_001, -1));
}

#[test]
fn overlay_redirects_and_metacopy_are_refused_by_path() {
    let tmp = tempfile::tempdir().expect("tempdir");
    if let Err(reason) = privileged(tmp.path()) {
        skip(
            "overlay_redirects_and_metacopy_are_refused_by_path",
            &reason,
        );
        return;
    }
    for (name, is_dir, attr) in [
        ("moved", true, "trusted.overlay.redirect"),
        ("meta", false, "trusted.overlay.metacopy"),
        ("umoved", true, "user.overlay.redirect"),
    ] {
        let upper = tmp.path().join(format!("upper-{name}"));
        fs::create_dir(&upper).expect("mkdir");
        let p = upper.join("d").join(name);
        fs::create_dir(upper.join("d")).expect("mkdir");
        if is_dir {
            dir(&p, 0o755);
        } else {
            file(&p, b"", 0o644);
        }
        xattr(&p, attr, b"/elsewhere");
        let err = write_layer(&upper, io::sink()).expect_err("refused");
        let msg = err.to_string();
        assert!(
            matches!(err, DiffError::Unsupported { .. }),
            "{attr}: {err:?}"
        );
        assert!(msg.contains(&p.display().to_string()), "{msg}");
        assert!(msg.contains(attr), "{msg}");
        assert!(msg.contains("redirect_dir and metacopy"), "{msg}");
    }
}

#[test]
fn missing_upper_dir_names_path_and_operation() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let missing = tmp.path().join("nope");
    let err = write_layer(&missing, io::sink()).expect_err("missing");
    assert_eq!(
        err.to_string(),
        format!(
            "open upper directory {}: No such file or directory (os error 2)",
            missing.display()
        )
    );
    let link = tmp.path().join("link");
    std::os::unix::fs::symlink(tmp.path(), &link).expect("symlink");
    assert!(
        write_layer(&link, io::sink()).is_err(),
        "the upper directory itself is not followed either"
    );
}

/// Counts what it is given and the largest single write.
#[derive(Default)]
struct Counter {
    bytes: u64,
    largest: usize,
    writes: u64,
}

impl Write for Counter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.bytes += buf.len() as u64;
        self.largest = self.largest.max(buf.len());
        self.writes += 1;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_large_file_and_many_small_ones_stream_quickly() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let upper = tmp.path().join("upper");
    fs::create_dir(&upper).expect("mkdir");

    // 100 MiB with data at both ends and a hole between.
    let big = upper.join("big");
    let size: u64 = 100 << 20;
    {
        let f = fs::File::create(&big).expect("create");
        f.set_len(size).expect("set_len");
        use std::os::unix::fs::FileExt;
        f.write_all_at(b"head", 0).expect("head");
        f.write_all_at(b"tail", size - 4).expect("tail");
    }
    for d in 0..100 {
        let sub = upper.join(format!("d{d:03}"));
        fs::create_dir(&sub).expect("mkdir");
        for i in 0..100 {
            fs::write(sub.join(format!("f{i:03}")), format!("{d}/{i}")).expect("write");
        }
    }

    let started = Instant::now();
    let mut counter = Counter::default();
    let stats = write_layer(&upper, &mut counter).expect("write_layer");
    let elapsed = started.elapsed();
    eprintln!(
        "100 MiB + 10 000 small files: {} bytes in {elapsed:?}, {} writes",
        stats.bytes, counter.writes
    );
    assert_eq!(stats.entries, 1 + 100 + 10_000);
    assert_eq!(stats.bytes, counter.bytes);
    assert!(
        counter.largest <= sink::CAPACITY,
        "writes come in buffer-sized chunks"
    );
    assert!(
        counter.writes < stats.bytes / (512 << 10),
        "few, large writes: {}",
        counter.writes
    );

    // Read it back through a file, streaming: the big entry's contents are
    // checked without holding them.
    let out_path = tmp.path().join("layer.tar");
    let out = io::BufWriter::new(fs::File::create(&out_path).expect("create"));
    write_layer(&upper, out).expect("write_layer");
    let mut archive =
        tar::Archive::new(io::BufReader::new(fs::File::open(&out_path).expect("open")));
    let mut seen = 0u64;
    for entry in archive.entries().expect("entries") {
        let mut entry = entry.expect("entry");
        seen += 1;
        if &*entry.path_bytes() == b"big" {
            assert_eq!(entry.header().entry_size().expect("size"), size);
            let mut head = [0u8; 4];
            entry.read_exact(&mut head).expect("head");
            assert_eq!(&head, b"head");
            let mut rest = Vec::new();
            let mut chunk = vec![0u8; 1 << 20];
            let mut nonzero = 0u64;
            let mut total = 4u64;
            loop {
                let n = entry.read(&mut chunk).expect("read");
                if n == 0 {
                    break;
                }
                total += n as u64;
                nonzero += chunk[..n].iter().filter(|&&b| b != 0).count() as u64;
                rest.clear();
                rest.extend_from_slice(&chunk[n.saturating_sub(4)..n]);
            }
            assert_eq!(total, size);
            assert_eq!(nonzero, 4, "only the tail is non-zero");
            assert_eq!(rest, b"tail");
        }
    }
    assert_eq!(seen, stats.entries);
}

#[test]
fn pax_record_lengths_count_their_own_digits() {
    for len in 0..2000 {
        let value = vec![b'v'; len];
        let record = header::pax_record_for_test(b"path", &value);
        let (digits, _) = record.split_at(record.iter().position(|&b| b == b' ').expect("space"));
        let stated: usize = std::str::from_utf8(digits)
            .expect("ascii")
            .parse()
            .expect("number");
        assert_eq!(stated, record.len(), "value of {len} bytes");
        assert!(record.ends_with(b"\n"));
    }
}

/// Unmounts on drop, so a failing assertion does not leave a mount behind.
struct Mounted(PathBuf);

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn real_overlay_deletions_and_recreated_dirs() {
    let test = "real_overlay_deletions_and_recreated_dirs";
    let tmp = tempfile::tempdir().expect("tempdir");
    let [lower, upper, work, merged] =
        ["lower", "upper", "work", "merged"].map(|n| tmp.path().join(n));
    for d in [&lower, &upper, &work, &merged] {
        fs::create_dir(d).expect("mkdir");
    }
    fs::write(lower.join("keep"), b"keep").expect("write");
    fs::write(lower.join("del"), b"del").expect("write");
    fs::create_dir(lower.join("dir")).expect("mkdir");
    fs::write(lower.join("dir/old"), b"old").expect("write");

    let options = format!(
        "lowerdir={},upperdir={},workdir={}",
        lower.display(),
        upper.display(),
        work.display()
    );
    let status = Command::new("mount")
        .args(["-t", "overlay", "overlay", "-o", &options])
        .arg(&merged)
        .stderr(std::process::Stdio::piped())
        .output();
    match status {
        Ok(o) if o.status.success() => {}
        Ok(o) => {
            skip(
                test,
                &format!(
                    "cannot mount overlayfs: {}",
                    String::from_utf8_lossy(&o.stderr).trim()
                ),
            );
            return;
        }
        Err(e) => {
            skip(test, &format!("cannot run mount: {e}"));
            return;
        }
    }
    let mount = Mounted(merged.clone());
    fs::remove_file(merged.join("del")).expect("rm del");
    fs::write(merged.join("new"), b"new").expect("write new");
    fs::remove_dir_all(merged.join("dir")).expect("rm dir");
    fs::create_dir(merged.join("dir")).expect("mkdir dir");
    fs::write(merged.join("dir/fresh"), b"fresh").expect("write fresh");
    drop(mount);

    let (bytes, _) = layer_of(&upper);
    let entries = read_back(&bytes);
    let listing: Vec<(&str, EntryType)> = entries.iter().map(|e| (&*e.path, e.kind)).collect();
    assert_eq!(
        listing,
        vec![
            (".wh.del", EntryType::Regular),
            ("dir/", EntryType::Directory),
            ("dir/.wh..wh..opq", EntryType::Regular),
            ("dir/fresh", EntryType::Regular),
            ("new", EntryType::Regular),
        ]
    );
    assert_eq!(find(&entries, "new").data, b"new");
    assert_eq!(find(&entries, "dir/fresh").data, b"fresh");
    for e in &entries {
        assert!(
            e.pax.iter().all(|(k, _)| !k.contains("overlay")),
            "{}: overlay attributes leaked: {:?}",
            e.path,
            e.pax
        );
    }
}
