//! Fetching manifests and small blobs (configs): by tag or digest, with
//! every media type berth understands, capped in size, and verified against
//! the digest of the exact bytes received (never a re-serialisation).

use reqwest::Method;
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap};

use crate::client::{Registry, Request, check_status, header_value, read_capped_within};
use crate::digest;
use crate::error::{Error, Result};

/// Manifests larger than this are refused (distribution's own limit is 4 MiB).
pub const MAX_MANIFEST_BYTES: usize = 4 << 20;
/// Image configs are JSON too; this bounds memory for a hostile one.
pub const MAX_CONFIG_BYTES: u64 = 32 << 20;

pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
const DOCKER_SCHEMA1: &str = "application/vnd.docker.distribution.manifest.v1+json";
const DOCKER_SCHEMA1_SIGNED: &str = "application/vnd.docker.distribution.manifest.v1+prettyjws";

/// A manifest as received: bytes, media type and the digest of those bytes.
#[derive(Clone, Debug)]
pub struct FetchedManifest {
    pub bytes: Vec<u8>,
    pub media_type: String,
    pub digest: String,
}

impl FetchedManifest {
    pub fn is_index(&self) -> bool {
        self.media_type == OCI_INDEX || self.media_type == DOCKER_LIST
    }
}

/// The scope a pull of `repository` needs.
pub fn pull_scope(repository: &str) -> String {
    format!("repository:{repository}:pull")
}

/// Whether `reference` is a digest (else a tag), with its syntax checked.
pub fn check_reference(reference: &str) -> Result<bool> {
    if reference.contains(':') {
        digest::check_syntax(reference)?;
        return Ok(true);
    }
    let valid = !reference.is_empty()
        && reference.len() <= 128
        && reference
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
        && !reference.starts_with(['.', '-']);
    if !valid {
        return Err(Error::invalid_argument(format!(
            "invalid tag {reference:?}"
        )));
    }
    Ok(false)
}

impl Registry {
    /// `GET /v2/NAME/manifests/REF`.
    pub async fn get_manifest(&self, repository: &str, reference: &str) -> Result<FetchedManifest> {
        let by_digest = check_reference(reference)?;
        let what = format!("get manifest {}/{repository}:{reference}", self.host());
        let what = if by_digest {
            what.replacen(&format!(":{reference}"), &format!("@{reference}"), 1)
        } else {
            what
        };
        let scope = pull_scope(repository);
        let mut headers = HeaderMap::new();
        headers.insert(
            ACCEPT,
            header_value(&[OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST].join(", ")),
        );
        let request = Request {
            method: Method::GET,
            url: self.url(&format!("/v2/{repository}/manifests/{reference}"))?,
            scope: Some(&scope),
            headers,
            body: None,
            what: &what,
        };
        let response = self.send(&request).await?;
        if response.status() == reqwest::StatusCode::NOT_FOUND {
            // Docker's words, which scripts match on.
            let shown = what.trim_start_matches("get manifest ");
            let detail = check_status(response, "")
                .await
                .err()
                .map(|e| {
                    e.message
                        .trim_start_matches(": ")
                        .trim_end_matches(" (HTTP 404)")
                        .to_string()
                })
                .unwrap_or_default();
            return Err(crate::error::Error::not_found(format!(
                "manifest for {shown} not found: {detail}"
            )));
        }
        let response = check_status(response, &what).await?;
        let header_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(';').next().unwrap_or("").trim().to_string());
        let header_digest = response
            .headers()
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let bytes =
            read_capped_within(response, MAX_MANIFEST_BYTES, &what, self.document_timeout).await?;

