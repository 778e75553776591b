//! A private containerd (own config, root, state and socket) for the
//! runtime's integration tests, driven with `ctr`.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use super::runc::have;
use super::{is_root, skip};

pub struct Containerd {
    dir: PathBuf,
    child: Child,
    pub namespace: String,
}

impl Containerd {
    pub fn start(test: &str) -> Option<Containerd> {
        if !is_root() {
            skip(test, "containerd needs root");
            return None;
        }
        if !have("containerd") || !have("ctr") || !have("containerd-shim-runc-v2") {
            skip(
                test,
                "containerd, ctr or its runc shim is not installed (apt-get install containerd)",
            );
            return None;
        }
        let dir = PathBuf::from(format!("/tmp/berth-containerd-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).ok()?;
        let config = format!(
            "version = 2\nroot = \"{d}/root\"\nstate = \"{d}/state\"\ndisabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n\
             [grpc]\n  address = \"{d}/c.sock\"\n[ttrpc]\n  address = \"{d}/c.sock.ttrpc\"\n",
            d = dir.display()
        );
        std::fs::write(dir.join("config.toml"), config).ok()?;
        let log = File::create(dir.join("containerd.log")).ok()?;
        let child = Command::new("containerd")
            .arg("--config")
            .arg(dir.join("config.toml"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().ok()?)
            .stderr(log)
            .spawn()
            .ok()?;
        let c = Containerd {
            dir,
            child,
            namespace: format!("berth-test-{}", std::process::id()),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if c.ctr(&["version"]).status.success() {
                return Some(c);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "{test}: containerd did not start: {}",
            std::fs::read_to_string(c.dir.join("containerd.log")).unwrap_or_default()
        );
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new("ctr");
        c.arg("-a")
            .arg(self.dir.join("c.sock"))
            .arg("-n")
            .arg(&self.namespace)
            .args(args);
        c
    }

    pub fn ctr(&self, args: &[&str]) -> Output {
        super::runc::run_to_files(self.command(args).stdin(Stdio::null()))
    }

    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.ctr(args);
        assert!(
            out.status.success(),
            "ctr {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        super::stop_daemon(&mut self.child, &self.dir, Duration::from_secs(20));
        for root in super::runc::cgroup_roots() {
            let _ = std::fs::remove_dir(root.join(&self.namespace));
        }
    }
}
