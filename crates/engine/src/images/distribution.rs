//! `distribution inspect` (the API's `GET /distribution/{name}/json`): what a
//! registry holds under a reference, without pulling it — the descriptor
//! the reference resolves to and the platforms it offers (an index's
//! entries; a single manifest's from its config), as dockerd answers.

use berth_image::Reference;
use berth_image::spec::{Descriptor, ImageConfig, Index, Manifest, PlatformSpec};
use berth_registry::Credentials;

use crate::Engine;
use crate::error::{Error, Result};

#[derive(Clone, Debug)]
pub struct DistributionInspect {
    pub descriptor: Descriptor,
    pub platforms: Vec<PlatformSpec>,
}

impl Engine {
    pub async fn distribution_inspect(
        &self,
        reference: &Reference,
        credentials: Option<Credentials>,
    ) -> Result<DistributionInspect> {
        let what = format!("inspect {reference}");
        let registry = self
            .connect_registry(reference.domain(), credentials)
            .await
            .map_err(|e| e.context(&what))?;
        let wanted = match (reference.digest(), reference.tag()) {
            (Some(d), _) => d.to_string(),
            (None, Some(t)) => t.to_string(),
            (None, None) => "latest".to_string(),
        };
        let top = registry
            .get_manifest(reference.path(), &wanted)
            .await
            .map_err(|e| Error::from(e).context(&what))?;
        let digest = top
            .digest
            .parse()
            .map_err(|e| Error::invalid(format!("{what}: digest {}: {e}", top.digest)))?;
        let descriptor = Descriptor::new(&top.media_type, digest, top.bytes.len() as u64);
        let platforms = if top.is_index() {
            let index: Index = serde_json::from_slice(&top.bytes)
                .map_err(|e| Error::invalid(format!("{what}: index: {e}")))?;
            index
                .manifests
                .into_iter()
                .filter_map(|m| m.platform)
                .collect()
        } else {
            let manifest: Manifest = serde_json::from_slice(&top.bytes)
                .map_err(|e| Error::invalid(format!("{what}: manifest: {e}")))?;
            let bytes = registry
                .get_small_blob(
                    reference.path(),
                    manifest.config.digest.as_str(),
                    manifest.config.size,
                )
                .await
                .map_err(|e| Error::from(e).context(&what))?;
            let config: ImageConfig = serde_json::from_slice(&bytes)
                .map_err(|e| Error::invalid(format!("{what}: config: {e}")))?;
            vec![PlatformSpec {
                architecture: config.architecture,
                os: config.os,
                variant: config.variant,
                os_version: None,
            }]
        };
        Ok(DistributionInspect {
            descriptor,
            platforms,
        })
    }
}
