//! OCI image layouts written by the tests (for `skopeo copy oci:DIR …`):
//! one image, or several under an index with a platform each (multi-arch).

use std::path::Path;

use berth_image::Digest;

use super::TestImage;

/// One image in a layout: its platform (`amd64`, `arm64`) and content.
pub struct PlatformImage {
    pub architecture: &'static str,
    pub image: TestImage,
}

fn write_blob(dir: &Path, bytes: &[u8]) -> Digest {
    let digest = Digest::of(bytes);
    let path = dir.join("blobs/sha256").join(digest.hex());
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir blobs");
    std::fs::write(&path, bytes).expect("write blob");
    digest
}

fn layer_media_type(layer: &[u8]) -> &'static str {
    if layer.starts_with(&[0x1f, 0x8b]) {
        "application/vnd.oci.image.layer.v1.tar+gzip"
    } else if layer.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        "application/vnd.oci.image.layer.v1.tar+zstd"
    } else {
        "application/vnd.oci.image.layer.v1.tar"
    }
}

/// Writes the images as an OCI layout under `dir` whose index.json points at
/// one index (multi-arch) holding a manifest per image; returns the digest
/// of that inner index and of each manifest.
pub fn write_multi_arch(dir: &Path, images: &[PlatformImage]) -> (Digest, Vec<Digest>) {
    let mut manifests = Vec::new();
    let mut entries = Vec::new();
    for p in images {
        let mut config: serde_json::Value =
            serde_json::from_slice(&p.image.config()).expect("config json");
        config["architecture"] = p.architecture.into();
        if p.architecture == "arm64" {
            config["variant"] = "v8".into();
        }
        let config_bytes = serde_json::to_vec(&config).expect("json");
        let config_digest = write_blob(dir, &config_bytes);
        let layers: Vec<serde_json::Value> = p
            .image
            .layers
            .iter()
            .map(|l| {
                serde_json::json!({
                    "mediaType": layer_media_type(l),
                    "digest": write_blob(dir, l).to_string(),
                    "size": l.len(),
                })
            })
            .collect();
        let manifest = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest.to_string(), "size": config_bytes.len()},
            "layers": layers,
        }))
        .expect("json");
        let digest = write_blob(dir, &manifest);
        let mut platform = serde_json::json!({"architecture": p.architecture, "os": "linux"});
        if p.architecture == "arm64" {
            platform["variant"] = "v8".into();
        }
        entries.push(serde_json::json!({
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": digest.to_string(),
            "size": manifest.len(),
            "platform": platform,
        }));
        manifests.push(digest);
    }
    let index = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": entries,
    }))
    .expect("json");
    let index_digest = write_blob(dir, &index);
    let top = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "digest": index_digest.to_string(),
            "size": index.len(),
            "annotations": {"org.opencontainers.image.ref.name": "latest"},
        }],
    });
    std::fs::write(
        dir.join("index.json"),
        serde_json::to_vec(&top).expect("json"),
    )
    .expect("index.json");
    std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#)
        .expect("oci-layout");
    (index_digest, manifests)
}

/// zstd-compresses a layer (level 3).
pub fn zstd(data: &[u8]) -> Vec<u8> {
    zstd::encode_all(data, 3).expect("zstd")
}
