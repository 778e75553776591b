//! Security options of a container: capabilities (`--cap-add/--cap-drop`,
//! `--privileged`), `--security-opt` (no-new-privileges, seccomp) and
//! `--device`, each validated with an error naming the bad value.

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use serde_json::{Value, json};

use super::config::DeviceSpec;
use super::spec::DEFAULT_CAPS;
use crate::error::{Error, Result};

/// `chown` → `CAP_CHOWN`, checked against the kernel's list.
fn normalise_cap(name: &str) -> Result<String> {
    let upper = name.to_ascii_uppercase();
    let full = if upper.starts_with("CAP_") {
        upper
    } else {
        format!("CAP_{upper}")
    };
    if berth_runtime::capability_names().contains(&full.as_str()) {
        Ok(full)
    } else {
        Err(Error::invalid(format!(
            "invalid capability: {name:?} (unknown capability)"
        )))
    }
}

/// The container's capability set: Docker's 14 (or all when privileged),
/// then `--cap-add`, then `--cap-drop`; `ALL` works in both.
pub fn capabilities(privileged: bool, add: &[String], drop: &[String]) -> Result<Vec<String>> {
    // "All" means all that berth itself may hand out: its bounding set
    // (a container cannot be given what its runtime lacks).
    let bounding = own_bounding_set();
    let all: Vec<String> = berth_runtime::capability_names()
        .into_iter()
        .enumerate()
        .filter(|(n, _)| bounding & (1u64 << n) != 0)
        .map(|(_, name)| name.to_string())
        .collect();
    if privileged {
        return Ok(all);
    }
    let is_all = |s: &String| s.eq_ignore_ascii_case("all") || s.eq_ignore_ascii_case("cap_all");
    let mut caps: Vec<String> = DEFAULT_CAPS.iter().map(|s| s.to_string()).collect();
    if add.iter().any(is_all) {
        caps = all.clone();
    } else {
        for name in add {
            let cap = normalise_cap(name)?;
            if !caps.contains(&cap) {
                caps.push(cap);
            }
        }
    }
    if drop.iter().any(is_all) {
        // Docker: `--cap-drop ALL --cap-add X` keeps just X.
        let mut kept = Vec::new();
        for name in add.iter().filter(|s| !is_all(s)) {
            kept.push(normalise_cap(name)?);
        }
        return Ok(kept);
    }
    for name in drop {
        let cap = normalise_cap(name)?;
        caps.retain(|c| *c != cap);
    }
    Ok(caps)
}

/// CapBnd of this process.
fn own_bounding_set() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("CapBnd:"))
                .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        })
        .unwrap_or(u64::MAX)
}

#[derive(Debug, Default)]
pub struct SecurityOpts {
    pub no_new_privileges: bool,
    /// None: the default profile; Some(None): unconfined; Some(Some(json)): a
    /// profile file in Docker's format.
    seccomp: Option<Option<Value>>,
}

impl SecurityOpts {
    pub fn parse(opts: &[String]) -> Result<SecurityOpts> {
        let mut out = SecurityOpts::default();
        for opt in opts {
            let (key, value) = opt
                .split_once(['=', ':'])
                .map(|(k, v)| (k, Some(v)))
                .unwrap_or((opt.as_str(), None));
            match key {
                "no-new-privileges" => {
                    out.no_new_privileges = match value {
                        None | Some("true") => true,
                        Some("false") => false,
                        Some(v) => {
                            return Err(Error::invalid(format!(
                                "invalid --security-opt 2: {opt:?}: no-new-privileges takes true or false, not {v:?}"
                            )));
                        }
                    }
                }
                "seccomp" => match value {
                    Some("unconfined") => out.seccomp = Some(None),
                    Some(path) if !path.is_empty() => {
                        let text = std::fs::read_to_string(path).map_err(|e| {
                            Error::invalid(format!("opening seccomp profile ({path}) failed: {e}"))
                        })?;
                        let profile: Value = serde_json::from_str(&text).map_err(|e| {
                            Error::invalid(format!("decoding seccomp profile ({path}) failed: {e}"))
                        })?;
                        out.seccomp = Some(Some(profile));
                    }
                    _ => {
                        return Err(Error::invalid(format!(
                            "invalid --security-opt: {opt:?}: seccomp takes a profile path or unconfined"
                        )));
                    }
                },
                "label" | "apparmor" => {
                    // No LSM is enforced by berth; Docker ignores these too
                    // when the LSM is not enabled.
                }
                _ => {
                    return Err(Error::invalid(format!("invalid --security-opt: {opt:?}")));
                }
            }
        }
        Ok(out)
    }

