//! An external runc-compatible runtime (`--runtime runc`), driven through
//! its command line as containerd's shim drives it: `create` with the
//! bundle's config.json, a pid file and a console socket, `start`, `kill`,
//! `exec --detach --process`, `pause`/`resume`, `update -r -`, `delete`.
//!
//! It runs from the monitor, which is its child subreaper (see
//! `monitor::supervise`): the container's init and every exec'd process are
//! re-parented to the monitor when runc exits, so the monitor waits for
//! them and records their exit codes as it does with berth's own runtime.
//! runc's state lives under the run root's `runc/`; its errors go to a log
//! in the monitor's directory (its stderr is the container's while it
//! creates or execs) and come back as typed errors. runc does not tie the
//! container's life to the monitor's: if the monitor is killed, the next
//! berth that looks finds the container orphaned and deletes it (`delete
//! --force`), as it finds berth's own runtime's containers killed.

use std::io::Write;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use oci_spec::runtime::{LinuxResources, Process, Spec};

use super::NewProcessIo;
use crate::error::{Error, ErrorKind, Result};

/// runc's `--root` under a run root.
pub(super) fn state_root(run_root: &Path) -> PathBuf {
    run_root.join("runc")
}

pub(crate) struct External {
    binary: PathBuf,
    root: PathBuf,
}

const LOG: &str = "runc.log";

impl External {
    pub fn new(binary: PathBuf, run_root: &Path) -> External {
        External {
            binary,
            root: state_root(run_root),
        }
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new(&self.binary);
        cmd.arg("--root").arg(&self.root);
        cmd
    }

