//! OCI hooks: each runs with the container state on stdin, its own args and
//! env (the runtime's when it sets none), and an optional timeout; a failing hook fails the operation (except
//! poststart and poststop, which only warn, as the spec says).

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use oci_spec::runtime::Hook;

use crate::error::{Error, Result};

/// Runs `hooks` in order with `state` (the runtime-spec state JSON) on stdin.
pub fn run(kind: &str, hooks: &[Hook], state: &serde_json::Value) -> Result<()> {
    let input = serde_json::to_vec(state).unwrap_or_default();
    for (i, hook) in hooks.iter().enumerate() {
        let path = hook.path();
        let args = hook.args().clone().unwrap_or_default();
        let mut cmd = Command::new(path);
        if let Some((arg0, rest)) = args.split_first() {
            cmd.arg0(arg0).args(rest);
        }
        // A hook without `env` inherits the runtime's, as runc's does (Go's
        // exec with a nil Env); with one, it gets exactly that.
        if let Some(env) = hook.env() {
            cmd.env_clear();
            for e in env {
                if let Some((k, v)) = e.split_once('=') {
                    cmd.env(k, v);
                }
            }
        }
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let what = || format!("{kind} hook #{i} {}", path.display());
        let mut child = cmd
            .spawn()
            .map_err(|e| Error::system(format!("{}: {e}", what())))?;
        if let Some(mut stdin) = child.stdin.take() {
            let _ = stdin.write_all(&input);
        }
        let deadline = hook
            .timeout()
            .map(|t| Instant::now() + Duration::from_secs(t.max(1) as u64));
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) => {
                    if deadline.is_some_and(|d| Instant::now() > d) {
                        let _ = child.kill();
                        let _ = child.wait();
                        return Err(Error::system(format!(
                            "{}: timed out after {}s",
                            what(),
                            hook.timeout().unwrap_or(0)
                        )));
                    }
                    std::thread::sleep(Duration::from_millis(2));
                }
                Err(e) => return Err(Error::system(format!("{}: {e}", what()))),
            }
        };
        if !status.success() {
            let mut stderr = String::new();
            if let Some(mut e) = child.stderr.take() {
                let _ = std::io::Read::read_to_string(&mut e, &mut stderr);
            }
            return Err(Error::system(format!(
                "{}: {status}: {}",
                what(),
                stderr.trim()
            )));
        }
    }
    Ok(())
}
