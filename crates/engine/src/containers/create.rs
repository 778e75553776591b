//! `create`: a container record, its directory (writable layer, hosts
//! files, config.json) and its volumes. Nothing runs until `start`.
//!
//! Crash safety: the row is inserted first as `creating`, owned by this
//! process; the directory follows; the row turns `created` last. A crash in
//! between leaves a `creating` row with a dead owner, which the next command
//! removes with its directory (`reconcile.rs`).

use berth_image::spec::{ImageConfig, RunConfig};

use super::config::{ContainerConfig, MountKind};
use super::record::{self, ContainerRow, State};
use super::{files, names, spec};
use crate::Engine;
use crate::error::{Error, ErrorKind, IoContext, Result};
use crate::events;
use crate::images::resolve;
use crate::store::event_log;

#[derive(Clone, Debug, Default)]
pub struct CreateRequest {
    pub name: Option<String>,
    /// What the user gave; empty fields take the image's values.
    pub config: ContainerConfig,
    /// `--entrypoint` was given (possibly empty, which clears the image's).
    pub entrypoint_set: bool,
    /// A builder's RUN step: the image's VOLUMEs are not made volumes
    /// (what RUN writes there stays in the layer, as with BuildKit) and
    /// its HEALTHCHECK does not run.
    pub build_step: bool,
}

#[derive(Clone, Debug)]
pub struct Created {
    pub id: String,
    pub name: String,
    pub warnings: Vec<String>,
}

impl Engine {
    pub fn create_container(&self, request: &CreateRequest) -> Result<Created> {
        let name = request.name.as_deref().map(names::validate).transpose()?;
        let (image_id, _) = self
            .db
            .read(|c| resolve::resolve(c, &request.config.image))?;
        let config_bytes = self.paths.content.read_blob(&image_id)?;
        let image = ImageConfig::parse(&config_bytes).map_err(|e| {
            Error::internal(format!("image {}: stored config: {e}", image_id.short()))
        })?;
        let id = names::new_id()?;
        let mut config =
            merge_image_config(request, image.config.clone().unwrap_or_default(), &id)?;
        match config.host.network_mode.as_str() {
            "" | "default" if self.config.default_bridge.is_some() => {
                config.host.network_mode = "bridge".into()
            }
            "" | "default" => config.host.network_mode = "none".into(),
            "none" | "host" => {}
            "bridge" if self.config.default_bridge.is_none() => {
                return Err(crate::networks::default_bridge_turned_off());
            }
            "bridge" => {}
            mode if mode.starts_with("container:") => {
                // Kept by ID: the other may be renamed.
                let other = self.container(&mode["container:".len()..])?;
                config.host.network_mode = format!("container:{}", other.id);
            }
            mode => {
                // One of berth's networks, kept by name.
                let mode = mode.to_string();
                match self.network(&mode) {
                    Ok(n) if !n.builtin => config.host.network_mode = n.name,
                    _ => return Err(Error::not_found(format!("network {mode} not found"))),
                }
            }
        }
        config.networks =
            self.endpoints_at_create(&config.host.network_mode, &request.config.networks)?;
        self.resolve_namespace_modes(&mut config.host)?;
        self.copy_volumes_from(&mut config.host)?;
        let mut warnings = Vec::new();
        let networked = !matches!(config.host.network_mode.as_str(), "none" | "host")
            && !config.host.network_mode.starts_with("container:");
        if !networked && (!config.host.port_bindings.is_empty() || config.host.publish_all_ports) {
            // As Docker: dropped, with a warning.
            warnings.push(format!(
                "Published ports are discarded when using {} network mode",
                config.host.network_mode
            ));
            config.host.port_bindings.clear();
            config.host.publish_all_ports = false;
        }
        warnings.extend(discard_unsupported_resources(&mut config.host.resources));
        if config.host.init {
            config.init_binary = Some(init_binary(&self.config)?);
        }
        // Checked now so that `create` fails, not the later `start`.
        super::validate::host_config(&config.host)?;
        for entry in &config.host.extra_hosts {
            files::parse_extra_host(entry)?;
        }
        for server in &config.host.dns {
            if server.parse::<std::net::IpAddr>().is_err() {
                return Err(Error::invalid(format!("{server} is not an ip address")));
            }
        }
        spec::command_line(&config)?;
        super::security::capabilities(
            config.host.privileged,
            &config.host.cap_add,
            &config.host.cap_drop,
        )?;
        super::security::SecurityOpts::parse(&config.host.security_opt)?;

        let mut row = ContainerRow {
            id: id.clone(),
            name: String::new(),
            image_id: image_id.to_string(),
            image_name: request.config.image.clone(),
            config,
            state: State::Creating,
            owner: self.owner,
            pid: 0,
            exit_code: 0,
            oom_killed: false,
            error: String::new(),
            restart_count: 0,
            stop_requested: false,
            created_at: crate::now_nanos(),
            started_at: 0,
            finished_at: 0,
            health: String::new(),
        };
        self.insert_with_name(&mut row, name)?;
        crate::failpoint::hit("create:row-inserted");
        match self.prepare_container_dir(&row) {
            Ok(volumes) => {
                crate::failpoint::hit("create:directory-ready");
                self.db.write_relaxed(|c| {
                    for (volume, anonymous) in &volumes {
                        super::volumes_record::attach(c, &row.id, volume, *anonymous)?;
                    }
                    record::set_state(c, &row.id, State::Created, None)?;
                    event_log::record(c, &events::container_event(&row, "create"))
                })?;
                self.events_changed();
            }
            Err(e) => {
                let dir = self.paths.container_dir(&row.id);
                crate::store::gc::remove_any(&dir);
                let _ = self.db.write_relaxed(|c| record::delete(c, &row.id));
                return Err(e);
            }
        }
        Ok(Created {
            id: row.id,
            name: row.name,
            warnings,
        })
    }

