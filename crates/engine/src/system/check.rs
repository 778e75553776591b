//! `system check [--repair]`: proves the store is whole.
//!
//! Verifies the database (integrity and foreign keys), every blob's digest,
//! every image's config, manifest, layer blobs and snapshots, and finds what
//! nothing references: orphan blobs, snapshots and directories, abandoned
//! ingests and trash. `--repair` removes orphans and images that cannot be
//! used (their content is missing or corrupt); it never invents content.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fs;
use std::path::PathBuf;

use berth_image::Digest;
use berth_image::spec::ImageConfig;

use crate::Engine;
use crate::error::{IoContext, Result};
use crate::images::record;
use crate::images::remove::delete_image;
use crate::store::gc::{self, Candidates};
use crate::store::{leases, snapshots};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    Database(String),
    CorruptBlob {
        digest: Digest,
        actual: Digest,
    },
    StrayFile(PathBuf),
    BrokenImage {
        image: Digest,
        reason: String,
    },
    OrphanBlob(Digest),
    OrphanSnapshot {
        id: i64,
        reason: &'static str,
    },
    MissingSnapshotDir(i64),
    Leftover(PathBuf),
    /// A store file or directory others may read or write though berth
    /// gives it a narrower mode.
    WideMode {
        path: PathBuf,
        mode: u32,
        expected: u32,
    },
    /// The networks' kernel state disagrees with the store.
    Network(crate::networks::check::NetworkProblem),
    /// A running container whose cgroup is frozen though no live commit
    /// holds it and nobody paused it (a commit killed before it let go).
    Frozen(String),
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::Database(m) => write!(f, "database: {m}"),
            Problem::Network(p) => write!(f, "{p}"),
            Problem::Frozen(id) => write!(
                f,
                "container {}: frozen, but not paused and no commit holds it",
                &id[..12.min(id.len())]
            ),
            Problem::CorruptBlob { digest, actual } => {
                write!(f, "blob {digest}: corrupt (content hashes to {actual})")
            }
            Problem::StrayFile(p) => write!(f, "{}: not a blob name", p.display()),
            Problem::BrokenImage { image, reason } => {
                write!(f, "image {}: {reason}", image.short())
            }
            Problem::OrphanBlob(d) => {
                write!(f, "blob {d}: orphan (no image or live operation uses it)")
            }
            Problem::OrphanSnapshot { id, reason } => write!(f, "snapshot {id}: {reason}"),
            Problem::MissingSnapshotDir(id) => write!(f, "snapshot {id}: directory missing"),
            Problem::Leftover(p) => {
                write!(f, "{}: left over by an interrupted operation", p.display())
            }
            Problem::WideMode {
                path,
                mode,
                expected,
            } => write!(
                f,
                "{}: mode {mode:04o} is wider than berth sets ({expected:04o})",
                path.display()
            ),
        }
    }
}

#[derive(Debug, Default)]
pub struct CheckReport {
    pub blobs: usize,
    pub images: usize,
    pub snapshots: usize,
    pub problems: Vec<Problem>,
    pub repaired: Vec<String>,
    /// Partial downloads kept for a resume: (how many, bytes). Not a
    /// problem (a pull picks them up), but space the user should see;
    /// `--repair` removes those no pull is writing.
    pub partial_downloads: (usize, u64),
}

