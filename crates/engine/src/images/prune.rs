//! `image prune`: remove dangling images (or, with `all`, every image no
//! container uses, and the partial downloads of pulls no one is running).

use super::list::{ImageFilters, label_matches};
use super::record;
use super::remove::{RemoveEvent, delete_image};
use crate::Engine;
use crate::error::{Error, Result};

#[derive(Debug, Default)]
pub struct PruneReport {
    pub events: Vec<RemoveEvent>,
    pub reclaimed: u64,
}

impl Engine {
    pub fn prune_images(&self, all: bool, filters: &ImageFilters) -> Result<PruneReport> {
        if !filters.reference.is_empty() || filters.before.is_some() || filters.since.is_some() {
            return Err(Error::invalid(
                "image prune supports the label and until filters only",
            ));
        }
        let mut candidate_filters = filters.clone();
        if !all {
            candidate_filters.dangling = Some(true);
        }
        let candidates = self.list_images(&candidate_filters)?;
        let mut report = PruneReport::default();
        for image in candidates {
            if !filters
                .label
                .iter()
                .all(|l| label_matches(&image.labels, l))
            {
                continue;
            }
            let collected = self.db.write(|c| {
                if record::get(c, &image.id)?.is_none() {
                    return Ok(None); // removed meanwhile
                }
                let tags = record::tags_of(c, &image.id)?;
                let digests = record::digests_of(c, &image.id)?;
                let dangling = tags.is_empty() && digests.is_empty();
                if !all && !dangling {
                    return Ok(None); // tagged meanwhile
                }
                if !crate::containers::record::using_image(c, image.id.as_str())?.is_empty() {
                    // In use, so kept. Docker's prune -a still removes its
                    // references one by one until the last refuses (a
                    // container uses it): every name but the last in
                    // lexical order goes; berth does the same.
                    if all {
                        let mut refs: Vec<_> = tags.iter().chain(&digests).cloned().collect();
                        refs.sort_by_key(|r| r.to_string());
                        refs.pop();
                        for r in refs {
                            if r.digest().is_some() {
                                record::delete_repo_digest(c, &r.to_string())?;
                            } else {
                                record::delete_tag(c, &r.to_string())?;
                            }
                            report.events.push(RemoveEvent::Untagged(r));
                        }
                    }
                    return Ok(None);
                }
                if record::has_children(c, &image.id)? {
                    return Ok(None); // another image's parent goes with its last child
                }
                for r in tags.iter().chain(&digests) {
                    report.events.push(RemoveEvent::Untagged(r.clone()));
                }
                delete_image(c, &self.paths, &image.id, &mut report.events).map(Some)
            })?;
            if let Some(collected) = collected {
                report.reclaimed += collected.reclaimed_bytes();
                collected.empty_trash();
            }
        }
        if all && filters.label.is_empty() && filters.until.is_none() {
            report.reclaimed += self.prune_partial_downloads()?;
        }
        Ok(report)
    }
}
