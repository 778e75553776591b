//! Engine configuration: `berth.toml` in the data root (or /etc/berth), with
//! environment overrides for the settings tests and scripts change most.
//!
//! Read once when the engine opens: nothing deeper in the engine looks at
//! the environment, so a long-lived process (the API daemon) behaves the
//! same for every request whatever its own environment does later.

use std::path::{Path, PathBuf};

use berth_image::unpack::Limits;
use serde::Deserialize;

use crate::error::{Error, Result};

#[derive(Clone, Debug)]
pub struct EngineConfig {
    pub limits: Limits,
    /// Layers unpacked at once (default: the number of CPUs).
    pub unpack_threads: usize,
    /// The cgroup under which containers get theirs (`--cgroup-parent`
    /// default; `BERTH_CGROUP_PARENT`).
    pub cgroup_parent: String,
    /// json-file log rotation: bytes per file and files kept.
    pub log_max_size: u64,
    pub log_max_files: u32,
    /// The static binary `--init` mounts as pid 1 (`BERTH_INIT_BINARY`;
    /// default: berth's own).
    pub init_binary: Option<PathBuf>,
    /// `registries.toml` (`BERTH_REGISTRIES_CONFIG`; default: the data
    /// root's, else `/etc/berth/registries.toml`).
    pub registries_file: Option<PathBuf>,
    /// Docker's client configuration with registry credentials
    /// (`$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`), for
    /// callers that give no credentials of their own.
    pub docker_config: PathBuf,
    /// The default `bridge` network's Linux bridge (`berth0`); `None`
    /// when it is turned off (`BERTH_BRIDGE=none`, `[network] bridge =
    /// "none"`, as dockerd's `--bridge=none`): containers then default to
    /// `--network none` and `--network bridge` is refused.
    pub default_bridge: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    limits: LimitsFile,
    #[serde(default)]
    unpack: UnpackFile,
    #[serde(default)]
    containers: ContainersFile,
    #[serde(default)]
    network: NetworkFile,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct NetworkFile {
    bridge: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ContainersFile {
    cgroup_parent: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct LimitsFile {
    layer_max_bytes: Option<u64>,
    layer_max_entries: Option<u64>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct UnpackFile {
    threads: Option<usize>,
}

impl EngineConfig {
    /// Reads `<root>/berth.toml`, else `/etc/berth/berth.toml`, else defaults;
    /// then `BERTH_LAYER_MAX_BYTES`, `BERTH_LAYER_MAX_ENTRIES` and
    /// `BERTH_UNPACK_THREADS` override.
    pub fn load(root: &Path) -> Result<EngineConfig> {
        let candidates = [
            root.join("berth.toml"),
            Path::new("/etc/berth/berth.toml").to_path_buf(),
        ];
        let mut file = File::default();
        if let Some(path) = candidates.iter().find(|p| p.is_file()) {
            let text = std::fs::read_to_string(path)
                .map_err(|e| Error::invalid(format!("read config {}: {e}", path.display())))?;
            file = toml::from_str(&text)
                .map_err(|e| Error::invalid(format!("config {}: {e}", path.display())))?;
        }
        let defaults = Limits::default();
        let mut config = EngineConfig {
            limits: Limits {
                max_bytes: file.limits.layer_max_bytes.unwrap_or(defaults.max_bytes),
                max_entries: file
                    .limits
                    .layer_max_entries
                    .unwrap_or(defaults.max_entries),
            },
            unpack_threads: file.unpack.threads.unwrap_or_else(|| {
                std::thread::available_parallelism()
                    .map(|n| n.get())
                    .unwrap_or(2)
            }),
            cgroup_parent: file
                .containers
                .cgroup_parent
                .clone()
                .unwrap_or_else(|| "/berth".into()),
            // Rotation on by default (Docker's json-file grows without bound).
            log_max_size: 20 << 20,
            log_max_files: 5,
            init_binary: std::env::var_os("BERTH_INIT_BINARY").map(PathBuf::from),
            registries_file: std::env::var_os("BERTH_REGISTRIES_CONFIG").map(PathBuf::from),
            docker_config: berth_registry::DockerConfig::default_location()
                .path()
                .to_path_buf(),
            default_bridge: bridge_setting(file.network.bridge.as_deref())?,
        };
        if let Ok(v) = std::env::var("BERTH_BRIDGE") {
            config.default_bridge = bridge_setting(Some(&v))?;
        }
        if let Some(v) = env_number("BERTH_LOG_MAX_SIZE")? {
            config.log_max_size = v.max(1024);
        }
        if let Ok(parent) = std::env::var("BERTH_CGROUP_PARENT")
            && !parent.is_empty()
        {
            config.cgroup_parent = parent;
        }
        if let Some(v) = env_number("BERTH_LAYER_MAX_BYTES")? {
            config.limits.max_bytes = v;
        }
        if let Some(v) = env_number("BERTH_LAYER_MAX_ENTRIES")? {
            config.limits.max_entries = v;
        }
        if let Some(v) = env_number("BERTH_UNPACK_THREADS")? {
            config.unpack_threads = v.max(1) as usize;
        }
        Ok(config)
    }
}

/// "none" turns the default bridge off; any other value names it.
fn bridge_setting(value: Option<&str>) -> Result<Option<String>> {
    match value {
        None => Ok(Some("berth0".into())),
        Some("none") => Ok(None),
        Some(name) if crate::networks::valid_interface_name(name) => Ok(Some(name.into())),
        Some(name) => Err(Error::invalid(format!(
            "default bridge {name:?}: not an interface name (1 to 15 characters without '/', ':' or spaces), nor \"none\""
        ))),
    }
}

fn env_number(name: &str) -> Result<Option<u64>> {
    match std::env::var(name) {
        Ok(v) => v.parse().map(Some).map_err(|_| {
            Error::invalid(format!("environment variable {name}={v:?} is not a number"))
        }),
        Err(_) => Ok(None),
    }
}
