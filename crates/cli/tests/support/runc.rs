//! Test support for the runtime: busybox bundles, `berth-runc` (the berth
//! binary under that name) and Debian's `runc`, each with a private state
//! root and a private cgroup parent.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

use super::{BERTH, busybox_tar, is_root, skip};

/// `berth-runc`: a symlink to the berth binary (it dispatches on argv[0]).
pub fn berth_runc() -> PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        // One link per build, shared by the test processes (each makes its
        // own under a temp name and renames it into place).
        let tag: u64 = BERTH.bytes().fold(1469598103934665603u64, |h, b| {
            (h ^ b as u64).wrapping_mul(1099511628211)
        });
        let dir = std::env::temp_dir().join(format!("berth-runc-bin-{tag:x}"));
        std::fs::create_dir_all(&dir).expect("mkdir");
        let link = dir.join("berth-runc");
        if std::fs::read_link(&link).ok().as_deref() != Some(Path::new(BERTH)) {
            let tmp = dir.join(format!(".berth-runc-{}", std::process::id()));
            let _ = std::fs::remove_file(&tmp);
            std::os::unix::fs::symlink(BERTH, &tmp).expect("symlink berth-runc");
            std::fs::rename(&tmp, &link).expect("rename berth-runc link");
        }
        link
    })
    .clone()
}

pub fn have(bin: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(bin).is_file()))
}

/// Root and a busybox image are needed by every runtime test.
pub fn prerequisites(test: &str) -> bool {
    if !is_root() {
        skip(test, "the runtime needs root (namespaces, mounts, cgroups)");
        return false;
    }
    busybox_tar().is_some()
}

/// A bundle: rootfs from the busybox image and a config.json.
pub struct Bundle {
    pub dir: tempfile::TempDir,
    pub config: serde_json::Value,
}

impl Bundle {
    /// `berth-runc spec`'s config, non-interactive, running `args`, in the
    /// cgroup parent `parent`.
    pub fn busybox(args: &[&str], parent: &str, id: &str) -> Bundle {
        let dir = tempfile::Builder::new()
            .prefix("berth-bundle-")
            .tempdir()
            .expect("tempdir");
        let rootfs = dir.path().join("rootfs");
        std::fs::create_dir(&rootfs).expect("mkdir");
        let tar = busybox_tar().expect("busybox");
        let out = super::run_with_stdin(
            {
                let mut c = Command::new("tar");
                c.arg("-C").arg(&rootfs).arg("-x");
                c
            },
            &tar,
        );
        assert!(
            out.status.success(),
            "untar busybox: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let out = Command::new(berth_runc())
            .arg("spec")
            .arg("--bundle")
            .arg(dir.path())
            .output()
            .expect("spec");
        assert!(
            out.status.success(),
            "berth-runc spec: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut config: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.path().join("config.json")).expect("read"))
                .expect("json");
        config["process"]["terminal"] = false.into();
        config["process"]["args"] = serde_json::json!(args);
        config["linux"]["cgroupsPath"] = format!("/{parent}/{id}").into();
        let b = Bundle { dir, config };
        b.save();
        b
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn save(&self) {
        std::fs::write(
            self.dir.path().join("config.json"),
            serde_json::to_vec_pretty(&self.config).expect("json"),
        )
        .expect("write config");
    }
}

/// A runtime binary with its own state root and cgroup parent.
pub struct Runc {
    pub bin: PathBuf,
    pub root: tempfile::TempDir,
    pub cgroup_parent: String,
}

impl Runc {
    pub fn berth(test: &str) -> Runc {
        Runc::with(berth_runc(), test)
    }

    /// Debian's runc, for differential tests.
    pub fn reference(test: &str) -> Option<Runc> {
        if !have("runc") {
            skip(test, "runc is not installed (apt-get install runc)");
            return None;
        }
        Some(Runc::with(PathBuf::from("runc"), test))
    }

    /// The runtime at `bin`, whatever it is named.
    pub fn at(bin: PathBuf, test: &str) -> Runc {
        Runc::with(bin, test)
    }

    fn with(bin: PathBuf, test: &str) -> Runc {
        let root = tempfile::Builder::new()
            .prefix("berth-runc-root-")
            .tempdir()
            .expect("tempdir");
        let name = bin
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("rt")
            .to_string();
        let cgroup_parent = format!("berth-test-{name}-{test}-{}", std::process::id());
        Runc {
            bin,
            root,
            cgroup_parent,
        }
    }

    pub fn bundle(&self, args: &[&str], id: &str) -> Bundle {
        Bundle::busybox(args, &self.cgroup_parent, id)
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(&self.bin);
        c.arg("--root").arg(self.root.path()).args(args);
        c
    }

    /// Runs the runtime with stdout and stderr in files, not pipes: a
    /// container's init inherits the runtime's stdio and keeps it open after
    /// `create` or `run --detach` returns, so a pipe would never reach EOF.
    pub fn run(&self, args: &[&str]) -> Output {
        run_to_files(self.command(args).stdin(Stdio::null()))
    }

    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "{} {args:?} failed ({}):\nstdout: {}\nstderr: {}",
            self.bin.display(),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            !out.status.success(),
            "{args:?} should fail: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    pub fn state(&self, id: &str) -> serde_json::Value {
        serde_json::from_str(&self.ok(&["state", id])).expect("state json")
    }

    /// Host directories of this runtime's cgroup parent (to check leaks).
    pub fn cgroup_dirs(&self) -> Vec<PathBuf> {
        cgroup_roots()
            .into_iter()
            .map(|r| r.join(&self.cgroup_parent))
            .filter(|d| d.exists())
            .collect()
    }
}

impl Drop for Runc {
    fn drop(&mut self) {
        // Force-delete anything a failed test left, then the cgroup parent.
        if let Ok(entries) = std::fs::read_dir(self.root.path()) {
            for e in entries.flatten() {
                if let Some(id) = e.file_name().to_str() {
                    let _ = self.command(&["delete", "--force", id]).output();
                }
            }
        }
        for dir in self.cgroup_dirs() {
            let _ = std::fs::remove_dir(&dir);
        }
    }
}

/// Mount points of every cgroup hierarchy (v1 controllers, or the v2 root).
pub fn cgroup_roots() -> Vec<PathBuf> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut roots: Vec<PathBuf> = info
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            let sep = f.iter().position(|x| *x == "-")?;
            matches!(f.get(sep + 1), Some(&"cgroup") | Some(&"cgroup2"))
                .then(|| PathBuf::from(f[4]))
        })
        .collect();
    roots.sort();
    roots.dedup();
    roots
}

