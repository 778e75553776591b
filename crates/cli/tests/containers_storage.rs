//! Container storage with Docker's flags and behaviour: volumes (copy-up,
//! `rm -v`), `cp` both ways and its confinement, `diff`, `export`, images
//! with many layers, and `commit`. Root only (real namespaces, overlayfs and
//! cgroups).

mod support;

use support::Store;

fn prerequisites(test: &str) -> Option<Store> {
    support::container_store(test)
}

#[test]
fn volumes_cp_diff_export() {
    let Some(store) = prerequisites("volumes_cp_diff_export") else {
        return;
    };
    store.ok(&["volume", "create", "shared"]);
    store.ok(&[
        "run",
        "--rm",
        "-v",
        "shared:/data",
        "busybox",
        "sh",
        "-c",
        "echo kept > /data/f",
    ]);
    assert_eq!(
        store.ok(&[
            "run",
            "--rm",
            "-v",
            "shared:/data:ro",
            "busybox",
            "cat",
            "/data/f"
        ]),
        "kept\n"
    );
    let (c, _, err) = store.outcome(&[
        "run",
        "--rm",
        "-v",
        "shared:/data:ro",
        "busybox",
        "touch",
        "/data/g",
    ]);
    assert_eq!(c, 1, "{err}");
    assert_eq!(store.ok(&["volume", "ls", "-q"]), "shared\n");
    let mountpoint = store.ok(&["volume", "inspect", "-f", "{{.Mountpoint}}", "shared"]);
    assert!(
        mountpoint.trim().ends_with("volumes/shared/_data"),
        "{mountpoint}"
    );

    store.ok(&[
        "run",
        "--name",
        "work",
        "-v",
        "/anon",
        "busybox",
        "sh",
        "-c",
        "echo new > /root/new; rm /etc/group; mkdir -p /opt/x",
    ]);
    let diff = store.ok(&["diff", "work"]);
    for line in [
        "C /etc",
        "D /etc/group",
        "A /opt",
        "A /opt/x",
        "C /root",
        "A /root/new",
    ] {
        assert!(diff.lines().any(|l| l == line), "{line} in\n{diff}");
    }
    assert!(
        !diff.contains("/etc/hostname"),
        "berth's mount points are not changes:\n{diff}"
    );
    let host_file = store.dir.path().join("in.txt");
    std::fs::write(&host_file, "copied in\n").unwrap();
    store.ok(&["cp", host_file.to_str().unwrap(), "work:/root/"]);
    let out_dir = store.dir.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    store.ok(&["cp", "work:/root", out_dir.to_str().unwrap()]);
    assert_eq!(
        std::fs::read_to_string(out_dir.join("root/in.txt")).unwrap(),
        "copied in\n"
    );
    assert_eq!(
        std::fs::read_to_string(out_dir.join("root/new")).unwrap(),
        "new\n"
    );
    // A symlink inside the container cannot lead the copy out of it.
    let tar = store.command(&["export", "work"]).output().unwrap();
    assert!(tar.status.success());
    let list = String::from_utf8_lossy(&tar.stdout);
    assert!(
        list.contains("root/new") && list.contains("bin/busybox"),
        "export holds the merged root"
    );
    let volumes_before = store.ok(&["volume", "ls", "-q"]).lines().count();
    assert_eq!(volumes_before, 2, "shared and the anonymous /anon");
    store.ok(&["rm", "-v", "work"]);
    assert_eq!(
        store.ok(&["volume", "ls", "-q"]),
        "shared\n",
        "rm -v removed the anonymous volume only"
    );
    let err = store.fails(&["volume", "rm", "nosuch"]);
    assert!(err.contains("no such volume"), "{err}");
    store.ok(&["volume", "rm", "shared"]);
    // A new volume starts with what the image has at its mount point.
    assert_eq!(
        store
            .ok(&[
                "run",
                "--rm",
                "-v",
                "etcvol:/etc",
                "busybox",
                "cat",
                "/etc/passwd"
            ])
            .lines()
            .next(),
        Some("root:x:0:0:root:/root:/bin/sh")
    );
    assert_eq!(
        store.ok(&[
            "run",
            "--rm",
            "-v",
            "etcvol:/mnt",
            "busybox",
            "sh",
            "-c",
            "echo changed > /mnt/group; cat /mnt/passwd | head -1"
        ]),
        "root:x:0:0:root:/root:/bin/sh\n"
    );
    assert_eq!(
        store.ok(&[
            "run",
            "--rm",
            "-v",
            "etcvol:/etc",
            "busybox",
            "cat",
            "/etc/group"
        ]),
        "changed\n",
        "an existing volume is not filled again"
    );
    // Owners come along.
    store.ok(&[
        "run",
        "--name",
        "own",
        "busybox",
        "sh",
        "-c",
        "mkdir /owned && touch /owned/f && chown -R 65534:65534 /owned",
    ]);
    store.ok(&["commit", "own", "owned:1"]);
    assert_eq!(
        store.ok(&[
            "run",
            "--rm",
            "-v",
            "ownvol:/owned",
            "owned:1",
            "stat",
            "-c",
            "%u:%g",
            "/owned",
            "/owned/f"
        ]),
        "65534:65534\n65534:65534\n"
    );
}

