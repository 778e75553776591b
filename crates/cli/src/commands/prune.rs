//! Every prune asks first, as docker does: the warning and `[y/N]` on
//! stdout, anything but y/yes keeps everything (exit 0); `-f` skips it.
//! `system prune` runs the others in docker's order and adds up what they
//! freed.

use std::io::{BufRead, Write};

use anyhow::Result;
use berth_engine::Engine;
use berth_engine::containers::prune::ContainerPruneFilters;
use berth_engine::images::ImageFilters;

use crate::cli::SystemPruneArgs;
use crate::format::units;

/// Asks `warning` and whether to continue; true on y or yes.
pub fn confirm(warning: &str) -> Result<bool> {
    let mut out = std::io::stdout().lock();
    write!(out, "{warning}\nAre you sure you want to continue? [y/N] ")?;
    out.flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(matches!(answer.trim().to_lowercase().as_str(), "y" | "yes"))
}

/// `container prune` (and system prune's first step): the output block
/// and the bytes freed.
pub fn containers(engine: &Engine, filters: &[String]) -> Result<(String, u64)> {
    let filters = ContainerPruneFilters::parse(filters)?;
    let (deleted, reclaimed) = engine.prune_containers(&filters)?;
    Ok((block("Deleted Containers", &deleted), reclaimed))
}

/// `title:` and a line per name; nothing when there are none.
pub fn block(title: &str, names: &[String]) -> String {
    if names.is_empty() {
        return String::new();
    }
    let mut out = format!("{title}:\n");
    for n in names {
        out.push_str(n);
        out.push('\n');
    }
    out
}

pub fn system(engine: &Engine, a: SystemPruneArgs) -> Result<u8> {
    // Volumes record no time to compare with (docker's words).
    if a.volumes && a.prune.filter.iter().any(|f| f.starts_with("until=")) {
        anyhow::bail!("ERROR: The \"until\" filter is not supported with \"--volumes\"");
    }
    // Bad filters are refused before anything is asked or removed.
    ContainerPruneFilters::parse(&a.prune.filter)?;
    let image_filters = ImageFilters::parse(&a.prune.filter)?;
    if !a.prune.force {
        let mut warning = String::from(
            "WARNING! This will remove:\n  - all stopped containers\n  - all networks not used by at least one container",
        );
        if a.volumes {
            warning.push_str("\n  - all anonymous volumes not used by at least one container");
        }
        warning.push_str(if a.prune.all {
            "\n  - all images without at least one container associated to them\n  - all build cache"
        } else {
            "\n  - all dangling images\n  - unused build cache"
        });
        if !a.prune.filter.is_empty() {
            warning.push_str("\n\n  Items to be pruned will be filtered with:");
            for f in &a.prune.filter {
                warning.push_str(&format!("\n  - {f}"));
            }
        }
        warning.push('\n');
        if !confirm(&warning)? {
            return Ok(0);
        }
    }
    let mut out = crate::output::stdout();
    let mut total = 0u64;
    let section = |out: &mut dyn Write, text: String| -> Result<()> {
        if !text.is_empty() {
            writeln!(out, "{text}")?;
        }
        Ok(())
    };
    let (text, freed) = containers(engine, &a.prune.filter)?;
    total += freed;
    section(&mut out, text)?;
    // Networks take the containers' filters.
    let network_filters =
        berth_engine::containers::prune::ContainerPruneFilters::parse(&a.prune.filter)?;
    section(
        &mut out,
        block(
            "Deleted Networks",
            &engine.prune_networks(&network_filters)?,
        ),
    )?;
    // Volumes record no creation time to filter on here: with filters
    // they are left alone rather than pruned unfiltered.
    if a.prune.filter.is_empty() && a.volumes {
        section(
            &mut out,
            block(
                "Deleted Volumes",
                &engine.prune_volumes(&Default::default())?,
            ),
        )?;
    }
    let report = engine.prune_images(a.prune.all, &image_filters)?;
    total += report.reclaimed;
    if !report.events.is_empty() {
        let lines: Vec<String> = report
            .events
            .iter()
            .map(|e| super::rmi::line(e, true))
            .collect();
        section(&mut out, block("Deleted Images", &lines))?;
    }
    // The build cache: the builder's (its entries and the images only
    // they kept), and partial downloads no pull is writing (`-a` took
    // them with the images already).
    if a.prune.filter.is_empty() {
        total += engine.prune_build_cache(None, None)?.1;
    }
    if !a.prune.all && a.prune.filter.is_empty() {
        total += engine.prune_partial_downloads()?;
    }
    writeln!(
        out,
        "Total reclaimed space: {}",
        units::human_size(total, 4)
    )?;
    out.flush()?;
    Ok(0)
}
