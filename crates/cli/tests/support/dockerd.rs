//! A private dockerd for interoperability tests: its own data root, exec
//! root, socket, pid file and containerd namespace, with no networking
//! (`--bridge=none --iptables=false --ip-masq=false`), or with its
//! networking inside a network namespace the test made.
//!
//! A dockerd started with `--bridge=none` deletes an existing docker0, so one
//! is never started beside a dockerd this test did not start, and tests that
//! use it hold a lock so that only one runs at a time.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use super::{is_root, skip};

pub struct Dockerd {
    dir: PathBuf,
    sock: PathBuf,
    child: Child,
    _lock: File,
}

fn on_path(bin: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(bin).is_file()))
}

/// Whether a dockerd we did not start is running.
fn foreign_dockerd() -> bool {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .any(|e| {
            std::fs::read_to_string(e.path().join("comm")).is_ok_and(|c| c.trim() == "dockerd")
        })
}

impl Dockerd {
    pub fn start(test: &str) -> Option<Dockerd> {
        Dockerd::start_with(test, &[])
    }

    /// Starts a private dockerd with extra flags (e.g. `--add-runtime`).
    pub fn start_with(test: &str, extra: &[&str]) -> Option<Dockerd> {
        Dockerd::start_inner(test, extra, None)
    }

    /// Starts a private dockerd with its networking (docker0, iptables,
    /// forwarding) inside the network namespace `netns`, which the test
    /// made: nothing of it reaches the host's.
    pub fn start_networked(test: &str, netns: &Path) -> Option<Dockerd> {
        Dockerd::start_inner(test, &[], Some(netns))
    }

    fn start_inner(test: &str, extra: &[&str], netns: Option<&Path>) -> Option<Dockerd> {
        if !is_root() {
            skip(test, "dockerd needs root");
            return None;
        }
        if !on_path("dockerd") || !on_path("docker") {
            skip(
                test,
                "dockerd or the docker CLI is not installed (apt-get install docker.io)",
            );
            return None;
        }
        let lock = File::create("/tmp/berth-test-dockerd.lock").ok()?;
        lock.lock().ok()?;
        if foreign_dockerd() {
            skip(
                test,
                "another dockerd is running; a --bridge=none dockerd beside it could delete its docker0",
            );
            return None;
        }
        let dir = PathBuf::from(format!("/tmp/berth-dockerd-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("config")).ok()?;
        let sock = dir.join("d.sock");
        let log = File::create(dir.join("dockerd.log")).ok()?;
        let mut command = match netns {
            Some(ns) => {
                let mut c = Command::new("nsenter");
                c.arg(format!("--net={}", ns.display())).arg("dockerd");
                c
            }
            None => {
                let mut c = Command::new("dockerd");
                c.args([
                    "--bridge=none",
                    "--iptables=false",
                    "--ip-masq=false",
                    "--ip6tables=false",
                ]);
                c
            }
        };
        let child = command
            .arg("--data-root")
            .arg(dir.join("data"))
            .arg("--exec-root")
            .arg(dir.join("exec"))
            .arg("--pidfile")
            .arg(dir.join("d.pid"))
            .arg("-H")
            .arg(format!("unix://{}", sock.display()))
            .args([
                "--containerd-namespace",
                "berth-test",
                "--containerd-plugins-namespace",
                "berth-test-plugins",
            ])
            .args(["--cgroup-parent", "/berth-test-docker"])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(log.try_clone().ok()?)
            .stderr(log)
            .spawn()
            .ok()?;
        let d = Dockerd {
            dir,
            sock,
            child,
            _lock: lock,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if d.docker(&["version", "--format", "{{.Server.Version}}"])
                .status
                .success()
            {
                return Some(d);
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        let log = std::fs::read_to_string(d.dir.join("dockerd.log")).unwrap_or_default();
        panic!("{test}: private dockerd did not come up in 60 s:\n{log}");
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("docker");
        cmd.arg("-H")
            .arg(format!("unix://{}", self.sock.display()))
            .args(args)
            .env("DOCKER_CONFIG", self.dir.join("config"));
        cmd
    }

    /// Debian's docker 20.10 client (`/usr/bin/docker`), which has the
    /// classic builder (`buildkit` false) and BuildKit built in.
    pub fn client_2010(&self, args: &[&str], buildkit: bool) -> Command {
        let mut cmd = Command::new("/usr/bin/docker");
        cmd.arg("-H")
            .arg(format!("unix://{}", self.sock.display()))
            .args(args)
            .env("DOCKER_CONFIG", self.dir.join("config"))
            .env("DOCKER_BUILDKIT", if buildkit { "1" } else { "0" });
        cmd
    }

    pub fn docker(&self, args: &[&str]) -> Output {
        self.command(args)
            .stdin(Stdio::null())
            .output()
            .expect("run docker")
    }

    /// Runs docker and requires success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.docker(args);
        assert!(
            out.status.success(),
            "docker {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for Dockerd {
    fn drop(&mut self) {
        super::stop_daemon(&mut self.child, &self.dir, Duration::from_secs(30));
        // The cgroup parent of this daemon's containers.
        for root in super::runc::cgroup_roots() {
            let _ = std::fs::remove_dir(root.join("berth-test-docker"));
        }
    }
}
