//! What images an archive holds: from `index.json` (OCI layout, Docker 25+)
//! and/or `manifest.json` (docker-archive).
//!
//! Every error names the document and field it comes from, e.g.
//! `manifest.json: Layers[1] "../x": path points outside the archive`.

use serde::Deserialize;

use super::read::ArchiveContents;
use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::platform::Platform;
use crate::spec::{self, Descriptor, ImageConfig, Index, Manifest, media};

/// One image found in an archive.
#[derive(Debug)]
pub struct ArchiveImage {
    pub config_name: String,
    pub config_digest: Digest,
    pub config_bytes: Vec<u8>,
    pub config: ImageConfig,
    /// The manifest the archive carried (OCI layout), byte for byte.
    pub manifest: Option<(Digest, Vec<u8>, String)>,
    pub layers: Vec<ArchiveLayer>,
    /// Names as written in the archive (`busybox:latest` or full references).
    pub tags: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct ArchiveLayer {
    /// The archive name holding the layer (after links).
    pub name: String,
    pub digest: Digest,
    pub size: u64,
    pub diff_id: Digest,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DockerManifestEntry {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    layers: Vec<String>,
}

/// Lists the images in an archive, choosing `platform` from multi-platform
/// indexes.
pub fn images(contents: &ArchiveContents, platform: &Platform) -> Result<Vec<ArchiveImage>> {
    let docker = if contents.has("manifest.json") {
        Some(docker_manifest(contents)?)
    } else {
        None
    };
    if contents.has("index.json") {
        let mut images = oci_images(contents, platform)?;
        // Docker 25+ archives carry both; manifest.json holds the familiar tags.
        for image in &mut images {
            if image.tags.is_empty()
                && let Some(entries) = &docker
            {
                for (config_digest, tags) in entries {
                    if *config_digest == image.config_digest {
                        image.tags.extend(tags.iter().cloned());
                    }
                }
            }
        }
        return Ok(images);
    }
    if docker.is_none() {
        return Err(Error::Invalid(
            "not an image archive: neither manifest.json (docker-archive) nor index.json (OCI layout) found".into(),
        ));
    }
    docker_images(contents)
}

fn docker_manifest(contents: &ArchiveContents) -> Result<Vec<(Digest, Vec<String>)>> {
    let entries = parse_docker_manifest(contents)?;
    let mut out = Vec::new();
    for (i, entry) in entries.iter().enumerate() {
        let file = contents.lookup(&entry.config, &format!("manifest.json: [{i}].Config"))?;
        out.push((
            file.ingested.digest().clone(),
            entry.repo_tags.clone().unwrap_or_default(),
        ));
    }
    Ok(out)
}

fn parse_docker_manifest(contents: &ArchiveContents) -> Result<Vec<DockerManifestEntry>> {
    let (_, bytes) = contents.read_document("manifest.json", "archive file")?;
    serde_json::from_slice(&bytes)
        .map_err(|e| Error::Invalid(format!("manifest.json: invalid JSON: {e}")))
}

fn docker_images(contents: &ArchiveContents) -> Result<Vec<ArchiveImage>> {
    let entries = parse_docker_manifest(contents)?;
    if entries.is_empty() {
        return Err(Error::Invalid("manifest.json: lists no images".into()));
    }
    let mut images = Vec::new();
    for (i, entry) in entries.into_iter().enumerate() {
        let field = format!("manifest.json: [{i}].Config");
        let (config_digest, config_bytes) = contents.read_document(&entry.config, &field)?;
        let config = ImageConfig::parse(&config_bytes).map_err(|e| {
            Error::Invalid(format!("{field} {:?} (image config): {e}", entry.config))
        })?;
        if entry.layers.len() != config.rootfs.diff_ids.len() {
            return Err(Error::Invalid(format!(
                "manifest.json: [{i}].Layers lists {} layers but the image config's rootfs.diff_ids has {}",
                entry.layers.len(),
                config.rootfs.diff_ids.len()
            )));
        }
        let mut layers = Vec::new();
        for (j, layer) in entry.layers.iter().enumerate() {
            let field = format!("manifest.json: [{i}].Layers[{j}]");
            let file = contents.lookup(layer, &field)?;
            let name = contents
                .resolve_name(layer)
                .unwrap_or_else(|| layer.clone());
            layers.push(ArchiveLayer {
                name,
                digest: file.ingested.digest().clone(),
                size: file.ingested.size(),
                diff_id: config.rootfs.diff_ids[j].clone(),
            });
        }
        images.push(ArchiveImage {
            config_name: contents.resolve_name(&entry.config).unwrap_or(entry.config),
            config_digest,
            config_bytes,
            config,
            manifest: None,
            layers,
            tags: entry.repo_tags.unwrap_or_default(),
        });
    }
    Ok(images)
}

fn blob_name(d: &Digest) -> String {
    format!("blobs/{}/{}", d.algorithm(), d.hex())
}

/// Reads a blob named by a descriptor and checks digest and size.
fn read_blob(contents: &ArchiveContents, desc: &Descriptor, field: &str) -> Result<Vec<u8>> {
    let (digest, bytes) = contents.read_document(&blob_name(&desc.digest), field)?;
    check_blob(&digest, bytes.len() as u64, desc, field)?;
    Ok(bytes)
}

fn check_blob(actual: &Digest, size: u64, desc: &Descriptor, field: &str) -> Result<()> {
    if actual != &desc.digest {
        return Err(Error::DigestMismatch {
            what: format!("{field} blob {}", desc.digest),
            expected: desc.digest.clone(),
            actual: actual.clone(),
        });
    }
    if size != desc.size {
        return Err(Error::SizeMismatch {
            what: format!("{field} blob {}", desc.digest),
            expected: desc.size,
            actual: size,
        });
    }
    Ok(())
}

fn oci_images(contents: &ArchiveContents, platform: &Platform) -> Result<Vec<ArchiveImage>> {
    let (_, bytes) = contents.read_document("index.json", "archive file")?;
    let index: Index = serde_json::from_slice(&bytes)
        .map_err(|e| Error::Invalid(format!("index.json: invalid JSON: {e}")))?;
    let mut images = Vec::new();
    for (i, desc) in index.manifests.iter().enumerate() {
        let field = format!("index.json: manifests[{i}]");
        let tags = tags_of(desc);
        for manifest_desc in pick_manifests(contents, desc, platform, &field, 0)? {
            let image = oci_image(contents, &manifest_desc, &field)?;
            // One image may be listed once per tag: merge them.
            match images
                .iter_mut()
                .find(|m: &&mut ArchiveImage| m.config_digest == image.config_digest)
            {
                Some(existing) => existing.tags.extend(tags.iter().cloned()),
                None => images.push(ArchiveImage {
                    tags: tags.clone(),
                    ..image
                }),
            }
        }
    }
    if images.is_empty() {
        return Err(Error::Invalid(format!(
            "index.json: no image for platform {platform}"
        )));
    }
    Ok(images)
}

/// The reference a descriptor's annotations name, if a full one.
fn tags_of(desc: &Descriptor) -> Vec<String> {
    let Some(ann) = &desc.annotations else {
        return Vec::new();
    };
    if let Some(name) = ann.get(spec::ANNOTATION_IMAGE_NAME) {
        return vec![name.clone()];
    }
    match ann.get(spec::ANNOTATION_REF_NAME) {
        // A bare tag names no repository; such an image loads untagged.
        Some(r) if r.contains('/') || r.contains(':') => vec![r.clone()],
        _ => Vec::new(),
    }
}

/// Follows nested indexes down to the manifests for `platform`.
fn pick_manifests(
    contents: &ArchiveContents,
    desc: &Descriptor,
    platform: &Platform,
    field: &str,
    depth: usize,
) -> Result<Vec<Descriptor>> {
    if media::is_manifest(&desc.media_type) {
        return Ok(vec![desc.clone()]);
    }
    if !media::is_index(&desc.media_type) {
        return Err(Error::Invalid(format!(
            "{field}: unsupported media type {:?}",
            desc.media_type
        )));
    }
    if depth > 4 {
        return Err(Error::Invalid(format!(
            "{field}: indexes nested too deeply"
        )));
    }
    let bytes = read_blob(contents, desc, field)?;
    let index: Index = serde_json::from_slice(&bytes).map_err(|e| {
        Error::Invalid(format!(
            "{field} (index {}): invalid JSON: {e}",
            desc.digest
        ))
    })?;
    let mut out = Vec::new();
    for (i, child) in index.manifests.iter().enumerate() {
        let child_field = format!("{field}.manifests[{i}]");
        let fits = child
            .platform
            .as_ref()
            .is_none_or(|p| platform.matches(&p.os, &p.architecture, p.variant.as_deref()));
        if fits && (media::is_index(&child.media_type) || media::is_manifest(&child.media_type)) {
            // Only blobs the archive holds: multi-platform saves often carry one platform.
            if media::is_manifest(&child.media_type) && !contents.has(&blob_name(&child.digest)) {
                continue;
            }
            out.extend(pick_manifests(
                contents,
                child,
                platform,
                &child_field,
                depth + 1,
            )?);
            if !out.is_empty() {
                break;
            }
        }
    }
    Ok(out)
}

fn oci_image(contents: &ArchiveContents, desc: &Descriptor, field: &str) -> Result<ArchiveImage> {
    let manifest_bytes = read_blob(contents, desc, field)?;
    let manifest: Manifest = serde_json::from_slice(&manifest_bytes).map_err(|e| {
        Error::Invalid(format!(
            "{field} (manifest {}): invalid JSON: {e}",
            desc.digest
        ))
    })?;
    let config_field = format!("{field} manifest {} config", desc.digest.short());
    let config_bytes = read_blob(contents, &manifest.config, &config_field)?;
    let config = ImageConfig::parse(&config_bytes)
        .map_err(|e| Error::Invalid(format!("{config_field} {}: {e}", manifest.config.digest)))?;
    if manifest.layers.len() != config.rootfs.diff_ids.len() {
        return Err(Error::Invalid(format!(
            "{field}: manifest {} lists {} layers but its config's rootfs.diff_ids has {}",
            desc.digest,
            manifest.layers.len(),
            config.rootfs.diff_ids.len()
        )));
    }
    let mut layers = Vec::new();
    for (j, layer) in manifest.layers.iter().enumerate() {
        let layer_field = format!("{field} manifest {} layers[{j}]", desc.digest.short());
        if layer.media_type == media::DOCKER_FOREIGN_LAYER || layer.urls.is_some() {
            return Err(Error::Invalid(format!(
                "{layer_field}: foreign layers (fetched from URLs) are not supported"
            )));
        }
        let name = blob_name(&layer.digest);
        let file = contents.lookup(&name, &layer_field)?;
        check_blob(
            file.ingested.digest(),
            file.ingested.size(),
            layer,
            &layer_field,
        )?;
        layers.push(ArchiveLayer {
            name,
            digest: layer.digest.clone(),
            size: layer.size,
            diff_id: config.rootfs.diff_ids[j].clone(),
        });
    }
    let media_type = manifest
        .media_type
        .clone()
        .unwrap_or_else(|| desc.media_type.clone());
    Ok(ArchiveImage {
        config_name: blob_name(&manifest.config.digest),
        config_digest: manifest.config.digest.clone(),
        config_bytes,
        config,
        manifest: Some((desc.digest.clone(), manifest_bytes, media_type)),
        layers,
        tags: Vec::new(),
    })
}
