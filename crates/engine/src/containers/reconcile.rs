//! Reconciling rows with reality: a container whose owner (monitor or
//! creating CLI) died is brought to the state the truth allows.
//!
//! - running/paused/starting, monitor dead: whatever still runs in the
//!   container is killed, the row says exited (137: killed with its monitor;
//!   255 after a reboot, when the real code is lost), its address
//!   and published ports released and their rules rendered away;
//!   and published ports released and their rules rendered away; a `--rm`
//!   container is then removed (as dockerd removes them when it finds them
//!   dead), and the rest are started again if their restart policy says so
//!   (the monitor that would have applied it is gone), by whichever berth
//!   process notices first — any command that looks the container up, and
//!   the daemon, which looks every 2 s;
//! - creating, CLI dead: the half-made container is removed;
//! - removing, remover dead: the removal is finished.
//!
//! The init dies with its monitor (`die_with_parent`), so "monitor dead"
//! means the container no longer runs, not that it runs unsupervised.

use super::record::{self, ContainerRow, Exit, State};
use crate::Engine;
use crate::error::Result;
use crate::store::event_log;

/// What reconciling a row found.
pub(crate) enum Reconciled {
    /// The row as it is (perhaps just marked exited).
    Row(ContainerRow),
    /// Its monitor had died: the row now says exited, and the restart
    /// policy has not been applied.
    MonitorDied(ContainerRow),
}

impl Engine {
    /// The row brought to what is true; a container whose monitor died is
    /// started again when its restart policy says so (counted as a
    /// restart), whoever noticed the death first.
    pub(crate) fn reconcile_one(&self, row: ContainerRow) -> Result<ContainerRow> {
        let row = match self.reconcile(row)? {
            Reconciled::Row(r) => return Ok(r),
            Reconciled::MonitorDied(r) => r,
        };
        let policy = &row.config.host.restart;
        if !policy.should_restart(row.exit_code, row.restart_count, row.stop_requested) {
            return Ok(row);
        }
        self.db
            .write_relaxed(|c| record::count_restart(c, &row.id, row.restart_count + 1))?;
        match self.start_container(&row.id) {
            Ok(r) => Ok(r),
            // It stays exited, with the failure recorded by the start.
            Err(_) => self.container(&row.id),
        }
    }

    fn reconcile(&self, row: ContainerRow) -> Result<Reconciled> {
        let orphaned = match row.state {
            State::Starting
            | State::Running
            | State::Paused
            | State::Creating
            | State::Removing => !row.owner.is_alive(),
            _ => false,
        };
        if !orphaned {
            return Ok(Reconciled::Row(row));
        }
        match row.state {
            State::Creating | State::Removing => {
                self.remove_stopped(&row.id, true)?;
                // Report it as gone.
                Err(record::no_such_container(&row.id))
            }
            _ => {
                let runtime = self.runtime_of(&row.id);
                // Its runtime state outlived the monitor: the container ran
                // here since boot, and its init died by SIGKILL with the
                // monitor (or dies now, below). No state: a reboot took
                // everything, and the real code with it.
                let killed = runtime.has_state(&row.id);
                // Its veth pair goes with its network namespace, now that
                // nothing is left in it.
                let _ = runtime.delete(&row.id, true);
                let id = row.id.clone();
                let had_ports = !self.published_ports(&id)?.is_empty();
                let code = if killed { 137 } else { 255 };
                let ours = self.db.write_relaxed(|c| {
                    // Another process may have reconciled it first.
                    match record::get(c, &id)? {
                        Some(r) if r.state == row.state && r.owner == row.owner => {
                            record::set_exited(
                                c,
                                &id,
                                &Exit {
                                    code,
                                    oom_killed: false,
                                    error: "the container's monitor died".into(),
                                },
                            )?;
                            event_log::record(
                                c,
                                &crate::events::container_event(&row, "die")
                                    .with("exitCode", code.to_string()),
                            )?;
                            Ok(true)
                        }
                        _ => Ok(false),
                    }
                })?;
                if ours {
                    self.events_changed();
                }
                if had_ports {
                    // The exit released its ports: their DNAT rules go.
                    let _lock = self.networks_lock()?;
                    self.apply_rules()?;
                }
                let _ = std::fs::remove_dir_all(crate::monitor::monitor_dir(&self.run_root, &id));
                if ours && row.config.host.auto_remove {
                    // Its monitor would have removed it at the exit.
                    self.remove_stopped(&id, true)?;
                    return Err(record::no_such_container(&id));
                }
                // The policy is applied once, by whoever recorded the death.
                let now = self
                    .db
                    .read(|c| record::get(c, &id))?
                    .ok_or_else(|| record::no_such_container(&id))?;
                Ok(if ours {
                    Reconciled::MonitorDied(now)
                } else {
                    Reconciled::Row(now)
                })
            }
        }
    }
}
