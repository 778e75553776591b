//! `import`: a root filesystem tarball becomes a one-layer image.
//!
//! The stream is read once: a tee writes it into a content-store ingest (the
//! layer blob, hashed on the way) while the unpacker consumes it (computing the
//! diff ID), so importing costs one pass over the data.

use std::io::{self, Read, Write};

use berth_image::platform::Platform;
use berth_image::spec::{Descriptor, History, ImageConfig, Manifest, RootFs, RunConfig, media};
use berth_image::{Digest, Reference, unpack};

use super::changes;
use super::record::{self, LayerRow, NewImage};
use crate::Engine;
use crate::error::{Error, IoContext, Result};
use crate::store::snapshots;
use crate::store::writeback::BackgroundSync;

#[derive(Clone, Debug, Default)]
pub struct ImportOptions {
    /// `REPOSITORY[:TAG]` to tag the new image with.
    pub reference: Option<String>,
    /// `--change` instructions.
    pub changes: Vec<String>,
    /// `--message`: the history comment.
    pub message: Option<String>,
    /// `--platform`, default the host's.
    pub platform: Option<String>,
    /// What the history says it was imported from (`-` for stdin, and for
    /// a file the docker CLI sends as the request body).
    pub source: String,
    /// What errors name as the input (a file's path); None: `source`.
    pub input: Option<String>,
}

/// `REPOSITORY[:TAG]` for an image being made (`import`, `commit`): a tag,
/// never a digest.
pub(crate) fn new_image_tag(reference: &str, what: &str) -> Result<Reference> {
    let r = Reference::parse_with_default_tag(reference)?;
    if r.digest().is_some() {
        return Err(Error::invalid(format!(
            "{what}: {r}: cannot tag with a digest"
        )));
    }
    Ok(r)
}

/// A layer stored from a stream: its blob (not yet committed), diff ID,
/// unpacked size and media type.
pub(crate) struct StreamedLayer {
    pub blob: berth_image::content::Ingested,
    pub diff_id: Digest,
    pub size: u64,
    pub media_type: &'static str,
}

/// Copies everything read into a writer as well. A failed write is kept
/// aside, so the caller reports the store's fault (a full disk) rather
/// than the reader's guess at it (a broken stream).
struct Tee<'a, R, W> {
    reader: R,
    writer: &'a mut W,
    write_failed: Option<io::Error>,
}

impl<R: Read, W: Write> Read for Tee<'_, R, W> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.reader.read(buf)?;
        if let Err(e) = self.writer.write_all(&buf[..n]) {
            let told = io::Error::new(e.kind(), "the copy into the content store failed");
            self.write_failed = Some(e);
            return Err(told);
        }
        Ok(n)
    }
}

impl Engine {
    pub fn import(&self, reader: impl Read, options: &ImportOptions) -> Result<Digest> {
        // Everything a user typed is checked before any work is done.
        let tag = options
            .reference
            .as_deref()
            .map(|r| new_image_tag(r, "import"))
            .transpose()?;
        let platform = match &options.platform {
            Some(p) => Platform::parse(p).map_err(|e| Error::invalid(e.to_string()))?,
            None => Platform::host(),
        };
        let mut run_config = RunConfig::default();
        changes::apply(&mut run_config, &options.changes)?;

        let lease = self.acquire_lease()?;
        let layer = self.ingest_layer_stream(
            lease.lease,
            reader,
            &format!(
                "import from {}",
                options.input.as_deref().unwrap_or(&options.source)
            ),
        )?;
        let stats_diff_id = layer.diff_id.clone();
        let layer_size = layer.size;
        let blob_digest = layer.blob.digest().clone();
        let blob_size = layer.blob.size();
        let layer_media_type = layer.media_type;
        let blob = layer.blob;

        let now = crate::now_rfc3339();
        let comment = options
            .message
            .clone()
            .unwrap_or_else(|| format!("Imported from {}", options.source));
        let config = ImageConfig {
            created: Some(now.clone()),
            architecture: platform.architecture.clone(),
            os: platform.os.clone(),
            variant: platform.variant.clone(),
            config: Some(run_config),
            rootfs: RootFs {
                kind: "layers".into(),
                diff_ids: vec![stats_diff_id.clone()],
            },
            history: vec![History {
                created: Some(now),
                comment: Some(comment.clone()),
                ..History::default()
            }],
            comment: Some(comment),
            ..ImageConfig::default()
        };
        let layers = vec![LayerRow {
            diff_id: stats_diff_id.clone(),
            blob_digest,
            blob_size,
            media_type: layer_media_type.to_string(),
        }];
        let id = self.record_new_image(
            &lease,
            &config,
            layers,
            vec![blob],
            layer_size,
            (tag.as_ref(), None),
        )?;
        lease.release()?;
        self.event(crate::events::image_event(
            "import",
            id.as_str(),
            tag.as_ref(),
        ));
        Ok(id)
    }

