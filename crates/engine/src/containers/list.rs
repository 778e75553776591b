//! Listing containers as `ps` and `GET /containers/json` do: Docker's
//! filters (status, name, id, label, ancestor, exited), newest first.

use super::record::{ContainerRow, State};
use crate::Engine;
use crate::error::{Error, Result};

pub struct ContainerFilters {
    status: Vec<String>,
    name: Vec<String>,
    id: Vec<String>,
    label: Vec<String>,
    ancestor: Vec<String>,
    exited: Vec<i32>,
}

impl ContainerFilters {
    /// From `--filter KEY=VALUE` arguments (the API's `filters` become the same).
    pub fn parse(raw: &[String]) -> Result<ContainerFilters> {
        let mut f = ContainerFilters {
            status: vec![],
            name: vec![],
            id: vec![],
            label: vec![],
            ancestor: vec![],
            exited: vec![],
        };
        for item in raw {
            let Some((k, v)) = item.split_once('=') else {
                return Err(Error::invalid("bad format of filter (expected name=value)"));
            };
            match k {
                "status" => {
                    const VALID: &[&str] = &[
                        "created",
                        "restarting",
                        "running",
                        "removing",
                        "paused",
                        "exited",
                        "dead",
                    ];
                    if !VALID.contains(&v) {
                        return Err(Error::invalid(format!("invalid filter 'status={v}'")));
                    }
                    f.status.push(v.into())
                }
                "name" => f.name.push(v.into()),
                "id" => f.id.push(v.into()),
                "label" => f.label.push(v.into()),
                "ancestor" => f.ancestor.push(v.into()),
                "exited" => f.exited.push(
                    v.parse()
                        .map_err(|_| Error::invalid(format!("invalid filter 'exited={v}'")))?,
                ),
                _ => return Err(Error::invalid(format!("invalid filter '{k}'"))),
            }
        }
        Ok(f)
    }
}

fn matches(engine: &Engine, f: &ContainerFilters, row: &ContainerRow) -> bool {
    let status = row.state.docker_status();
    (f.status.is_empty() || f.status.iter().any(|s| s == status))
        && (f.name.is_empty()
            || f.name
                .iter()
                .any(|n| row.name.contains(n.trim_start_matches('/'))))
        && (f.id.is_empty() || f.id.iter().any(|i| row.id.starts_with(i.as_str())))
        && (f.exited.is_empty()
            || (row.state == State::Exited && f.exited.contains(&row.exit_code)))
        && f.label.iter().all(|l| match l.split_once('=') {
            Some((k, v)) => row.config.labels.get(k).is_some_and(|x| x == v),
            None => row.config.labels.contains_key(l.as_str()),
        })
        && (f.ancestor.is_empty()
            || f.ancestor.iter().any(|a| {
                row.image_name == *a
                    || row
                        .image_id
                        .trim_start_matches("sha256:")
                        .starts_with(a.trim_start_matches("sha256:"))
                    || engine.image_id_of(a).is_ok_and(|id| id == row.image_id)
            }))
}

impl Engine {
    /// Containers matching `filters`, newest first; running ones only
    /// unless `all` (or a status/exited filter, or `last`); the newest
    /// `last` only when it is not 0.
    pub fn list_containers(
        &self,
        all: bool,
        last: usize,
        filters: &ContainerFilters,
    ) -> Result<Vec<ContainerRow>> {
        let mut rows = self.containers()?;
        let all = all || last > 0 || !filters.status.is_empty() || !filters.exited.is_empty();
        rows.retain(|r| (all || r.state.is_live()) && matches(self, filters, r));
        if last > 0 {
            rows.truncate(last);
        }
        Ok(rows)
    }
}
