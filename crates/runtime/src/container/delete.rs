//! `delete`: removes a stopped (or, forced, a running) container: its
//! processes, cgroup and state.

use std::time::{Duration, Instant};

use super::{Runtime, cgroup_of};
use crate::error::{Error, ErrorKind, Result};
use crate::hooks;
use crate::state::{State, Status};

impl Runtime {
    pub fn delete(&self, id: &str, force: bool) -> Result<()> {
        let state = match self.state(id) {
            Ok(s) => s,
            Err(e) if e.kind == ErrorKind::NotFound && force => return Ok(()),
            Err(e) => return Err(e),
        };
        let status = state.status(&self.root);
        if matches!(status, Status::Running | Status::Paused) && !force {
            return Err(Error::state(format!(
                "cannot delete container {id} that is not stopped: {}",
                status.as_str()
            )));
        }
        let cgroup = cgroup_of(&state).ok();
        if status == Status::Paused
            && let Some(cg) = &cgroup
        {
            let _ = cg.freeze(berth_cgroups::FreezerState::Thawed);
        }
        if state.init_alive() {
            let _ = super::kill::send(state.pid, libc::SIGKILL);
        }
        if let Some(cg) = &cgroup {
            // Without its own pid namespace, the init's death does not take the
            // other processes with it.
            let _ = cg.kill_all(libc::SIGKILL);
        }
        wait_gone(&state, cgroup.as_ref());
        if let Some(cg) = &cgroup {
            cg.remove()?;
        }
        if let Ok(spec) = self.saved_spec(id)
            && let Some(poststop) = spec.hooks().as_ref().and_then(|h| h.poststop().clone())
        {
            let mut s = state.to_oci_json(&self.root);
            s["status"] = "stopped".into();
            if let Err(e) = hooks::run("poststop", &poststop, &s) {
                eprintln!("warning: {e}");
            }
        }
        let dir = State::dir(&self.root, id);
        std::fs::remove_dir_all(&dir).map_err(|e| Error::io("remove state", &dir, e))
    }
}

/// Waits (briefly) until the init and every process of the cgroup are gone.
fn wait_gone(state: &State, cgroup: Option<&berth_cgroups::Cgroup>) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        let init_gone = !state.init_alive();
        let empty = cgroup.is_none_or(|cg| cg.pids().map(|p| p.is_empty()).unwrap_or(true));
        if init_gone && empty {
            return;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}
