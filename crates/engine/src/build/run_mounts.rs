//! `RUN --mount=…`: what each mount is for the step's container, and what
//! it adds to the step's cache key (what the mount shows, never where
//! berth keeps it).
//!
//! - `cache`: a directory of the store's that outlives builds (by `id`,
//!   else by target).
//! - `bind`: a path of the build context, or with `from=` of another stage
//!   or image; read-only unless `rw` (then writes are discarded with the
//!   step). A context source is keyed by its content (all of it: the
//!   mount shows .dockerignore'd files too); a
//!   stage or image by its ID. A `from=` mount, and every `rw` one, is an
//!   overlay mounted under the build's scratch directory when the step
//!   runs (a cache hit mounts nothing; the container's monitor binds it
//!   from there), unmounted after the step;
//!   a build killed meanwhile leaves it to the next start's sweep
//!   ([`unmount_below`]).
//! - `tmpfs`: a tmpfs (`size=`).
//! - `secret`: the file given with `--secret id=…`, read-only (not keyed by
//!   its content: a secret must not leak into a cache key).

use std::collections::BTreeMap;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use berth_image::digest::Hasher;

use super::Build;
use super::tree::{self, Tree, clean_source};
use crate::containers::{MountKind, MountSpec};
use crate::error::{Error, Result};

/// One `--mount` of a RUN step.
pub(super) struct RunMount {
    pub spec: MountSpec,
    /// What the mount shows, for the cache key.
    pub key: String,
    source: Source,
    /// An overlay mounted for the step, to unmount after it.
    pub attached: Option<PathBuf>,
    /// The `--mount` value, for errors.
    text: String,
}

/// Where a mount's source comes from.
enum Source {
    /// `spec.source` as made.
    Given,
    /// A host path: the bind's source.
    Path(PathBuf),
    /// `rel` inside an overlay of `lowers` (top-most first; none: empty),
    /// mounted when the step runs.
    Overlay { lowers: Vec<PathBuf>, rel: String },
}

