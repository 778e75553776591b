//! Test support for the CLI integration tests: a private store per test, the
//! real `berth` binary, a busybox image made from Debian's busybox-static, and
//! builders for (hostile) image archives.
#![allow(dead_code)]

pub mod berth_daemon;
pub mod build_context;
pub mod containerd;
pub mod differential;
pub mod docker_flags;
pub mod docker_py;
pub mod dockerd;
pub mod fault_registry;
pub mod mini_http;
pub mod net_world;
pub mod normalise;
pub mod oci_layout;
pub mod probe;
pub mod pty;
pub mod registry;
pub mod runc;
pub mod search_index;
pub mod token_server;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

use berth_image::Digest;
use berth_image::rawtar::{self, RawEntry};

pub const BERTH: &str = env!("CARGO_BIN_EXE_berth");

/// Skips a test whose prerequisite is missing, saying why. Under
/// `BERTH_REQUIRE_ALL=1` (set by CI) a missing prerequisite fails instead, so
/// CI can never pass by skipping.
pub fn skip(test: &str, reason: &str) {
    if std::env::var_os("BERTH_REQUIRE_ALL").is_some_and(|v| v == "1") {
        panic!("{test}: prerequisite missing under BERTH_REQUIRE_ALL=1: {reason}");
    }
    eprintln!("SKIP {test}: {reason}");
}

/// A private store with the busybox image, for container tests (root only:
/// namespaces, overlayfs and cgroups); None (after saying why) otherwise.
pub fn container_store(test: &str) -> Option<Store> {
    if !is_root() {
        skip(test, "needs root for namespaces, overlayfs and cgroups");
        return None;
    }
    let store = Store::new();
    store.busybox("busybox:latest")?;
    Some(store)
}

pub fn is_root() -> bool {
    rustix_is_root()
}

fn rustix_is_root() -> bool {
    // SAFETY-free: read our own status file.
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(2) == Some("0"))
        })
        .unwrap_or(false)
}

/// A private data root and run root, removed when dropped.
pub struct Store {
    pub dir: tempfile::TempDir,
    pub root: PathBuf,
    pub run: PathBuf,
    /// A network namespace that plays the host, when the test needs one
    /// (networks: berth's bridges and rules live there, not on the host).
    pub host_netns: Option<HostNetns>,
}

/// A process alone in a new network namespace; killed with the store.
pub struct HostNetns {
    child: std::process::Child,
}

impl HostNetns {
    pub fn new() -> HostNetns {
        let child = Command::new("unshare")
            .args(["--net", "sleep", "100000"])
            .stdin(Stdio::null())
            .spawn()
            .expect("unshare --net (util-linux)");
        let ns = HostNetns { child };
        let me = std::fs::read_link("/proc/self/ns/net").expect("own netns");
        for _ in 0..300 {
            if std::fs::read_link(ns.path()).is_ok_and(|l| l != me) {
                return ns;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        panic!("unshare --net made no namespace");
    }

    pub fn path(&self) -> PathBuf {
        PathBuf::from(format!("/proc/{}/ns/net", self.child.id()))
    }

    /// The pid of the process that holds it (for `ip … netns PID`).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `args` run in this namespace.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new("nsenter");
        c.arg(format!("--net={}", self.path().display())).args(args);
        c
    }
}

impl Drop for HostNetns {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Store {
    /// Containers a failed test left running are stopped, and the test's
    /// cgroup parent directories removed (only ones this store named).
    fn drop(&mut self) {
        if !self.root.join("containers").is_dir() {
            return;
        }
        let ids = self
            .command(&["ps", "-a", "-q", "--no-trunc"])
            .stdin(Stdio::null())
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        for id in ids.lines() {
            let _ = self
                .command(&["rm", "-f", id])
                .stdin(Stdio::null())
                .output();
        }
        for pid in self.processes() {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
        }
        let parent = self.cgroup_parent();
        if let Ok(hierarchies) = std::fs::read_dir("/sys/fs/cgroup") {
            for h in hierarchies.flatten() {
                let dir = h.path().join(parent.trim_start_matches('/'));
                if let Ok(children) = std::fs::read_dir(&dir) {
                    for c in children.flatten() {
                        let _ = std::fs::remove_dir(c.path());
                    }
                }
                let _ = std::fs::remove_dir(&dir);
            }
        }
    }
}

impl Default for Store {
    fn default() -> Self {
        Store::new()
    }
}

impl Store {
    pub fn new() -> Store {
        let dir = tempfile::Builder::new()
            .prefix("berth-test-")
            .tempdir()
            .expect("tempdir");
        let root = dir.path().join("root");
        let run = dir.path().join("run");
        Store {
            dir,
            root,
            run,
            host_netns: None,
        }
    }

