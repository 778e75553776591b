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
    Ok(
        json!({"Type": "Containers", "TotalCount": rows.len().to_string(), "Active": active.to_string(),
              "Size": units::human_size(size, 4),
              "Reclaimable": reclaimable_text(reclaimable, size)}),
    )
}

/// Volumes whose data is on the store's disk: docker's df leaves out those
/// the local driver mounts from elsewhere (`-o type=… device=…`).
fn counted_volumes(engine: &Engine) -> Result<Vec<berth_engine::containers::volumes::Volume>> {
    let mut volumes = engine.volumes()?;
    volumes.retain(|v| v.options.is_empty());
    Ok(volumes)
}

/// docker's "SIZE (PCT%)", the percentage only of something.
fn reclaimable_text(reclaimable: u64, total: u64) -> String {
    match (reclaimable * 100).checked_div(total) {
        Some(pct) => format!("{} ({pct}%)", units::human_size(reclaimable, 4)),
        None => units::human_size(reclaimable, 4),
    }
}

fn volumes_row(engine: &Engine) -> Result<Value> {
    let volumes = counted_volumes(engine)?;
    let active = volumes.iter().filter(|v| !v.users.is_empty()).count();
    let size: u64 = volumes.iter().map(|v| tree_size(&v.mountpoint)).sum();
    let reclaimable: u64 = volumes
        .iter()
        .filter(|v| v.users.is_empty())
        .map(|v| tree_size(&v.mountpoint))
        .sum();
    Ok(
        json!({"Type": "Local Volumes", "TotalCount": volumes.len().to_string(), "Active": active.to_string(),
              "Size": units::human_size(size, 4),
              "Reclaimable": reclaimable_text(reclaimable, size)}),
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

/// Build Cache: the builder's entries (the images of cached steps; those
/// only the cache keeps are reclaimable), and the partial downloads pulls
/// left to resume from (reclaimable unless a pull is writing them now).
fn build_cache_row(
    engine: &Engine,
    partials: &[berth_image::content::PartialDownload],
) -> Result<Value> {
    let (entries, cache_size, cache_reclaimable) = engine.build_cache_usage()?;
    let size: u64 = partials.iter().map(|p| p.size).sum::<u64>() + cache_size;
    let idle: u64 = partials
        .iter()
        .filter(|p| !p.held)
        .map(|p| p.size)
        .sum::<u64>()
        + cache_reclaimable;
    let active = partials.iter().filter(|p| p.held).count();
    Ok(
        json!({"Type": "Build Cache", "TotalCount": (partials.len() + entries).to_string(), "Active": active.to_string(),
          "Size": units::human_size(size, 4), "Reclaimable": units::human_size(idle, 4)}),
    )
}

/// `df -v`'s containers, as docker lays them out.
fn containers_section(engine: &Engine) -> Result<String> {
    let rows = container_rows(engine)?;
    let header = json!({"ID": "CONTAINER ID", "Image": "IMAGE", "Command": "COMMAND", "LocalVolumes": "LOCAL VOLUMES", "Size": "SIZE", "RunningFor": "CREATED", "Status": "STATUS", "Names": "NAMES"});
    Ok(format!(
        "\nContainers space usage:\n\n{}",
        format::render_rows(
            None,
            "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.LocalVolumes}}\t{{.Size}}\t{{.RunningFor}}\t{{.Status}}\t{{.Names}}",
            &header,
            &rows,
        )?
    ))
}

fn container_rows(engine: &Engine) -> Result<Vec<Value>> {
    let rows: Vec<Value> = engine
        .containers()?
        .iter()
        .map(|r| {
            let volumes = r
                .config
                .host
                .mounts
                .iter()
                .filter(|m| m.kind == berth_engine::containers::MountKind::Volume)
                .count();
            json!({
                "ID": r.id[..12].to_string(),
                "Image": r.image_name,
                "Command": super::containers::ps::command_text(r, false),
                "LocalVolumes": volumes.to_string(),
                "Size": units::human_size(engine.container_size(&r.id).0, 3),
                "RunningFor": format!(
                    "{} ago",
                    units::human_duration((berth_engine::now_nanos() - r.created_at) / 1_000_000_000)
                ),
                "Status": r.status_text(),
                "Names": r.name,
            })
        })
        .collect();
    Ok(rows)
}

fn volume_rows(engine: &Engine) -> Result<Vec<Value>> {
    Ok(counted_volumes(engine)?
        .iter()
        .map(|v| {
            let labels: Vec<String> = v.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
            json!({"Name": v.name, "Links": v.users.len().to_string(), "Driver": "local",
                   "Scope": "local", "Mountpoint": v.mountpoint, "Labels": labels.join(","),
                   "Size": units::human_size(tree_size(&v.mountpoint), 3)})
        })
        .collect())
}

/// `df -v`'s volumes.
fn volumes_section(engine: &Engine) -> Result<String> {
    let rows = volume_rows(engine)?;
    let header = json!({"Name": "VOLUME NAME", "Links": "LINKS", "Size": "SIZE"});
    Ok(format!(
        "\nLocal Volumes space usage:\n\n{}",
        format::render_rows(
            None,
            "table {{.Name}}\t{{.Links}}\t{{.Size}}",
            &header,
            &rows
        )?
    ))
}

/// `df -v`'s build cache: berth's are the downloads a pull can resume.
fn cache_section(partials: &[berth_image::content::PartialDownload]) -> Result<String> {
    let total: u64 = partials.iter().map(|p| p.size).sum();
    let rows = cache_rows(partials);
    let header = json!({"ID": "CACHE ID", "Type": "CACHE TYPE", "Size": "SIZE", "CreatedSince": "CREATED", "LastUsedSince": "LAST USED", "UsageCount": "USAGE", "Shared": "SHARED"});
    Ok(format!(
        "\nBuild cache usage: {}\n\n{}",
        units::human_size(total, 3),
        format::render_rows(
            None,
            "table {{.ID}}\t{{.Type}}\t{{.Size}}\t{{.CreatedSince}}\t{{.LastUsedSince}}\t{{.UsageCount}}\t{{.Shared}}",
            &header,
            &rows,
        )?
    ))
}

fn cache_rows(partials: &[berth_image::content::PartialDownload]) -> Vec<Value> {
    partials
        .iter()
        .map(|p| {
            let name = p
                .path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let id: String = name
                .trim_start_matches("partial-")
                .trim_start_matches("sha256-")
                .chars()
                .take(12)
                .collect();
            let used = p.age.map_or("N/A".to_string(), |a| {
                format!("{} ago", units::human_duration(a.as_secs() as i64))
            });
            json!({"ID": id, "Type": "partial download",
                   "Size": units::human_size(p.size, 3), "CreatedSince": used.clone(),
                   "LastUsedSince": used, "UsageCount": "0",
                   "Shared": if p.held { "true" } else { "false" }})
        })
        .collect()
}

/// `df -v`'s images, one row per tag.
fn image_rows(usage: &berth_engine::system::DiskUsage) -> Vec<Value> {
    usage
        .images
        .iter()
        .flat_map(|u| {
            // One row per image, named by its first tag, as docker's.
            let tags: Vec<(String, String)> = match u.summary.repo_tags.first() {
                None => vec![("<none>".into(), "<none>".into())],
                Some(t) => vec![(t.familiar_name(), t.tag().unwrap_or("<none>").to_string())],
            };
            tags.into_iter().map(move |(repo, tag)| {
                json!({
                    "Repository": repo, "Tag": tag, "ID": u.summary.id.short(),
                    "CreatedSince": u.summary.created.map(since).unwrap_or_else(|| "N/A".into()),
                    "Size": units::human_size(u.summary.size, 3),
                    "SharedSize": units::human_size(u.shared_size, 4),
                    "UniqueSize": units::human_size(u.unique_size, 4),
                    "Containers": u.summary.containers.to_string(),
                })
            })
        })
        .collect()
}

pub fn df(engine: &Engine, args: DfArgs) -> Result<u8> {
    let usage = engine.disk_usage()?;
    let rows = vec![
        json!({
            "Type": "Images",
            "TotalCount": usage.images.len().to_string(),
            "Active": usage.active_images.to_string(),
            "Size": units::human_size(usage.layers_size, 4),
            "Reclaimable": reclaimable_text(usage.images_reclaimable, usage.layers_size),
        }),
        containers_row(engine)?,
        volumes_row(engine)?,
        build_cache_row(engine, &usage.partial_downloads)?,
    ];
    let header = json!({"Type": "TYPE", "TotalCount": "TOTAL", "Active": "ACTIVE", "Size": "SIZE", "Reclaimable": "RECLAIMABLE"});
    let default = "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}";
    let custom = args.format.as_deref().filter(|f| *f != "table");
    if args.verbose
        && let Some(template) = custom
    {
        // docker runs a custom template once over the four lists.
        let all = json!({
            "Images": image_rows(&usage),
            "Containers": container_rows(engine)?,
            "Volumes": volume_rows(engine)?,
            "BuildCache": cache_rows(&usage.partial_downloads),
        });
        crate::output::print(&format::Template::parse(template)?.render(&all)?)?;
        return Ok(0);
    }
    let mut text = format::render_rows(args.format.as_deref(), default, &header, &rows)?;
    if args.verbose {
        let image_rows = image_rows(&usage);
        let header = json!({"Repository": "REPOSITORY", "Tag": "TAG", "ID": "IMAGE ID", "CreatedSince": "CREATED", "Size": "SIZE", "SharedSize": "SHARED SIZE", "UniqueSize": "UNIQUE SIZE", "Containers": "CONTAINERS"});
        text = String::from("Images space usage:\n\n");
        text.push_str(&format::render_rows(
            None,
            "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}\t{{.SharedSize}}\t{{.UniqueSize}}\t{{.Containers}}",
            &header,
            &image_rows,
        )?);
        text.push_str(&containers_section(engine)?);
        text.push_str(&volumes_section(engine)?);
        text.push_str(&cache_section(&usage.partial_downloads)?);
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