    /// The `linux.seccomp` section, or None for unconfined (and privileged).
    pub fn seccomp(&self, privileged: bool, caps: &[String]) -> Result<Option<Value>> {
        match &self.seccomp {
            Some(None) => Ok(None),
            Some(Some(profile)) => Ok(Some(from_docker_profile(profile)?)),
            None if privileged => Ok(None),
            None => serde_json::to_value(berth_runtime::seccomp::default_profile(caps))
                .map(Some)
                .map_err(|e| Error::internal(format!("encode the default seccomp profile: {e}"))),
        }
    }
}

/// A profile in Docker's format (`defaultAction`, `syscalls` with `names`)
/// as an OCI seccomp section. `includes`/`excludes` conditions on
/// capabilities and architectures are not evaluated: rules carrying them are
/// refused rather than applied wrongly.
fn from_docker_profile(profile: &Value) -> Result<Value> {
    let bad = |what: &str| Error::invalid(format!("seccomp profile: {what}"));
    let default_action = profile["defaultAction"]
        .as_str()
        .ok_or_else(|| bad("defaultAction is missing"))?;
    let mut out = json!({ "defaultAction": default_action });
    if let Some(errno) = profile.get("defaultErrnoRet") {
        out["defaultErrnoRet"] = errno.clone();
    }
    if let Some(arches) = profile.get("architectures") {
        out["architectures"] = arches.clone();
    }
    let mut syscalls = Vec::new();
    for rule in profile["syscalls"].as_array().into_iter().flatten() {
        for key in ["includes", "excludes"] {
            if rule
                .get(key)
                .and_then(|v| v.as_object())
                .is_some_and(|o| !o.is_empty())
            {
                return Err(bad(&format!(
                    "rules with {key:?} conditions are not supported"
                )));
            }
        }
        let mut names: Vec<Value> = rule["names"].as_array().cloned().unwrap_or_default();
        if let Some(name) = rule.get("name") {
            names.push(name.clone());
        }
        let mut r = json!({ "names": names, "action": rule["action"] });
        for key in ["args", "errnoRet"] {
            if let Some(v) = rule.get(key).filter(|v| !v.is_null()) {
                r[key] = v.clone();
            }
        }
        syscalls.push(r);
    }
    out["syscalls"] = Value::Array(syscalls);
    Ok(out)
}

/// Docker's device cgroup allow-list for every container.
fn default_device_rules() -> Vec<Value> {
    let rule = |kind: &str, major: Option<i64>, minor: Option<i64>, access: &str| json!({"allow": true, "type": kind, "major": major, "minor": minor, "access": access});
    vec![
        json!({"allow": false, "access": "rwm"}),
        rule("c", None, None, "m"),
        rule("b", None, None, "m"),
        rule("c", Some(1), Some(3), "rwm"),
        rule("c", Some(1), Some(8), "rwm"),
        rule("c", Some(1), Some(7), "rwm"),
        rule("c", Some(5), Some(0), "rwm"),
        rule("c", Some(1), Some(5), "rwm"),
        rule("c", Some(1), Some(9), "rwm"),
        rule("c", Some(5), Some(1), "rwm"),
        rule("c", Some(136), None, "rwm"),
        rule("c", Some(5), Some(2), "rwm"),
        rule("c", Some(10), Some(200), "rwm"),
    ]
}

