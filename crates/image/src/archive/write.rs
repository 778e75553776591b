//! Writing an image archive.
//!
//! The default form is what Docker 25+ writes: an OCI image layout (`oci-layout`,
//! `index.json`, `blobs/sha256/…`) that is also a docker-archive (`manifest.json`
//! pointing into `blobs/`), so `docker load` of any version, skopeo and
//! containerd all read it. `Oci` leaves out `manifest.json`.
//!
//! Output is deterministic (sorted blobs, zero mtimes, root ownership), and each
//! blob is re-hashed as it is copied so a corrupted store never produces an
//! archive that claims to be intact.

use std::collections::BTreeMap;
use std::io::{self, Write};

use serde::Serialize;

use crate::content::ContentStore;
use crate::digest::Digest;
use crate::error::{Error, IoContext, Result};
use crate::reference::Reference;
use crate::spec::{self, Descriptor, Index, media};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SaveFormat {
    /// OCI layout plus manifest.json, as Docker 25+ writes.
    Docker,
    /// OCI layout only.
    Oci,
}

/// An image to write: its blobs must all be in the store.
#[derive(Clone, Debug)]
pub struct SaveImage {
    pub config: Digest,
    pub manifest: Descriptor,
    pub layers: Vec<Digest>,
    /// Full references (`docker.io/library/busybox:latest`).
    pub tags: Vec<Reference>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct DockerManifestEntry {
    config: String,
    repo_tags: Vec<String>,
    layers: Vec<String>,
}

/// Writes `images` as a tar stream to `out`.
pub fn write_archive(
    out: impl Write,
    store: &ContentStore,
    images: &[SaveImage],
    format: SaveFormat,
) -> Result<()> {
    let mut blobs: BTreeMap<Digest, u64> = BTreeMap::new();
    for image in images {
        for d in std::iter::once(&image.config)
            .chain(std::iter::once(&image.manifest.digest))
            .chain(&image.layers)
        {
            if !blobs.contains_key(d) {
                blobs.insert(d.clone(), store.size(d)?);
            }
        }
    }

    let mut builder = tar::Builder::new(out);
    builder.mode(tar::HeaderMode::Deterministic);
    let to_invalid = |e: io::Error| Error::Invalid(format!("write archive: {e}"));
    append_dir(&mut builder, "blobs/").map_err(to_invalid)?;
    append_dir(&mut builder, "blobs/sha256/").map_err(to_invalid)?;
    for (digest, size) in &blobs {
        let mut header = file_header(*size);
        let reader = store.verified_reader(digest)?;
        builder
            .append_data(
                &mut header,
                format!("blobs/sha256/{}", digest.hex()),
                reader,
            )
            .map_err(|e| Error::Invalid(format!("write archive: blob {digest}: {e}")))?;
    }

    let mut manifests = Vec::new();
    for image in images {
        if image.tags.is_empty() {
            manifests.push(image.manifest.clone());
        }
        for tag in &image.tags {
            let mut desc = image.manifest.clone();
            desc.platform = None;
            let mut ann = BTreeMap::new();
            ann.insert(spec::ANNOTATION_IMAGE_NAME.to_string(), tag.to_string());
            if let Some(t) = tag.tag() {
                ann.insert(spec::ANNOTATION_REF_NAME.to_string(), t.to_string());
            }
            desc.annotations = Some(ann);
            manifests.push(desc);
        }
    }
    let index = Index {
        schema_version: 2,
        media_type: Some(media::OCI_INDEX.to_string()),
        manifests,
        annotations: None,
    };
    append_json(&mut builder, "index.json", &index)?;

    if format == SaveFormat::Docker {
        let entries: Vec<DockerManifestEntry> = images
            .iter()
            .map(|image| DockerManifestEntry {
                config: format!("blobs/sha256/{}", image.config.hex()),
                repo_tags: image.tags.iter().map(Reference::familiar_string).collect(),
                layers: image
                    .layers
                    .iter()
                    .map(|d| format!("blobs/sha256/{}", d.hex()))
                    .collect(),
            })
            .collect();
        append_json(&mut builder, "manifest.json", &entries)?;
    }
    append_json(
        &mut builder,
        "oci-layout",
        &serde_json::json!({"imageLayoutVersion": "1.0.0"}),
    )?;
    let mut out = builder.into_inner().map_err(to_invalid)?;
    out.flush()
        .ctx("flush", std::path::Path::new("archive output"))?;
    Ok(())
}

fn file_header(size: u64) -> tar::Header {
    let mut h = tar::Header::new_ustar();
    h.set_size(size);
    h.set_mode(0o644);
    h.set_mtime(0);
    h.set_uid(0);
    h.set_gid(0);
    h.set_entry_type(tar::EntryType::Regular);
    h
}

fn append_dir<W: Write>(builder: &mut tar::Builder<W>, name: &str) -> io::Result<()> {
    let mut h = tar::Header::new_ustar();
    h.set_size(0);
    h.set_mode(0o755);
    h.set_mtime(0);
    h.set_entry_type(tar::EntryType::Directory);
    builder.append_data(&mut h, name, io::empty())
}

fn append_json<W: Write>(
    builder: &mut tar::Builder<W>,
    name: &str,
    value: &impl Serialize,
) -> Result<()> {
    let bytes =
        serde_json::to_vec(value).map_err(|e| Error::Invalid(format!("encode {name}: {e}")))?;
    let mut h = file_header(bytes.len() as u64);
    builder
        .append_data(&mut h, name, &bytes[..])
        .map_err(|e| Error::Invalid(format!("write archive: {name}: {e}")))
}
