//! `load`: images from a docker-archive or OCI-layout tar stream.
//!
//! Durable steps, each followed by a fail-point: lease, archive ingested
//! (temp files only), snapshots created (incomplete), layers unpacked,
//! snapshots ready, blobs committed, image recorded, lease released. A crash
//! at any point leaves only things the lease protects, which the next start
//! collects; the image becomes visible in the single transaction that records
//! it, after everything it needs is durable.

use std::collections::BTreeMap;
use std::io::Read;

use berth_image::archive::{self, ArchiveContents, ArchiveImage};
use berth_image::content::Ingested;
use berth_image::platform::Platform;
use berth_image::spec::{Descriptor, Manifest, media};
use berth_image::{Digest, Reference};

use super::layers::{LayerSource, ReadyLayer};
use super::record::{self, LayerRow, NewImage};
use crate::Engine;
use crate::error::{Error, Result};
use crate::failpoint;
use crate::store::writeback::BackgroundSync;

#[derive(Debug, Default)]
pub struct LoadReport {
    pub images: Vec<LoadedImage>,
    /// Tags that moved away from another image: (tag, previous image).
    pub renamed: Vec<(Reference, Digest)>,
}

#[derive(Debug)]
pub struct LoadedImage {
    pub id: Digest,
    pub tags: Vec<Reference>,
}

impl Engine {
    pub fn load(&self, reader: impl Read) -> Result<LoadReport> {
        let lease = self.acquire_lease()?;
        failpoint::hit("load:lease-acquired");
        let _writeback = BackgroundSync::start(&self.paths.snapshots);

        let mut contents = ArchiveContents::read(reader, &self.paths.content, &self.owner)
            .map_err(|e| Error::from(e).context("load"))?;
        failpoint::hit("load:archive-ingested");

        let images = archive::images(&contents, &Platform::host())
            .map_err(|e| Error::from(e).context("load"))?;
        // Parse every name before doing any heavy work.
        let mut tags: Vec<Vec<Reference>> = Vec::new();
        for image in &images {
            let mut parsed = Vec::new();
            for t in &image.tags {
                let r = Reference::parse_with_default_tag(t).map_err(|e| {
                    Error::invalid(format!(
                        "load: image {}: tag {t:?}: {e}",
                        image.config_digest.short()
                    ))
                })?;
                if r.digest().is_some() {
                    return Err(Error::invalid(format!(
                        "load: tag {t:?} names a digest, not a tag"
                    )));
                }
                parsed.push(r);
            }
            tags.push(parsed);
        }

        // Layers, all images at once (shared layers unpack once).
        let mut sources = Vec::new();
        for (i, image) in images.iter().enumerate() {
            for (j, layer) in image.layers.iter().enumerate() {
                let file = contents.lookup(&layer.name, "layer").map_err(Error::from)?;
                sources.push(LayerSource {
                    diff_id: layer.diff_id.clone(),
                    blob_digest: layer.digest.clone(),
                    path: file.ingested.path().to_path_buf(),
                    what: format!("load: image {} layer {j} ({:?})", i, layer.name),
                    // The archive's claim is checked by hashing the tar.
                    diff_id_computed: false,
                });
            }
        }
        let ready = self.ensure_layers(lease.lease, &sources)?;

        // Blobs: configs, layers, and the manifests (original or synthesised).
        let mut to_commit: BTreeMap<String, Ingested> = BTreeMap::new();
        let mut take = |name: &str, contents: &mut ArchiveContents| {
            if let Some(real) = contents.resolve_name(name)
                && let Some(file) = contents.take(&real)
            {
                to_commit.insert(real, file.ingested);
            }
        };
        for image in &images {
            take(&image.config_name, &mut contents);
            for layer in &image.layers {
                take(&layer.name, &mut contents);
            }
        }
        let mut manifests = Vec::new();
        let mut cursor = 0;
        for image in &images {
            let image_ready = &ready[cursor..cursor + image.layers.len()];
            cursor += image.layers.len();
            manifests.push(self.manifest_for(image, image_ready, &mut contents)?);
        }
        let manifest_blobs: Vec<Ingested> = manifests
            .iter_mut()
            .filter_map(|(_, ingested)| ingested.take())
            .collect();
        let blobs: Vec<Ingested> = to_commit.into_values().chain(manifest_blobs).collect();
        self.commit_blobs(lease.lease, blobs)?;

        // One transaction makes every image visible with its tags.
        let mut report = LoadReport::default();
        let mut cursor = 0;
        self.db.write(|c| {
            for ((image, image_tags), (manifest, _)) in images.iter().zip(&tags).zip(&manifests) {
                let image_ready = &ready[cursor..cursor + image.layers.len()];
                cursor += image.layers.len();
                let layers: Vec<LayerRow> = image
                    .layers
                    .iter()
                    .zip(image_ready)
                    .map(|(l, r)| LayerRow {
                        diff_id: l.diff_id.clone(),
                        blob_digest: l.digest.clone(),
                        blob_size: l.size,
                        media_type: r.compression.oci_layer_media_type().to_string(),
                    })
                    .collect();
                let size = image_ready.iter().map(|r| r.size).sum();
                record::insert(
                    c,
                    &NewImage {
                        id: &image.config_digest,
                        config: &image.config,
                        manifest,
                        layers: &layers,
                        size,
                        parent: None,
                    },
                )?;
                for tag in image_tags {
                    if let Some(previous) = record::set_tag(c, tag, &image.config_digest)? {
                        report.renamed.push((tag.clone(), previous));
                    }
                }
                crate::store::event_log::record(
                    c,
                    &crate::events::image_event(
                        "load",
                        image.config_digest.as_str(),
                        image_tags.first(),
                    ),
                )?;
                report.images.push(LoadedImage {
                    id: image.config_digest.clone(),
                    tags: image_tags.clone(),
                });
            }
            Ok(())
        })?;
        self.events_changed();
        failpoint::hit("load:image-recorded");
        lease.release()?;
        failpoint::hit("load:lease-released");
        Ok(report)
    }