/// `linux.devices` for `--device` and the device cgroup rules.
pub fn devices(privileged: bool, devices: &[DeviceSpec]) -> Result<(Vec<Value>, Vec<Value>)> {
    let mut rules = if privileged {
        vec![json!({"allow": true, "access": "rwm"})]
    } else {
        default_device_rules()
    };
    let mut nodes = Vec::new();
    if privileged {
        // Every device of the host, as Docker gives a privileged container
        // (but those named by --device, which may place them elsewhere).
        for node in host_devices(Path::new("/dev")) {
            if !devices
                .iter()
                .any(|d| node["path"] == d.container_path.as_str())
            {
                nodes.push(node);
            }
        }
    }
    for d in devices {
        let meta = std::fs::metadata(&d.host_path).map_err(|e| {
            // docker's words (its CLI makes `run` exit 127 on them).
            let why = match e.kind() {
                std::io::ErrorKind::NotFound => "no such file or directory".to_string(),
                _ => e.to_string(),
            };
            Error::invalid(format!(
                "error gathering device information while adding custom device {:?}: {why}",
                d.host_path
            ))
        })?;
        let kind = if meta.file_type().is_char_device() {
            "c"
        } else if meta.file_type().is_block_device() {
            "b"
        } else {
            return Err(Error::invalid(format!(
                "error gathering device information while adding custom device {:?}: not a device node",
                d.host_path
            )));
        };
        let rdev = meta.rdev();
        let (major, minor) = (
            rustix::fs::major(rdev) as i64,
            rustix::fs::minor(rdev) as i64,
        );
        nodes.push(json!({
            "path": d.container_path, "type": kind, "major": major, "minor": minor,
            "fileMode": meta.mode() & 0o7777, "uid": meta.uid(), "gid": meta.gid(),
        }));
        rules.push(
            json!({"allow": true, "type": kind, "major": major, "minor": minor,
                          "access": d.permissions}),
        );
    }
    Ok((nodes, rules))
}

/// The device nodes under `dir` (runc's walk: symlinks, `console` and the
/// pts, shm, fd and mqueue directories skipped), except the ones every
/// container's /dev has from the runtime.
fn host_devices(dir: &Path) -> Vec<Value> {
    const RUNTIME_MADE: &[&str] = &[
        "/dev/null",
        "/dev/zero",
        "/dev/full",
        "/dev/random",
        "/dev/urandom",
        "/dev/tty",
        "/dev/ptmx",
    ];
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    let mut entries: Vec<_> = entries.flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        let kind = meta.file_type();
        if kind.is_dir() {
            if !matches!(
                name.as_str(),
                "pts" | "shm" | "fd" | "mqueue" | ".lxc" | ".lxd-mounts" | ".udev"
            ) {
                out.extend(host_devices(&path));
            }
            continue;
        }
        let letter = if kind.is_char_device() {
            "c"
        } else if kind.is_block_device() {
            "b"
        } else {
            continue;
        };
        let path_text = path.to_string_lossy().into_owned();
        if name == "console" || RUNTIME_MADE.contains(&path_text.as_str()) {
            continue;
        }
        let rdev = meta.rdev();
        out.push(json!({
            "path": path_text, "type": letter,
            "major": rustix::fs::major(rdev) as i64, "minor": rustix::fs::minor(rdev) as i64,
            "fileMode": meta.mode() & 0o7777, "uid": meta.uid(), "gid": meta.gid(),
        }));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn cap_add_and_drop_as_docker() {
        let caps = capabilities(false, &s(&["sys_admin"]), &s(&["CAP_NET_RAW", "chown"])).unwrap();
        assert!(caps.contains(&"CAP_SYS_ADMIN".to_string()));
        assert!(!caps.contains(&"CAP_NET_RAW".to_string()));
        assert!(!caps.contains(&"CAP_CHOWN".to_string()));
        assert_eq!(caps.len(), 13);
        assert_eq!(
            capabilities(false, &s(&["NET_ADMIN"]), &s(&["ALL"])).unwrap(),
            s(&["CAP_NET_ADMIN"])
        );
        let e = capabilities(false, &s(&["FLY"]), &[]).unwrap_err();
        assert!(e.message.contains("\"FLY\""), "{e}");
    }

    #[test]
    fn security_opts() {
        let o = SecurityOpts::parse(&s(&["no-new-privileges"])).unwrap();
        assert!(o.no_new_privileges);
        let o = SecurityOpts::parse(&s(&["seccomp=unconfined"])).unwrap();
        assert!(o.seccomp(false, &[]).unwrap().is_none());
        assert!(SecurityOpts::parse(&s(&["bogus=1"])).is_err());
        let e = SecurityOpts::parse(&s(&["seccomp=/no/such.json"])).unwrap_err();
        assert!(e.message.contains("/no/such.json"), "{e}");
    }
}