    /// The container's network and what it asked for there (`--ip`,
    /// `--mac-address`, `--network-alias`), checked as Docker checks them.
    fn endpoints_at_create(
        &self,
        mode: &str,
        asked: &std::collections::BTreeMap<String, super::EndpointConfig>,
    ) -> Result<std::collections::BTreeMap<String, super::EndpointConfig>> {
        let endpoint = asked.values().next().cloned().unwrap_or_default();
        if matches!(mode, "none" | "host") || mode.starts_with("container:") {
            return Ok(Default::default());
        }
        if mode == "bridge" {
            if !endpoint.aliases.is_empty() {
                return Err(Error::invalid(
                    "network-scoped alias is supported only for containers in user defined networks",
                ));
            }
            if endpoint.ipv4_address.is_some() {
                return Err(Error::invalid(
                    "user specified IP address is supported on user defined networks only",
                ));
            }
        }
        crate::networks::check_endpoint(self, mode, &endpoint)?;
        Ok([(mode.to_string(), endpoint)].into_iter().collect())
    }

    /// `--volumes-from X[:ro|:rw]`: X's bind and volume mounts, with X's
    /// access unless a mode is given. A mount of this container's own at
    /// the same place wins; an anonymous volume for the image's VOLUME
    /// there gives way.
    fn copy_volumes_from(&self, host: &mut super::config::HostConfig) -> Result<()> {
        for spec in host.volumes_from.clone() {
            let (name, mode) = match spec.rsplit_once(':') {
                Some((n, m @ ("ro" | "rw"))) => (n, Some(m == "ro")),
                Some((_, m)) => {
                    return Err(Error::invalid(format!(
                        "invalid mode for volumes-from: {m}"
                    )));
                }
                None => (spec.as_str(), None),
            };
            let other = self.container(name)?;
            for m in &other.config.host.mounts {
                if m.kind == MountKind::Tmpfs {
                    continue;
                }
                if let Some(i) = host.mounts.iter().position(|own| own.target == m.target) {
                    let own = &host.mounts[i];
                    if !(own.anonymous && own.kind == MountKind::Volume) {
                        continue;
                    }
                    host.mounts.remove(i);
                }
                let mut copy = m.clone();
                copy.anonymous = false;
                if let Some(read_only) = mode {
                    copy.read_only = read_only;
                }
                host.mounts.push(copy);
            }
        }
        Ok(())
    }

    /// Inserts the row, generating a free name when none was given.
    fn insert_with_name(&self, row: &mut ContainerRow, name: Option<String>) -> Result<()> {
        if let Some(name) = name {
            row.name = name;
            return self.db.write_relaxed(|c| record::insert(c, row));
        }
        for attempt in 0..20 {
            row.name = names::generate(if attempt < 10 { 0 } else { 1 })?;
            match self.db.write_relaxed(|c| record::insert(c, row)) {
                Err(e) if e.kind == ErrorKind::Conflict => continue,
                other => return other,
            }
        }
        Err(Error::internal("could not generate a free container name"))
    }

