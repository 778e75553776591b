//! `push`: an image's blobs and manifest to a registry, exactly as stored
//! (the same bytes, so the same digests as here). Blobs the registry holds
//! are skipped; a blob this image was pulled with from another repository of
//! the same registry is mounted from there instead of uploaded; the manifest
//! goes last.

use std::path::PathBuf;

use berth_image::{Digest, Reference};
use berth_registry::{BlobPushed, Registry};
use bytes::Bytes;
use tokio::io::AsyncReadExt;

use super::record;
use crate::Engine;
use crate::error::{Error, Result};
use crate::progress::{PushEvent, PushProgress};

#[derive(Clone, Debug)]
pub struct PushReport {
    pub reference: Reference,
    pub digest: String,
    pub size: u64,
}

/// One blob to send.
struct BlobToPush {
    digest: Digest,
    size: u64,
    path: PathBuf,
    is_layer: bool,
}

#[derive(Clone, Debug, Default)]
pub struct PushOptions {
    /// Every local tag of the repository (`push -a`).
    pub all_tags: bool,
    /// The registry credentials (the API's `X-Registry-Auth`); None: the
    /// engine's Docker client configuration.
    pub credentials: Option<berth_registry::Credentials>,
}

impl Engine {
    /// [`Engine::push_async`] for synchronous callers: runs the registry
    /// I/O on a short-lived runtime of its own.
    pub fn push(
        &self,
        reference: &Reference,
        options: &PushOptions,
        progress: &dyn PushProgress,
    ) -> Result<Vec<PushReport>> {
        crate::registries::block_on(self.push_async(reference, options, progress))
    }

    /// Pushes from async code (the API daemon's runtime).
    pub async fn push_async(
        &self,
        reference: &Reference,
        options: &PushOptions,
        progress: &dyn PushProgress,
    ) -> Result<Vec<PushReport>> {
        let all_tags = options.all_tags;
        if reference.digest().is_some() {
            return Err(Error::invalid(format!(
                "push {reference}: cannot push a digest reference"
            )));
        }
        if all_tags && reference.tag().is_some() {
            return Err(Error::invalid("tag can't be used with --all-tags/-a"));
        }
        let tags: Vec<Reference> = if all_tags {
            let name = reference.name();
            let all = self.db.read(record::all_tags)?;
            let mut tags: Vec<Reference> = all
                .iter()
                .filter_map(|(t, _)| Reference::parse_normalized(t).ok())
                .filter(|r| r.name() == name)
                .collect();
            tags.sort_by_key(|r| r.to_string());
            if tags.is_empty() {
                return Err(Error::not_found(format!(
                    "An image does not exist locally with the tag: {}",
                    reference.familiar_name()
                )));
            }
            tags
        } else {
            let tag = reference.clone().with_default_tag();
            // As docker: a missing image is said before any registry is
            // asked, in docker's words.
            if self
                .db
                .read(|c| record::tag_target(c, &tag.to_string()))?
                .is_none()
            {
                return Err(Error::not_found(format!(
                    "An image does not exist locally with the tag: {}",
                    tag.familiar_name()
                )));
            }
            vec![tag]
        };
        let mut reports = Vec::new();
        {
            let registry = self
                .connect_registry(reference.domain(), options.credentials.clone())
                .await
                .map_err(|e| e.context(format!("push {reference}")))?;
            progress.event(PushEvent::Preparing {
                repository: reference.name(),
            });
            for tag in &tags {
                let report = self
                    .push_one(&registry, tag, progress)
                    .await
                    .map_err(|e| e.context(format!("push {tag}")))?;
                self.event(crate::events::image_event(
                    "push",
                    &tag.familiar_string(),
                    Some(tag),
                ));
                reports.push(report);
            }
        }
        Ok(reports)
    }

