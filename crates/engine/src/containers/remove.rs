//! `rm`: a container's row, directory (writable layer, log, bundle) and,
//! with `-v`, its anonymous volumes.
//!
//! The directory is renamed into the trash inside the transaction that
//! deletes the row (the start-up sweep restores it if that transaction never
//! committed), and deleted after the commit.

use std::time::Duration;

use super::record::{self, State};
use super::volumes_record;
use crate::Engine;
use crate::error::{Error, IoContext, Result};
use crate::store::event_log;

/// How long after its start a container's quick exit is waited for by an
/// `rm` without `--force` (about what a docker CLI round trip takes).
const RM_GRACE: Duration = Duration::from_millis(200);

impl Engine {
    pub fn remove_container(&self, name: &str, force: bool, volumes: bool) -> Result<String> {
        let mut row = self.container(name)?;
        if row.state.is_live() && !force {
            // `run -d … true; rm` and `start; rm` of a command that ends at
            // once: dockerd has the exit by the time the next request
            // comes, berth's CLI can be quicker than the command's exit.
            // A container in its first moments gets until RM_GRACE after
            // its start to end; one whose process is over is waited for
            // while its monitor records that.
            let started = row.started_at;
            while !super::lifecycle::init_has_exited(row.pid)
                && crate::now_nanos() - started < RM_GRACE.as_nanos() as i64
            {
                std::thread::sleep(Duration::from_millis(2));
            }
            if super::lifecycle::init_has_exited(row.pid) {
                self.wait_exit_recorded(&row, Duration::from_secs(10));
                row = self.container(&row.id)?;
            }
        }
        if row.state.is_live() {
            if !force {
                let what = if row.state == State::Paused {
                    "paused"
                } else {
                    "running"
                };
                return Err(Error::conflict(format!(
                    "You cannot remove a {what} container {}. Stop the container before attempting removal or force remove",
                    row.id
                )));
            }
            self.stop_with_events(&row.id, Some(0), Some("SIGKILL"), false)?;
            // The monitor may still be finishing (`--rm` removes it itself).
            super::lifecycle::wait_pid_exit(row.owner.pid as i32, Duration::from_secs(10));
        }
        if self.db.read(|c| record::get(c, &row.id))?.is_some() {
            self.remove_stopped(&row.id, volumes)?;
        }
        Ok(row.id)
    }

    /// Removes a container that no monitor owns.
    pub(crate) fn remove_stopped(&self, id: &str, volumes: bool) -> Result<()> {
        let _ = self.runtime_of(id).delete(id, true);
        self.unmount_shareable_shm(id);
        if let Ok(Some(row)) = self.db.read(|c| record::get(c, id)) {
            self.release_device_volumes(&row);
        }
        let dir = self.paths.container_dir(id);
        let stamp = crate::now_nanos();
        let trash = self.paths.trash.join(format!("ctr-{id}.{stamp}"));
        let mut volume_trash = Vec::new();
        let mut image_trash = None;
        let had_ports = self.db.write_relaxed(|c| {
            // Its leases and ports go with the row (a start whose monitor
            // died may have left them): their rules are rendered away below.
            let had_ports = !crate::networks::ports::of_container(c, id)?.is_empty();
            crate::networks::leases::release(c, id)?;
            if let Some(row) = record::get(c, id)? {
                event_log::record(c, &crate::events::container_event(&row, "destroy"))?;
            }
            if volumes {
                for v in volumes_record::anonymous_only_of(c, id)? {
                    let from = self.paths.volumes.join(&v);
                    let to = self.paths.trash.join(format!("vol-{v}.{stamp}"));
                    if from.exists() {
                        std::fs::rename(&from, &to).ctx("move to trash", &from)?;
                        volume_trash.push(to);
                    }
                    volumes_record::delete(c, &v)?;
                }
            }
            let image = record::get(c, id)?.map(|r| r.image_id);
            record::delete(c, id)?;
            // The last container of a force-removed image takes it along.
            if let Some(image) = image.and_then(|i| crate::images::record::parse_digest(&i).ok())
                && crate::images::record::is_removed(c, &image)?
                && record::using_image(c, image.as_str())?.is_empty()
            {
                let collected =
                    crate::images::remove::delete_image(c, &self.paths, &image, &mut Vec::new())?;
                image_trash = Some(collected);
            }
            match std::fs::rename(&dir, &trash) {
                Ok(()) => Ok(had_ports),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(had_ports),
                Err(e) => Err(e).ctx("move to trash", &dir),
            }
        })?;
        if let Some(collected) = image_trash {
            collected.empty_trash();
        }
        if had_ports {
            let _lock = self.networks_lock()?;
            self.apply_rules()?;
        }
        self.events_changed();
        crate::store::gc::remove_any(&trash);
        for t in &volume_trash {
            crate::store::gc::remove_any(t);
        }
        let _ = std::fs::remove_dir_all(crate::monitor::monitor_dir(&self.run_root, id));
        Ok(())
    }
}
