//! `cp` as tar streams (`cp C:PATH -`, `cp - C:DIR`, and the API's
//! `archive` endpoints): staged through a private directory with the
//! confined copies of `copy.rs`, so a stream never touches the container
//! by a path the container could redirect.

use std::io::{Read, Write};
use std::path::Path;

use super::copy::{self, PathStat};
use super::root::ContainerRoot;
use crate::error::{Error, Result};

/// Follows `path` while it is a symlink in the container (`cp -L`), each
/// target read inside the root; at most 40 links, as the kernel.
pub fn resolve_links(root: &ContainerRoot, path: &str) -> Result<String> {
    let mut current = path.to_string();
    for _ in 0..40 {
        let stat = copy::stat_path(root, &current)?;
        if stat.mode & (1 << 27) == 0 {
            return Ok(current);
        }
        let target = Path::new(&stat.link_target);
        current = if target.is_absolute() {
            stat.link_target.clone()
        } else {
            Path::new(&current)
                .parent()
                .unwrap_or(Path::new("/"))
                .join(target)
                .to_string_lossy()
                .into_owned()
        };
    }
    Err(Error::invalid(format!(
        "{path}: too many levels of symbolic links"
    )))
}

/// Writes `path` (a file, a directory with what it holds, or a symlink
/// itself) as a tar stream named by its last component, as docker's
/// archive; returns its stat.
pub fn archive_out(root: &ContainerRoot, path: &str, out: impl Write) -> Result<PathStat> {
    let stat = copy::stat_path(root, path)?;
    let staging = staging_dir()?;
    let source = staging
        .path()
        .join(if stat.name == "/" { "root" } else { &stat.name });
    copy::copy_out(root, path, &source)?;
    let mut builder = tar::Builder::new(out);
    builder.follow_symlinks(false);
    let name = if stat.name == "/" {
        "."
    } else {
        stat.name.as_str()
    };
    let written = if source.is_dir() && !source.is_symlink() {
        builder.append_dir_all(name, &source)
    } else {
        builder.append_path_with_name(&source, name)
    }
    .and_then(|_| builder.finish());
    written.map_err(|e| Error::internal(format!("write the archive of {path}: {e}")))?;
    Ok(stat)
}

/// Extracts a tar stream into the container directory `dir`, modes kept,
/// owned by the container's root, as docker's `cp - C:DIR` (without -a).
pub fn archive_in(root: &ContainerRoot, dir: &str, input: impl Read) -> Result<()> {
    let stat = copy::stat_path(root, dir)?;
    if stat.mode & (1 << 31) == 0 {
        return Err(Error::invalid(format!(
            "extraction point is not a directory: {dir}"
        )));
    }
    let staging = staging_dir()?;
    let mut archive = tar::Archive::new(input);
    archive.set_preserve_permissions(true);
    archive.set_overwrite(true);
    archive
        .unpack(staging.path())
        .map_err(|e| Error::invalid(format!("extract the archive: {}", chain(&e))))?;
    let entries = std::fs::read_dir(staging.path())
        .map_err(|e| Error::internal(format!("read the staging directory: {e}")))?;
    for entry in entries.flatten() {
        let dest = Path::new(dir).join(entry.file_name());
        copy::copy_in(&entry.path(), root, &dest.to_string_lossy())?;
    }
    Ok(())
}

fn staging_dir() -> Result<tempfile::TempDir> {
    tempfile::Builder::new()
        .prefix("berth-archive-")
        .tempdir()
        .map_err(|e| Error::internal(format!("make a staging directory: {e}")))
}

/// An error with its causes (the tar crate's says only which entry).
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(&format!(": {s}"));
        source = s.source();
    }
    text
}
