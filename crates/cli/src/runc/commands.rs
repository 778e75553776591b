//! Each runc verb: parse, call berth-runtime, print what runc prints.

use std::io::Read;
use std::path::Path;

use anyhow::{Context, Result, bail};
use berth_runtime::{CreateOptions, ExecOptions, Runtime, parse_signal};
use oci_spec::runtime::{LinuxCpu, LinuxMemory, LinuxPids, LinuxResources, Process};

use super::cli::{Command, CreateArgs, ExecArgs, PsArgs, RuncCli, UpdateArgs};

pub fn run(args: RuncCli) -> Result<u8> {
    if args.systemd_cgroup {
        bail!(
            "--systemd-cgroup is not supported: berth-runc manages cgroups through cgroupfs (set SystemdCgroup = false)"
        );
    }
    // Everything that puts a clone of this process into a container first
    // re-executes from a read-only view of the binary (see berth_runtime::sealed).
    if matches!(
        args.command,
        Command::Create(_) | Command::Run(_) | Command::Exec(_)
    ) {
        berth_runtime::sealed::ensure_sealed().context(
            "seal the runtime binary (needs open_tree and mount_setattr: Linux 5.12 or later)",
        )?;
    }
    let rt = Runtime::new(&args.root);
    let log = open_log(args.log.as_deref(), args.log_format == "json");
    match args.command {
        Command::Create(a) => {
            let mut opts = create_options(&a)?;
            opts.log = log;
            rt.create(&a.id, &opts)?;
        }
        Command::Start(a) => rt.start(&a.id)?,
        Command::Run(a) => {
            let mut opts = create_options(&a.create)?;
            opts.log = log;
            if a.detach || a.keep {
                let state = rt.create(&a.create.id, &opts)?;
                rt.start(&a.create.id)?;
                if !a.detach {
                    let code = berth_runtime::container::wait_exit(state.pid)?;
                    return Ok(code as u8);
                }
                return Ok(0);
            }
            return Ok(rt.run(&a.create.id, &opts, false)? as u8);
        }
        Command::State(a) => {
            let state = rt.state(&a.id)?;
            println!("{}", pretty(&state.to_oci_json(&args.root)));
        }
        Command::Kill(a) => rt.kill(&a.id, parse_signal(&a.signal)?, a.all)?,
        Command::Delete(a) => {
            for id in &a.ids {
                rt.delete(id, a.force)?;
            }
        }
        Command::Exec(a) => return exec(&rt, a),
        Command::Ps(a) => ps(&rt, a)?,
        Command::Pause(a) => rt.pause(&a.id)?,
        Command::Resume(a) => rt.resume(&a.id)?,
        Command::Update(a) => {
            let resources = update_resources(&a)?;
            rt.update(&a.id, &resources)?;
        }
        Command::Features => println!("{}", pretty(&berth_runtime::features::features())),
        Command::List(a) => list(&rt, &args.root, &a.format, a.quiet)?,
        Command::Spec(a) => spec(&a.bundle)?,
        Command::Help => print!("{}", super::cli::USAGE),
        Command::Version => println!(
            "berth-runc version {}\nspec: 1.2.0",
            env!("CARGO_PKG_VERSION")
        ),
        Command::Events(a) => {
            if !a.stats {
                bail!("events: only --stats is supported");
            }
            let s = rt.stats(&a.id)?;
            let v = serde_json::json!({
                "type": "stats",
                "id": a.id,
                "data": {
                    "cpu": {"usage": {"total": s.cpu_usage_ns}},
                    "memory": {"usage": {"usage": s.memory_usage, "limit": s.memory_limit.unwrap_or(0)}, "cache": s.memory_cache},
                    "pids": {"current": s.pids_current, "limit": s.pids_limit.unwrap_or(0)},
                }
            });
            println!("{v}");
        }
    }
    Ok(0)
}

fn pretty(v: &serde_json::Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default()
}

/// The `--log` file, for the init's failures after this process is gone.
fn open_log(path: Option<&Path>, json: bool) -> Option<berth_runtime::log::LogTarget> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path?)
        .ok()?;
    Some(berth_runtime::log::LogTarget {
        fd: file.into(),
        json,
    })
}

fn create_options(a: &CreateArgs) -> Result<CreateOptions> {
    Ok(CreateOptions {
        bundle: a.bundle.clone(),
        pid_file: a.pid_file.clone(),
        console_socket: a.console_socket.clone(),
        no_pivot: a.no_pivot,
        preserve_fds: a.preserve_fds,
        ..CreateOptions::default()
    })
}