    /// A store whose berth runs in a network namespace of the test's own
    /// that plays the host.
    pub fn with_host_netns() -> Store {
        let mut store = Store::new();
        store.host_netns = Some(HostNetns::new());
        store
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = match &self.host_netns {
            Some(ns) => {
                let mut c = Command::new("nsenter");
                c.arg(format!("--net={}", ns.path().display())).arg(BERTH);
                c
            }
            None => Command::new(BERTH),
        };
        // Off the host, no default bridge: berth0, its rules and
        // ip_forward are made only in a namespace the test made.
        if self.host_netns.is_none() {
            cmd.env("BERTH_BRIDGE", "none");
        } else {
            cmd.env_remove("BERTH_BRIDGE");
        }
        cmd.args(args)
            .env("BERTH_ROOT", &self.root)
            .env("BERTH_RUN_ROOT", &self.run)
            .env("BERTH_CGROUP_PARENT", self.cgroup_parent())
            // Credentials and registry settings of the test's own, never the user's.
            .env("DOCKER_CONFIG", self.dir.path().join("docker-config"))
            .env_remove("BERTH_REGISTRIES_CONFIG")
            .env_remove("BERTH_FAILPOINT")
            .env_remove("BERTH_LAYER_MAX_BYTES")
            .env_remove("BERTH_LAYER_MAX_ENTRIES");
        cmd
    }

    /// The test's own cgroup parent (named after its temp dir).
    pub fn cgroup_parent(&self) -> String {
        format!(
            "/{}",
            self.dir
                .path()
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
        )
    }

    /// Every cgroup directory under this store's cgroup parent, in any
    /// hierarchy (for leak checks).
    pub fn cgroup_dirs(&self) -> Vec<PathBuf> {
        let parent = self.cgroup_parent();
        let mut out = Vec::new();
        let Ok(hierarchies) = std::fs::read_dir("/sys/fs/cgroup") else {
            return out;
        };
        for h in hierarchies.flatten() {
            let dir = h.path().join(parent.trim_start_matches('/'));
            if let Ok(children) = std::fs::read_dir(&dir) {
                out.extend(
                    children
                        .flatten()
                        .filter(|c| c.path().is_dir())
                        .map(|c| c.path()),
                );
            }
        }
        out
    }

    /// The pid of container `name`'s init and of its monitor (the init's
    /// parent).
    pub fn init_and_monitor(&self, name: &str) -> (u32, u32) {
        let init: u32 = self
            .ok(&["inspect", "-f", "{{.State.Pid}}", name])
            .trim()
            .parse()
            .expect("a running container's pid");
        let status = std::fs::read_to_string(format!("/proc/{init}/status"))
            .unwrap_or_else(|e| panic!("/proc/{init}/status: {e}"));
        let monitor = status
            .lines()
            .find_map(|l| l.strip_prefix("PPid:"))
            .and_then(|p| p.trim().parse().ok())
            .expect("the init's parent");
        (init, monitor)
    }

    /// Processes whose command line names this store (monitors, mostly).
    pub fn processes(&self) -> Vec<u32> {
        let needle = self.root.to_string_lossy().into_owned();
        let mut out = Vec::new();
        for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
                continue;
            };
            if pid == std::process::id() {
                continue;
            }
            let cmdline = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
            if String::from_utf8_lossy(&cmdline).contains(&needle) {
                out.push(pid);
            }
        }
        out
    }

