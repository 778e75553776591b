//! Volumes of the local driver with a device of their own (`volume create
//! -o type=tmpfs -o device=tmpfs`, nfs, a block device): mounted once on
//! the host, on the volume's `_data`, while containers use it, and bound
//! into each of them, so concurrent containers share one file system as
//! Docker's local driver does (a tmpfs volume is one tmpfs, not one per
//! container).
//!
//! The mount is made in the host's mount namespace, by the process that
//! spawns the monitor (berth is daemonless: no host-side process is left
//! when a container exits by itself). So the users of a mount are a list
//! in the run root, `volume-mounts/NAME`, under an flock: each start drops
//! the containers whose monitor is gone, and when none is left, mounts
//! afresh (what the last users wrote is gone, as with Docker's unmount at
//! the last stop). Removing the container or the volume releases it; a
//! reboot empties the run root and the mounts together. Monitors keep
//! their own copy of the mount (their namespaces are private), so a host
//! unmount never pulls a file system from under a running container.
//! `o=bind` volumes are binds of their device, made per container (spec.rs).

use std::collections::BTreeMap;
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use super::MountKind;
use super::namespace_modes::is_mount_point;
use super::record::ContainerRow;
use crate::Engine;
use crate::error::{Error, IoContext, Result};

/// Whether a volume's options make it a mount of its own (not a bind).
pub fn is_device_mount(options: &BTreeMap<String, String>) -> bool {
    !options.is_empty()
        && !options
            .get("o")
            .is_some_and(|o| o.split(',').any(|x| x == "bind" || x == "rbind"))
}

/// The users list of a volume's mount, locked while this lives.
struct Users {
    file: std::fs::File,
    ids: Vec<String>,
}

impl Users {
    fn open(dir: &Path, name: &str) -> Result<Users> {
        crate::store::perms::create_private_dir(dir)?;
        let path = dir.join(name);
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .ctx("open", &path)?;
        rustix::fs::flock(&file, rustix::fs::FlockOperation::LockExclusive)
            .map_err(|e| Error::internal(format!("lock {}: {e}", path.display())))?;
        let mut text = String::new();
        file.read_to_string(&mut text).ctx("read", &path)?;
        let ids = text.lines().map(str::to_string).collect();
        Ok(Users { file, ids })
    }

    fn save(&mut self) -> Result<()> {
        let text: String = self.ids.iter().map(|i| format!("{i}\n")).collect();
        self.file
            .set_len(0)
            .map_err(|e| Error::internal(format!("truncate users: {e}")))?;
        self.file
            .rewind()
            .and_then(|_| self.file.write_all(text.as_bytes()))
            .map_err(|e| Error::internal(format!("write users: {e}")))
    }
}

/// `mount -t TYPE -o O DEVICE DIR`, as the local driver does.
fn mount_device(options: &BTreeMap<String, String>, dir: &Path) -> Result<()> {
    use rustix::mount::{MountFlags, mount};
    let kind = options.get("type").map(String::as_str).unwrap_or_default();
    let device = options
        .get("device")
        .map(String::as_str)
        .filter(|d| !d.is_empty())
        .unwrap_or(kind);
    let data = options.get("o").map(String::as_str).unwrap_or_default();
    let data = std::ffi::CString::new(data)
        .map_err(|_| Error::invalid(format!("volume option o={data:?} holds a NUL")))?;
    mount(device, dir, kind, MountFlags::empty(), data.as_c_str()).map_err(|e| {
        Error::invalid(format!(
            "mount the volume's {kind} {device} on {}: {e}",
            dir.display()
        ))
    })
}

impl Engine {
    fn volume_mounts_dir(&self) -> PathBuf {
        self.run_root.join("volume-mounts")
    }

    /// The container's volumes that are mounts of their own, with options.
    fn device_volumes(
        &self,
        row: &ContainerRow,
    ) -> Result<Vec<(String, BTreeMap<String, String>)>> {
        self.db.read(|c| {
            let mut out = Vec::new();
            for m in row
                .config
                .host
                .mounts
                .iter()
                .filter(|m| m.kind == MountKind::Volume)
            {
                let options: BTreeMap<String, String> =
                    super::volumes_record::options(c, &m.source)?
                        .and_then(|j| serde_json::from_str(&j).ok())
                        .unwrap_or_default();
                if is_device_mount(&options) && !out.iter().any(|(n, _)| *n == m.source) {
                    out.push((m.source.clone(), options));
                }
            }
            Ok(out)
        })
    }

    /// Before a start, in the host's mount namespace: each device volume
    /// of `id` mounted (anew when nobody uses it) and `id` among its users.
    pub(crate) fn mount_device_volumes(&self, row: &ContainerRow) -> Result<()> {
        let id = row.id.as_str();
        for (name, options) in self.device_volumes(row)? {
            let mut users = Users::open(&self.volume_mounts_dir(), &name)?;
            users.ids.retain(|u| u != id && self.still_uses(u));
            let data = self.paths.volume_data(&name);
            if users.ids.is_empty() {
                // Nobody uses what is mounted: what they wrote goes, as
                // with Docker's unmount at the last stop.
                while is_mount_point(&data) {
                    rustix::mount::unmount(&data, rustix::mount::UnmountFlags::DETACH)
                        .map_err(|e| Error::internal(format!("unmount {}: {e}", data.display())))?;
                }
            }
            if !is_mount_point(&data) {
                mount_device(&options, &data)?;
            }
            users.ids.push(id.to_string());
            users.save()?;
        }
        Ok(())
    }

    /// `id` no longer uses its device volumes (its removal): the last user
    /// unmounts.
    pub(crate) fn release_device_volumes(&self, row: &ContainerRow) {
        let Ok(volumes) = self.device_volumes(row) else {
            return;
        };
        for (name, _) in volumes {
            self.release_volume_mount(&name, Some(&row.id));
        }
    }

    /// Drops `id` (and users that are gone) from `name`'s mount; unmounts
    /// when none is left. `None`: a volume being removed, unmounted if
    /// nobody uses it.
    pub(crate) fn release_volume_mount(&self, name: &str, id: Option<&str>) {
        let Ok(mut users) = Users::open(&self.volume_mounts_dir(), name) else {
            return;
        };
        users
            .ids
            .retain(|u| Some(u.as_str()) != id && self.still_uses(u));
        let data = self.paths.volume_data(name);
        if users.ids.is_empty() {
            while is_mount_point(&data) {
                if rustix::mount::unmount(&data, rustix::mount::UnmountFlags::DETACH).is_err() {
                    break;
                }
            }
        }
        // Kept even when empty: a process waiting on its lock holds it open.
        let _ = users.save();
    }

    /// A user whose monitor is alive (running, restarting or starting).
    fn still_uses(&self, id: &str) -> bool {
        self.db
            .read(|c| super::record::get(c, id))
            .ok()
            .flatten()
            .is_some_and(|r| r.owner.is_alive())
    }
}