impl Engine {
    pub fn check(&self, repair: bool) -> Result<CheckReport> {
        let mut report = CheckReport::default();
        self.check_database(&mut report)?;

        // Blobs on disk, each re-hashed.
        let (on_disk, strays) = self.paths.content.list()?;
        report.blobs = on_disk.len();
        let mut corrupt = BTreeSet::new();
        for digest in &on_disk {
            if let Some(actual) = self.paths.content.verify(digest)? {
                corrupt.insert(digest.clone());
                report.problems.push(Problem::CorruptBlob {
                    digest: digest.clone(),
                    actual,
                });
            }
        }
        report
            .problems
            .extend(strays.into_iter().map(Problem::StrayFile));
        let on_disk: HashSet<Digest> = on_disk.into_iter().collect();

        let (images, snapshot_rows, live) = self.db.read(|c| {
            let mut images = Vec::new();
            for row in record::all_kept(c)? {
                let layers = record::layers(c, &row.id)?;
                images.push((row, layers));
            }
            let (live, _) = leases::partition(c)?;
            Ok((images, snapshots::all(c)?, live))
        })?;
        report.images = images.len();
        report.snapshots = snapshot_rows.len();

        let ready: BTreeMap<&str, i64> = snapshot_rows
            .iter()
            .filter(|s| s.ready)
            .filter_map(|s| Some((s.diff_id.as_deref()?, s.id)))
            .collect();
        let mut used_blobs: HashSet<Digest> = HashSet::new();
        let mut used_diffs: HashSet<String> = HashSet::new();
        for (row, layers) in &images {
            let broken = |reason: String| Problem::BrokenImage {
                image: row.id.clone(),
                reason,
            };
            let mut needed = vec![("config", &row.id), ("manifest", &row.manifest.digest)];
            needed.extend(layers.iter().map(|l| ("layer", &l.blob_digest)));
            for (what, d) in needed {
                used_blobs.insert(d.clone());
                if !on_disk.contains(d) {
                    report
                        .problems
                        .push(broken(format!("{what} blob {d} is missing")));
                } else if corrupt.contains(d) {
                    report
                        .problems
                        .push(broken(format!("{what} blob {d} is corrupt")));
                }
            }
            if on_disk.contains(&row.id) && !corrupt.contains(&row.id) {
                match self
                    .paths
                    .content
                    .read_blob(&row.id)
                    .map(|b| ImageConfig::parse(&b))
                {
                    Ok(Ok(config)) => {
                        let recorded: Vec<&Digest> = layers.iter().map(|l| &l.diff_id).collect();
                        if config.rootfs.diff_ids.iter().collect::<Vec<_>>() != recorded {
                            report.problems.push(broken(
                                "recorded layers differ from the config's diff_ids".into(),
                            ));
                        }
                    }
                    Ok(Err(e)) => report
                        .problems
                        .push(broken(format!("config does not parse: {e}"))),
                    Err(e) => report
                        .problems
                        .push(broken(format!("config unreadable: {e}"))),
                }
            }
            for l in layers {
                used_diffs.insert(l.diff_id.as_str().to_string());
                match ready.get(l.diff_id.as_str()) {
                    None => report
                        .problems
                        .push(broken(format!("layer {} has no ready snapshot", l.diff_id))),
                    Some(id) if !self.paths.snapshot_fs(*id).is_dir() => {
                        report.problems.push(broken(format!(
                            "layer {} snapshot {id} has no directory",
                            l.diff_id
                        )))
                    }
                    Some(_) => {}
                }
            }
        }

        self.db.read(|c| {
            for d in &on_disk {
                if !used_blobs.contains(d)
                    && !leases::held_by_live(c, &live, leases::RefKind::Blob, d.as_str())?
                {
                    report.problems.push(Problem::OrphanBlob(d.clone()));
                }
            }
            for s in &snapshot_rows {
                let leased =
                    leases::held_by_live(c, &live, leases::RefKind::Snapshot, &s.id.to_string())?;
                if !s.ready && !leased {
                    report.problems.push(Problem::OrphanSnapshot {
                        id: s.id,
                        reason: "incomplete and no live operation owns it",
                    });
                } else if s.ready
                    && !leased
                    && !s.diff_id.as_ref().is_some_and(|d| used_diffs.contains(d))
                {
                    report.problems.push(Problem::OrphanSnapshot {
                        id: s.id,
                        reason: "orphan (no image uses it)",
                    });
                }
                if (s.ready || !leased) && !self.paths.snapshot_dir(s.id).is_dir() {
                    report.problems.push(Problem::MissingSnapshotDir(s.id));
                }
            }
            Ok(())
        })?;

        // Directories nothing records.
        let rows: HashSet<String> = snapshot_rows.iter().map(|s| s.id.to_string()).collect();
        for entry in fs::read_dir(&self.paths.snapshots).ctx("list", &self.paths.snapshots)? {
            let entry = entry.ctx("list", &self.paths.snapshots)?;
            if !entry.file_name().to_str().is_some_and(|n| rows.contains(n)) {
                report.problems.push(Problem::Leftover(entry.path()));
            }
        }
        for path in self.paths.content.abandoned_ingests()? {
            report.problems.push(Problem::Leftover(path));
        }
        for entry in fs::read_dir(&self.paths.trash).ctx("list", &self.paths.trash)? {
            report.problems.push(Problem::Leftover(
                entry.ctx("list", &self.paths.trash)?.path(),
            ));
        }

        self.check_modes(&mut report)?;
        report
            .problems
            .extend(self.check_networks()?.into_iter().map(Problem::Network));
        report.problems.extend(
            self.frozen_without_holder(false)?
                .into_iter()
                .map(Problem::Frozen),
        );

        if repair && !report.problems.is_empty() {
            self.repair(&mut report)?;
        }
        let partials = self.paths.content.partial_downloads()?;
        report.partial_downloads = (partials.len(), partials.iter().map(|p| p.size).sum());
        if repair && !partials.is_empty() {
            let freed = self.prune_partial_downloads()?;
            report
                .repaired
                .push(format!("removed partial downloads ({freed} bytes)"));
            let left = self.paths.content.partial_downloads()?;
            report.partial_downloads = (left.len(), left.iter().map(|p| p.size).sum());
        }
        Ok(report)
    }

