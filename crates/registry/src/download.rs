//! Plain HTTP(S) downloads outside any registry: `import` of a URL (as
//! dockerd's `fromSrc=<url>`). Redirects are followed (nothing secret is
//! sent), the status is checked, and the body arrives as a stream of
//! chunks the caller stores as they come.

use std::time::Duration;

use bytes::Bytes;

use crate::error::{Error, Result, describe};

/// A response whose status said yes; its body still to read.
pub struct Download {
    url: String,
    /// The Content-Length, when the server sent one.
    pub length: Option<u64>,
    response: reqwest::Response,
}

/// `GET url`: http or https only.
pub async fn download(url: &str, read_timeout: Duration) -> Result<Download> {
    let parsed = reqwest::Url::parse(url)
        .map_err(|e| Error::invalid_argument(format!("invalid URL {url:?}: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(Error::invalid_argument(format!(
            "invalid URL {url:?}: only http and https can be downloaded"
        )));
    }
    let http = reqwest::Client::builder()
        .user_agent(concat!("berth/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(15))
        .read_timeout(read_timeout)
        .build()
        .map_err(|e| Error::invalid_argument(format!("HTTP client: {}", describe(&e))))?;
    let response = http
        .get(parsed)
        .send()
        .await
        .map_err(|e| Error::unavailable(format!("GET {url}: {}", describe(&e))))?;
    let status = response.status();
    if !status.is_success() {
        let message = format!("GET {url}: {status}");
        return Err(if status == reqwest::StatusCode::NOT_FOUND {
            Error::not_found(message)
        } else if status.is_server_error() {
            Error::unavailable(message)
        } else {
            Error::invalid(message)
        });
    }
    Ok(Download {
        url: url.to_string(),
        length: response.content_length(),
        response,
    })
}

impl Download {
    /// The next piece of the body; None at its end.
    pub async fn chunk(&mut self) -> Result<Option<Bytes>> {
        self.response
            .chunk()
            .await
            .map_err(|e| Error::unavailable(format!("GET {}: {}", self.url, describe(&e))))
    }
}
