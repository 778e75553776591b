//! `info`: the engine and its host, laid out as `docker info` lays out its
//! server section (berth has no daemon: the engine is the server), plus
//! what berth does to the host's networking.

use anyhow::Result;
use berth_engine::Engine;
use serde_json::Value;

use crate::cli::InfoArgs;
use crate::format::{Template, units};

pub fn run(engine: &Engine, a: InfoArgs) -> Result<u8> {
    let info = engine.info()?;
    let out = match a.format.as_deref() {
        Some("json") => format!("{info}\n"),
        Some(f) => {
            let t = Template::parse(&f.replace("\\t", "\t").replace("\\n", "\n"))?;
            format!("{}\n", t.render(&info)?)
        }
        None => text(&info),
    };
    crate::output::print(&out)?;
    Ok(0)
}

fn text(i: &Value) -> String {
    let s = |k: &str| match &i[k] {
        Value::String(v) => v.clone(),
        Value::Null => String::new(),
        v => v.to_string(),
    };
    let forwarding = match (
        i["IPv4Forwarding"].as_bool(),
        i["BerthIPv4ForwardingTurnedOn"].as_bool(),
    ) {
        (Some(true), Some(true)) => "enabled (turned on by berth)",
        (Some(true), _) => "enabled",
        _ => "disabled",
    };
    let bridge = match (
        i["BerthDefaultBridge"].as_str(),
        i["BerthDefaultBridgeSubnet"].as_str(),
    ) {
        (None, _) => "off (BERTH_BRIDGE=none)".to_string(),
        (Some(b), Some(subnet)) => format!("{b} ({subnet})"),
        (Some(b), None) => format!("{b} (made when a container first joins it)"),
    };
    // docker lists them space-separated, sorted.
    let runtimes = i["Runtimes"]
        .as_object()
        .map(|m| m.keys().cloned().collect::<Vec<_>>().join(" "))
        .unwrap_or_default();
    let mut out = format!(
        "Client:\n Version:    {version}\n Context:    default (daemonless: the engine runs in this process)\n\nServer:\n",
        version = s("ServerVersion")
    );
    for (k, v) in [
        ("Containers", s("Containers")),
        (" Running", s("ContainersRunning")),
        (" Paused", s("ContainersPaused")),
        (" Stopped", s("ContainersStopped")),
        ("Images", s("Images")),
        ("Server Version", s("ServerVersion")),
        ("Storage Driver", s("Driver")),
        ("Logging Driver", s("LoggingDriver")),
        ("Cgroup Driver", s("CgroupDriver")),
        ("Cgroup Version", s("CgroupVersion")),
        ("Plugins", String::new()),
        (" Volume", "local".into()),
        (" Network", "bridge host null".into()),
        (" Log", "json-file local none".into()),
        ("Swarm", "inactive".into()),
        ("Default Bridge", bridge),
        ("IPv4 Forwarding", forwarding.into()),
        ("Runtimes", runtimes),
        ("Default Runtime", s("DefaultRuntime")),
        ("Init Binary", s("InitBinary")),
        ("Security Options", String::new()),
        ("Kernel Version", s("KernelVersion")),
        ("Operating System", s("OperatingSystem")),
        ("OSType", s("OSType")),
        ("Architecture", s("Architecture")),
        ("CPUs", s("NCPU")),
        (
            "Total Memory",
            units::human_size_binary(i["MemTotal"].as_u64().unwrap_or(0)),
        ),
        ("Name", s("Name")),
        ("ID", s("ID")),
        ("Berth Root Dir", s("DockerRootDir")),
        ("Debug Mode", s("Debug")),
        ("Experimental", s("ExperimentalBuild")),
    ] {
        if v.is_empty() {
            out.push_str(&format!(" {k}:\n"));
        } else {
            out.push_str(&format!(" {k}: {v}\n"));
        }
    }
    // Docker's layout of `name=seccomp,profile=builtin` and `name=cgroupns`.
    let mut security = String::from(" Security Options:\n");
    for option in i["SecurityOptions"].as_array().into_iter().flatten() {
        for part in option.as_str().unwrap_or_default().split(',') {
            match part.split_once('=') {
                Some(("name", name)) => security.push_str(&format!("  {name}\n")),
                Some((k, v)) => {
                    let mut key = k.to_string();
                    key[..1].make_ascii_uppercase();
                    security.push_str(&format!("   {key}: {v}\n"));
                }
                None => {}
            }
        }
    }
    out = out.replace(" Security Options:\n", &security);
    for (title, key) in [
        ("Insecure Registries", "InsecureRegistryCIDRs"),
        ("Registry Mirrors", "Mirrors"),
    ] {
        let list = i["RegistryConfig"][key]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if !list.is_empty() {
            out.push_str(&format!(" {title}:\n"));
            for entry in list {
                out.push_str(&format!("  {}\n", entry.as_str().unwrap_or_default()));
            }
        }
    }
    out.push_str(&format!(
        " Live Restore Enabled: {}\n",
        s("LiveRestoreEnabled")
    ));
    for w in i["Warnings"].as_array().into_iter().flatten() {
        out.push_str(&format!("{}\n", w.as_str().unwrap_or_default()));
    }
    out
}