    /// The last steps of making an image (`import`, `commit`): its config
    /// and an OCI manifest stored as blobs, every new blob committed under
    /// `lease`, then the image row, its layers and its tag in one
    /// transaction. `(tag, parent)`: the name to give it, and the image a
    /// commit made it from.
    pub(crate) fn record_new_image(
        &self,
        lease: &super::layers::LeaseGuard<'_>,
        config: &ImageConfig,
        layers: Vec<LayerRow>,
        new_blobs: Vec<berth_image::content::Ingested>,
        size: u64,
        (tag, parent): (Option<&Reference>, Option<&Digest>),
    ) -> Result<Digest> {
        let config_bytes = serde_json::to_vec(config)
            .map_err(|e| Error::internal(format!("encode config: {e}")))?;
        let config_blob = self.small_blob(&config_bytes)?;
        let id = config_blob.digest().clone();
        let manifest = Manifest {
            schema_version: 2,
            media_type: Some(media::OCI_MANIFEST.into()),
            config: Descriptor::new(media::OCI_CONFIG, id.clone(), config_bytes.len() as u64),
            layers: layers
                .iter()
                .map(|l| Descriptor::new(&l.media_type, l.blob_digest.clone(), l.blob_size))
                .collect(),
            annotations: None,
        };
        let manifest_bytes = serde_json::to_vec(&manifest)
            .map_err(|e| Error::internal(format!("encode manifest: {e}")))?;
        let manifest_blob = self.small_blob(&manifest_bytes)?;
        let manifest_desc = Descriptor::new(
            media::OCI_MANIFEST,
            manifest_blob.digest().clone(),
            manifest_bytes.len() as u64,
        );
        let mut blobs = new_blobs;
        blobs.push(config_blob);
        blobs.push(manifest_blob);
        self.commit_blobs(lease.lease, blobs)?;
        self.db.write(|c| {
            record::insert(
                c,
                &NewImage {
                    id: &id,
                    config,
                    manifest: &manifest_desc,
                    layers: &layers,
                    size,
                    parent,
                },
            )?;
            if let Some(tag) = tag {
                record::set_tag(c, tag, &id)?;
            }
            Ok(())
        })?;
        Ok(id)
    }

    /// Unpacks a layer stream (any compression) into a new snapshot while
    /// storing its bytes as an uncommitted blob, in one pass; the snapshot is
    /// synced and ready (or another process's identical one is used).
    pub(crate) fn ingest_layer_stream(
        &self,
        lease: crate::store::leases::Lease,
        reader: impl Read,
        what: &str,
    ) -> Result<StreamedLayer> {
        let writeback = BackgroundSync::start(&self.paths.snapshots);
        let snapshot = self
            .db
            .write(|c| snapshots::create_incomplete(c, lease, None))?;
        let fs_dir = self.paths.snapshot_fs(snapshot);
        crate::store::perms::create_snapshot_dir(&fs_dir)?;

        let mut ingest = self.paths.content.ingest(&self.owner)?;
        let ingest_path = ingest.path().to_path_buf();
        let mut tee = Tee {
            reader,
            writer: &mut ingest,
            write_failed: None,
        };
        let unpacked = unpack::unpack_layer(&mut tee, &fs_dir, self.config.limits);
        let stats = match (unpacked, tee.write_failed.take()) {
            (_, Some(e)) => return Err(Error::io("write", &ingest_path, e)),
            (unpacked, None) => unpacked.map_err(|e| Error::from(e.within(what)))?,
        };
        // Whatever follows the compressed stream still belongs to the blob.
        let rest = io::copy(&mut tee, &mut io::sink());
        if let Some(e) = tee.write_failed.take() {
            return Err(Error::io("write", &ingest_path, e));
        }
        rest.map_err(|e| Error::invalid(format!("{what}: read: {e}")))?;
        let blob = ingest.finish()?;
        drop(writeback);
        unpack::sync_filesystem(&self.paths.snapshots).ctx("sync", &self.paths.snapshots)?;
        self.db.write(|c| {
            snapshots::mark_ready(c, lease, snapshot, stats.diff_id.as_str(), stats.size)
        })?;
        Ok(StreamedLayer {
            blob,
            diff_id: stats.diff_id.clone(),
            size: stats.size,
            media_type: stats.compression.oci_layer_media_type(),
        })
    }

    /// A small document as an uncommitted blob.
    pub(crate) fn small_blob(&self, bytes: &[u8]) -> Result<berth_image::content::Ingested> {
        self.store_blob(bytes)
    }

    /// A stream as an uncommitted blob (held by the caller's lease once
    /// recorded).
    pub(crate) fn store_blob(
        &self,
        mut reader: impl Read,
    ) -> Result<berth_image::content::Ingested> {
        let mut ingest = self.paths.content.ingest(&self.owner)?;
        io::copy(&mut reader, &mut ingest).ctx("write", ingest.path())?;
        Ok(ingest.finish()?)
    }
}