    /// Mounts (in this process's namespace) under this store.
    pub fn mounts(&self) -> Vec<String> {
        let needle = self.dir.path().to_string_lossy().into_owned();
        std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains(&needle))
            .map(str::to_string)
            .collect()
    }

    /// Runs berth with stdin closed.
    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args)
            .stdin(Stdio::null())
            .output()
            .expect("run berth")
    }

    /// Runs berth with stdin closed: (exit code, stdout, stderr).
    pub fn outcome(&self, args: &[&str]) -> (i32, String, String) {
        let out = self.run(args);
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// Runs berth feeding `input` on stdin.
    pub fn run_stdin(&self, args: &[&str], input: &[u8]) -> Output {
        run_with_stdin(self.command(args), input)
    }

    /// Runs berth and requires success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert_success(&out, args);
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs berth and requires failure; returns stderr.
    pub fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            !out.status.success(),
            "berth {args:?} should fail; stdout: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    /// The store's temp dir (data root, run root and whatever else the
    /// test puts beside them: sockets, logs, host directories).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The store's data root (for certs.d and registries.toml).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The Docker-format credentials file this store's commands use.
    pub fn docker_config(&self) -> PathBuf {
        self.dir.path().join("docker-config").join("config.json")
    }

    pub fn load_bytes(&self, archive: &[u8]) -> Output {
        self.run_stdin(&["load"], archive)
    }

    /// Imports the busybox image as `tag`; returns its ID.
    pub fn busybox(&self, tag: &str) -> Option<String> {
        let tar = busybox_tar()?;
        let out = self.run_stdin(&["import", "-c", "CMD [\"sh\"]", "-", tag], &tar);
        assert_success(&out, &["import"]);
        Some(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    /// `system check` must be clean.
    pub fn assert_check_clean(&self) {
        let out = self.run(&["system", "check"]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains("no problems"),
            "system check not clean:\n{stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Full IDs of all images.
    pub fn image_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self
            .ok(&["images", "-q", "--no-trunc"])
            .lines()
            .map(str::to_string)
            .collect();
        ids.sort();
        ids.dedup();
        ids
    }

    /// No temp, trash or unrecorded snapshot directory anywhere in the store.
    pub fn assert_no_leftovers(&self) {
        let count = |p: PathBuf| std::fs::read_dir(&p).map(|d| d.count()).unwrap_or(0);
        assert_eq!(
            count(self.root.join("content/ingest")),
            0,
            "ingest directory not empty"
        );
        assert_eq!(count(self.root.join("trash")), 0, "trash not empty");
        let snapshots = count(self.root.join("snapshots"));
        let check = self.ok(&["system", "check"]);
        let recorded: usize = check
            .split(" snapshots")
            .next()
            .and_then(|s| s.rsplit(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(usize::MAX);
        assert_eq!(
            snapshots, recorded,
            "snapshot directories differ from snapshot rows\n{check}"
        );
    }

    /// Names of files under `dir` in the store, recursively (for before/after comparisons).
    pub fn tree(&self) -> Vec<String> {
        let mut out = Vec::new();
        walk(&self.root, &self.root, &mut out);
        out.retain(|p| !p.starts_with("berth.db"));
        out.sort();
        out
    }
}

fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        out.push(p.strip_prefix(base).unwrap_or(&p).display().to_string());
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            walk(base, &p, out);
        }
    }
}

pub fn run_with_stdin(cmd: Command, input: &[u8]) -> Output {
    run_with_stdin_within(cmd, input, std::time::Duration::from_secs(600))
}

/// As [`run_with_stdin`], failing the test (the command killed) if it has
/// not ended within `limit`: for what must not hang.
pub fn run_with_stdin_within(mut cmd: Command, input: &[u8], limit: std::time::Duration) -> Output {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let what = format!("{cmd:?}");
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut stdin = child.stdin.take().expect("stdin");
    let input = input.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let pid = child.id();
    let done = Arc::new(AtomicBool::new(false));
    let watching = done.clone();
    let watchdog = std::thread::spawn(move || {
        let start = std::time::Instant::now();
        while !watching.load(Ordering::Relaxed) {
            if start.elapsed() > limit {
                let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
                return true;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        false
    });
    let out = child.wait_with_output().expect("wait");
    done.store(true, Ordering::Relaxed);
    let _ = writer.join();
    assert!(
        !watchdog.join().unwrap_or(false),
        "{what} hung (killed after {limit:?})"
    );
    out
}

pub fn assert_success(out: &Output, what: &[&str]) {
    assert!(
        out.status.success(),
        "berth {what:?} failed ({}):\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The busybox rootfs tar from scripts/busybox-image.sh, built once per test process.
pub fn busybox_tar() -> Option<Vec<u8>> {
    static TAR: OnceLock<Option<Vec<u8>>> = OnceLock::new();
    let tar = TAR.get_or_init(|| {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/busybox-image.sh");
        let out = Command::new("bash").arg(script).output().ok()?;
        if !out.status.success() {
            eprintln!("busybox-image.sh: {}", String::from_utf8_lossy(&out.stderr));
            return None;
        }
        Some(out.stdout)
    });
    if tar.is_none() {
        skip(
            "busybox image",
            "scripts/busybox-image.sh failed (apt-get install busybox-static)",
        );
    }
    tar.clone()
}

/// One image for an archive.
pub struct TestImage {
    pub layers: Vec<Vec<u8>>,
    /// Diff IDs for the config; `None` computes the right ones.
    pub diff_ids: Option<Vec<String>>,
    pub tags: Vec<String>,
    /// Extra config JSON fields.
    pub cmd: Vec<String>,
}

impl TestImage {
    pub fn new(layers: Vec<Vec<u8>>, tag: &str) -> TestImage {
        TestImage {
            layers,
            diff_ids: None,
            tags: vec![tag.to_string()],
            cmd: vec!["sh".into()],
        }
    }

    pub fn config(&self) -> Vec<u8> {
        let diff_ids = self.diff_ids.clone().unwrap_or_else(|| {
            self.layers
                .iter()
                .map(|l| uncompressed_digest(l).to_string())
                .collect()
        });
        serde_json::to_vec(&serde_json::json!({
            "architecture": "amd64",
            "os": "linux",
            "created": "2026-01-02T03:04:05Z",
            "config": {"Cmd": self.cmd},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
            "history": self.layers.iter().map(|_| serde_json::json!({"created": "2026-01-02T03:04:05Z", "created_by": "test"})).collect::<Vec<_>>(),
        }))
        .expect("json")
    }
}

/// sha256 of a layer's uncompressed bytes.
pub fn uncompressed_digest(layer: &[u8]) -> Digest {
    if layer.starts_with(&[0x1f, 0x8b]) {
        let mut d = flate2::read::MultiGzDecoder::new(layer);
        let mut out = Vec::new();
        std::io::Read::read_to_end(&mut d, &mut out).expect("gunzip");
        Digest::of(&out)
    } else if layer.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Digest::of(&zstd::decode_all(layer).expect("unzstd"))
    } else {
        Digest::of(layer)
    }
}

/// A legacy docker-archive (what `docker save` of Docker < 25 writes), with
/// an optional override of the manifest.json bytes and extra raw entries.
pub fn docker_archive(images: &[TestImage]) -> Vec<u8> {
    docker_archive_with(images, None, Vec::new())
}

pub fn docker_archive_with(
    images: &[TestImage],
    manifest: Option<Vec<u8>>,
    extra: Vec<RawEntry>,
) -> Vec<u8> {
    let mut entries = Vec::new();
    let mut manifest_entries = Vec::new();
    for image in images {
        let config = image.config();
        let config_name = format!("{}.json", Digest::of(&config).hex());
        let mut layer_names = Vec::new();
        for layer in &image.layers {
            let name = format!("{}/layer.tar", Digest::of(layer).hex());
            entries.push(RawEntry::file(&name, layer));
            layer_names.push(name);
        }
        entries.push(RawEntry::file(&config_name, &config));
        manifest_entries.push(serde_json::json!({"Config": config_name, "RepoTags": image.tags, "Layers": layer_names}));
    }
    let manifest = manifest.unwrap_or_else(|| serde_json::to_vec(&manifest_entries).expect("json"));
    entries.extend(extra);
    entries.push(RawEntry::file("manifest.json", &manifest));
    rawtar::archive(&entries)
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).expect("gzip");
    e.finish().expect("gzip")
}

/// A small layer with a few files.
pub fn small_layer(tag: &str) -> Vec<u8> {
    rawtar::archive(&[
        RawEntry::dir("etc"),
        RawEntry::file("etc/motd", format!("layer {tag}\n").as_bytes()),
        RawEntry::file(&format!("data-{tag}"), &vec![b'x'; 10_000]),
    ])
}

/// Capabilities Docker gives a container by default.
pub const DOCKER_CAPS: [&str; 14] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

/// Stops a daemon the test started (SIGTERM, then SIGKILL after `grace`),
/// unmounts whatever it left below `dir` and removes `dir`.
pub fn stop_daemon(child: &mut std::process::Child, dir: &Path, grace: std::time::Duration) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let deadline = std::time::Instant::now() + grace;
    while std::time::Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    let prefix = dir.display().to_string();
    if let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") {
        let mut mounts: Vec<&str> = info
            .lines()
            .filter_map(|l| l.split(' ').nth(4))
            .filter(|m| m.starts_with(&prefix))
            .collect();
        mounts.sort_by_key(|m| std::cmp::Reverse(m.len()));
        for m in mounts {
            let _ = Command::new("umount").args(["-l", m]).status();
        }
    }
    let _ = std::fs::remove_dir_all(dir);
}