    /// The container's directory; returns the volumes it uses (name, anonymous).
    fn prepare_container_dir(&self, row: &ContainerRow) -> Result<Vec<(String, bool)>> {
        let dir = self.paths.container_dir(&row.id);
        crate::store::perms::create_dir(&dir, crate::store::perms::ROOT_DIR)?;
        crate::store::perms::create_dir(&dir.join("rootfs"), crate::store::perms::CONTENT_DIR)?;
        write_init_layer(&dir.join("init"))?;
        let image = crate::images::record::parse_digest(&row.image_id)?;
        self.prepare(&image, &[dir.join("init")], &dir)?;
        let host = &row.config.host;
        files::write(
            &dir,
            &row.config.hostname,
            host,
            files::OnNetwork::default(),
        )?;

        let mut volumes = Vec::new();
        for m in &host.mounts {
            if m.kind != MountKind::Volume {
                if m.kind == MountKind::Bind && !std::path::Path::new(&m.source).exists() {
                    // Docker creates a missing bind source for `-v` (not for --mount).
                    std::fs::create_dir_all(&m.source).map_err(|e| {
                        Error::invalid(format!(
                            "invalid mount config: bind source path {}: {e}",
                            m.source
                        ))
                    })?;
                }
                continue;
            }
            let (name, anonymous) = (m.source.clone(), m.anonymous);
            self.create_volume_dir(&name)?;
            volumes.push((name, anonymous));
        }
        // The monitor builds the spec afresh at every start (so `update`
        // holds across restarts, and no file another user could edit is
        // ever trusted); building it now makes a bad option fail `create`.
        // A device node that is not there yet is looked for at start, as
        // docker does (it may be plugged in meanwhile).
        let mut checked = row.clone();
        checked
            .config
            .host
            .devices
            .retain(|d| std::path::Path::new(&d.host_path).exists());
        self.spec_for(&checked, &dir.join("rootfs"), None)?;
        Ok(volumes)
    }
}

/// Resource settings this host's cgroups cannot carry out are dropped with
/// Docker's warnings (as dockerd does), not left to fail every start.
pub(super) fn discard_unsupported_resources(r: &mut super::config::Resources) -> Vec<String> {
    let v2 = berth_runtime::host_cgroup_is_v2();
    let mut warnings = Vec::new();
    let blkio_weight = if v2 {
        std::fs::read_to_string("/sys/fs/cgroup/cgroup.controllers")
            .is_ok_and(|c| c.split_whitespace().any(|k| k == "io"))
    } else {
        ["blkio.weight", "blkio.bfq.weight"].iter().any(|f| {
            std::path::Path::new("/sys/fs/cgroup/blkio")
                .join(f)
                .exists()
        })
    };
    if !blkio_weight && r.blkio_weight > 0 {
        warnings.push("Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded.".into());
        r.blkio_weight = 0;
    }
    if !blkio_weight && !r.blkio_weight_device.is_empty() {
        warnings.push("Your kernel does not support Block I/O weight_device or the cgroup is not mounted. Weight-device discarded.".into());
        r.blkio_weight_device.clear();
    }
    if v2 && r.oom_kill_disable {
        warnings
            .push("Your kernel does not support OomKillDisable. OomKillDisable discarded.".into());
        r.oom_kill_disable = false;
    }
    if v2 && r.memory_swappiness.is_some() {
        warnings.push("Your kernel does not support memory swappiness capabilities or the cgroup is not mounted. Memory swappiness discarded.".into());
        r.memory_swappiness = None;
    }
    warnings
}

/// The program `--init` mounts as the container's pid 1: berth's own binary
/// (`BERTH_INIT_BINARY` overrides), which must be static to run in any
/// image.
fn init_binary(config: &crate::EngineConfig) -> Result<std::path::PathBuf> {
    let path = match &config.init_binary {
        Some(p) => p.clone(),
        None => std::env::current_exe()
            .map_err(|e| Error::internal(format!("--init: find berth's binary: {e}")))?,
    };
    let head = std::fs::read(&path).ctx("--init: read", &path)?;
    if !is_static_elf(&head) {
        return Err(Error::unsupported(format!(
            "--init: {} is dynamically linked and cannot run inside containers; use a static build (scripts/build-release.sh) or set BERTH_INIT_BINARY",
            path.display()
        )));
    }
    Ok(path)
}