#[test]
fn cp_is_confined_to_the_container() {
    let Some(store) = prerequisites("cp_is_confined_to_the_container") else {
        return;
    };
    store.ok(&[
        "run",
        "--name",
        "evil",
        "busybox",
        "sh",
        "-c",
        "ln -s /etc/shadow-of-host /root/escape; ln -s / /root/rootlink",
    ]);
    let out = store.dir.path().join("o");
    std::fs::create_dir(&out).unwrap();
    // The absolute symlink resolves inside the container's root.
    let err = store.fails(&[
        "cp",
        "evil:/root/rootlink/../../../../etc/hostname-nope",
        out.to_str().unwrap(),
    ]);
    assert!(
        err.contains("Could not find the file /root/rootlink/../../../../etc/hostname-nope"),
        "{err}"
    );
    store.ok(&[
        "cp",
        "evil:/root/rootlink/etc/passwd",
        out.to_str().unwrap(),
    ]);
    let copied = std::fs::read_to_string(out.join("passwd")).unwrap();
    assert!(
        copied.starts_with("root:x:0:0:root:/root:/bin/sh"),
        "the container's passwd, not the host's: {copied}"
    );
    // Copying in through a symlink writes inside the container, not on the host.
    let src = store.dir.path().join("payload");
    std::fs::write(&src, "x").unwrap();
    let target = store.dir.path().join("host-target");
    store.ok(&[
        "run",
        "--name",
        "evil2",
        "busybox",
        "ln",
        "-s",
        target.to_str().unwrap(),
        "/root/out",
    ]);
    store.ok(&["cp", src.to_str().unwrap(), "evil2:/root/out"]);
    assert!(
        !target.exists(),
        "cp followed a container symlink onto the host"
    );
}

#[test]
fn many_layers_beyond_the_mount_option_limit() {
    let Some(store) = prerequisites("many_layers_beyond_the_mount_option_limit") else {
        return;
    };
    let Some(base) = support::busybox_tar() else {
        return;
    };
    // 150 layers over busybox: their directories' paths alone are over the
    // one page a classic `lowerdir=a:b:…` mount option may take.
    let mut layers = vec![base];
    layers.extend((0..150).map(|i| support::small_layer(&i.to_string())));
    let archive = support::docker_archive(&[support::TestImage::new(layers, "many:layers")]);
    let out = store.load_bytes(&archive);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let shown = store.ok(&[
        "run",
        "--rm",
        "many:layers",
        "sh",
        "-c",
        "cat /etc/motd; ls / | grep -c '^data-'",
    ]);
    assert_eq!(
        shown, "layer 149\n150\n",
        "the top layer wins and every layer is there"
    );
}

