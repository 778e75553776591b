//! `update`: a container's resources and restart policy, applied to its
//! cgroup at once when it runs, and kept in its row, from which the
//! monitor builds the spec at every start (so they hold across restarts).

use super::record::{self, State};
use super::{Resources, RestartPolicy};
use crate::Engine;
use crate::error::{Error, Result};

/// `update` flags; None leaves a setting as it is.
#[derive(Clone, Debug, Default)]
pub struct UpdateRequest {
    pub memory: Option<i64>,
    pub memory_swap: Option<i64>,
    pub memory_reservation: Option<i64>,
    pub nano_cpus: Option<i64>,
    pub cpu_shares: Option<u64>,
    pub cpu_quota: Option<i64>,
    pub cpu_period: Option<u64>,
    pub cpuset_cpus: Option<String>,
    pub cpuset_mems: Option<String>,
    pub pids_limit: Option<i64>,
    pub blkio_weight: Option<u16>,
    pub memory_swappiness: Option<i64>,
    pub restart: Option<RestartPolicy>,
}

impl Engine {
    /// Applies `u`; returns Docker's warnings for settings this host's
    /// cgroups cannot carry out (discarded, as dockerd does).
    pub fn update_container(&self, name: &str, u: &UpdateRequest) -> Result<Vec<String>> {
        let row = self.container(name)?;
        let mut config = row.config.clone();
        let r: &mut Resources = &mut config.host.resources;
        macro_rules! set {
            ($field:ident) => {
                if let Some(v) = u.$field.clone() {
                    r.$field = v;
                }
            };
        }
        set!(memory);
        set!(memory_swap);
        set!(memory_reservation);
        set!(nano_cpus);
        set!(cpu_shares);
        set!(cpu_quota);
        set!(cpu_period);
        set!(cpuset_cpus);
        set!(cpuset_mems);
        set!(pids_limit);
        if let Some(w) = u.blkio_weight {
            r.blkio_weight = w;
        }
        if let Some(s) = u.memory_swappiness {
            r.memory_swappiness = Some(s).filter(|s| *s != -1);
        }
        let warnings = super::create::discard_unsupported_resources(r);
        if let Some(p) = &u.restart {
            if config.host.auto_remove && p.name != "no" {
                return Err(Error::invalid(
                    "Restart policy cannot be updated because AutoRemove is enabled for the container",
                ));
            }
            config.host.restart = p.clone();
        }
        if r.memory > 0 && r.memory_swap > 0 && r.memory_swap < r.memory {
            return Err(Error::invalid(
                "Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time",
            ));
        }
        super::validate::resources(&config.host)?;
        if matches!(row.state, State::Running | State::Paused) {
            let spec = super::spec::resources_json(&config)?;
            let resources: oci_spec::runtime::LinuxResources = serde_json::from_value(spec)
                .map_err(|e| Error::internal(format!("update: resources: {e}")))?;
            self.runtime(&row).update(&row.id, &resources)?;
        }
        self.db.write_relaxed(|c| {
            record::set_config(c, &row.id, &config)?;
            crate::store::event_log::record(c, &crate::events::container_event(&row, "update"))
        })?;
        self.events_changed();
        Ok(warnings)
    }
}