impl Build<'_> {
    pub(super) fn run_mount(&self, stage: usize, spec: &str) -> Result<Option<RunMount>> {
        let mut kind = "bind";
        let mut options = BTreeMap::new();
        for part in spec.split(',') {
            let (k, v) = part.split_once('=').unwrap_or((part, ""));
            if k == "type" {
                kind = v;
            } else {
                options.insert(k.to_string(), v.to_string());
            }
        }
        let target = options
            .get("target")
            .or_else(|| options.get("dst"))
            .or_else(|| options.get("destination"))
            .cloned();
        let need_target = || {
            target
                .clone()
                .filter(|t| !t.is_empty())
                .ok_or_else(|| Error::invalid(format!("--mount {spec}: a target is required")))
        };
        let plain = |kind: MountKind, source: String, target: String, read_only: bool| MountSpec {
            kind,
            source,
            target,
            read_only,
            options: Vec::new(),
            anonymous: false,
        };
        match kind {
            "cache" => {
                let target = need_target()?;
                let id = options.get("id").cloned().unwrap_or_else(|| target.clone());
                let dir = self
                    .engine
                    .paths
                    .root
                    .join("build-cache-mounts")
                    .join(berth_image::Digest::of(id.as_bytes()).hex());
                std::fs::create_dir_all(&dir).map_err(|e| {
                    Error::internal(format!("create cache mount {}: {e}", dir.display()))
                })?;
                Ok(Some(RunMount {
                    spec: plain(
                        MountKind::Bind,
                        dir.to_string_lossy().into_owned(),
                        target.clone(),
                        false,
                    ),
                    key: format!("cache {target} {id}"),
                    source: Source::Given,
                    attached: None,
                    text: spec.to_string(),
                }))
            }
            "bind" => {
                let target = need_target()?;
                let source = options.get("source").or_else(|| options.get("src"));
                let rel = clean_source(source.map_or("", |s| s.as_str()))?;
                let rw = ["rw", "readwrite"]
                    .iter()
                    .any(|k| options.get(*k).is_some_and(|v| v.is_empty() || v == "true"));
                let (key, overlay) = match options.get("from") {
                    Some(from) => {
                        let image = self.source_image(stage, from)?;
                        let layers = self.engine.image_layers(&image)?;
                        let key = format!("bind {target} from {image} {rel} rw={rw}");
                        (key, Some(layers))
                    }
                    None => {
                        // Keyed by all the mount shows: the context's
                        // directory as it is, .dockerignore'd files too.
                        let mut whole = self.context.try_clone()?;
                        whole.ignore = Default::default();
                        let mut hasher = Hasher::new();
                        whole.hash(&tree::Source { rel: rel.clone() }, &mut hasher)?;
                        let key = format!("bind {target} {rel} {} rw={rw}", hasher.finish());
                        // rw: the whole context as the overlay's layer (a
                        // file source cannot be one).
                        let overlay = rw
                            .then(|| real_path(self.context, "", spec).map(|r| vec![r]))
                            .transpose()?;
                        (key, overlay)
                    }
                };
                let source = match overlay {
                    // Mounted only when the step runs (a cache hit needs
                    // the key alone).
                    Some(lowers) => Source::Overlay { lowers, rel },
                    None => Source::Path(real_path(self.context, &rel, spec)?),
                };
                Ok(Some(RunMount {
                    spec: plain(MountKind::Bind, String::new(), target, !rw),
                    key,
                    source,
                    attached: None,
                    text: spec.to_string(),
                }))
            }
            "tmpfs" => {
                let target = need_target()?;
                let size = options.get("size").cloned();
                Ok(Some(RunMount {
                    spec: MountSpec {
                        options: size.iter().map(|s| format!("size={s}")).collect(),
                        ..plain(MountKind::Tmpfs, String::new(), target.clone(), false)
                    },
                    key: format!("tmpfs {target} {}", size.unwrap_or_default()),
                    source: Source::Given,
                    attached: None,
                    text: spec.to_string(),
                }))
            }
            "secret" => {
                let id = options
                    .get("id")
                    .cloned()
                    .or_else(|| {
                        target
                            .as_ref()
                            .and_then(|t| t.rsplit('/').next().map(str::to_string))
                    })
                    .unwrap_or_default();
                let target = target.unwrap_or_else(|| format!("/run/secrets/{id}"));
                match self.options.secrets.get(&id) {
                    Some(src) => Ok(Some(RunMount {
                        spec: plain(
                            MountKind::Bind,
                            src.to_string_lossy().into_owned(),
                            target.clone(),
                            true,
                        ),
                        key: format!("secret {target} {id}"),
                        source: Source::Given,
                        attached: None,
                        text: spec.to_string(),
                    })),
                    None if options.contains_key("required")
                        && options.get("required").map(String::as_str) != Some("false") =>
                    {
                        Err(Error::invalid(format!("secret {id} not found")))
                    }
                    None => Ok(None),
                }
            }
            "ssh" => Err(Error::unsupported(format!(
                "--mount {spec}: SSH agent forwarding is not supported by berth"
            ))),
            other => Err(Error::unsupported(format!(
                "--mount type={other} is not supported by berth (cache, bind, tmpfs, secret)"
            ))),
        }
    }

    /// Mounts what `mount` shows if it is an overlay, and sets its
    /// source; the step's container is about to be created.
    pub(super) fn attach(&self, mount: &mut RunMount) -> Result<()> {
        match &mount.source {
            Source::Given => {}
            Source::Path(path) => mount.spec.source = path.to_string_lossy().into_owned(),
            Source::Overlay { lowers, rel } => {
                let point = self.attach_overlay(lowers.clone())?;
                // Unmounted with the step from here on, whatever happens.
                mount.attached = Some(point.clone());
                let tree = Tree::open(&point, "the mounted tree", Default::default())?;
                let real = real_path(&tree, rel, &mount.text)?;
                mount.spec.source = real.to_string_lossy().into_owned();
            }
        }
        Ok(())
    }

    /// An overlay of `lowers` (top-most first; none: an empty directory)
    /// with a throw-away writable layer, mounted under the scratch
    /// directory; its mount point.
    fn attach_overlay(&self, lowers: Vec<PathBuf>) -> Result<PathBuf> {
        let dir = self.scratch_dir()?;
        let snapshot = self.scratch_snapshot(&dir, lowers)?;
        let point = dir.join("root");
        crate::store::perms::create_dir(&point, 0o755)?;
        snapshot.mount(&point)?;
        Ok(point)
    }
}

/// `rel` resolved inside `tree` (never out of it): the host path it is.
fn real_path(tree: &Tree, rel: &str, spec: &str) -> Result<PathBuf> {
    let fd = tree
        .open_in(rel, rustix::fs::OFlags::PATH)
        .map_err(|e| tree.error("open", rel, e))?;
    std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd()))
        .map_err(|e| Error::internal(format!("--mount {spec}: {e}")))
}

/// Unmounts a step's overlay (lazily: the step's container is gone, but
/// a monitor may not have let go yet).
pub(super) fn unmount(point: &Path) {
    let _ = rustix::mount::unmount(point, rustix::mount::UnmountFlags::DETACH);
}

/// Unmounts whatever is mounted at or below `dir` (a dead build's scratch
/// directory), deepest first, so that it can be removed.
pub(super) fn unmount_below(dir: &Path) {
    let Ok(table) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return;
    };
    // mountinfo names mount points by their real paths.
    let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    let dir = dir.as_path();
    let mut points: Vec<PathBuf> = table
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(|p| PathBuf::from(unescape(p)))
        .filter(|p| p.starts_with(dir))
        .collect();
    points.sort_by_key(|p| std::cmp::Reverse(p.as_os_str().len()));
    for p in points {
        unmount(&p);
    }
}

/// mountinfo's octal escapes (`\040` for a space).
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\'
            && i + 3 < bytes.len()
            && let Some(v) = std::str::from_utf8(&bytes[i + 1..i + 4])
                .ok()
                .and_then(|o| u8::from_str_radix(o, 8).ok())
        {
            out.push(v);
            i += 4;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_escapes() {
        assert_eq!(unescape("/a\\040b/c"), "/a b/c");
        assert_eq!(unescape("/plain"), "/plain");
        assert_eq!(unescape("/end\\"), "/end\\");
    }
}