/// Runs a command with stdout/stderr captured through temp files.
pub fn run_to_files(cmd: &mut Command) -> Output {
    let out = tempfile::tempfile().expect("tempfile");
    let err = tempfile::tempfile().expect("tempfile");
    let status = cmd
        .stdout(out.try_clone().expect("dup"))
        .stderr(err.try_clone().expect("dup"))
        .status()
        .expect("run runtime");
    let read = |mut f: std::fs::File| {
        use std::io::{Read, Seek};
        let mut v = Vec::new();
        let _ = f.seek(std::io::SeekFrom::Start(0));
        let _ = f.read_to_end(&mut v);
        v
    };
    Output {
        status,
        stdout: read(out),
        stderr: read(err),
    }
}

// Differential helpers shared by the conformance suites.

/// Runs `args` in a bundle changed by `change` under `rt`: (exit code,
/// stdout, stderr).
pub fn run_in(
    rt: &Runc,
    id: &str,
    args: &[&str],
    change: &dyn Fn(&mut serde_json::Value),
) -> (i32, String, String) {
    let b = rt.bundle(args, id);
    run_bundle(rt, id, b, change)
}

pub fn run_bundle(
    rt: &Runc,
    id: &str,
    mut b: Bundle,
    change: &dyn Fn(&mut serde_json::Value),
) -> (i32, String, String) {
    change(&mut b.config);
    b.save();
    let out = rt.run(&["run", "--bundle", b.path().to_str().unwrap(), id]);
    let _ = rt.run(&["delete", "--force", id]);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// stderr without logrus's time (the rest must match runc's).
pub fn without_time(s: &str) -> String {
    s.lines()
        .map(|l| {
            if let Some(rest) = l.strip_prefix("time=\"") {
                rest.split_once("\" ")
                    .map_or(l.to_string(), |(_, r)| r.to_string())
            } else if l.starts_with('{') {
                let mut v: serde_json::Value = serde_json::from_str(l).unwrap_or_default();
                if let Some(o) = v.as_object_mut() {
                    o.remove("time");
                }
                v.to_string()
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// One step of a scripted comparison: (name, exit code, stdout, stderr
/// without logrus's time).
pub type Step = (String, i32, String, String);

pub fn step_of(name: &str, out: std::process::Output) -> Step {
    (
        name.to_string(),
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        without_time(String::from_utf8_lossy(&out.stderr).trim_end()),
    )
}
