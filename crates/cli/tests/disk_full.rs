//! A full disk, said as a full disk: `commit`, `load` and `import` that run
//! out of space name the file system's error and the path they were
//! writing (not "corrupt archive", not "Broken pipe"), and leave the store
//! as it was; a container's log lines that cannot be written are counted,
//! and the log says how many were lost once it can be written again.
//!
//! The store's data root is a small tmpfs the test mounts (and unmounts)
//! inside its own temp dir; the disk is filled with a file beside the
//! store. Root only (mounts, containers).

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use berth_image::rawtar::{self, RawEntry};
use support::{Store, TestImage, docker_archive};

/// A layer (or root file system) of one file of `size` zero bytes.
fn one_file_tar(name: &str, size: usize) -> Vec<u8> {
    rawtar::archive(&[RawEntry::file(name, &vec![0u8; size])])
}

/// The store's root on a tmpfs of `size`, unmounted when dropped.
struct SmallDisk {
    store: Store,
    root: PathBuf,
}

impl SmallDisk {
    fn new(test: &str, size: &str) -> Option<SmallDisk> {
        if !support::is_root() {
            support::skip(test, "needs root to mount a tmpfs and run containers");
            return None;
        }
        let store = Store::new();
        let root = store.root().to_path_buf();
        std::fs::create_dir_all(&root).expect("store root");
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&root)
            .status()
            .expect("run mount");
        assert!(mounted.success(), "mount a tmpfs on {}", root.display());
        let disk = SmallDisk { store, root };
        disk.store.busybox("busybox:latest")?;
        Some(disk)
    }

    /// Free bytes on the disk.
    fn free(&self) -> u64 {
        let out = Command::new("df")
            .args(["--output=avail", "-B1"])
            .arg(&self.root)
            .output()
            .expect("run df");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .nth(1)
            .and_then(|l| l.trim().parse().ok())
            .expect("df's available bytes")
    }

    /// Fills the disk until `leave` bytes are free (0: until a write
    /// fails); returns the filler, whose removal frees the space again.
    fn fill(&self, leave: u64) -> PathBuf {
        use std::io::Write;
        let path = self.root.join(format!("filler-{leave}"));
        let mut file = std::fs::File::create(&path).expect("create filler");
        let chunk = vec![0u8; 64 * 1024];
        loop {
            let free = self.free();
            if free <= leave {
                break;
            }
            let n = (free - leave).min(chunk.len() as u64) as usize;
            if file.write_all(&chunk[..n]).is_err() {
                break;
            }
            let _ = file.sync_data();
        }
        path
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        // Containers first, so nothing holds the mount.
        let ids = self.store.run(&["ps", "-aq"]);
        for id in String::from_utf8_lossy(&ids.stdout).lines() {
            let _ = self.store.run(&["rm", "-f", id]);
        }
        let _ = Command::new("umount").arg("-l").arg(&self.root).status();
    }
}

fn assert_says_full(stderr: &str, under: &Path, not: &str) {
    assert!(
        stderr.contains("No space left on device"),
        "the error does not say the disk is full:\n{stderr}"
    );
    assert!(
        stderr.contains(&under.display().to_string()),
        "the error does not name the path written under {}:\n{stderr}",
        under.display()
    );
    assert!(
        !stderr.contains(not),
        "the error says {not:?} for a full disk:\n{stderr}"
    );
}

#[test]
fn commit_load_and_import_on_a_full_disk_say_so() {
    let test = "commit_load_and_import_on_a_full_disk_say_so";
    let Some(disk) = SmallDisk::new(test, "96m") else {
        return;
    };
    let s = &disk.store;
    s.ok(&[
        "run",
        "--name",
        "big",
        "busybox",
        "sh",
        "-c",
        "head -c 15000000 /dev/zero > /big",
    ]);
    // Archives made while there is room, loaded once there is not.
    let archive = docker_archive(&[TestImage::new(
        vec![one_file_tar("big.bin", 8_000_000)],
        "bigload:1",
    )]);
    let archive_path = s.dir().join("big-image.tar");
    std::fs::write(&archive_path, &archive).expect("write archive");
    let rootfs_path = s.dir().join("rootfs.tar");
    std::fs::write(&rootfs_path, one_file_tar("big.bin", 8_000_000)).expect("rootfs");

    let filler = disk.fill(5 << 20);
    let before = s.image_ids();

    let err = s.fails(&["commit", "big", "big:1"]);
    assert_says_full(&err, &disk.root, "Broken pipe");
    let err = s.fails(&["load", "-i", &archive_path.display().to_string()]);
    assert_says_full(&err, &disk.root, "corrupt");
    let err = s.fails(&["import", &rootfs_path.display().to_string(), "imp:1"]);
    assert_says_full(&err, &disk.root, "corrupt");

    assert_eq!(s.image_ids(), before, "a failed command added an image");
    s.assert_check_clean();

    // With room again, each works.
    std::fs::remove_file(&filler).expect("remove filler");
    s.ok(&["commit", "big", "big:1"]);
    s.ok(&["load", "-i", &archive_path.display().to_string()]);
    s.ok(&["import", &rootfs_path.display().to_string(), "imp:1"]);
    s.assert_check_clean();
}

#[test]
fn log_lines_lost_to_a_full_disk_are_counted() {
    let test = "log_lines_lost_to_a_full_disk_are_counted";
    let Some(disk) = SmallDisk::new(test, "32m") else {
        return;
    };
    let s = &disk.store;
    const LINES: usize = 600;
    s.ok(&[
        "run",
        "-d",
        "--name",
        "chatty",
        "busybox",
        "sh",
        "-c",
        &format!(
            "i=0; while [ $i -lt {LINES} ]; do echo line-$i-padding-padding-padding-padding; i=$((i+1)); usleep 10000; done"
        ),
    ]);
    let logged = |s: &Store| s.ok(&["logs", "chatty"]);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !logged(s).contains("line-50-") {
        assert!(
            Instant::now() < deadline,
            "the container never logged line 50"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // Full for a second, while it keeps printing.
    let filler = disk.fill(0);
    std::thread::sleep(Duration::from_secs(1));
    std::fs::remove_file(&filler).expect("remove filler");
    let code = s.ok(&["wait", "chatty"]);
    assert_eq!(code.trim(), "0");

    let out = s.run(&["logs", "chatty"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let kept = stdout.lines().filter(|l| l.starts_with("line-")).count();
    let notices: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("berth: "))
        .collect();
    assert_eq!(notices.len(), 1, "one notice for one full spell:\n{stderr}");
    let notice = notices[0];
    let dropped: usize = notice
        .strip_prefix("berth: ")
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count in {notice:?}"));
    assert!(dropped > 0, "{notice}");
    assert!(
        notice.contains("No space left on device")
            && notice.contains(&disk.root.display().to_string()),
        "the notice says why and where: {notice}"
    );
    assert_eq!(
        kept + dropped,
        LINES,
        "lines kept ({kept}) and counted as dropped ({dropped}) add up to what was printed\n{notice}"
    );
    s.assert_check_clean();
}
