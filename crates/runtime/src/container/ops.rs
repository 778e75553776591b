//! The small verbs: pause, resume, ps, update, and run (create + start + wait).

use oci_spec::runtime::LinuxResources;

use super::{CreateOptions, Runtime, cgroup_of};
use crate::error::{Error, Result};
use crate::state::Status;

impl Runtime {
    pub fn pause(&self, id: &str) -> Result<()> {
        let state = self.state(id)?;
        match state.status(&self.root) {
            Status::Running | Status::Created => {}
            Status::Paused => return Err(Error::state("container already paused")),
            _ => return Err(Error::state("container not running")),
        }
        Ok(cgroup_of(&state)?.freeze(berth_cgroups::FreezerState::Frozen)?)
    }

    pub fn resume(&self, id: &str) -> Result<()> {
        let state = self.state(id)?;
        if state.status(&self.root) != Status::Paused {
            return Err(Error::state("container not paused"));
        }
        Ok(cgroup_of(&state)?.freeze(berth_cgroups::FreezerState::Thawed)?)
    }

    /// Pids of every process in the container (host pid namespace).
    pub fn pids(&self, id: &str) -> Result<Vec<i32>> {
        let state = self.state(id)?;
        Ok(cgroup_of(&state)?.pids()?)
    }

    pub fn update(&self, id: &str, resources: &LinuxResources) -> Result<()> {
        let state = self.state(id)?;
        if state.status(&self.root) == Status::Stopped {
            return Err(Error::state("container not running"));
        }
        Ok(cgroup_of(&state)?.apply(resources)?)
    }

    pub fn stats(&self, id: &str) -> Result<berth_cgroups::Stats> {
        let state = self.state(id)?;
        Ok(cgroup_of(&state)?.stats()?)
    }

    /// `run`: create, start, and (unless detached) wait for the init and
    /// delete the container; returns the exit code.
    pub fn run(&self, id: &str, opts: &CreateOptions, detach: bool) -> Result<i32> {
        let state = self.create(id, opts)?;
        if let Err(e) = self.start(id) {
            let _ = self.delete(id, true);
            return Err(e);
        }
        if detach {
            return Ok(0);
        }
        let code = super::exec::wait_exit(state.pid)?;
        self.delete(id, true)?;
        Ok(code)
    }
}