    /// Runs a verb whose stdio are not the container's; its error is its
    /// stderr.
    fn run(&self, verb: &str, args: &[&str], stdin: Option<&[u8]>) -> Result<Vec<u8>> {
        let mut cmd = self.command();
        cmd.arg(verb)
            .args(args)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().map_err(|e| self.spawn_error(verb, e))?;
        if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
            pipe.write_all(input)
                .map_err(|e| Error::internal(format!("runc {verb}: write its input: {e}")))?;
        }
        let out = child
            .wait_with_output()
            .map_err(|e| Error::internal(format!("runc {verb}: {e}")))?;
        if out.status.success() {
            return Ok(out.stdout);
        }
        let message = String::from_utf8_lossy(&out.stderr).trim().to_string();
        Err(runc_error(verb, &message))
    }

    fn spawn_error(&self, verb: &str, e: std::io::Error) -> Error {
        Error::internal(format!("run {} {verb}: {e}", self.binary.display()))
    }

    /// `create`: config.json written into the bundle, the init's stdio
    /// handed to runc (which passes them on), or a console socket in
    /// `work_dir` whose connection carries the pty master back.
    pub fn create(
        &self,
        id: &str,
        bundle: &Path,
        spec: &Spec,
        io: NewProcessIo,
        work_dir: &Path,
    ) -> Result<(i32, Option<OwnedFd>)> {
        let config = bundle.join("config.json");
        let text = serde_json::to_vec(spec)
            .map_err(|e| Error::internal(format!("serialise the spec: {e}")))?;
        std::fs::write(&config, text)
            .map_err(|e| Error::internal(format!("write {}: {e}", config.display())))?;
        let pid_file = work_dir.join("init.pid");
        let mut cmd = self.command();
        cmd.arg("--log").arg(work_dir.join(LOG));
        cmd.arg("--log-format").arg("json");
        cmd.arg("create").arg("--bundle").arg(bundle);
        cmd.arg("--pid-file").arg(&pid_file);
        // runc's create works in the bundle: the console socket goes there.
        self.launch(cmd, "create", id, io, work_dir, bundle, &pid_file)
    }

    /// `exec --detach`: the process as a process.json, like `create`'s
    /// stdio and console.
    pub fn exec(
        &self,
        id: &str,
        process: &Process,
        io: NewProcessIo,
        work_dir: &Path,
    ) -> Result<(i32, Option<OwnedFd>)> {
        let file = work_dir.join("exec-process.json");
        let text = serde_json::to_vec(process)
            .map_err(|e| Error::internal(format!("serialise the process: {e}")))?;
        std::fs::write(&file, text)
            .map_err(|e| Error::internal(format!("write {}: {e}", file.display())))?;
        let pid_file = work_dir.join("exec.pid");
        let mut cmd = self.command();
        cmd.arg("--log").arg(work_dir.join(LOG));
        cmd.arg("--log-format").arg("json");
        cmd.arg("exec").arg("--detach").arg("--process").arg(&file);
        cmd.arg("--pid-file").arg(&pid_file);
        let result = self.launch(cmd, "exec", id, io, work_dir, work_dir, &pid_file);
        let _ = std::fs::remove_file(&file);
        result
    }

    /// Runs `create` or `exec` with the new process's stdio; its pid from
    /// the pid file and, for a terminal, the console connection (through a
    /// socket in `socket_dir`, runc's working directory while it runs).
    #[allow(clippy::too_many_arguments)]
    fn launch(
        &self,
        mut cmd: Command,
        verb: &str,
        id: &str,
        io: NewProcessIo,
        work_dir: &Path,
        socket_dir: &Path,
        pid_file: &Path,
    ) -> Result<(i32, Option<OwnedFd>)> {
        let _ = std::fs::remove_file(pid_file);
        let log = work_dir.join(LOG);
        let _ = std::fs::remove_file(&log);
        // runc takes a socket path; relative to its working directory, as
        // the directory's own path can be longer than a socket path may be.
        let console = match io.console {
            Some(_) => {
                let (listener, _) = crate::monitor::bind(socket_dir, "console.sock")?;
                cmd.current_dir(socket_dir)
                    .arg("--console-socket")
                    .arg("console.sock");
                Some(listener)
            }
            None => None,
        };
        match io.stdio {
            berth_runtime::ProcessIo::Fds {
                stdin,
                stdout,
                stderr,
            } if console.is_none() => {
                cmd.stdin(Stdio::from(stdin))
                    .stdout(Stdio::from(stdout))
                    .stderr(Stdio::from(stderr));
            }
            _ => {
                cmd.stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null());
            }
        }
        cmd.arg(id);
        let status = cmd.status().map_err(|e| self.spawn_error(verb, e))?;
        // The process's ends went with `cmd` (dropped below): only its own
        // copies are left.
        drop(cmd);
        if !status.success() {
            let _ = std::fs::remove_file(socket_dir.join("console.sock"));
            return Err(runc_error(verb, &last_log_error(&log)));
        }
        let pid = std::fs::read_to_string(pid_file)
            .ok()
            .and_then(|s| s.trim().parse::<i32>().ok())
            .ok_or_else(|| {
                Error::internal(format!(
                    "runc {verb} wrote no pid to {}",
                    pid_file.display()
                ))
            })?;
        let console = match console {
            Some(listener) => {
                let _ = std::fs::remove_file(socket_dir.join("console.sock"));
                listener
                    .set_nonblocking(true)
                    .map_err(|e| Error::internal(format!("console socket: {e}")))?;
                let (conn, _) = listener.accept().map_err(|e| {
                    Error::internal(format!(
                        "runc {verb} sent no terminal to the console socket: {e}"
                    ))
                })?;
                conn.set_nonblocking(false)
                    .map_err(|e| Error::internal(format!("console socket: {e}")))?;
                Some(OwnedFd::from(conn))
            }
            None => None,
        };
        Ok((pid, console))
    }

    pub fn start(&self, id: &str) -> Result<()> {
        self.run("start", &[id], None).map(drop)
    }

    pub fn kill(&self, id: &str, signal: i32, all: bool) -> Result<()> {
        let signal = signal.to_string();
        let mut args = Vec::new();
        if all {
            args.push("--all");
        }
        args.extend([id, signal.as_str()]);
        self.run("kill", &args, None).map(drop)
    }

    /// `delete`: a container runc does not know is already deleted.
    pub fn delete(&self, id: &str, force: bool) -> Result<()> {
        let args: &[&str] = if force { &["--force", id] } else { &[id] };
        match self.run("delete", args, None) {
            Ok(_) => Ok(()),
            Err(e) if e.kind == ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        }
    }

    pub fn pause(&self, id: &str) -> Result<()> {
        self.run("pause", &[id], None).map(drop)
    }

    pub fn resume(&self, id: &str) -> Result<()> {
        self.run("resume", &[id], None).map(drop)
    }

    pub fn update(&self, id: &str, resources: &LinuxResources) -> Result<()> {
        let json = serde_json::to_vec(resources)
            .map_err(|e| Error::internal(format!("serialise the resources: {e}")))?;
        self.run("update", &["--resources", "-", id], Some(&json))
            .map(drop)
    }

    /// `state`: runc's status word and the bundle.
    fn state(&self, id: &str) -> Result<(String, PathBuf)> {
        let out = self.run("state", &[id], None)?;
        let v: serde_json::Value = serde_json::from_slice(&out)
            .map_err(|e| Error::internal(format!("runc state {id}: {e}")))?;
        Ok((
            v["status"].as_str().unwrap_or_default().to_string(),
            PathBuf::from(v["bundle"].as_str().unwrap_or_default()),
        ))
    }

    pub fn status(&self, id: &str) -> Result<String> {
        Ok(self.state(id)?.0)
    }

    pub fn saved_spec(&self, id: &str) -> Result<Spec> {
        let (_, bundle) = self.state(id)?;
        let path = bundle.join("config.json");
        let text = std::fs::read(&path)
            .map_err(|e| Error::internal(format!("read {}: {e}", path.display())))?;
        serde_json::from_slice(&text)
            .map_err(|e| Error::internal(format!("parse {}: {e}", path.display())))
    }

    /// The container's cgroup (stats and pids are read there, as berth's
    /// runtime reads them: runc's `events --stats` has another shape).
    pub fn cgroup(&self, id: &str) -> Result<berth_cgroups::Cgroup> {
        let spec = self.saved_spec(id)?;
        let path = berth_runtime::container::cgroup_path(&spec, id)?;
        let hierarchy = berth_cgroups::Hierarchy::detect()
            .map_err(|e| Error::internal(format!("cgroups: {e}")))?;
        berth_cgroups::Cgroup::new(hierarchy, &path)
            .map_err(|e| Error::internal(format!("cgroup {path}: {e}")))
    }
}

