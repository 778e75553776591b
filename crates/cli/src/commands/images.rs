//! `images` / `image ls`.

use std::collections::BTreeMap;

use anyhow::Result;
use berth_engine::Engine;
use berth_engine::images::{ImageFilters, ImageSummary};
use serde_json::{Value, json};
use time::OffsetDateTime;

use super::short_id;
use crate::cli::ImagesArgs;
use crate::format::{self, units};

pub fn run(engine: &Engine, args: ImagesArgs) -> Result<u8> {
    let mut filters = args.filter.clone();
    if let Some(r) = &args.reference {
        filters.push(format!("reference={r}"));
    }
    let mut filters = ImageFilters::parse(&filters)?;
    filters.all = args.all;
    let images = engine.list_images(&filters)?;
    let rows: Vec<Value> = images
        .iter()
        .flat_map(|i| rows_for(i, args.digests, args.no_trunc))
        .collect();
    let default = if args.quiet {
        "{{.ID}}"
    } else if args.digests {
        "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
    } else {
        "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
    };
    let format = if args.quiet {
        None
    } else {
        args.format.as_deref()
    };
    let out = format::render_rows(format, default, &header(), &rows)?;
    crate::output::print(&out)?;
    Ok(0)
}

fn header() -> Value {
    json!({
        "Containers": "CONTAINERS", "CreatedAt": "CREATED AT", "CreatedSince": "CREATED", "Digest": "DIGEST",
        "ID": "IMAGE ID", "Repository": "REPOSITORY", "SharedSize": "SHARED SIZE", "Size": "SIZE",
        "Tag": "TAG", "UniqueSize": "UNIQUE SIZE", "VirtualSize": "VIRTUAL SIZE",
    })
}

/// One row per repository tag (and per digest with `--digests`), as Docker lists them.
fn rows_for(image: &ImageSummary, show_digests: bool, no_trunc: bool) -> Vec<Value> {
    let mut tags: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for t in &image.repo_tags {
        tags.entry(t.familiar_name())
            .or_default()
            .push(t.tag().unwrap_or("<none>").to_string());
    }
    let mut digests: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for d in &image.repo_digests {
        if let Some(digest) = d.digest() {
            digests
                .entry(d.familiar_name())
                .or_default()
                .push(digest.to_string());
        }
    }
    let mut rows = Vec::new();
    for (repo, repo_tags) in &tags {
        let repo_digests = digests.remove(repo).unwrap_or_default();
        for tag in repo_tags {
            if !show_digests || repo_digests.is_empty() {
                rows.push(row(image, repo, tag, "<none>", no_trunc));
            } else {
                for d in &repo_digests {
                    rows.push(row(image, repo, tag, d, no_trunc));
                }
            }
        }
    }
    for (repo, repo_digests) in &digests {
        if show_digests {
            for d in repo_digests {
                rows.push(row(image, repo, "<none>", d, no_trunc));
            }
        } else {
            rows.push(row(image, repo, "<none>", "", no_trunc));
        }
    }
    if rows.is_empty() {
        rows.push(row(image, "<none>", "<none>", "<none>", no_trunc));
    }
    rows
}

fn row(image: &ImageSummary, repo: &str, tag: &str, digest: &str, no_trunc: bool) -> Value {
    let size = units::human_size(image.size, 3);
    json!({
        "Containers": "N/A",
        "CreatedAt": image.created.map(created_at).unwrap_or_else(|| "N/A".into()),
        "CreatedSince": image.created.map(since).unwrap_or_else(|| "N/A".into()),
        "Digest": digest,
        "ID": short_id(&image.id, no_trunc),
        "Repository": repo,
        "SharedSize": "N/A",
        "Size": size,
        "Tag": tag,
        "UniqueSize": "N/A",
        "VirtualSize": size,
    })
}

/// "5 days ago".
pub fn since(t: OffsetDateTime) -> String {
    format!(
        "{} ago",
        units::human_duration((OffsetDateTime::now_utc() - t).whole_seconds())
    )
}

/// Go's `time.Time.String()` in UTC: "2026-11-28 14:37:00 +0000 UTC".
pub fn created_at(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02} +0000 UTC",
        t.year(),
        t.month() as u8,
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}
