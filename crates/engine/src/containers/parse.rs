//! Docker's string syntaxes for what a container is created with, as the
//! CLI's flags and the API's `HostConfig` strings both carry them: `-v` /
//! `Binds` (`SRC:DST[:OPTS]`), `--mount` / `Mounts`, `--tmpfs` / `Tmpfs`,
//! `--ulimit`, `--device`, byte sizes. Errors use Docker's words and name
//! the bad value.

use super::config::{DeviceSpec, MountKind, MountSpec, ThrottleDevice, Ulimit, WeightDevice};
use crate::error::{Error, Result};

fn invalid(m: String) -> Error {
    Error::invalid(m)
}

/// `-v SRC:DST[:OPTS]`: a host path (absolute) binds, a name is a volume,
/// a lone path is an anonymous volume.
pub fn parse_volume(v: &str) -> Result<MountSpec> {
    let parts: Vec<&str> = v.split(':').collect();
    let (source, target, opts) = match parts.as_slice() {
        [t] => ("", *t, ""),
        [s, t] => (*s, *t, ""),
        [s, t, o] => (*s, *t, *o),
        _ => return Err(invalid(format!("invalid volume specification: '{v}'"))),
    };
    if target.is_empty() || !target.starts_with('/') {
        return Err(invalid(format!(
            "invalid volume specification: '{v}': invalid mount config for type \"volume\": invalid mount path: '{target}' mount path must be absolute"
        )));
    }
    if target == "/" {
        return Err(invalid(format!(
            "invalid volume specification: '{v}': invalid mount config for type \"bind\": invalid specification: destination can't be '/'"
        )));
    }
    let mut read_only = false;
    let mut options = Vec::new();
    for o in opts.split(',').filter(|o| !o.is_empty()) {
        match o {
            "ro" => read_only = true,
            "rw" => read_only = false,
            "z" | "Z" | "nocopy" | "consistent" | "cached" | "delegated" => {}
            "private" | "rprivate" | "shared" | "rshared" | "slave" | "rslave" => {
                options.push(o.to_string())
            }
            _ => {
                return Err(invalid(format!(
                    "invalid volume specification: '{v}': invalid mode: {o}"
                )));
            }
        }
    }
    let kind = if source.starts_with('/') {
        MountKind::Bind
    } else {
        if !source.is_empty() && !valid_volume_name(source) {
            return Err(invalid(format!(
                "create {source}: \"{source}\" includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path"
            )));
        }
        MountKind::Volume
    };
    Ok(MountSpec {
        kind,
        source: source.to_string(),
        target: target.to_string(),
        read_only,
        options,
        anonymous: false,
    })
}

fn valid_volume_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
}

/// `--mount type=bind|volume|tmpfs,source=…,target=…[,readonly]`.
pub fn parse_mount(m: &str) -> Result<MountSpec> {
    let mut kind = MountKind::Volume;
    let (mut source, mut target, mut read_only) = (String::new(), String::new(), false);
    let mut options = Vec::new();
    for field in m.split(',') {
        let (k, v) = field.split_once('=').unwrap_or((field, ""));
        match k {
            "type" => {
                kind = match v {
                    "bind" => MountKind::Bind,
                    "volume" => MountKind::Volume,
                    "tmpfs" => MountKind::Tmpfs,
                    _ => {
                        return Err(invalid(format!(
                            "invalid argument \"{m}\" for \"--mount\" flag: invalid mount type \"{v}\""
                        )));
                    }
                }
            }
            "source" | "src" => source = v.to_string(),
            "target" | "destination" | "dst" => target = v.to_string(),
            "readonly" | "ro" => read_only = v.is_empty() || v == "true" || v == "1",
            "bind-propagation" => options.push(v.to_string()),
            "tmpfs-size" => options.push(format!("size={}", parse_bytes(v)?)),
            "tmpfs-mode" => options.push(format!("mode={v}")),
            _ => {
                return Err(invalid(format!(
                    "invalid argument \"{m}\" for \"--mount\" flag: unexpected key '{k}' in '{field}'"
                )));
            }
        }
    }
    if target.is_empty() {
        return Err(invalid(format!(
            "invalid argument \"{m}\" for \"--mount\" flag: target is required"
        )));
    }
    if kind == MountKind::Bind && !std::path::Path::new(&source).exists() {
        return Err(invalid(format!(
            "invalid mount config for type \"bind\": bind source path does not exist: {source}"
        )));
    }
    Ok(MountSpec {
        kind,
        source,
        target,
        read_only,
        options,
        anonymous: false,
    })
}

