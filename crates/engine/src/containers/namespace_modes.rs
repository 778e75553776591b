//! `--ipc`, `--pid`, `--uts`, `--cgroupns` and `--userns`: which of the
//! container's namespaces are its own, the host's or another container's.
//! Checked and normalised at create (another container is kept by ID, as
//! for `--network container:`), turned into the spec's namespace list at
//! each start.

use std::path::{Path, PathBuf};

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

    /// `--ipc shareable`: the container's /dev/shm is a tmpfs on the host,
    /// `<container dir>/shm`, mounted here (in the host's mount namespace,
    /// before the monitor copies it) so that `--ipc container:X` can bind
    /// the same one. It stays until the container is removed.
    pub(crate) fn mount_shareable_shm(&self, row: &super::record::ContainerRow) -> Result<()> {
        use rustix::mount::{MountFlags, mount};
        if row.config.host.ipc_mode != "shareable" {
            return Ok(());
        }
        let dir = self.paths.container_dir(&row.id).join("shm");
        if is_mount_point(&dir) {
            return Ok(());
        }
        crate::store::perms::create_dir(&dir, crate::store::perms::CONTENT_DIR)?;
        let size = match row.config.host.shm_size {
            0 => 64 << 20,
            s => s,
        };
        mount(
            "shm",
            &dir,
            "tmpfs",
            MountFlags::NOSUID | MountFlags::NODEV | MountFlags::NOEXEC,
            std::ffi::CString::new(format!("mode=1777,size={size}"))
                .unwrap_or_default()
                .as_c_str(),
        )
        .map_err(|e| {
            Error::internal(format!(
                "mount the shareable /dev/shm {}: {e}",
                dir.display()
            ))
        })
    }

    /// Unmounts what [`Engine::mount_shareable_shm`] mounted (a removal).
    pub(crate) fn unmount_shareable_shm(&self, id: &str) {
        let dir = self.paths.container_dir(id).join("shm");
        if is_mount_point(&dir) {
            let _ = rustix::mount::unmount(&dir, rustix::mount::UnmountFlags::DETACH);
        }
    }

    /// The host directory a container's /dev/shm binds: its own shareable
    /// one, or the one of the container whose IPC namespace it joins.
    pub(crate) fn shared_shm(&self, host: &HostConfig, own_dir: &Path) -> Result<Option<PathBuf>> {
        if host.ipc_mode == "shareable" {
            return Ok(Some(own_dir.join("shm")));
        }
        let Some(other) = host.ipc_mode.strip_prefix("container:") else {
            return Ok(None);
        };
        let other = self.running_peer(other, "IPC")?;
        match other.config.host.ipc_mode.as_str() {
            "shareable" => Ok(Some(self.paths.container_dir(&other.id).join("shm"))),
            "host" => Ok(Some(PathBuf::from("/dev/shm"))),
            _ => Err(Error::conflict(
                "non-shareable IPC (hint: use IpcMode:shareable for the donor container)",
            )),
        }
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

/// Whether `dir` is a mount point (another device than its parent's).
pub(crate) fn is_mount_point(dir: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(dir), dir.parent().map(std::fs::metadata)) {
        (Ok(d), Some(Ok(p))) => d.dev() != p.dev(),
        _ => false,
    }
}
