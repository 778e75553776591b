//! Pushing: blobs the registry has are skipped (HEAD), blobs it holds in
//! another repository are mounted instead of uploaded, the rest go up in one
//! streamed PUT per blob (a monolithic upload after opening a session), and
//! the manifest last, so a registry never serves a manifest whose blobs are
//! missing.

use reqwest::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderMap, LOCATION};
use reqwest::{Method, StatusCode, Url};

use crate::client::{Registry, Request, check_status, header_value};
use crate::digest;
use crate::error::{Error, Result, describe};

/// The scope a push to `repository` needs.
pub fn push_scope(repository: &str) -> String {
    format!("repository:{repository}:pull,push")
}

/// How a blob reached the registry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlobPushed {
    AlreadyThere,
    Mounted,
    Uploaded,
}

impl Registry {
    /// `HEAD /v2/NAME/blobs/DIGEST`.
    pub async fn blob_exists(&self, repository: &str, digest: &str) -> Result<bool> {
        digest::check_syntax(digest)?;
        let what = format!("check blob {}/{repository}@{digest}", self.host());
        let scope = push_scope(repository);
        let request = Request {
            method: Method::HEAD,
            url: self.url(&format!("/v2/{repository}/blobs/{digest}"))?,
            scope: Some(&scope),
            headers: HeaderMap::new(),
            body: None,
            what: &what,
        };
        let response = self.send(&request).await?;
        match response.status() {
            StatusCode::NOT_FOUND => Ok(false),
            s if s.is_success() => Ok(true),
            _ => check_status(response, &what).await.map(|_| false),
        }
    }

    /// Pushes one blob unless the registry has it; `mount_from` names another
    /// repository of the same registry that holds it. `body` makes a fresh
    /// stream of the blob's bytes for each attempt.
    pub async fn push_blob(
        &self,
        repository: &str,
        digest: &str,
        size: u64,
        mount_from: Option<&str>,
        body: impl Fn() -> Result<reqwest::Body>,
    ) -> Result<BlobPushed> {
        if self.blob_exists(repository, digest).await? {
            return Ok(BlobPushed::AlreadyThere);
        }
        let what = format!("push blob {}/{repository}@{digest}", self.host());
        let scope = match mount_from {
            Some(from) => format!("{} repository:{from}:pull", push_scope(repository)),
            None => push_scope(repository),
        };
        let mut path = format!("/v2/{repository}/blobs/uploads/");
        if let Some(from) = mount_from {
            path.push_str(&format!("?mount={digest}&from={from}"));
        }
        let request = Request {
            method: Method::POST,
            url: self.url(&path)?,
            scope: Some(&scope),
            headers: HeaderMap::new(),
            body: Some(bytes::Bytes::new()),
            what: &what,
        };
        let response = check_status(self.send(&request).await?, &what).await?;
        if response.status() == StatusCode::CREATED && mount_from.is_some() {
            return Ok(BlobPushed::Mounted);
        }
        let location = self.upload_location(&response, &what)?;
        self.put_upload(location, digest, size, &scope, &what, body()?)
            .await?;
        Ok(BlobPushed::Uploaded)
    }

    fn upload_location(&self, response: &reqwest::Response, what: &str) -> Result<Url> {
        let location = response
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| Error::invalid(format!("{what}: the upload session has no Location")))?;
        // Locations may be relative to the registry.
        self.base_url()
            .join(location)
            .map_err(|e| Error::invalid(format!("{what}: bad upload Location {location:?}: {e}")))
    }

    async fn put_upload(
        &self,
        mut url: Url,
        digest: &str,
        size: u64,
        scope: &str,
        what: &str,
        body: reqwest::Body,
    ) -> Result<()> {
        url.query_pairs_mut().append_pair("digest", digest);
        // The body is a one-shot stream, so this request is sent directly
        // (with the token the session was opened with) rather than through
        // the retrying loop.
        let mut builder = self
            .http
            .put(url)
            .header(CONTENT_TYPE, "application/octet-stream")
            .header(CONTENT_LENGTH, size)
            .body(body);
        if let Some(h) = self.auth.header(&self.http, Some(scope)).await? {
            builder = builder.header(reqwest::header::AUTHORIZATION, h);
        }
        let response = builder
            .send()
            .await
            .map_err(|e| Error::unavailable(format!("{what}: upload: {}", describe(&e))))?;
        check_status(response, what).await.map(|_| ())
    }

    /// `PUT /v2/NAME/manifests/REF`; returns the digest of the bytes sent.
    pub async fn put_manifest(
        &self,
        repository: &str,
        reference: &str,
        media_type: &str,
        bytes: Vec<u8>,
    ) -> Result<String> {
        crate::manifest::check_reference(reference)?;
        let what = format!("push manifest {}/{repository}:{reference}", self.host());
        let scope = push_scope(repository);
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, header_value(media_type));
        let sent_digest = digest::compute("sha256", &bytes);
        let request = Request {
            method: Method::PUT,
            url: self.url(&format!("/v2/{repository}/manifests/{reference}"))?,
            scope: Some(&scope),
            headers,
            body: Some(bytes.into()),
            what: &what,
        };
        let response = check_status(self.send(&request).await?, &what).await?;
        if let Some(d) = response
            .headers()
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok())
            && d != sent_digest
        {
            return Err(Error::invalid(format!(
                "{what}: the registry stored it as {d}, but the bytes sent hash to {sent_digest}"
            )));
        }
        Ok(sent_digest)
    }

    /// Every tag of `repository` (`GET /v2/NAME/tags/list`, following `Link`).
    pub async fn list_tags(&self, repository: &str) -> Result<Vec<String>> {
        let what = format!("list tags of {}/{repository}", self.host());
        let scope = crate::manifest::pull_scope(repository);
        let mut url = self.url(&format!("/v2/{repository}/tags/list?n=1000"))?;
        let mut tags = Vec::new();
        for _ in 0..1000 {
            let request = Request {
                method: Method::GET,
                url: url.clone(),
                scope: Some(&scope),
                headers: HeaderMap::new(),
                body: None,
                what: &what,
            };
            let response = check_status(self.send(&request).await?, &what).await?;
            let next = response
                .headers()
                .get(reqwest::header::LINK)
                .and_then(|v| v.to_str().ok())
                .and_then(next_link);
            let body = crate::client::read_capped(response, 16 << 20, &what).await?;
            let v: serde_json::Value = serde_json::from_slice(&body)
                .map_err(|e| Error::invalid(format!("{what}: bad JSON: {e}")))?;
            if let Some(list) = v.get("tags").and_then(|t| t.as_array()) {
                tags.extend(list.iter().filter_map(|t| t.as_str().map(str::to_string)));
            }
            match next {
                Some(link) => {
                    url = url
                        .join(&link)
                        .map_err(|e| Error::invalid(format!("{what}: bad Link {link:?}: {e}")))?
                }
                None => return Ok(tags),
            }
        }
        Err(Error::invalid(format!("{what}: more than 1000 pages")))
    }
}

/// The target of `<…>; rel="next"`.
fn next_link(value: &str) -> Option<String> {
    value.split(',').find_map(|part| {
        let (target, params) = part.split_once(';')?;
        params.contains("rel=\"next\"").then(|| {
            target
                .trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_string()
        })
    })
}