fn exec(rt: &Runtime, a: ExecArgs) -> Result<u8> {
    // An unknown ID is reported as such before anything else is read.
    rt.state(&a.id)?;
    let process: Process = match &a.process {
        Some(path) => {
            let data = std::fs::read(path).with_context(|| format!("read {}", path.display()))?;
            let mut doc: serde_json::Value = serde_json::from_slice(&data)
                .with_context(|| format!("parse process {}", path.display()))?;
            berth_runtime::spec_file::warn_unknown(
                &berth_runtime::spec_file::strip_unknown_capabilities(&mut doc),
            );
            serde_json::from_value(doc)
                .with_context(|| format!("parse process {}", path.display()))?
        }
        None => {
            if a.command.is_empty() {
                bail!("exec: a command is required (or --process)");
            }
            // Start from the container's own process settings.
            let spec = rt.saved_spec(&a.id)?;
            let mut p = spec.process().clone().unwrap_or_default();
            p.set_args(Some(a.command.clone()));
            p.set_terminal(Some(a.tty));
            if let Some(cwd) = &a.cwd {
                p.set_cwd(cwd.into());
            }
            // Appended, as runc does; the last value of a name wins (the
            // runtime keeps one per name at exec).
            let mut env = p.env().clone().unwrap_or_default();
            env.extend(a.env.iter().cloned());
            p.set_env(Some(env));
            let mut user = p.user().clone();
            if let Some(u) = &a.user {
                let (uid, gid) = match u.split_once(':') {
                    Some((uid, gid)) => (uid, Some(gid)),
                    None => (u.as_str(), None),
                };
                user.set_uid(
                    uid.parse()
                        .map_err(|e| anyhow::anyhow!("parsing {uid} as int for uid failed: {e}"))?,
                );
                if let Some(gid) = gid {
                    user.set_gid(gid.parse().map_err(|e| {
                        anyhow::anyhow!("parsing {gid} as int for gid failed: {e}")
                    })?);
                }
            }
            if !a.additional_gids.is_empty() {
                let mut gids = user.additional_gids().clone().unwrap_or_default();
                for g in &a.additional_gids {
                    let n: i64 = g
                        .parse()
                        .map_err(|e| anyhow::anyhow!("parsing {g} as int for gid failed: {e}"))?;
                    if n < 0 || n > u32::MAX as i64 {
                        bail!("additional-gids must be a positive number {n}");
                    }
                    gids.push(n as u32);
                }
                user.set_additional_gids(Some(gids));
            }
            p.set_user(user);
            if a.no_new_privs {
                p.set_no_new_privileges(Some(true));
            }
            if let Some(profile) = &a.apparmor {
                p.set_apparmor_profile(Some(profile.clone()));
            }
            if let Some(label) = &a.process_label {
                p.set_selinux_label(Some(label.clone()));
            }
            if !a.caps.is_empty() {
                add_capabilities(&mut p, &a.caps);
            }
            p
        }
    };
    let opts = ExecOptions {
        process,
        pid_file: a.pid_file.clone(),
        console_socket: a.console_socket.clone(),
        console: None,
        stdio: berth_runtime::ProcessIo::Inherit,
        detach: a.detach,
        preserve_fds: a.preserve_fds,
        ignore_paused: a.ignore_paused,
        sub_cgroups: berth_runtime::SubCgroups::parse(&a.cgroups)?,
    };
    let (_, code) = rt.exec(&a.id, &opts)?;
    Ok(code.unwrap_or(0) as u8)
}

fn ps(rt: &Runtime, a: PsArgs) -> Result<()> {
    let pids = rt.pids(&a.id)?;
    if a.format == "json" {
        println!("{}", serde_json::to_string(&pids)?);
        return Ok(());
    }
    if a.format != "table" {
        bail!("invalid format option {:?} (table or json)", a.format);
    }
    let ps_args = if a.ps_args.is_empty() {
        vec!["-ef".to_string()]
    } else {
        a.ps_args.clone()
    };
    let out = std::process::Command::new("ps")
        .args(&ps_args)
        .output()
        .context("run ps")?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_default();
    let pid_col = header
        .split_whitespace()
        .position(|c| c == "PID")
        .context("ps output has no PID column")?;
    println!("{header}");
    for line in lines {
        if let Some(pid) = line
            .split_whitespace()
            .nth(pid_col)
            .and_then(|p| p.parse::<i32>().ok())
            && pids.contains(&pid)
        {
            println!("{line}");
        }
    }
    Ok(())
}