/// `--tmpfs /path[:opts]`.
pub fn parse_tmpfs(t: &str) -> Result<MountSpec> {
    let (target, opts) = t.split_once(':').unwrap_or((t, ""));
    if !target.starts_with('/') {
        return Err(invalid(format!(
            "invalid mount config for type \"tmpfs\": invalid mount path: '{target}' mount path must be absolute"
        )));
    }
    Ok(MountSpec {
        kind: MountKind::Tmpfs,
        source: String::new(),
        target: target.to_string(),
        read_only: false,
        options: opts
            .split(',')
            .filter(|o| !o.is_empty())
            .map(String::from)
            .collect(),
        anonymous: false,
    })
}

/// `--device HOST[:CONTAINER][:PERMISSIONS]`.
pub fn parse_device(d: &str) -> Result<DeviceSpec> {
    let parts: Vec<&str> = d.split(':').collect();
    let (host, ctr, perms) = match parts.as_slice() {
        [h] => (*h, *h, "rwm"),
        [h, p] if p.chars().all(|c| "rwm".contains(c)) => (*h, *h, *p),
        [h, c] => (*h, *c, "rwm"),
        [h, c, p] => (*h, *c, *p),
        _ => return Err(invalid(format!("invalid device specification: {d}"))),
    };
    Ok(DeviceSpec {
        host_path: host.into(),
        container_path: ctr.into(),
        permissions: perms.into(),
    })
}

/// `--ulimit nofile=1024[:2048]`.
pub fn parse_ulimit(u: &str) -> Result<Ulimit> {
    let (name, values) = u
        .split_once('=')
        .ok_or_else(|| invalid(format!("invalid ulimit argument: {u}")))?;
    const NAMES: &[&str] = &[
        "core",
        "cpu",
        "data",
        "fsize",
        "locks",
        "memlock",
        "msgqueue",
        "nice",
        "nofile",
        "nproc",
        "rss",
        "rtprio",
        "rttime",
        "sigpending",
        "stack",
        "as",
    ];
    if !NAMES.contains(&name) {
        return Err(invalid(format!("invalid ulimit type: {name}")));
    }
    let (soft, hard) = values.split_once(':').unwrap_or((values, values));
    let parse = |s: &str| -> Result<i64> {
        s.parse()
            .map_err(|_| invalid(format!("invalid ulimit argument: {u}: bad number {s:?}")))
    };
    let (soft, hard) = (parse(soft)?, parse(hard)?);
    if soft > hard && hard != -1 {
        return Err(invalid(format!(
            "ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}"
        )));
    }
    Ok(Ulimit {
        name: name.to_string(),
        soft,
        hard,
    })
}

/// Docker's RAMInBytes: `32m`, `1g`, `512k`, `100b`, plain bytes; 1024-based.
pub fn parse_bytes(s: &str) -> Result<i64> {
    let lower = s.trim().to_ascii_lowercase();
    let number_end = lower
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(lower.len());
    let (num, unit) = lower.split_at(number_end);
    let value: f64 = num
        .parse()
        .map_err(|_| invalid(format!("invalid size: '{s}'")))?;
    let mult: f64 = match unit.trim_end_matches('b').trim_end_matches('i') {
        "" => 1.0,
        "k" => 1024.0,
        "m" => 1024.0 * 1024.0,
        "g" => 1024.0 * 1024.0 * 1024.0,
        "t" => 1024.0f64.powi(4),
        "p" => 1024.0f64.powi(5),
        _ => return Err(invalid(format!("invalid size: '{s}'"))),
    };
    Ok((value * mult) as i64)
}

/// `--sysctl NAME=VALUE`: only the parameters a container's own
/// namespaces hold (Docker's list: IPC's `kernel.*`, `fs.mqueue.*`, the
/// network's `net.*`).
pub fn parse_sysctl(s: &str) -> Result<(String, String)> {
    let not_allowed = || {
        invalid(format!(
            "invalid argument \"{s}\" for \"--sysctl\" flag: sysctl '{s}' is not allowed"
        ))
    };
    let (name, value) = s.split_once('=').ok_or_else(not_allowed)?;
    if berth_runtime::IPC_SYSCTLS.contains(&name)
        || name.starts_with("fs.mqueue.")
        || name.starts_with("net.")
    {
        Ok((name.to_string(), value.to_string()))
    } else {
        Err(not_allowed())
    }
}