    /// The manifest an image is recorded with: the archive's own (OCI layout)
    /// or one written for it (docker-archive), with its blob to commit.
    fn manifest_for(
        &self,
        image: &ArchiveImage,
        ready: &[ReadyLayer],
        contents: &mut ArchiveContents,
    ) -> Result<(Descriptor, Option<Ingested>)> {
        if let Some((digest, bytes, media_type)) = &image.manifest {
            let desc = Descriptor::new(media_type, digest.clone(), bytes.len() as u64);
            let name = format!("blobs/sha256/{}", digest.hex());
            let ingested = contents.take(&name).map(|f| f.ingested);
            if ingested.is_none() && !self.paths.content.contains(digest) {
                return Err(Error::internal(format!(
                    "load: manifest {digest} vanished from the archive listing"
                )));
            }
            return Ok((desc, ingested));
        }
        let manifest = Manifest {
            schema_version: 2,
            media_type: Some(media::OCI_MANIFEST.to_string()),
            config: Descriptor::new(
                media::OCI_CONFIG,
                image.config_digest.clone(),
                image.config_bytes.len() as u64,
            ),
            layers: image
                .layers
                .iter()
                .zip(ready)
                .map(|(l, r)| {
                    Descriptor::new(
                        r.compression.oci_layer_media_type(),
                        l.digest.clone(),
                        l.size,
                    )
                })
                .collect(),
            annotations: None,
        };
        let bytes = serde_json::to_vec(&manifest)
            .map_err(|e| Error::internal(format!("encode manifest: {e}")))?;
        let mut ingest = self.paths.content.ingest(&self.owner)?;
        std::io::Write::write_all(&mut ingest, &bytes)
            .map_err(|e| Error::internal(format!("write {}: {e}", ingest.path().display())))?;
        let ingested = ingest.finish()?;
        let desc = Descriptor::new(
            media::OCI_MANIFEST,
            ingested.digest().clone(),
            bytes.len() as u64,
        );
        Ok((desc, Some(ingested)))
    }
}
