//! `info`: what the engine and its host are, in the fields and names of
//! Docker's `/info` (so the CLI prints it and the API serves it as is).

use serde_json::{Value, json};

use crate::Engine;
use crate::containers::State;
use crate::error::Result;

impl Engine {
    pub fn info(&self) -> Result<Value> {
        let containers = self.containers()?;
        let count = |f: &dyn Fn(State) -> bool| containers.iter().filter(|c| f(c.state)).count();
        let running = count(&|s| matches!(s, State::Running | State::Starting));
        let paused = count(&|s| s == State::Paused);
        let images = self.list_images(&Default::default())?.len();
        let uname = rustix::system::uname();
        let text = |s: &std::ffi::CStr| s.to_string_lossy().into_owned();
        let os = std::fs::read_to_string("/etc/os-release")
            .ok()
            .and_then(|t| {
                t.lines()
                    .find_map(|l| l.strip_prefix("PRETTY_NAME="))
                    .map(|v| v.trim_matches('"').to_string())
            })
            .unwrap_or_else(|| "Linux".into());
        let mem_total = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|t| {
                t.lines()
                    .find_map(|l| l.strip_prefix("MemTotal:"))
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            })
            .unwrap_or(0)
            * 1024;
        let net = self.network_info();
        let registries = self.registries_config().unwrap_or_default();
        let mut security = vec!["name=seccomp,profile=builtin".to_string()];
        if berth_runtime::host_cgroup_is_v2() {
            security.push("name=cgroupns".into());
        }
        Ok(json!({
            "ID": self.engine_id()?,
            "Containers": containers.len(),
            "ContainersRunning": running,
            "ContainersPaused": paused,
            "ContainersStopped": containers.len() - running - paused,
            "Images": images,
            "Driver": "overlay",
            "DriverStatus": [["Backing Filesystem", "overlayfs layers, one directory each"]],
            "LoggingDriver": "json-file",
            "CgroupDriver": "cgroupfs",
            "CgroupVersion": if berth_runtime::host_cgroup_is_v2() { "2" } else { "1" },
            "KernelVersion": text(uname.release()),
            "OperatingSystem": os,
            "OSType": "linux",
            "Architecture": text(uname.machine()),
            "NCPU": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
            "MemTotal": mem_total,
            "Name": text(uname.nodename()),
            "ServerVersion": env!("CARGO_PKG_VERSION"),
            "DockerRootDir": self.paths.root,
            "DefaultRuntime": crate::runtimes::DEFAULT_RUNTIME,
            "Runtimes": crate::runtimes::available()
                .into_iter()
                .map(|(name, path)| (name, serde_json::json!({"path": path})))
                .collect::<serde_json::Map<_, _>>(),
            "IPv4Forwarding": net.ip_forward,
            "BerthIPv4ForwardingTurnedOn": net.ip_forward_by_berth,
            "BerthDefaultBridge": net.default_bridge,
            "BerthDefaultBridgeSubnet": net.default_subnet.map(|s| s.to_string()),
            "BridgeNfIptables": false,
            "Plugins": {"Volume": ["local"], "Network": ["bridge", "host", "null"], "Log": ["json-file", "local", "none"]},
            "Swarm": {"LocalNodeState": "inactive", "ControlAvailable": false},
            "SecurityOptions": security,
            "InitBinary": "berth",
            "Debug": false,
            "ExperimentalBuild": false,
            // Containers outlive any berth process by construction.
            "LiveRestoreEnabled": true,
            "RegistryConfig": {
                "Mirrors": registries.registry_mirrors,
                "InsecureRegistryCIDRs": registries.insecure_registries,
            },
            // Only once berth has a bridge: until then nothing needs it on.
            "Warnings": if net.ip_forward || net.default_subnet.is_none() { Value::Array(vec![]) } else { json!(["WARNING: IPv4 forwarding is disabled"]) },
        }))
    }
}

impl Engine {
    /// This store's ID: made once, kept in `<root>/engine-id`.
    fn engine_id(&self) -> Result<String> {
        let path = self.paths.root.join("engine-id");
        if let Ok(id) = std::fs::read_to_string(&path)
            && id.trim().len() == 64
        {
            return Ok(id.trim().to_string());
        }
        let id = crate::containers::names::new_id()?;
        crate::store::perms::write_file(&path, id.as_bytes(), crate::store::perms::SHARED_FILE)?;
        Ok(id)
    }
}