/// `--blkio-weight-device PATH:WEIGHT`.
pub fn parse_weight_device(s: &str) -> Result<WeightDevice> {
    let (path, weight) = s.rsplit_once(':').ok_or_else(|| {
        invalid(format!(
            "invalid argument \"{s}\" for \"--blkio-weight-device\" flag: bad format: {s}"
        ))
    })?;
    device_path(s, path, "--blkio-weight-device")?;
    let weight = weight
        .parse::<u16>()
        .ok()
        .filter(|w| (10..=1000).contains(w))
        .ok_or_else(|| {
            invalid(format!(
                "invalid argument \"{s}\" for \"--blkio-weight-device\" flag: invalid weight for device: {s}"
            ))
        })?;
    Ok(WeightDevice {
        path: path.into(),
        weight,
    })
}

/// `--device-{read,write}-{bps,iops} PATH:RATE`; bps rates take Docker's
/// size units (`1mb`), iops rates are plain numbers.
pub fn parse_throttle_device(s: &str, flag: &str) -> Result<ThrottleDevice> {
    let bad_format = || {
        invalid(format!(
            "invalid argument \"{s}\" for \"{flag}\" flag: bad format: {s}"
        ))
    };
    let (path, rate) = s.rsplit_once(':').ok_or_else(bad_format)?;
    device_path(s, path, flag)?;
    let rate = if flag.ends_with("bps") {
        parse_bytes(rate).ok().filter(|r| *r >= 0 && !rate.starts_with('-'))
            .map(|r| r as u64)
            .ok_or_else(|| invalid(format!(
                "invalid argument \"{s}\" for \"{flag}\" flag: invalid rate for device: {s}. The correct format is <device-path>:<number>[<unit>]. Number must be a positive integer. Unit is optional and can be kb, mb, or gb"
            )))?
    } else {
        rate.parse::<u64>().map_err(|_| invalid(format!(
            "invalid argument \"{s}\" for \"{flag}\" flag: invalid rate for device: {s}. The correct format is <device-path>:<number>. Number must be a positive integer"
        )))?
    };
    Ok(ThrottleDevice {
        path: path.into(),
        rate,
    })
}

fn device_path(s: &str, path: &str, flag: &str) -> Result<()> {
    if !path.starts_with("/dev/") {
        return Err(invalid(format!(
            "invalid argument \"{s}\" for \"{flag}\" flag: bad format for device path: {path}"
        )));
    }
    Ok(())
}

/// `--device-cgroup-rule 'TYPE MAJOR:MINOR ACCESS'` (`c 42:* rmw`).
pub fn check_device_cgroup_rule(rule: &str) -> Result<()> {
    let bad = || {
        invalid(format!(
            "invalid argument \"{rule}\" for \"--device-cgroup-rule\" flag: invalid device cgroup format '{rule}'"
        ))
    };
    let parts: Vec<&str> = rule.split_whitespace().collect();
    let [kind, numbers, access] = parts.as_slice() else {
        return Err(bad());
    };
    let number = |n: &str| n == "*" || n.parse::<u32>().is_ok();
    let (major, minor) = numbers.split_once(':').ok_or_else(bad)?;
    if !matches!(*kind, "a" | "b" | "c")
        || !number(major)
        || !number(minor)
        || access.is_empty()
        || !access.chars().all(|c| "rwm".contains(c))
    {
        return Err(bad());
    }
    Ok(())
}

/// A device cgroup rule as the spec's `linux.resources.devices` entry.
pub fn device_cgroup_rule_json(rule: &str) -> Result<serde_json::Value> {
    check_device_cgroup_rule(rule)?;
    let parts: Vec<&str> = rule.split_whitespace().collect();
    let (major, minor) = parts[1].split_once(':').unwrap_or(("*", "*"));
    let mut v = serde_json::json!({"allow": true, "type": parts[0], "access": parts[2]});
    if let Ok(n) = major.parse::<i64>() {
        v["major"] = n.into();
    }
    if let Ok(n) = minor.parse::<i64>() {
        v["minor"] = n.into();
    }
    Ok(v)
}