fn list(rt: &Runtime, root: &Path, format: &str, quiet: bool) -> Result<()> {
    let states = rt.list()?;
    if quiet {
        for s in &states {
            println!("{}", s.id);
        }
        return Ok(());
    }
    if format == "json" {
        let all: Vec<serde_json::Value> = states.iter().map(|s| s.to_oci_json(root)).collect();
        println!("{}", serde_json::to_string(&all)?);
        return Ok(());
    }
    let mut text = String::from("ID\tPID\tSTATUS\tBUNDLE\tCREATED\tOWNER\n");
    for s in &states {
        let v = s.to_oci_json(root);
        text.push_str(&format!(
            "{}\t{}\t{}\t{}\t{}\t{}\n",
            s.id,
            v["pid"],
            v["status"].as_str().unwrap_or_default(),
            s.bundle.display(),
            s.created,
            if s.owner.is_empty() { "root" } else { &s.owner }
        ));
    }
    print!("{}", crate::format::tabwrite(&text));
    Ok(())
}

fn spec(bundle: &Path) -> Result<()> {
    let path = bundle.join("config.json");
    if path.exists() {
        bail!("File {} exists. Remove it first", path.display());
    }
    let spec = berth_runtime::default_spec();
    spec.save(&path)
        .with_context(|| format!("write {}", path.display()))?;
    Ok(())
}

/// `update`: resources from JSON (`-r FILE` or `-r -`) or from flags.
fn update_resources(a: &UpdateArgs) -> Result<LinuxResources> {
    if let Some(src) = &a.resources {
        let mut data = Vec::new();
        if src == Path::new("-") {
            std::io::stdin()
                .read_to_end(&mut data)
                .context("read resources from stdin")?;
        } else {
            data = std::fs::read(src).with_context(|| format!("read {}", src.display()))?;
        }
        return serde_json::from_slice(&data).context("parse resources JSON");
    }
    let mut r = LinuxResources::default();
    if a.memory.is_some() || a.memory_swap.is_some() || a.memory_reservation.is_some() {
        let mut m = LinuxMemory::default();
        m.set_limit(a.memory.as_deref().map(parse_bytes).transpose()?);
        m.set_swap(a.memory_swap.as_deref().map(parse_bytes).transpose()?);
        m.set_reservation(
            a.memory_reservation
                .as_deref()
                .map(parse_bytes)
                .transpose()?,
        );
        r.set_memory(Some(m));
    }
    if a.cpu_shares.is_some()
        || a.cpu_quota.is_some()
        || a.cpu_period.is_some()
        || a.cpuset_cpus.is_some()
        || a.cpuset_mems.is_some()
    {
        let mut c = LinuxCpu::default();
        c.set_shares(a.cpu_shares);
        c.set_quota(a.cpu_quota);
        c.set_period(a.cpu_period);
        c.set_cpus(a.cpuset_cpus.clone());
        c.set_mems(a.cpuset_mems.clone());
        r.set_cpu(Some(c));
    }
    if let Some(limit) = a.pids_limit {
        let mut p = LinuxPids::default();
        p.set_limit(limit);
        r.set_pids(Some(p));
    }
    Ok(r)
}

/// `64m`, `1g`, `1024`, `-1`.
fn parse_bytes(s: &str) -> Result<i64> {
    let s = s.trim().to_ascii_lowercase();
    if s == "-1" {
        return Ok(-1);
    }
    let (num, mult) = match s.chars().last() {
        Some('k') => (&s[..s.len() - 1], 1i64 << 10),
        Some('m') => (&s[..s.len() - 1], 1 << 20),
        Some('g') => (&s[..s.len() - 1], 1 << 30),
        Some('b') => (&s[..s.len() - 1], 1),
        _ => (&s[..], 1),
    };
    Ok(num
        .parse::<i64>()
        .with_context(|| format!("invalid size {s:?}"))?
        * mult)
}

/// `exec --cap`: added to the bounding, effective, permitted and ambient
/// sets (not the inheritable one, since runc's CVE-2022-29162 fix);
/// unknown names are warned about and left out, as runc does.
fn add_capabilities(p: &mut Process, names: &[String]) {
    let (known, unknown) = berth_runtime::spec_file::known_capabilities(names);
    berth_runtime::spec_file::warn_unknown(&unknown);
    let mut caps = p.capabilities().clone().unwrap_or_default();
    let add = |set: Option<oci_spec::runtime::Capabilities>| {
        let mut set = set.unwrap_or_default();
        set.extend(known.iter().copied());
        Some(set)
    };
    caps.set_bounding(add(caps.bounding().clone()));
    caps.set_effective(add(caps.effective().clone()));
    caps.set_permitted(add(caps.permitted().clone()));
    caps.set_ambient(add(caps.ambient().clone()));
    p.set_capabilities(Some(caps));
}
