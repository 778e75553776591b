//! stop, restart, kill, pause, unpause, rm, wait and container prune: each
//! takes several containers, prints the name it was given for each success
//! and reports failures at the end, as Docker does.

use anyhow::Result;
use berth_engine::Engine;

use crate::cli::{ContainersArgs, KillArgs, PruneArgs, RmArgs, StopArgs};

/// Runs `op` on every name; prints the name on success, the error on failure.
fn each(
    names: &[String],
    mut op: impl FnMut(&str) -> berth_engine::Result<Option<String>>,
) -> Result<u8> {
    let mut failed = false;
    for name in names {
        match op(name) {
            Ok(out) => crate::output::print(&format!("{}\n", out.unwrap_or_else(|| name.clone())))?,
            Err(e) => {
                eprintln!("Error response from daemon: {e}");
                failed = true;
            }
        }
    }
    Ok(if failed { 1 } else { 0 })
}

/// `-t`/`--timeout`, or the deprecated `--time` (said as docker's CLI
/// says it, on stdout).
fn timeout(a: &StopArgs) -> Result<Option<i64>> {
    if a.deprecated_time.is_some() {
        crate::output::print("Flag --time has been deprecated, use --timeout instead\n")?;
    }
    Ok(a.time.or(a.deprecated_time))
}

pub fn stop(engine: &Engine, a: StopArgs) -> Result<u8> {
    let time = timeout(&a)?;
    each(&a.containers, |n| {
        engine
            .stop_container(n, time, a.signal.as_deref())
            .map(|_| None)
    })
}

pub fn restart(engine: &Engine, a: StopArgs) -> Result<u8> {
    let time = timeout(&a)?;
    each(&a.containers, |n| {
        engine
            .restart_container(n, time, a.signal.as_deref())
            .map(|_| None)
    })
}

pub fn kill(engine: &Engine, a: KillArgs) -> Result<u8> {
    each(&a.containers, |n| {
        engine.kill_container(n, &a.signal).map(|_| None)
    })
}

pub fn pause(engine: &Engine, a: ContainersArgs) -> Result<u8> {
    each(&a.containers, |n| engine.pause_container(n).map(|_| None))
}

pub fn unpause(engine: &Engine, a: ContainersArgs) -> Result<u8> {
    each(&a.containers, |n| engine.unpause_container(n).map(|_| None))
}

pub fn rm(engine: &Engine, a: RmArgs) -> Result<u8> {
    let mut failed = false;
    for name in &a.containers {
        match engine.remove_container(name, a.force, a.volumes) {
            Ok(_) => crate::output::print(&format!("{name}\n"))?,
            Err(e) => {
                eprintln!("Error response from daemon: {e}");
                // As docker: with --force, a container that is not there
                // is said but is no failure (scripts clean up with it).
                failed |= !(a.force && e.kind == berth_engine::error::ErrorKind::NotFound);
            }
        }
    }
    Ok(u8::from(failed))
}

pub fn wait(engine: &Engine, a: ContainersArgs) -> Result<u8> {
    each(&a.containers, |n| {
        engine.wait_container(n).map(|code| Some(code.to_string()))
    })
}

pub fn prune(engine: &Engine, a: PruneArgs) -> Result<u8> {
    // Bad filters are refused before anything is asked.
    berth_engine::containers::prune::ContainerPruneFilters::parse(&a.filter)?;
    if !a.force
        && !crate::commands::prune::confirm("WARNING! This will remove all stopped containers.")?
    {
        return Ok(0);
    }
    let (mut out, reclaimed) = crate::commands::prune::containers(engine, &a.filter)?;
    if !out.is_empty() {
        out.push('\n');
    }
    out.push_str(&format!(
        "Total reclaimed space: {}\n",
        crate::format::units::human_size(reclaimed, 4)
    ));
    crate::output::print(&out)?;
    Ok(0)
}