/// Go's durations (`1h2m3.5s`, `500ms`, `10us`) in nanoseconds, as
/// docker's `--health-*` and `--stop-timeout`-like flags take them.
pub fn parse_go_duration(flag: &str, s: &str) -> Result<i64> {
    let bad = |why: &str| {
        invalid(format!(
            "invalid argument \"{s}\" for \"{flag}\" flag: time: {why} \"{s}\""
        ))
    };
    if s == "0" {
        return Ok(0);
    }
    let mut rest = s;
    let mut total: f64 = 0.0;
    if rest.is_empty() {
        return Err(bad("invalid duration"));
    }
    while !rest.is_empty() {
        let end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (number, tail) = rest.split_at(end);
        let value: f64 = number.parse().map_err(|_| bad("invalid duration"))?;
        let unit_end = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_end);
        let scale = match unit {
            "ns" => 1.0,
            "us" | "µs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            "" => return Err(bad("missing unit in duration")),
            _ => return Err(bad(&format!("unknown unit \"{unit}\" in duration"))),
        };
        total += value * scale;
        rest = tail;
    }
    Ok(total as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_volumes_and_ulimits() {
        assert_eq!(parse_bytes("32m").unwrap(), 32 << 20);
        assert_eq!(parse_bytes("1g").unwrap(), 1 << 30);
        assert_eq!(parse_bytes("100").unwrap(), 100);
        assert!(parse_bytes("12x").unwrap_err().message.contains("'12x'"));
        let m = parse_volume("/host:/ctr:ro").unwrap();
        assert_eq!((m.kind, m.read_only), (MountKind::Bind, true));
        let m = parse_volume("data:/var/lib/data").unwrap();
        assert_eq!((m.kind, m.source.as_str()), (MountKind::Volume, "data"));
        assert!(parse_volume("data:rel").is_err());
        assert!(
            parse_volume("/a:/b:bogus")
                .unwrap_err()
                .message
                .contains("bogus")
        );
        let u = parse_ulimit("nofile=1024:2048").unwrap();
        assert_eq!((u.soft, u.hard), (1024, 2048));
        assert!(parse_ulimit("nofile=2048:1024").is_err());
        assert!(
            parse_ulimit("bogus=1")
                .unwrap_err()
                .message
                .contains("bogus")
        );
        let d = parse_device("/dev/null:/dev/x:r").unwrap();
        assert_eq!(
            (d.container_path.as_str(), d.permissions.as_str()),
            ("/dev/x", "r")
        );
        assert!(parse_tmpfs("rel").is_err());
    }

    #[test]
    fn sysctls_block_devices_and_cgroup_rules() {
        assert_eq!(
            parse_sysctl("net.ipv4.ip_forward=1").unwrap(),
            ("net.ipv4.ip_forward".into(), "1".into())
        );
        assert!(parse_sysctl("kernel.shmmax=1").is_ok());
        let e = parse_sysctl("kernel.hostname=x").unwrap_err().message;
        assert!(
            e.contains("sysctl 'kernel.hostname=x' is not allowed"),
            "{e}"
        );
        assert!(parse_sysctl("net.x").is_err());
        let t = parse_throttle_device("/dev/sda:1mb", "--device-read-bps").unwrap();
        assert_eq!((t.path.as_str(), t.rate), ("/dev/sda", 1 << 20));
        assert!(parse_throttle_device("/dev/sda:1k", "--device-read-iops").is_err());
        assert_eq!(
            parse_throttle_device("/dev/sda:100", "--device-write-iops")
                .unwrap()
                .rate,
            100
        );
        assert!(
            parse_throttle_device("/dev/sda", "--device-read-bps")
                .unwrap_err()
                .message
                .contains("bad format: /dev/sda")
        );
        assert_eq!(parse_weight_device("/dev/sda:200").unwrap().weight, 200);
        assert!(parse_weight_device("/dev/sda:5").is_err());
        assert!(check_device_cgroup_rule("c 42:* rmw").is_ok());
        assert!(check_device_cgroup_rule("a *:* r").is_ok());
        for bad in ["bogus", "x 1:2 r", "c 1 r", "c 1:2 q"] {
            assert!(check_device_cgroup_rule(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_go_duration("--x", "1m30s").unwrap(), 90_000_000_000);
        assert_eq!(parse_go_duration("--x", "500ms").unwrap(), 500_000_000);
        assert_eq!(parse_go_duration("--x", "1.5s").unwrap(), 1_500_000_000);
        assert!(
            parse_go_duration("--x", "5")
                .unwrap_err()
                .message
                .contains("missing unit in duration")
        );
        assert!(parse_go_duration("--x", "5y").is_err());
        let v = device_cgroup_rule_json("c 42:* rw").unwrap();
        assert_eq!(v["major"], 42);
        assert!(v.get("minor").is_none());
    }
}
