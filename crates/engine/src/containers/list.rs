//! Listing containers as `ps` and `GET /containers/json` do: Docker's
//! filters (status, name as a regular expression, id, label, ancestor,
//! exited, health, before, since, volume, network, publish, expose,
//! is-task), newest first.

use super::record::{ContainerRow, State};
use crate::Engine;
use crate::error::{Error, Result};

pub struct ContainerFilters {
    status: Vec<String>,
    /// `name=`: regular expressions, as Docker matches them.
    name: Vec<regex_lite::Regex>,
    id: Vec<String>,
    label: Vec<String>,
    ancestor: Vec<String>,
    exited: Vec<i32>,
    health: Vec<String>,
    before: Vec<String>,
    since: Vec<String>,
    volume: Vec<String>,
    network: Vec<String>,
    publish: Vec<String>,
    expose: Vec<String>,
    is_task: Option<bool>,
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
            health: vec![],
            before: vec![],
            since: vec![],
            volume: vec![],
            network: vec![],
            publish: vec![],
            expose: vec![],
            is_task: None,
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
                "name" => f.name.push(
                    regex_lite::Regex::new(v.trim_start_matches('/'))
                        .map_err(|e| Error::invalid(format!("invalid filter 'name={v}': {e}")))?,
                ),
                "id" => f.id.push(v.into()),
                "label" => f.label.push(v.into()),
                "ancestor" => f.ancestor.push(v.into()),
                "exited" => f.exited.push(
                    v.parse()
                        .map_err(|_| Error::invalid(format!("invalid filter 'exited={v}'")))?,
                ),
                "health" => {
                    if !matches!(v, "starting" | "healthy" | "unhealthy" | "none") {
                        return Err(Error::invalid(format!(
                            "Unrecognised filter value for health: {v}"
                        )));
                    }
                    f.health.push(v.into())
                }
                "before" => f.before.push(v.into()),
                "since" => f.since.push(v.into()),
                "volume" => f.volume.push(v.into()),
                "network" => f.network.push(v.into()),
                "publish" => f.publish.push(port_key(v)?),
                "expose" => f.expose.push(port_key(v)?),
                "is-task" => {
                    f.is_task = Some(
                        v.parse()
                            .map_err(|_| Error::invalid(format!("invalid filter 'is-task={v}'")))?,
                    )
                }
                _ => return Err(Error::invalid(format!("invalid filter '{k}'"))),
            }
        }
        Ok(f)
    }
}

/// `80`, `80/udp`, `8000-8001/tcp` as the keys ports are kept under
/// (`80/tcp`; a range stays a range, matched port by port).
fn port_key(v: &str) -> Result<String> {
    let (ports, proto) = v.split_once('/').unwrap_or((v, "tcp"));
    let ok = |p: &str| p.parse::<u16>().is_ok();
    let valid = match ports.split_once('-') {
        Some((a, b)) => ok(a) && ok(b),
        None => ok(ports),
    };
    if !valid || !matches!(proto, "tcp" | "udp" | "sctp") {
        return Err(Error::invalid(format!("invalid port filter {v:?}")));
    }
    Ok(format!("{ports}/{proto}"))
}

/// Whether a port key ("80/tcp") falls in a filter's port or range.
fn port_matches(filter: &str, key: &str) -> bool {
    let (ports, proto) = filter.split_once('/').unwrap_or((filter, "tcp"));
    let (kport, kproto) = key.split_once('/').unwrap_or((key, "tcp"));
    let Ok(k) = kport.parse::<u16>() else {
        return false;
    };
    let (lo, hi) = ports.split_once('-').unwrap_or((ports, ports));
    proto == kproto
        && lo.parse().is_ok_and(|lo: u16| lo <= k)
        && hi.parse().is_ok_and(|hi: u16| k <= hi)
}

fn matches(
    engine: &Engine,
    f: &ContainerFilters,
    row: &ContainerRow,
    (before, since): (&[Option<i64>], &[Option<i64>]),
) -> bool {
    let status = row.state.docker_status();
    let host = &row.config.host;
    (f.status.is_empty() || f.status.iter().any(|s| s == status))
        && (f.name.is_empty() || f.name.iter().any(|n| n.is_match(&row.name)))
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
        && (f.health.is_empty()
            || f.health.iter().any(|h| match h.as_str() {
                "none" => row.health.is_empty(),
                h => row.health == h,
            }))
        && before
            .iter()
            .all(|t| t.is_some_and(|t| row.created_at < t))
        && since.iter().all(|t| t.is_some_and(|t| row.created_at > t))
        && (f.volume.is_empty()
            || f.volume.iter().any(|v| {
                host.mounts
                    .iter()
                    .any(|m| m.source == *v || m.target.trim_end_matches('/') == v.trim_end_matches('/'))
            }))
        && (f.network.is_empty()
            || f.network.iter().any(|n| {
                host.network_mode == *n
                    || row.config.networks.contains_key(n)
                    || engine.network(n).is_ok_and(|net| {
                        host.network_mode == net.name || row.config.networks.contains_key(&net.name)
                    })
            }))
        // As dockerd: `publish` is a host port the running container has,
        // `expose` a container port among those `ps` shows (a running
        // container's exposed ports, on a network of its own).
        && (f.publish.is_empty() || {
            let published = engine.published_ports(&row.id).unwrap_or_default();
            f.publish.iter().any(|p| {
                published
                    .iter()
                    .any(|pp| port_matches(p, &format!("{}/{}", pp.host_port, pp.protocol)))
            })
        })
        && (f.expose.is_empty()
            || (row.state.is_live()
                && !matches!(host.network_mode.as_str(), "none" | "host")
                && !host.network_mode.starts_with("container:")
                && f.expose
                    .iter()
                    .any(|p| row.config.exposed_ports.iter().any(|k| port_matches(p, k)))))
        // No container of berth's is a swarm task.
        && f.is_task != Some(true)
}

impl Engine {
    /// What `ps` shows as a container's image: the name it was created
    /// from while that name still means its image, else the short ID (as
    /// dockerd, once the tag moved or the image was force-removed).
    /// `cache` keeps each name's answer for one listing.
    pub fn image_shown(
        &self,
        row: &ContainerRow,
        cache: &mut std::collections::HashMap<String, Option<String>>,
    ) -> String {
        let resolved = cache
            .entry(row.image_name.clone())
            .or_insert_with(|| {
                self.db
                    .read(|c| crate::images::resolve::resolve(c, &row.image_name))
                    .ok()
                    .map(|(id, _)| id.to_string())
            })
            .clone();
        if resolved.as_deref() == Some(row.image_id.as_str()) {
            row.image_name.clone()
        } else {
            row.image_id
                .trim_start_matches("sha256:")
                .chars()
                .take(12)
                .collect()
        }
    }

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
        // `before=`/`since=` name containers: their creation times, once.
        let created_of = |name: &String| {
            rows.iter()
                .find(|r| r.id == *name || r.name == name.trim_start_matches('/'))
                .or_else(|| rows.iter().find(|r| r.id.starts_with(name.as_str())))
                .map(|r| r.created_at)
        };
        let before: Vec<Option<i64>> = filters.before.iter().map(created_of).collect();
        let since: Vec<Option<i64>> = filters.since.iter().map(created_of).collect();
        rows.retain(|r| (all || r.state.is_live()) && matches(self, filters, r, (&before, &since)));
        if last > 0 {
            rows.truncate(last);
        }
        Ok(rows)
    }
}
