//! Commit's freeze of a running container, owned by the store rather than
//! by the committing process.
//!
//! Each commit of a running container holds a `commit_freezes` row under
//! its lease. The first holder freezes the container's cgroup; the last
//! one to let go thaws it, unless the container was paused by hand
//! meanwhile (its state says Paused). Two commits at once share one freeze.
//! A commit killed mid-way leaves its row under a dead lease: the next
//! berth process's sweep releases the lease (the row goes with it) and
//! `thaw_abandoned` thaws the container if nobody else holds it.
//! `system check` reports a frozen running container nobody holds.

use rusqlite::{Connection, params};

use super::record::{self, State};
use crate::Engine;
use crate::error::{Error, Result};
use crate::store::leases::{self, Lease};

/// A commit's hold on a container's freeze, let go on drop (a kill -9
/// skips that; the sweep then does it).
pub(crate) struct FreezeHold<'e> {
    engine: &'e Engine,
    id: String,
    lease: Lease,
    held: bool,
}

impl FreezeHold<'_> {
    /// Lets go now (the layer is captured: the container may run on).
    pub(crate) fn release(mut self) -> Result<()> {
        self.held = false;
        self.engine.let_go(&self.id, self.lease)
    }
}

impl Drop for FreezeHold<'_> {
    fn drop(&mut self) {
        if self.held {
            let _ = self.engine.let_go(&self.id, self.lease);
        }
    }
}

fn holders(c: &Connection, id: &str) -> Result<i64> {
    Ok(c.query_row(
        "SELECT COUNT(*) FROM commit_freezes WHERE container_id = ?1",
        [id],
        |r| r.get(0),
    )?)
}

/// Whether a live commit holds `id` frozen.
pub(crate) fn held(c: &Connection, id: &str) -> Result<bool> {
    Ok(holders(c, id)? > 0)
}

/// Containers held by the given (dead) leases, before the sweep drops them.
pub(crate) fn held_by(c: &Connection, dead: &[Lease]) -> Result<Vec<String>> {
    let mut stmt =
        c.prepare_cached("SELECT container_id FROM commit_freezes WHERE lease_id = ?1")?;
    let mut out = Vec::new();
    for lease in dead {
        let ids = stmt.query_map([lease.0], |r| r.get::<_, String>(0))?;
        for id in ids {
            out.push(id?);
        }
    }
    Ok(out)
}

impl Engine {
    /// Holds `id` frozen for a commit under `lease`; freezes it if this is
    /// the first hold and it runs.
    pub(crate) fn hold_freeze(&self, id: &str, lease: Lease) -> Result<FreezeHold<'_>> {
        // The hold is on disk before the freeze: a commit killed at any
        // moment after freezing leaves a row under its (dead) lease, which
        // the sweep finds and thaws.
        self.db.write(|c| {
            c.execute(
                "INSERT INTO commit_freezes (container_id, lease_id) VALUES (?1, ?2)",
                params![id, lease.0],
            )?;
            Ok(())
        })?;
        let hold = FreezeHold {
            engine: self,
            id: id.to_string(),
            lease,
            held: true,
        };
        // Serialised with other holders and with the last one's thaw: the
        // first to get here freezes, the others find it frozen.
        self.db.write(|c| {
            let running = record::get(c, id)?.is_some_and(|r| r.state == State::Running);
            if running && !self.frozen(id) {
                self.runtime_of(id).pause(id).map_err(|e| {
                    Error::internal(format!("pause container {id} for commit: {e}"))
                })?;
            }
            Ok(())
        })?;
        // (A failed freeze lets go of the hold as `hold` drops.)
        Ok(hold)
    }

    fn let_go(&self, id: &str, lease: Lease) -> Result<()> {
        self.db.write(|c| {
            c.execute(
                "DELETE FROM commit_freezes WHERE container_id = ?1 AND lease_id = ?2",
                params![id, lease.0],
            )?;
            self.thaw_if_unheld(c, id)
        })
    }

    /// Thaws `id` when no commit holds it and it is not paused by hand.
    fn thaw_if_unheld(&self, c: &Connection, id: &str) -> Result<()> {
        let running = record::get(c, id)?.is_some_and(|r| r.state == State::Running);
        if running && !held(c, id)? && self.frozen(id) {
            self.runtime_of(id)
                .resume(id)
                .map_err(|e| Error::internal(format!("thaw container {id} after commit: {e}")))?;
        }
        Ok(())
    }

    /// Whether `id`'s cgroup is frozen (its runtime says paused).
    pub(crate) fn frozen(&self, id: &str) -> bool {
        self.runtime_of(id).paused(id)
    }

    /// After the sweep released dead leases: thaws the containers their
    /// commits held, where nobody else holds them.
    pub(crate) fn thaw_abandoned(&self, ids: &[String]) -> Result<()> {
        for id in ids {
            self.db.write(|c| self.thaw_if_unheld(c, id))?;
        }
        Ok(())
    }

    /// Running containers whose cgroup is frozen though no live commit
    /// holds them (for `system check`); `repair` thaws them.
    pub(crate) fn frozen_without_holder(&self, repair: bool) -> Result<Vec<String>> {
        // One read: the running containers and the ones a live commit holds.
        let (running, held) = self.db.read(|c| {
            let (live, _) = leases::partition(c)?;
            let mut stmt = c.prepare_cached("SELECT container_id, lease_id FROM commit_freezes")?;
            let held: std::collections::HashSet<String> = stmt
                .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?
                .filter_map(|r| r.ok())
                .filter(|(_, lease)| live.contains(lease))
                .map(|(id, _)| id)
                .collect();
            let running: Vec<String> = record::all(c)?
                .into_iter()
                .filter(|r| r.state == State::Running)
                .map(|r| r.id)
                .collect();
            Ok((running, held))
        })?;
        let mut out = Vec::new();
        for id in running.into_iter().filter(|id| !held.contains(id)) {
            if self.frozen(&id) {
                if repair {
                    self.db.write(|c| self.thaw_if_unheld(c, &id))?;
                }
                out.push(id);
            }
        }
        Ok(out)
    }
}
