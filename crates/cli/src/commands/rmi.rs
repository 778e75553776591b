//! `rmi` / `image rm`, and `image prune`.

use std::io::Write;

use anyhow::Result;
use berth_engine::Engine;
use berth_engine::images::{ImageFilters, RemoveEvent};

use crate::cli::{PruneArgs, RmiArgs};
use crate::format::units;

pub fn run(engine: &Engine, args: RmiArgs) -> Result<u8> {
    let mut code = 0;
    let mut out = crate::output::stdout();
    for name in &args.images {
        match engine.remove_image(name, args.force) {
            Ok(events) => {
                for e in events {
                    writeln!(out, "{}", line(&e, false))?;
                }
            }
            Err(e) => {
                out.flush()?;
                eprintln!("Error response from daemon: {e}");
                // As docker: with --force, an image that is not there is
                // said but is no failure.
                if !(args.force && e.kind == berth_engine::error::ErrorKind::NotFound) {
                    code = 1;
                }
            }
        }
    }
    out.flush()?;
    Ok(code)
}

pub(super) fn line(e: &RemoveEvent, lowercase: bool) -> String {
    let (verb, what) = match e {
        RemoveEvent::Untagged(r) => ("Untagged", r.familiar_string()),
        RemoveEvent::Deleted(d) => ("Deleted", d.to_string()),
    };
    if lowercase {
        format!("{}: {what}", verb.to_lowercase())
    } else {
        format!("{verb}: {what}")
    }
}

pub fn prune(engine: &Engine, args: PruneArgs) -> Result<u8> {
    let filters = ImageFilters::parse(&args.filter)?;
    if !args.force {
        let warning = if args.all {
            "WARNING! This will remove all images without at least one container associated to them."
        } else {
            "WARNING! This will remove all dangling images."
        };
        if !super::prune::confirm(warning)? {
            return Ok(0);
        }
    }
    let report = engine.prune_images(args.all, &filters)?;
    let mut out = crate::output::stdout();
    if !report.events.is_empty() {
        writeln!(out, "Deleted Images:")?;
        for e in &report.events {
            writeln!(out, "{}", line(e, true))?;
        }
        writeln!(out)?;
    }
    writeln!(
        out,
        "Total reclaimed space: {}",
        units::human_size(report.reclaimed, 4)
    )?;
    out.flush()?;
    Ok(0)
}