    /// The store's own files and directories (not image or volume content)
    /// against the modes berth gives them (see `store::perms`).
    fn check_modes(&self, report: &mut CheckReport) -> Result<()> {
        use std::os::unix::fs::PermissionsExt;
        let root = &self.paths.root;
        let mut candidates = vec![root.clone()];
        for entry in fs::read_dir(root).ctx("list", root)? {
            candidates.push(entry.ctx("list", root)?.path());
        }
        for entry in fs::read_dir(&self.paths.containers).ctx("list", &self.paths.containers)? {
            let dir = entry.ctx("list", &self.paths.containers)?.path();
            candidates.push(dir.clone());
            if let Ok(files) = fs::read_dir(&dir) {
                candidates.extend(files.flatten().map(|f| f.path()));
            }
        }
        for path in candidates {
            let rel = path.strip_prefix(root).unwrap_or(&path);
            let Some(expected) = crate::store::perms::expected_mode(rel) else {
                continue;
            };
            let Ok(meta) = fs::symlink_metadata(&path) else {
                continue;
            };
            let mode = meta.permissions().mode() & 0o7777;
            if mode & !expected != 0 {
                report.problems.push(Problem::WideMode {
                    path,
                    mode,
                    expected,
                });
            }
        }
        Ok(())
    }

    fn check_database(&self, report: &mut CheckReport) -> Result<()> {
        let (integrity, violations) = self.db.integrity_problems()?;
        if let Some(integrity) = integrity {
            report
                .problems
                .push(Problem::Database(format!("integrity check: {integrity}")));
        }
        for table in violations {
            report.problems.push(Problem::Database(format!(
                "table {table} references a missing row"
            )));
        }
        Ok(())
    }

    fn repair(&self, report: &mut CheckReport) -> Result<()> {
        let problems = report.problems.clone();
        let mut repaired = Vec::new();
        let mut image_trash = Vec::new();
        let collected = self.db.write(|c| {
            let mut candidates = Candidates::default();
            let mut removed_images = BTreeSet::new();
            for p in &problems {
                match p {
                    Problem::BrokenImage { image, reason } => {
                        if removed_images.insert(image.clone()) && record::get(c, image)?.is_some()
                        {
                            let mut events = Vec::new();
                            image_trash.push(delete_image(c, &self.paths, image, &mut events)?);
                            repaired.push(format!("removed image {} ({reason})", image.short()));
                        }
                    }
                    Problem::CorruptBlob { digest, .. } => {
                        gc::remove_any(&self.paths.content.blob_path(digest));
                        repaired.push(format!("removed corrupt blob {digest}"));
                    }
                    Problem::OrphanBlob(d) => {
                        candidates.blobs.insert(d.clone());
                    }
                    Problem::OrphanSnapshot { id, .. } | Problem::MissingSnapshotDir(id) => {
                        candidates.snapshots.insert(*id);
                    }
                    Problem::StrayFile(path) | Problem::Leftover(path) => {
                        gc::remove_any(path);
                        repaired.push(format!("removed {}", path.display()));
                    }
                    Problem::WideMode { path, expected, .. } => {
                        crate::store::perms::set_mode(path, *expected)?;
                        repaired.push(format!("set {} to mode {expected:04o}", path.display()));
                    }
                    Problem::Database(_) | Problem::Network(_) | Problem::Frozen(_) => {}
                }
            }
            // Snapshot rows whose directory vanished are useless: drop them
            // even though an image refers to them (that image was removed above).
            for p in &problems {
                if let Problem::MissingSnapshotDir(id) = p {
                    crate::store::snapshots::delete(c, *id)?;
                    repaired.push(format!("dropped snapshot {id} (directory missing)"));
                }
            }
            gc::collect(c, &self.paths, &candidates)
        })?;
        for d in &collected.blobs {
            repaired.push(format!("removed orphan blob {d}"));
        }
        for (id, _, _) in &collected.snapshots {
            repaired.push(format!("removed orphan snapshot {id}"));
        }
        collected.empty_trash();
        for t in image_trash {
            t.empty_trash();
        }
        let network: Vec<_> = problems
            .iter()
            .filter_map(|p| match p {
                Problem::Network(n) => Some(n.clone()),
                _ => None,
            })
            .collect();
        repaired.extend(self.repair_networks(&network)?);
        if problems.iter().any(|p| matches!(p, Problem::Frozen(_))) {
            for id in self.frozen_without_holder(true)? {
                repaired.push(format!("thawed container {}", &id[..12.min(id.len())]));
            }
        }
        report.repaired = repaired;
        Ok(())
    }
}
