//! Reconciling rows with reality: a container whose owner (monitor or
//! creating CLI) died is brought to the state the truth allows.
//!
//! - running/paused/starting, monitor dead: whatever still runs in the
//!   container is killed, the row says exited (137 when something had to be
//!   killed, else 255: the real code died with the monitor), its address
//!   and published ports released and their rules rendered away;
//! - creating, CLI dead: the half-made container is removed;
//! - removing, remover dead: the removal is finished.

use super::record::{self, ContainerRow, Exit, State};
use crate::Engine;
use crate::error::Result;

impl Engine {
    pub(crate) fn reconcile_one(&self, row: ContainerRow) -> Result<ContainerRow> {
        let orphaned = match row.state {
            State::Starting
            | State::Running
            | State::Paused
            | State::Creating
            | State::Removing => !row.owner.is_alive(),
            _ => false,
        };
        if !orphaned {
            return Ok(row);
        }
        match row.state {
            State::Creating | State::Removing => {
                self.remove_stopped(&row.id, true)?;
                // Report it as gone.
                Err(record::no_such_container(&row.id))
            }
            _ => {
                let runtime = self.runtime();
                let killed = runtime
                    .pids(&row.id)
                    .map(|p| !p.is_empty())
                    .unwrap_or(false);
                // Its veth pair goes with its network namespace, now that
                // nothing is left in it.
                let _ = runtime.delete(&row.id, true);
                let id = row.id.clone();
                let had_ports = !self.published_ports(&id)?.is_empty();
                self.db.write_relaxed(|c| {
                    // Another process may have reconciled it first.
                    match record::get(c, &id)? {
                        Some(r) if r.state == row.state && r.owner == row.owner => {
                            record::set_exited(
                                c,
                                &id,
                                &Exit {
                                    code: if killed { 137 } else { 255 },
                                    oom_killed: false,
                                    error: "the container's monitor died".into(),
                                },
                            )
                        }
                        _ => Ok(()),
                    }
                })?;
                if had_ports {
                    // The exit released its ports: their DNAT rules go.
                    let _lock = self.networks_lock()?;
                    self.apply_rules()?;
                }
                let _ = std::fs::remove_dir_all(crate::monitor::monitor_dir(&self.run_root, &id));
                self.db
                    .read(|c| record::get(c, &id))?
                    .ok_or_else(|| record::no_such_container(&id))
            }
        }
    }
}
