//! `--ipc`, `--pid`, `--uts`, `--cgroupns` and `--userns`: which of the
//! container's namespaces are its own, the host's or another container's.
//! Checked and normalised at create (another container is kept by ID, as
//! for `--network container:`), turned into the spec's namespace list at
//! each start.

use std::path::PathBuf;

use super::config::HostConfig;
use crate::Engine;
use crate::error::{Error, Result};

impl Engine {
    /// Checks the modes with Docker's words and resolves `container:X`.
    pub(crate) fn resolve_namespace_modes(&self, host: &mut HostConfig) -> Result<()> {
        host.ipc_mode = match host.ipc_mode.as_str() {
            "" | "private" | "shareable" | "host" | "none" => host.ipc_mode.clone(),
            mode => match mode.strip_prefix("container:") {
                Some(other) => format!("container:{}", self.container(other)?.id),
                None => return Err(Error::invalid(format!("invalid IPC mode: {mode}"))),
            },
        };
        host.pid_mode = match host.pid_mode.as_str() {
            "" | "host" => host.pid_mode.clone(),
            mode => match mode.strip_prefix("container:") {
                Some(other) => format!("container:{}", self.container(other)?.id),
                None => return Err(Error::invalid(format!("invalid PID mode: {mode}"))),
            },
        };
        if !matches!(host.uts_mode.as_str(), "" | "host") {
            return Err(Error::invalid(format!(
                "invalid UTS mode: {}",
                host.uts_mode
            )));
        }
        if !matches!(host.cgroupns_mode.as_str(), "" | "private" | "host") {
            return Err(Error::invalid(format!(
                "invalid cgroup namespace mode: {}",
                host.cgroupns_mode
            )));
        }
        match host.userns_mode.as_str() {
            "" | "host" => {}
            mode => {
                // Docker takes only "host" unless the daemon remaps users.
                return Err(Error::invalid(format!(
                    "invalid USER mode: {mode}: berth runs without user namespace remapping, so only \"host\" is valid"
                )));
            }
        }
        Ok(())
    }

    /// The other containers whose namespaces this one joins, as the paths
    /// of their inits' namespace files, by OCI namespace type; each must
    /// be running.
    pub(crate) fn joined_namespaces(
        &self,
        host: &HostConfig,
    ) -> Result<Vec<(&'static str, PathBuf)>> {
        let mut joined = Vec::new();
        for (kind, mode, what) in [
            ("ipc", &host.ipc_mode, "IPC"),
            ("pid", &host.pid_mode, "PID"),
        ] {
            let Some(other) = mode.strip_prefix("container:") else {
                continue;
            };
            let row = self.running_peer(other, what)?;
            joined.push((kind, PathBuf::from(format!("/proc/{}/ns/{kind}", row.pid))));
        }
        Ok(joined)
    }

    /// The container `id` whose namespace (`what`: "network", "IPC", …)
    /// another joins, which must be running.
    pub(crate) fn running_peer(&self, id: &str, what: &str) -> Result<super::ContainerRow> {
        let row = self
            .db
            .read(|c| super::record::get(c, id))?
            .ok_or_else(|| super::record::no_such_container(id))?;
        if row.pid <= 0 || !row.state.is_live() {
            return Err(Error::conflict(format!(
                "cannot join {what} namespace of a non running container: {}",
                &row.id[..12]
            )));
        }
        Ok(row)
    }
}
