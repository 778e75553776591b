//! `container prune`: removes stopped containers, optionally only those
//! created before `until=` or matching `label=` / `label!=`, as Docker's.
//! One implementation for the CLI (`container prune`, `system prune`) and
//! the daemon (`POST /containers/prune`).

use super::record::State;
use crate::Engine;
use crate::error::{Error, Result};
use crate::images::list::label_matches;

/// The filters `container prune` takes.
#[derive(Debug, Default, Clone)]
pub struct ContainerPruneFilters {
    /// Created before this many nanoseconds since the epoch.
    until_nanos: Option<i64>,
    /// `key` or `key=value` that must (`true`) or must not match.
    labels: Vec<(String, bool)>,
}

impl ContainerPruneFilters {
    /// `until=…`, `label=…`, `label!=…` (Docker's words for anything else).
    pub fn parse(filters: &[String]) -> Result<ContainerPruneFilters> {
        let mut f = ContainerPruneFilters::default();
        for filter in filters {
            let (key, value) = filter.split_once('=').ok_or_else(|| {
                Error::invalid(format!(
                    "bad format of filter (expected name=value): {filter}"
                ))
            })?;
            match key {
                "until" => {
                    let t = crate::times::parse(value, "until")?;
                    f.until_nanos = Some(t.unix_timestamp_nanos() as i64);
                }
                "label" => f.labels.push((value.to_string(), true)),
                // `label!=k=v` splits at the first '=': key "label!".
                "label!" => f.labels.push((value.to_string(), false)),
                _ => return Err(Error::invalid(format!("invalid filter '{key}'"))),
            }
        }
        Ok(f)
    }
}

impl ContainerPruneFilters {
    /// Whether something created at `created_at` (nanoseconds) with
    /// `labels` may go (networks are pruned with the same filters).
    pub fn allows(
        &self,
        created_at: i64,
        labels: &std::collections::BTreeMap<String, String>,
    ) -> bool {
        self.until_nanos.is_none_or(|u| created_at < u)
            && self
                .labels
                .iter()
                .all(|(l, want)| label_matches(labels, l) == *want)
    }
}

impl Engine {
    /// Removes every stopped container the filters allow: (their IDs, the
    /// bytes their writable layers held).
    pub fn prune_containers(&self, filters: &ContainerPruneFilters) -> Result<(Vec<String>, u64)> {
        let mut deleted = Vec::new();
        let mut reclaimed = 0u64;
        for row in self.containers()? {
            if row.state.is_live() || row.state == State::Creating {
                continue;
            }
            if !filters.allows(row.created_at, &row.config.labels) {
                continue;
            }
            let size = self.container_size(&row.id).0;
            match self.remove_container(&row.id, false, false) {
                Ok(_) => {
                    reclaimed += size;
                    deleted.push(row.id);
                }
                // Started or removed by someone else meanwhile.
                Err(e)
                    if matches!(
                        e.kind,
                        crate::ErrorKind::Conflict | crate::ErrorKind::NotFound
                    ) => {}
                Err(e) => return Err(e),
            }
        }
        Ok((deleted, reclaimed))
    }
}
