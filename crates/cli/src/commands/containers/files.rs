//! `cp`, `export` and `diff`: the container's files.

use std::path::Path;

use anyhow::{Result, bail};
use berth_engine::Engine;
use berth_engine::containers::{copy, copy_archive};

use crate::cli::{ContainerArg, CpArgs, ExportArgs};

/// `NAME:PATH` names a container path; anything else (or a path starting
/// with `/` or `.`) is local, as Docker splits them.
fn split(arg: &str) -> Option<(&str, &str)> {
    if arg.starts_with('/') || arg.starts_with('.') {
        return None;
    }
    arg.split_once(':')
}

pub fn cp(engine: &Engine, a: CpArgs) -> Result<u8> {
    match (split(&a.source), split(&a.destination)) {
        (Some((name, path)), None) => {
            let row = engine.container(name)?;
            let root = engine.container_root(&row)?;
            let path = if a.follow_link {
                copy_archive::resolve_links(&root, path)?
            } else {
                path.to_string()
            };
            if a.destination == "-" {
                // A tar stream of it, as docker's `cp C:PATH -`.
                copy_archive::archive_out(&root, &path, std::io::stdout().lock())?;
                return Ok(0);
            }
            copy::copy_out(&root, &path, Path::new(&a.destination))?;
            progress(&a, Path::new(&a.destination));
        }
        (None, Some((name, path))) => {
            let row = engine.container(name)?;
            let root = engine.container_root(&row)?;
            if a.source == "-" {
                copy_archive::archive_in(&root, path, std::io::stdin().lock())?;
                return Ok(0);
            }
            copy::copy_in(Path::new(&a.source), &root, path)?;
            progress(&a, Path::new(&a.source));
        }
        (Some(_), Some(_)) => bail!("copying between containers is not supported"),
        (None, None) => bail!("must specify at least one container source"),
    }
    Ok(0)
}

/// Docker's closing line on a terminal (`Successfully copied 2.05kB to
/// /tmp/x`), the size being what the host side holds.
fn progress(a: &CpArgs, host_side: &Path) {
    use std::io::IsTerminal;
    if a.quiet || !std::io::stderr().is_terminal() {
        return;
    }
    fn size(p: &Path) -> u64 {
        match std::fs::symlink_metadata(p) {
            Ok(m) if m.is_dir() => std::fs::read_dir(p)
                .map(|d| d.flatten().map(|e| size(&e.path())).sum())
                .unwrap_or(0),
            Ok(m) => m.len(),
            Err(_) => 0,
        }
    }
    let target = if host_side.as_os_str() == "-" {
        "STDOUT".to_string()
    } else {
        a.destination.clone()
    };
    eprintln!(
        "Successfully copied {} to {target}",
        crate::format::units::human_size(size(host_side), 3)
    );
}

pub fn export(engine: &Engine, a: ExportArgs) -> Result<u8> {
    let row = engine.container(&a.container)?;
    let root = engine.container_root(&row)?;
    let out: Box<dyn std::io::Write> = match &a.output {
        Some(path) => Box::new(std::fs::File::create(path)?),
        None => {
            if rustix::termios::isatty(std::io::stdout()) {
                bail!("cowardly refusing to save to a terminal. Use the -o flag or redirect");
            }
            Box::new(std::io::stdout().lock())
        }
    };
    berth_image::diff::write_layer_at(
        std::os::fd::AsFd::as_fd(&root.fd),
        std::path::Path::new(&format!("container {}", row.id)),
        out,
    )?;
    Ok(0)
}

pub fn diff(engine: &Engine, a: ContainerArg) -> Result<u8> {
    let row = engine.container(&a.container)?;
    let mut out = String::new();
    for (kind, path) in engine.container_changes(&row)? {
        out.push_str(&format!("{} {path}\n", kind.letter()));
    }
    crate::output::print(&out)?;
    Ok(0)
}
