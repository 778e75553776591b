//! `system df` and `system check`.

use std::io::Write;

use anyhow::Result;
use berth_engine::Engine;
use serde_json::{Value, json};

use super::images::since;
use crate::cli::{CheckArgs, DfArgs};
use crate::format::{self, units};

/// Containers: their writable layers; reclaimable is what stopped ones hold.
fn containers_row(engine: &Engine) -> Result<Value> {
    let rows = engine.containers()?;
    let (mut size, mut reclaimable, mut active) = (0u64, 0u64, 0usize);
    for r in &rows {
        let (rw, _) = engine.container_size(&r.id);
        size += rw;
        if r.state.is_live() {
            active += 1;
        } else {
            reclaimable += rw;
        }
    }
    let pct = (reclaimable * 100).checked_div(size).unwrap_or(0);
    Ok(
        json!({"Type": "Containers", "TotalCount": rows.len().to_string(), "Active": active.to_string(),
              "Size": units::human_size(size, 4),
              "Reclaimable": format!("{} ({pct}%)", units::human_size(reclaimable, 4))}),
    )
}

fn volumes_row(engine: &Engine) -> Result<Value> {
    let volumes = engine.volumes()?;
    let active = volumes.iter().filter(|v| !v.users.is_empty()).count();
    let size: u64 = volumes.iter().map(|v| tree_size(&v.mountpoint)).sum();
    let reclaimable: u64 = volumes
        .iter()
        .filter(|v| v.users.is_empty())
        .map(|v| tree_size(&v.mountpoint))
        .sum();
    let pct = (reclaimable * 100).checked_div(size).unwrap_or(0);
    Ok(
        json!({"Type": "Local Volumes", "TotalCount": volumes.len().to_string(), "Active": active.to_string(),
              "Size": units::human_size(size, 4),
              "Reclaimable": format!("{} ({pct}%)", units::human_size(reclaimable, 4))}),
    )
}

fn tree_size(path: &std::path::Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(path) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => tree_size(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

/// Build Cache: until builds land, the partial downloads pulls left to
/// resume from — reclaimable unless a pull is writing them now.
fn partials_row(partials: &[berth_image::content::PartialDownload]) -> Value {
    let size: u64 = partials.iter().map(|p| p.size).sum();
    let idle: u64 = partials.iter().filter(|p| !p.held).map(|p| p.size).sum();
    let active = partials.iter().filter(|p| p.held).count();
    json!({"Type": "Build Cache", "TotalCount": partials.len().to_string(), "Active": active.to_string(),
          "Size": units::human_size(size, 4), "Reclaimable": units::human_size(idle, 4)})
}

pub fn df(engine: &Engine, args: DfArgs) -> Result<u8> {
    let usage = engine.disk_usage()?;
    let pct = |part: u64, whole: u64| (part * 100).checked_div(whole).unwrap_or(0);
    let rows = vec![
        json!({
            "Type": "Images",
            "TotalCount": usage.images.len().to_string(),
            "Active": usage.active_images.to_string(),
            "Size": units::human_size(usage.layers_size, 4),
            "Reclaimable": format!("{} ({}%)", units::human_size(usage.images_reclaimable, 4), pct(usage.images_reclaimable, usage.layers_size)),
        }),
        containers_row(engine)?,
        volumes_row(engine)?,
        partials_row(&usage.partial_downloads),
    ];
    let header = json!({"Type": "TYPE", "TotalCount": "TOTAL", "Active": "ACTIVE", "Size": "SIZE", "Reclaimable": "RECLAIMABLE"});
    let default = "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}";
    let mut text = format::render_rows(args.format.as_deref(), default, &header, &rows)?;
    if args.verbose && args.format.is_none() {
        let image_rows: Vec<Value> = usage
            .images
            .iter()
            .flat_map(|u| {
                let tags: Vec<(String, String)> = if u.summary.repo_tags.is_empty() {
                    vec![("<none>".into(), "<none>".into())]
                } else {
                    u.summary.repo_tags.iter().map(|t| (t.familiar_name(), t.tag().unwrap_or("<none>").to_string())).collect()
                };
                tags.into_iter().map(move |(repo, tag)| {
                    json!({
                        "Repository": repo, "Tag": tag, "ID": u.summary.id.short(),
                        "CreatedSince": u.summary.created.map(since).unwrap_or_else(|| "N/A".into()),
                        "Size": units::human_size(u.summary.size, 4),
                        "SharedSize": units::human_size(u.shared_size, 4),
                        "UniqueSize": units::human_size(u.unique_size, 4),
                        "Containers": u.summary.containers.to_string(),
                    })
                })
            })
            .collect();
        let header = json!({"Repository": "REPOSITORY", "Tag": "TAG", "ID": "IMAGE ID", "CreatedSince": "CREATED", "Size": "SIZE", "SharedSize": "SHARED SIZE", "UniqueSize": "UNIQUE SIZE", "Containers": "CONTAINERS"});
        text = String::from("Images space usage:\n\n");
        text.push_str(&format::render_rows(
            None,
            "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}\t{{.SharedSize}}\t{{.UniqueSize}}\t{{.Containers}}",
            &header,
            &image_rows,
        )?);
    }
    crate::output::print(&text)?;
    Ok(0)
}

pub fn check(engine: &Engine, args: CheckArgs) -> Result<u8> {
    let report = engine.check(args.repair)?;
    let mut out = crate::output::stdout();
    for p in &report.problems {
        writeln!(out, "problem: {p}")?;
    }
    for r in &report.repaired {
        writeln!(out, "repaired: {r}")?;
    }
    if report.partial_downloads.0 > 0 {
        writeln!(
            out,
            "kept for resuming pulls: {} partial download(s), {} (`berth image prune -a`, `berth system prune` or `--repair` remove them)",
            report.partial_downloads.0,
            units::human_size(report.partial_downloads.1, 3)
        )?;
    }
    let unrepaired = if args.repair {
        report
            .problems
            .iter()
            .filter(|p| matches!(p, berth_engine::system::Problem::Database(_)))
            .count()
    } else {
        report.problems.len()
    };
    writeln!(
        out,
        "checked {} blobs, {} images, {} snapshots: {}",
        report.blobs,
        report.images,
        report.snapshots,
        match (report.problems.len(), args.repair) {
            (0, _) => "no problems".to_string(),
            (n, false) => format!("{n} problem(s); run `berth system check --repair` to fix them"),
            (n, true) => format!("{n} problem(s), {} repaired", n - unrepaired),
        }
    )?;
    out.flush()?;
    Ok(if unrepaired == 0 { 0 } else { 1 })
}

/// `system restore`: what `berth daemon` does at its start, for hosts
/// without the daemon (contrib/systemd/berth-restore.service runs it at
/// boot): containers whose restart policy says so are started.
pub fn restore(engine: &Engine) -> Result<u8> {
    let mut failed = false;
    for (row, result) in engine.restore_containers()? {
        match result {
            Ok(()) => crate::output::print(&format!("{}\n", row.name))?,
            Err(e) => {
                eprintln!("Error: start {}: {e}", row.name);
                failed = true;
            }
        }
    }
    Ok(if failed { 1 } else { 0 })
}
