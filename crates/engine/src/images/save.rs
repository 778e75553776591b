//! `save`: images to a tar stream (see `berth_image::archive` for the format).

use std::io::Write;

use berth_image::Reference;
pub use berth_image::archive::SaveFormat;
use berth_image::archive::{self, SaveImage};

use super::record;
use super::resolve::{self, Matched};
use crate::Engine;
use crate::error::{Error, Result};

impl Engine {
    /// Writes the named images. A repository name without a tag saves every
    /// tag of that repository, as Docker does; an ID saves the image untagged.
    pub fn save(&self, names: &[String], out: impl Write, format: SaveFormat) -> Result<()> {
        let mut images: Vec<SaveImage> = Vec::new();
        self.db.read(|c| {
            for name in names {
                let mut found: Vec<(berth_image::Digest, Option<Reference>)> = Vec::new();
                let bare_repo = Reference::parse_normalized(name)
                    .ok()
                    .filter(|r| r.tag().is_none() && r.digest().is_none());
                if let Some(repo) = &bare_repo {
                    for (tag, id) in record::all_tags(c)? {
                        if let Ok(r) = Reference::parse_normalized(&tag)
                            && r.name() == repo.name()
                        {
                            found.push((record::parse_digest(&id)?, Some(r)));
                        }
                    }
                }
                if found.is_empty() {
                    let (id, matched) = resolve::resolve(c, name)?;
                    let tag = match matched {
                        Matched::Tag(r) => Some(r),
                        Matched::Digest(_) | Matched::Id => None,
                    };
                    found.push((id, tag));
                }
                for (id, tag) in found {
                    if let Some(existing) = images.iter_mut().find(|i| i.config == id) {
                        if let Some(t) = tag
                            && !existing.tags.contains(&t)
                        {
                            existing.tags.push(t);
                        }
                        continue;
                    }
                    let row = record::get(c, &id)?.ok_or_else(|| resolve::no_such_image(name))?;
                    let layers = record::layers(c, &id)?;
                    images.push(SaveImage {
                        config: id,
                        manifest: row.manifest,
                        layers: layers.into_iter().map(|l| l.blob_digest).collect(),
                        tags: tag.into_iter().collect(),
                    });
                }
            }
            Ok(())
        })?;
        archive::write_archive(out, &self.paths.content, &images, format)
            .map_err(|e| Error::from(e).context("save"))
    }
}