        let digest = if by_digest {
            digest::verify(reference, &bytes, &what)?;
            reference.to_string()
        } else {
            if let Some(d) = &header_digest {
                digest::check_syntax(d).map_err(|e| e.context(&what))?;
                digest::verify(d, &bytes, &format!("{what}: Docker-Content-Digest"))?;
            }
            digest::compute("sha256", &bytes)
        };
        let media_type =
            media_type_of(&bytes, header_type.as_deref()).map_err(|e| e.context(&what))?;
        Ok(FetchedManifest {
            bytes,
            media_type,
            digest,
        })
    }

    /// A small blob (an image config) read whole, size- and digest-checked.
    pub async fn get_small_blob(
        &self,
        repository: &str,
        digest: &str,
        size: u64,
    ) -> Result<Vec<u8>> {
        digest::check_syntax(digest)?;
        let what = format!("get blob {}/{repository}@{digest}", self.host());
        if size > MAX_CONFIG_BYTES {
            return Err(Error::invalid(format!(
                "{what}: its descriptor says {size} bytes, over the limit of {MAX_CONFIG_BYTES}"
            )));
        }
        let scope = pull_scope(repository);
        let request = Request {
            method: Method::GET,
            url: self.url(&format!("/v2/{repository}/blobs/{digest}"))?,
            scope: Some(&scope),
            headers: HeaderMap::new(),
            body: None,
            what: &what,
        };
        let response = check_status(self.send(&request).await?, &what).await?;
        // Read one byte past the size so a longer body is caught.
        let bytes = read_capped_within(response, size as usize + 1, &what, self.document_timeout)
            .await
            .map_err(|e| {
                if e.kind == crate::error::ErrorKind::TooLarge {
                    Error::invalid(format!("{what}: longer than its descriptor's {size} bytes"))
                } else {
                    e
                }
            })?;
        if bytes.len() as u64 != size {
            return Err(Error::invalid(format!(
                "{what}: {} bytes received, its descriptor says {size}",
                bytes.len()
            )));
        }
        digest::verify(digest, &bytes, &what)?;
        Ok(bytes)
    }
}

/// The manifest's media type: the header's, checked against the document's
/// own `mediaType`; a document that is both an index and a manifest, or a
/// schema 1 manifest, is refused.
fn media_type_of(bytes: &[u8], header: Option<&str>) -> Result<String> {
    let doc: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| Error::invalid(format!("manifest is not JSON: {e}")))?;
    let body_type = doc.get("mediaType").and_then(|v| v.as_str());
    let has_manifests = doc.get("manifests").is_some();
    let has_image_parts = doc.get("layers").is_some() || doc.get("config").is_some();
    if has_manifests && has_image_parts {
        return Err(Error::invalid(
            "the document is both an index (\"manifests\") and an image manifest (\"config\"/\"layers\"): refused as ambiguous",
        ));
    }
    if doc.get("schemaVersion").and_then(|v| v.as_u64()) == Some(1)
        || matches!(header, Some(DOCKER_SCHEMA1 | DOCKER_SCHEMA1_SIGNED))
    {
        return Err(Error::new(
            crate::ErrorKind::Unsupported,
            "schema 1 manifests are deprecated and not supported; push the image again with a current client",
        ));
    }
    let known = |t: &str| [OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST].contains(&t);
    let chosen = match (header.filter(|h| known(h)), body_type) {
        (Some(h), Some(b)) if h != b => {
            return Err(Error::invalid(format!(
                "Content-Type {h} disagrees with the document's mediaType {b}"
            )));
        }
        (Some(h), _) => h.to_string(),
        (None, Some(b)) if known(b) => b.to_string(),
        (None, Some(b)) => {
            return Err(Error::invalid(format!(
                "unsupported manifest media type {b}"
            )));
        }
        (None, None) if has_manifests => OCI_INDEX.to_string(),
        (None, None) if has_image_parts => OCI_MANIFEST.to_string(),
        (None, None) => {
            return Err(Error::invalid(
                "the document is neither an index nor a manifest",
            ));
        }
    };
    let is_index_type = chosen == OCI_INDEX || chosen == DOCKER_LIST;
    if (is_index_type && has_image_parts) || (!is_index_type && has_manifests) {
        return Err(Error::invalid(format!(
            "the document's content does not match its media type {chosen}"
        )));
    }
    Ok(chosen)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_types() {
        let m = br#"{"schemaVersion":2,"config":{},"layers":[]}"#;
        assert_eq!(
            media_type_of(m, Some(DOCKER_MANIFEST)).unwrap(),
            DOCKER_MANIFEST
        );
        assert_eq!(
            media_type_of(m, Some("application/json")).unwrap(),
            OCI_MANIFEST
        );
        let both = br#"{"schemaVersion":2,"manifests":[],"layers":[]}"#;
        assert!(
            media_type_of(both, Some(OCI_INDEX))
                .unwrap_err()
                .message
                .contains("ambiguous")
        );
        let mismatch = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}"#;
        assert!(media_type_of(mismatch, Some(DOCKER_MANIFEST)).is_err());
        assert!(media_type_of(br#"{"schemaVersion":1}"#, None).is_err());
        assert!(media_type_of(b"not json", None).is_err());
    }

    #[test]
    fn references() {
        assert!(!check_reference("latest").unwrap());
        assert!(check_reference(&format!("sha256:{}", "0".repeat(64))).unwrap());
        assert!(check_reference("sha256:../../x").is_err());
        assert!(check_reference("a/b").is_err());
        assert!(check_reference(".x").is_err());
    }
}
