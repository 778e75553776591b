//! `system df`: space used by images, and by partial downloads kept for a
//! resume (shown as build cache: reclaimable, collected by prunes).

use std::collections::HashMap;

use crate::Engine;
use crate::error::Result;
use crate::images::{ImageFilters, ImageSummary, record};

#[derive(Debug)]
pub struct ImageUsage {
    pub summary: ImageSummary,
    /// Bytes of layers this image shares with other images.
    pub shared_size: u64,
    /// Bytes of layers only this image uses.
    pub unique_size: u64,
}

#[derive(Debug)]
pub struct DiskUsage {
    pub images: Vec<ImageUsage>,
    /// All layers, each counted once.
    pub layers_size: u64,
    /// Bytes that removing every image not used by a container would free.
    pub images_reclaimable: u64,
    pub active_images: usize,
    /// Downloads a pull left to resume from (`content/ingest/partial-*`):
    /// what berth shows as its build cache until builds land.
    pub partial_downloads: Vec<berth_image::content::PartialDownload>,
}

impl Engine {
    pub fn disk_usage(&self) -> Result<DiskUsage> {
        let summaries = self.list_images(&ImageFilters::default())?;
        let (layers_by_image, sizes) = self.db.read(|c| {
            let mut layers_by_image = HashMap::new();
            for s in &summaries {
                let diffs: Vec<String> = record::layers(c, &s.id)?
                    .into_iter()
                    .map(|l| l.diff_id.to_string())
                    .collect();
                layers_by_image.insert(s.id.clone(), diffs);
            }
            let mut sizes: HashMap<String, u64> = HashMap::new();
            for snap in crate::store::snapshots::all(c)? {
                if let (true, Some(d)) = (snap.ready, snap.diff_id) {
                    sizes.insert(d, snap.size);
                }
            }
            Ok((layers_by_image, sizes))
        })?;
        let mut users: HashMap<&str, usize> = HashMap::new();
        for diffs in layers_by_image.values() {
            let unique: std::collections::HashSet<&String> = diffs.iter().collect();
            for d in unique {
                *users.entry(d.as_str()).or_default() += 1;
            }
        }
        let layers_size: u64 = users
            .keys()
            .map(|d| sizes.get(*d).copied().unwrap_or(0))
            .sum();
        let mut images = Vec::new();
        let mut active_images = 0;
        let mut active_layers: std::collections::HashSet<&str> = std::collections::HashSet::new();
        for s in summaries {
            let diffs = &layers_by_image[&s.id];
            let (mut shared, mut unique) = (0, 0);
            for d in diffs.iter().collect::<std::collections::HashSet<_>>() {
                let size = sizes.get(d).copied().unwrap_or(0);
                if users.get(d.as_str()).copied().unwrap_or(0) > 1 {
                    shared += size
                } else {
                    unique += size
                }
            }
            if s.containers > 0 {
                active_images += 1;
                active_layers.extend(diffs.iter().map(String::as_str));
            }
            images.push(ImageUsage {
                summary: s,
                shared_size: shared,
                unique_size: unique,
            });
        }
        let active_size: u64 = active_layers
            .iter()
            .map(|d| sizes.get(*d).copied().unwrap_or(0))
            .sum();
        Ok(DiskUsage {
            images,
            layers_size,
            images_reclaimable: layers_size - active_size,
            active_images,
            partial_downloads: self.paths.content.partial_downloads()?,
        })
    }

    /// Removes the partial downloads no pull is writing (`image prune -a`,
    /// `system prune`, `system check --repair`); the bytes freed.
    pub fn prune_partial_downloads(&self) -> Result<u64> {
        Ok(self.paths.content.remove_idle_partials()?)
    }
}