/// The last error runc logged (its JSON log lines), or the log's end.
fn last_log_error(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let mut last = String::new();
    for line in text.lines() {
        match serde_json::from_str::<serde_json::Value>(line) {
            Ok(v) if v["level"] == "error" || v["level"] == "fatal" => {
                last = v["msg"].as_str().unwrap_or_default().to_string();
            }
            Ok(_) => {}
            Err(_) if !line.trim().is_empty() => last = line.trim().to_string(),
            Err(_) => {}
        }
    }
    if last.is_empty() {
        last = "runc failed and logged nothing".into();
    }
    last
}

/// A runc failure as a typed error, kinds decided on runc's words as
/// docker's CLI decides its exit codes (127 not found, 126 not executable).
fn runc_error(verb: &str, message: &str) -> Error {
    let lower = message.to_ascii_lowercase();
    let starting = matches!(verb, "create" | "exec");
    let kind = if starting
        && (lower.contains("executable file not found")
            || (lower.contains("exec:") && lower.contains("no such file or directory")))
    {
        ErrorKind::CommandNotFound
    } else if starting && lower.contains("exec:") && lower.contains("permission denied") {
        ErrorKind::CommandNotExecutable
    } else if lower.contains("does not exist") || lower.contains("not found") {
        ErrorKind::NotFound
    } else if lower.contains("not running") || lower.contains("not paused") {
        ErrorKind::Conflict
    } else {
        ErrorKind::Internal
    };
    let text = if starting {
        format!("OCI runtime {verb} failed: {message}: unknown")
    } else {
        format!("runc {verb}: {message}")
    };
    Error::new(kind, text)
}
