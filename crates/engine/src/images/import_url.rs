//! `import` of a URL (`berth import http://…`, the API's `fromSrc=<url>`):
//! the download feeds the same one-pass import as a file (stored, hashed
//! and unpacked as the bytes arrive). A thread of its own runs the HTTP
//! I/O and hands chunks over a bounded channel, so a slow disk slows the
//! download rather than filling memory.

use std::io::{self, Read};
use std::sync::mpsc;
use std::time::Duration;

use berth_image::Digest;
use bytes::Bytes;

use super::import::{ImportOptions, new_image_tag};
use crate::Engine;
use crate::error::{Error, Result};

enum Message {
    /// The server answered yes; chunks follow.
    Started,
    Chunk(Bytes),
    Failed(Error),
}

/// The download's chunks as a reader.
struct ChannelReader {
    rx: mpsc::Receiver<Message>,
    current: Bytes,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.current.is_empty() {
            match self.rx.recv() {
                Ok(Message::Chunk(c)) => self.current = c,
                Ok(Message::Failed(e)) => return Err(io::Error::other(e.to_string())),
                Ok(Message::Started) => {}
                // The download finished: the end of the archive.
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current.split_to(n));
        Ok(n)
    }
}

/// `src` as dockerd reads it: without a scheme, an http host.
pub fn normalize_url(src: &str) -> String {
    if src.contains("://") {
        src.to_string()
    } else {
        format!("http://{src}")
    }
}

impl Engine {
    /// Downloads `url` and imports it; a refused or failed request is
    /// reported before anything is stored.
    pub fn import_url(&self, url: &str, options: &ImportOptions) -> Result<Digest> {
        if let Some(r) = &options.reference {
            new_image_tag(r, "import")?;
        }
        let timeout = Duration::from_secs(self.registries_config()?.read_timeout_secs.max(1));
        let (tx, rx) = mpsc::sync_channel::<Message>(16);
        let target = url.to_string();
        let fetcher = std::thread::Builder::new()
            .name("berth-download".into())
            .spawn(move || {
                let outcome = crate::registries::block_on(async {
                    let mut download = berth_registry::download::download(&target, timeout).await?;
                    if tx.send(Message::Started).is_err() {
                        return Ok(());
                    }
                    while let Some(chunk) = download.chunk().await? {
                        if tx.send(Message::Chunk(chunk)).is_err() {
                            // The import stopped reading (it failed).
                            return Ok(());
                        }
                    }
                    Ok(())
                });
                if let Err(e) = outcome {
                    let _ = tx.send(Message::Failed(e));
                }
            })
            .map_err(|e| Error::internal(format!("start the download thread: {e}")))?;
        let result = match rx.recv() {
            Ok(Message::Started) => self.import(
                ChannelReader {
                    rx,
                    current: Bytes::new(),
                },
                &ImportOptions {
                    source: url.to_string(),
                    input: None,
                    ..options.clone()
                },
            ),
            Ok(Message::Failed(e)) => Err(e.context(format!("import from {url}"))),
            Ok(Message::Chunk(_)) | Err(_) => Err(Error::internal(format!(
                "import from {url}: the download ended before it started"
            ))),
        };
        let _ = fetcher.join();
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_host_is_http() {
        assert_eq!(
            normalize_url("example.com/x.tar"),
            "http://example.com/x.tar"
        );
        assert_eq!(normalize_url("https://h/x.tar"), "https://h/x.tar");
    }
}
