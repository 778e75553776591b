//! `history`: an image's build steps with the size each layer added.

use berth_image::spec::ImageConfig;
use berth_image::{Digest, Reference};

use super::{record, resolve};
use crate::Engine;
use crate::error::{Error, Result};

#[derive(Clone, Debug)]
pub struct HistoryEntry {
    /// The image ID on the top entry; `None` (shown as `<missing>`) below it.
    pub id: Option<Digest>,
    pub created: Option<String>,
    pub created_by: String,
    pub size: u64,
    pub comment: String,
    pub tags: Vec<Reference>,
}

impl Engine {
    /// Newest first, as Docker lists it.
    pub fn history(&self, name: &str) -> Result<Vec<HistoryEntry>> {
        let (id, config, sizes, tags, ancestors) = self.db.read(|c| {
            let id = resolve::resolve_id(c, name)?;
            let config_bytes = self.paths.content.read_blob(&id)?;
            let config = ImageConfig::parse(&config_bytes).map_err(|e| {
                Error::internal(format!("image {}: stored config: {e}", id.short()))
            })?;
            let mut sizes = Vec::new();
            for layer in record::layers(c, &id)? {
                let size = crate::store::snapshots::ready_for(c, layer.diff_id.as_str())?
                    .map_or(0, |s| s.size);
                sizes.push(size);
            }
            // The parent chain (commit's images), newest first, with tags.
            let mut ancestors = Vec::new();
            let mut next = record::get(c, &id)?.map(|r| r.parent).unwrap_or_default();
            while let Ok(parent) = record::parse_digest(&next) {
                let Some(row) = record::get(c, &parent)? else {
                    break;
                };
                ancestors.push((parent.clone(), record::tags_of(c, &parent)?));
                next = row.parent;
            }
            Ok((
                id.clone(),
                config,
                sizes,
                record::tags_of(c, &id)?,
                ancestors,
            ))
        })?;

        let mut entries = Vec::new();
        let mut layer = 0;
        if config.history.is_empty() {
            for size in &sizes {
                entries.push(HistoryEntry {
                    id: None,
                    created: config.created.clone(),
                    created_by: String::new(),
                    size: *size,
                    comment: String::new(),
                    tags: Vec::new(),
                });
            }
        }
        for h in &config.history {
            let size = if h.empty_layer {
                0
            } else {
                layer += 1;
                sizes.get(layer - 1).copied().unwrap_or(0)
            };
            entries.push(HistoryEntry {
                id: None,
                created: h.created.clone(),
                created_by: h.created_by.clone().unwrap_or_default(),
                size,
                comment: h.comment.clone().unwrap_or_default(),
                tags: Vec::new(),
            });
        }
        entries.reverse();
        // As Docker: the top entry is the image, each next one its next
        // ancestor while the chain lasts, `<missing>` below.
        let chain = std::iter::once((id, tags)).chain(ancestors);
        for (entry, (id, tags)) in entries.iter_mut().zip(chain) {
            entry.id = Some(id);
            entry.tags = tags;
        }
        Ok(entries)
    }
}
