//! `exec`: another process in a running container, configured from the
//! container's own process (capabilities, environment, user) with the
//! caller's overrides.

use std::path::PathBuf;

use oci_spec::runtime::{Process, Spec};

use super::lifecycle::not_running;
use super::record::State;
use super::user;
use crate::Engine;
use crate::error::{Error, Result};

#[derive(Clone, Debug, Default)]
pub struct ExecRequest {
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub user: Option<String>,
    pub workdir: Option<String>,
    pub tty: bool,
    pub privileged: bool,
}

impl Engine {
    /// Runs the process; the caller's stdio become its stdio unless
    /// `console_socket` is given (then its pty master is sent there).
    /// Returns its pid, and its exit code unless `detach`. The calling
    /// process must be single-threaded.
    pub fn exec_in_container(
        &self,
        name: &str,
        request: &ExecRequest,
        console_socket: Option<PathBuf>,
        detach: bool,
    ) -> Result<(i32, Option<i32>)> {
        let row = self.container(name)?;
        match row.state {
            State::Running => {}
            State::Paused => {
                return Err(Error::conflict(format!(
                    "Container {} is paused, unpause the container before exec",
                    row.id
                )));
            }
            _ => return Err(not_running(&row)),
        }
        let bundle = self.paths.container_dir(&row.id).join("config.json");
        let spec = Spec::load(&bundle)
            .map_err(|e| Error::internal(format!("load {}: {e}", bundle.display())))?;
        let mut process: Process = spec
            .process()
            .clone()
            .ok_or_else(|| Error::internal(format!("{}: no process", bundle.display())))?;
        process.set_args(Some(request.args.clone()));
        process.set_terminal(Some(request.tty));
        let mut env = process.env().clone().unwrap_or_default();
        for e in &request.env {
            let key = e.split('=').next().unwrap_or_default();
            match env.iter_mut().find(|x| x.split('=').next() == Some(key)) {
                Some(slot) => *slot = e.clone(),
                None => env.push(e.clone()),
            }
        }
        process.set_env(Some(env));
        if let Some(dir) = &request.workdir {
            process.set_cwd(dir.into());
        }
        if let Some(u) = &request.user {
            let root = PathBuf::from(format!("/proc/{}/root", row.pid));
            let resolved = user::resolve(&root, u)?;
            let mut spec_user = process.user().clone();
            spec_user.set_uid(resolved.uid);
            spec_user.set_gid(resolved.gid);
            spec_user.set_additional_gids(Some(resolved.additional_gids));
            process.set_user(spec_user);
        }
        if request.privileged {
            let all = super::security::capabilities(true, &[], &[])?;
            let caps: oci_spec::runtime::Capabilities =
                all.iter().filter_map(|c| c.parse().ok()).collect();
            if let Some(mut c) = process.capabilities().clone() {
                c.set_bounding(Some(caps.clone()));
                c.set_effective(Some(caps.clone()));
                c.set_permitted(Some(caps));
                process.set_capabilities(Some(c));
            }
        }
        let (pid, code) = self.runtime().exec(
            &row.id,
            &berth_runtime::ExecOptions {
                process,
                pid_file: None,
                console_socket,
                detach,
                preserve_fds: 0,
            },
        )?;
        Ok((pid, code))
    }
}