    async fn push_one(
        &self,
        registry: &Registry,
        tag: &Reference,
        progress: &dyn PushProgress,
    ) -> Result<PushReport> {
        let (id, image, layers, mount_sources) = self.db.read(|c| {
            let id = record::tag_target(c, &tag.to_string())?;
            let Some(id) = id else {
                return Err(Error::not_found(format!(
                    "An image does not exist locally with the tag: {}",
                    tag.familiar_name()
                )));
            };
            let id = record::parse_digest(&id)?;
            let image = record::get(c, &id)?
                .ok_or_else(|| Error::not_found(format!("No such image: {id}")))?;
            let layers = record::layers(c, &id)?;
            // Repositories of the same registry this image is known under:
            // the registry may let us mount its blobs from there.
            let mut names: Vec<Reference> = record::digests_of(c, &id)?;
            names.extend(record::tags_of(c, &id)?);
            let sources: Vec<String> = names
                .iter()
                .filter(|r| r.domain() == tag.domain() && r.path() != tag.path())
                .map(|r| r.path().to_string())
                .collect();
            Ok((id, image, layers, sources))
        })?;
        let repository = tag.path();
        let content = &self.paths.content;
        let mut blobs: Vec<BlobToPush> = layers
            .iter()
            .map(|l| BlobToPush {
                digest: l.blob_digest.clone(),
                size: l.blob_size,
                path: content.blob_path(&l.blob_digest),
                is_layer: true,
            })
            .collect();
        blobs.push(BlobToPush {
            size: content.size(&id)?,
            path: content.blob_path(&id),
            digest: id.clone(),
            is_layer: false,
        });
        for blob in &blobs {
            if !content.contains(&blob.digest) {
                return Err(Error::not_found(format!(
                    "blob {} of image {} is not in the store (made by an older berth?); cannot push it",
                    blob.digest,
                    id.short()
                )));
            }
        }
        for blob in &blobs {
            if blob.is_layer {
                progress.event(PushEvent::LayerPushing {
                    layer: blob.digest.clone(),
                });
            }
            let path = blob.path.clone();
            let pushed = registry
                .push_blob(
                    repository,
                    blob.digest.as_str(),
                    blob.size,
                    mount_sources.first().map(String::as_str),
                    || file_body(&path),
                )
                .await?;
            if blob.is_layer {
                progress.event(match pushed {
                    BlobPushed::AlreadyThere => PushEvent::LayerExists {
                        layer: blob.digest.clone(),
                    },
                    BlobPushed::Mounted => PushEvent::LayerMounted {
                        layer: blob.digest.clone(),
                        from: mount_sources.first().cloned().unwrap_or_default(),
                    },
                    BlobPushed::Uploaded => PushEvent::LayerPushed {
                        layer: blob.digest.clone(),
                    },
                });
            }
        }
        let manifest_bytes = content.read_blob(&image.manifest.digest)?;
        let tag_name = tag.tag().unwrap_or("latest").to_string();
        let size = manifest_bytes.len() as u64;
        let digest = registry
            .put_manifest(
                repository,
                &tag_name,
                &image.manifest.media_type,
                manifest_bytes,
            )
            .await?;
        // The registry now serves this image under NAME@DIGEST too.
        let repo_digest = format!("{}@{digest}", tag.name());
        self.db
            .write(|c| record::set_repo_digest(c, &repo_digest, &id))?;
        progress.event(PushEvent::Done {
            tag: tag_name,
            digest: digest.clone(),
            size,
        });
        Ok(PushReport {
            reference: tag.clone(),
            digest,
            size,
        })
    }
}

/// A stream of the file's bytes as an HTTP body (1 MiB reads).
fn file_body(path: &std::path::Path) -> berth_registry::Result<berth_registry::Body> {
    let file = std::fs::File::open(path).map_err(|e| {
        berth_registry::Error::invalid_argument(format!("open blob {}: {e}", path.display()))
    })?;
    let file = tokio::fs::File::from_std(file);
    let stream = futures_util::stream::unfold(file, |mut f| async move {
        let mut buf = vec![0u8; 1 << 20];
        match f.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok::<Bytes, std::io::Error>(Bytes::from(buf)), f))
            }
            Err(e) => Some((Err(e), f)),
        }
    });
    Ok(berth_registry::Body::wrap_stream(stream))
}
