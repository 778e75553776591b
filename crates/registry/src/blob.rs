//! Streaming a layer blob: the bytes come in chunks exactly as the registry
//! sends them, never more than the descriptor's size; a dropped connection or
//! a short body is resumed with `Range` from where it stopped, with backoff.
//! The caller hashes what it receives: the digest is checked where the bytes
//! are written, so nothing is buffered twice.

use std::time::Duration;

use bytes::Bytes;
use reqwest::header::{CONTENT_RANGE, HeaderMap, RANGE};
use reqwest::{Method, Response, StatusCode};

use crate::client::{Registry, Request, check_status, header_value};
use crate::digest;
use crate::error::{Error, ErrorKind, Result, describe};
use crate::manifest::pull_scope;

/// Resumes allowed without any progress in between before giving up.
const STALLED_RESUMES: u32 = 4;

pub struct BlobStream<'r> {
    registry: &'r Registry,
    repository: String,
    digest: String,
    size: u64,
    offset: u64,
    response: Option<Response>,
    /// Bytes of a 200 answer to a ranged request still to throw away.
    skip: u64,
    stalled: u32,
    /// Number of times the stream was resumed (for progress and tests).
    pub resumes: u32,
    what: String,
}

impl Registry {
    /// Streams blob `digest` of `size` bytes starting at `offset` (bytes the
    /// caller already holds from an earlier, interrupted attempt).
    pub fn blob_stream(
        &self,
        repository: &str,
        digest: &str,
        size: u64,
        offset: u64,
    ) -> Result<BlobStream<'_>> {
        digest::check_syntax(digest)?;
        Ok(BlobStream {
            registry: self,
            repository: repository.to_string(),
            digest: digest.to_string(),
            size,
            offset: offset.min(size),
            response: None,
            skip: 0,
            stalled: 0,
            resumes: 0,
            what: format!("get blob {}/{repository}@{digest}", self.host()),
        })
    }
}

impl BlobStream<'_> {
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The next chunk, or None once exactly `size` bytes came and the
    /// registry has nothing more to say.
    pub async fn next(&mut self) -> Result<Option<Bytes>> {
        loop {
            if self.response.is_none() {
                if self.offset == self.size && self.size > 0 {
                    return Ok(None);
                }
                self.open().await?;
            }
            let Some(response) = self.response.as_mut() else {
                continue;
            };
            match response.chunk().await {
                Ok(Some(mut chunk)) => {
                    if self.skip > 0 {
                        let n = (self.skip as usize).min(chunk.len());
                        self.skip -= n as u64;
                        chunk = chunk.slice(n..);
                        if chunk.is_empty() {
                            continue;
                        }
                    }
                    let remaining = self.size - self.offset;
                    if chunk.len() as u64 > remaining {
                        return Err(Error::invalid(format!(
                            "{}: longer than its descriptor's {} bytes",
                            self.what, self.size
                        )));
                    }
                    self.offset += chunk.len() as u64;
                    self.stalled = 0;
                    return Ok(Some(chunk));
                }
                Ok(None) if self.offset == self.size => {
                    self.response = None;
                    return Ok(None);
                }
                Ok(None) => {
                    self.resume(format!(
                        "the connection ended after {} of {} bytes",
                        self.offset, self.size
                    ))
                    .await?
                }
                Err(e) => self.resume(describe(&e)).await?,
            }
        }
    }

    async fn resume(&mut self, why: String) -> Result<()> {
        self.response = None;
        self.stalled += 1;
        if self.stalled > STALLED_RESUMES {
            return Err(Error::unavailable(format!(
                "{}: {why}; gave up after {} attempts without progress",
                self.what, STALLED_RESUMES
            )));
        }
        self.resumes += 1;
        tokio::time::sleep(Duration::from_millis(100 << self.stalled.min(5))).await;
        Ok(())
    }

    async fn open(&mut self) -> Result<()> {
        let scope = pull_scope(&self.repository);
        let mut headers = HeaderMap::new();
        if self.offset > 0 {
            headers.insert(RANGE, header_value(&format!("bytes={}-", self.offset)));
        }
        let request = Request {
            method: Method::GET,
            url: self
                .registry
                .url(&format!("/v2/{}/blobs/{}", self.repository, self.digest))?,
            scope: Some(&scope),
            headers,
            body: None,
            what: &self.what,
        };
        let response = match self.registry.send(&request).await {
            Ok(r) => r,
            Err(e) if e.kind == ErrorKind::Unavailable && self.stalled < STALLED_RESUMES => {
                return self.resume(e.message).await;
            }
            Err(e) => return Err(e),
        };
        let response = check_status(response, &self.what).await?;
        let length = response.content_length();
        match response.status() {
            StatusCode::PARTIAL_CONTENT => {
                let start = response
                    .headers()
                    .get(CONTENT_RANGE)
                    .and_then(|v| v.to_str().ok())
                    .and_then(range_start);
                if start != Some(self.offset) {
                    return Err(Error::invalid(format!(
                        "{}: asked for bytes from {} but the answer's Content-Range starts at {start:?}",
                        self.what, self.offset
                    )));
                }
                self.skip = 0;
                self.check_length(length, self.size - self.offset)?;
            }
            _ => {
                // A registry that ignores Range sends everything again.
                self.skip = self.offset;
                self.check_length(length, self.size)?;
            }
        }
        self.response = Some(response);
        Ok(())
    }

    fn check_length(&self, length: Option<u64>, expected: u64) -> Result<()> {
        match length {
            Some(n) if n != expected => Err(Error::invalid(format!(
                "{}: the registry announces {n} bytes where its descriptor leaves {expected} ({} in all)",
                self.what, self.size
            ))),
            _ => Ok(()),
        }
    }
}

/// The first byte position of `bytes START-END/TOTAL`.
fn range_start(value: &str) -> Option<u64> {
    let rest = value.trim().strip_prefix("bytes ")?;
    rest.split('-').next()?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    #[test]
    fn content_range_start() {
        assert_eq!(super::range_start("bytes 100-199/200"), Some(100));
        assert_eq!(super::range_start("bytes */200"), None);
        assert_eq!(super::range_start("items 1-2/3"), None);
    }
}