/// An ELF64 executable without a program interpreter (PT_INTERP).
fn is_static_elf(bytes: &[u8]) -> bool {
    let u16_at = |o: usize| {
        bytes
            .get(o..o + 2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]))
    };
    let u32_at = |o: usize| {
        bytes
            .get(o..o + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    let u64_at = |o: usize| {
        bytes
            .get(o..o + 8)
            .and_then(|b| b.try_into().ok())
            .map(u64::from_le_bytes)
    };
    if !bytes.starts_with(b"\x7fELF\x02") {
        return false;
    }
    let (Some(phoff), Some(phentsize), Some(phnum)) = (u64_at(0x20), u16_at(0x36), u16_at(0x38))
    else {
        return false;
    };
    (0..phnum as usize).all(|i| {
        let at = phoff as usize + i * phentsize as usize;
        u32_at(at).is_some_and(|kind| kind != 3)
    })
}

/// The init layer, between the image and the writable layer (as Docker's):
/// the mount points berth binds over, so creating them does not put files
/// into the writable layer that `diff` would show and `commit` would keep.
fn write_init_layer(init: &std::path::Path) -> Result<()> {
    use crate::store::perms;
    // Every level at a mode of berth's choosing: where the image lacks one
    // of these, the container sees the init layer's.
    for d in [
        "",
        "dev",
        "dev/pts",
        "dev/shm",
        "dev/mqueue",
        "proc",
        "sys",
        "etc",
    ] {
        perms::create_dir(&init.join(d), perms::CONTENT_DIR)?;
    }
    for f in [
        "etc/hostname",
        "etc/hosts",
        "etc/resolv.conf",
        "dev/console",
    ] {
        perms::write_file(&init.join(f), b"", perms::SHARED_FILE)?;
    }
    // What programs test to learn they run in a container (Docker's name
    // and mode; empty, as in Docker).
    perms::write_file(&init.join(".dockerenv"), b"", perms::CONTENT_DIR)?;
    Ok(())
}

/// The user's configuration with the image's defaults filled in, as Docker
/// merges them.
fn merge_image_config(
    request: &CreateRequest,
    image: RunConfig,
    id: &str,
) -> Result<ContainerConfig> {
    let mut config = request.config.clone();
    if request.entrypoint_set {
        // `--entrypoint ""` clears it; either way the image's Cmd no longer applies.
        if config
            .entrypoint
            .as_ref()
            .is_some_and(|e| e.iter().all(|s| s.is_empty()))
        {
            config.entrypoint = None;
        }
    } else {
        config.entrypoint = image.entrypoint.clone().filter(|e| !e.is_empty());
        if config.cmd.is_empty() {
            config.cmd = image.cmd.clone().unwrap_or_default();
        }
    }
    let mut env = image.env.clone().unwrap_or_default();
    for e in &request.config.env {
        let key = e.split('=').next().unwrap_or_default();
        match env.iter_mut().find(|x| x.split('=').next() == Some(key)) {
            Some(slot) => *slot = e.clone(),
            None => env.push(e.clone()),
        }
    }
    config.env = env;
    if config.working_dir.is_empty() {
        config.working_dir = image.working_dir.clone().unwrap_or_default();
    }
    if !config.working_dir.is_empty() && !config.working_dir.starts_with('/') {
        return Err(Error::invalid(format!(
            "the working directory '{}' is invalid, it needs to be an absolute path",
            config.working_dir
        )));
    }
    if config.user.is_empty() {
        config.user = image.user.clone().unwrap_or_default();
    }
    let image_health: Option<super::config::HealthConfig> = image
        .healthcheck
        .clone()
        .and_then(|h| serde_json::from_value(h).ok());
    config.healthcheck = match (config.healthcheck.take(), image_health) {
        (Some(mine), Some(theirs)) => Some(mine.over(&theirs)),
        (mine, theirs) => mine.or(theirs),
    };
    let mut labels = image.labels.clone().unwrap_or_default();
    labels.extend(request.config.labels.clone());
    config.labels = labels;
    if config.stop_signal.is_none() {
        config.stop_signal = image.stop_signal.clone();
    }
    // The image's EXPOSE, then --expose.
    let mut exposed: Vec<String> = image
        .exposed_ports
        .as_ref()
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default();
    exposed.extend(request.config.exposed_ports.iter().cloned());
    config.exposed_ports = exposed;
    config.image_volumes = image
        .volumes
        .as_ref()
        .map(|v| v.keys().cloned().collect())
        .unwrap_or_default();
    if request.build_step {
        config.image_volumes.clear();
        config.healthcheck = Some(super::config::HealthConfig {
            test: vec!["NONE".into()],
            ..Default::default()
        });
    }
    // The network mode ("" = the default) is resolved by the caller.
    for key in config.host.port_bindings.keys() {
        if !config.exposed_ports.contains(key) {
            config.exposed_ports.push(key.clone());
        }
    }
    config.exposed_ports.sort();
    if config.hostname.is_empty() {
        config.hostname = if config.host.network_mode == "host" || config.host.uts_mode == "host" {
            rustix::system::uname()
                .nodename()
                .to_string_lossy()
                .into_owned()
        } else {
            id[..12].to_string()
        };
    }
    // Anonymous volumes for the image's VOLUMEs not covered by a mount.
    for target in config.image_volumes.clone() {
        if !config.host.mounts.iter().any(|m| m.target == target) {
            config.host.mounts.push(super::config::MountSpec {
                kind: MountKind::Volume,
                source: String::new(),
                target,
                read_only: false,
                options: Vec::new(),
                anonymous: true,
            });
        }
    }
    for m in &mut config.host.mounts {
        if m.kind == MountKind::Volume && m.source.is_empty() {
            m.source = names::new_id()?;
            m.anonymous = true;
        }
    }
    Ok(config)
}
