//! `commit`: a container's writable layer becomes a new image layer on top
//! of its image's.
//!
//! The snapshotter commits the container's snapshot (see
//! `snapshotter::commit_snapshot`: a deterministic tar stored as a blob,
//! then a layer unless one with that content exists); this adds the image
//! config and history. Everything is held by a lease until the image row
//! commits, so a crash leaves nothing the next start does not collect.

use berth_image::Digest;
use berth_image::compression::Compression;
use berth_image::spec::{History, ImageConfig, RunConfig};

use super::record::State;
use crate::Engine;
use crate::error::{Error, Result};
use crate::images::changes;
use crate::images::record::{self as images, LayerRow};

#[derive(Clone, Debug, Default)]
pub struct CommitOptions {
    pub reference: Option<String>,
    pub author: Option<String>,
    pub message: Option<String>,
    pub changes: Vec<String>,
    pub pause: bool,
}

impl Engine {
    pub fn commit_container(&self, name: &str, options: &CommitOptions) -> Result<Digest> {
        let tag = options
            .reference
            .as_deref()
            .map(|r| crate::images::import::new_image_tag(r, "commit"))
            .transpose()?;
        let row = self.container(name)?;
        let image_id = images::parse_digest(&row.image_id)?;
        let parent_bytes = self.paths.content.read_blob(&image_id)?;
        let parent = ImageConfig::parse(&parent_bytes).map_err(|e| {
            Error::internal(format!("image {}: stored config: {e}", image_id.short()))
        })?;
        let mut run_config =
            container_run_config(&row.config, parent.config.clone().unwrap_or_default());
        changes::apply(&mut run_config, &options.changes)?;

        let lease = self.acquire_lease()?;
        // The freeze belongs to the lease, not to this process: a commit
        // killed while the container is frozen leaves a hold the next
        // berth's sweep lets go of (see `freeze`).
        let freeze = if options.pause && row.state == State::Running {
            Some(self.hold_freeze(&row.id, lease.lease)?)
        } else {
            None
        };
        crate::failpoint::hit("commit:start");
        let snapshot = self.container_snapshot(&row)?;
        let (blob, ready) =
            self.commit_snapshot(lease.lease, &snapshot, format!("commit {}", row.id), None)?;
        // The layer is taken: the container runs on while the image is
        // recorded.
        if let Some(freeze) = freeze {
            freeze.release()?;
        }
        let diff_id = blob.digest().clone();
        crate::failpoint::hit("commit:layer-stored");

        let parent_layers = self.db.read(|c| images::layers(c, &image_id))?;
        let now = crate::now_rfc3339();
        let mut args = row.config.entrypoint.clone().unwrap_or_default();
        args.extend(row.config.cmd.iter().cloned());
        let mut config = parent.clone();
        config.created = Some(now.clone());
        config.author = options.author.clone();
        config.config = Some(run_config);
        config.rootfs.diff_ids.push(diff_id.clone());
        config.history.push(History {
            created: Some(now),
            created_by: Some(args.join(" ")),
            author: options.author.clone(),
            comment: options.message.clone(),
            ..History::default()
        });
        config.comment = options.message.clone();
        let mut layers: Vec<LayerRow> = parent_layers;
        layers.push(LayerRow {
            diff_id: diff_id.clone(),
            blob_digest: diff_id.clone(),
            blob_size: blob.size(),
            media_type: Compression::None.oci_layer_media_type().to_string(),
        });
        let parent_size = self
            .db
            .read(|c| images::get(c, &image_id))?
            .map_or(0, |r| r.size);
        let id = self.record_new_image(
            &lease,
            &config,
            layers,
            vec![blob],
            parent_size + ready.size,
            (tag.as_ref(), Some(&image_id)),
        )?;
        lease.release()?;
        self.event(
            crate::events::container_event(&row, "commit")
                .with("comment", options.message.clone().unwrap_or_default()),
        );
        Ok(id)
    }
}

/// The image config a commit records: the container's command, environment
/// and settings over its image's, as Docker merges them.
fn container_run_config(c: &super::ContainerConfig, image: RunConfig) -> RunConfig {
    let some = |v: &Vec<String>| if v.is_empty() { None } else { Some(v.clone()) };
    RunConfig {
        user: Some(c.user.clone())
            .filter(|u| !u.is_empty())
            .or(image.user),
        env: some(&c.env),
        entrypoint: c.entrypoint.clone(),
        cmd: some(&c.cmd),
        working_dir: Some(c.working_dir.clone()).filter(|w| !w.is_empty()),
        labels: if c.labels.is_empty() {
            None
        } else {
            Some(c.labels.clone())
        },
        stop_signal: c.stop_signal.clone(),
        ..image
    }
}