#[test]
fn commit_options_and_determinism() {
    let Some(store) = prerequisites("commit_options_and_determinism") else {
        return;
    };
    store.ok(&[
        "run",
        "--name",
        "src",
        "busybox",
        "sh",
        "-c",
        "mkdir /app; echo v1 > /app/v; rm /etc/group",
    ]);
    let a = store.ok(&[
        "commit",
        "-a",
        "Ann <ann@example.com>",
        "-m",
        "first",
        "-c",
        "CMD [\"cat\", \"/app/v\"]",
        "src",
        "app:1",
    ]);
    let snapshot_dirs = || {
        std::fs::read_dir(store.root().join("snapshots"))
            .map(|d| d.count())
            .unwrap_or(0)
    };
    let before = snapshot_dirs();
    let b = store.ok(&["commit", "src", "app:2"]);
    assert_ne!(a, b, "different configs (author, message, time)");
    assert_eq!(
        snapshot_dirs(),
        before,
        "the unchanged layer reuses its snapshot instead of unpacking a copy"
    );
    store.assert_check_clean();
    let layers = |r: &str| store.ok(&["image", "inspect", "-f", "{{json .RootFS.Layers}}", r]);
    assert_eq!(
        layers("app:1"),
        layers("app:2"),
        "same content, same layer digest"
    );
    assert_eq!(
        store.ok(&[
            "image",
            "inspect",
            "-f",
            "{{.Author}}|{{.Comment}}|{{json .Config.Cmd}}",
            "app:1"
        ]),
        "Ann <ann@example.com>|first|[\"cat\",\"/app/v\"]\n"
    );
    assert_eq!(store.ok(&["run", "--rm", "app:1"]), "v1\n");
    let (c, _, _) = store.outcome(&["run", "--rm", "app:2", "cat", "/etc/group"]);
    assert_eq!(c, 1, "the deletion was committed as a whiteout");
    let history = store.ok(&["history", "--format", "{{.Comment}}", "app:1"]);
    assert!(history.starts_with("first\n"), "{history}");
    let err = store.fails(&["rmi", "busybox"]);
    assert!(
        err.contains("container") && err.contains("is using its referenced image"),
        "{err}"
    );
}

/// `--ipc shareable`: a /dev/shm on the host that `--ipc container:X`
/// binds (docker's), unmounted when the container goes, whether by `rm`
/// or by its own `--rm`; a private donor is refused with docker's words.
#[test]
fn shareable_shm_is_shared_and_leaves_no_mount() {
    let Some(store) = support::container_store("shareable_shm_is_shared_and_leaves_no_mount")
    else {
        return;
    };
    store.ok(&[
        "run",
        "-d",
        "--name",
        "donor",
        "--ipc",
        "shareable",
        "busybox",
        "sh",
        "-c",
        "echo in-shm > /dev/shm/x; sleep 600",
    ]);
    let mut seen = String::new();
    for _ in 0..50 {
        seen = store.ok(&[
            "run",
            "--rm",
            "--ipc",
            "container:donor",
            "busybox",
            "sh",
            "-c",
            "cat /dev/shm/x 2>/dev/null || true",
        ]);
        if !seen.is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(seen, "in-shm\n");
    store.ok(&["run", "-d", "--name", "private", "busybox", "sleep", "600"]);
    let err = store.fails(&[
        "run",
        "--rm",
        "--ipc",
        "container:private",
        "busybox",
        "true",
    ]);
    assert!(err.contains("non-shareable IPC"), "{err}");
    let shm_mounts = || {
        std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap()
            .lines()
            .filter(|l| l.contains(store.root().to_str().unwrap()) && l.contains("/shm "))
            .count()
    };
    assert_eq!(shm_mounts(), 1, "the donor's shm is on the host");
    store.ok(&["rm", "-f", "donor", "private"]);
    store.ok(&["run", "--rm", "--ipc", "shareable", "busybox", "true"]);
    assert_eq!(shm_mounts(), 0, "no shm left mounted");
    store.assert_check_clean();
}
