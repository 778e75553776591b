//! `search`: the index search API `docker search` uses, `GET /v1/search?q=
//! TERM&n=LIMIT` on Docker Hub's index or on a registry that serves one
//! (the OCI distribution protocol itself has no search). As Docker's
//! daemon does, the endpoint is checked with `GET /v1/_ping` over HTTPS,
//! then plain HTTP for an insecure registry; stored credentials go along
//! as Basic authentication.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use reqwest::{StatusCode, Url};
use serde::{Deserialize, Serialize};

use crate::client::{build_http, check_status, read_capped};
use crate::config::RegistriesConfig;
use crate::credentials::Credentials;
use crate::error::{Error, Result, describe};

/// One repository the index found, as the index and Docker's API spell it.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
pub struct SearchResult {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub star_count: u64,
    #[serde(default)]
    pub is_official: bool,
    #[serde(default)]
    pub is_automated: bool,
}

#[derive(Deserialize)]
struct Answer {
    #[serde(default)]
    results: Vec<SearchResult>,
}

/// Where a search term is looked up: `host/name` names a registry when
/// `host` looks like one (a dot, a port or `localhost`), as in Docker;
/// anything else searches Docker Hub.
pub fn split_term(term: &str) -> (String, String) {
    if let Some((first, rest)) = term.split_once('/')
        && (first.contains('.') || first.contains(':') || first == "localhost")
    {
        return (first.to_string(), rest.to_string());
    }
    ("docker.io".to_string(), term.to_string())
}

/// Asks `index` (a host from [`split_term`]) for up to `limit` repositories
/// matching `query`.
pub async fn search(
    index: &str,
    query: &str,
    limit: u32,
    config: &RegistriesConfig,
    credentials: Option<&Credentials>,
) -> Result<Vec<SearchResult>> {
    let host = if index == "docker.io" {
        "index.docker.io"
    } else {
        index
    };
    let mut bases = vec![format!("https://{host}")];
    if index != "docker.io" && config.is_insecure(host) {
        bases.push(format!("http://{host}"));
    }
    let mut failures = Vec::new();
    for base in bases {
        let http = build_http(host, config)?;
        let ping = format!("{base}/v1/_ping");
        match http.get(&ping).send().await {
            Ok(r) if r.status().is_success() => {}
            Ok(r) => {
                failures.push(format!("GET {ping}: {}", r.status()));
                continue;
            }
            Err(e) => {
                failures.push(format!("GET {ping}: {}", describe(&e)));
                continue;
            }
        }
        let mut url = Url::parse(&format!("{base}/v1/search"))
            .map_err(|e| Error::invalid_argument(format!("search URL for {host}: {e}")))?;
        url.query_pairs_mut()
            .append_pair("q", query)
            .append_pair("n", &limit.to_string());
        let mut request = http.get(url.clone()).timeout(Duration::from_secs(60));
        if let Some(c) = credentials {
            let basic = STANDARD.encode(format!("{}:{}", c.username, c.secret));
            request = request.header(reqwest::header::AUTHORIZATION, format!("Basic {basic}"));
        }
        let response = request.send().await.map_err(|e| {
            Error::unavailable(format!("search {host}: GET {url}: {}", describe(&e)))
        })?;
        if response.status() == StatusCode::UNAUTHORIZED {
            return Err(Error::unauthorized(format!(
                "search {host}: unauthorized (log in to {index} first)"
            )));
        }
        let response = check_status(response, &format!("search {host}")).await?;
        let body = read_capped(response, 16 << 20, &format!("search {host}")).await?;
        let answer: Answer = serde_json::from_slice(&body).map_err(|e| {
            Error::invalid(format!(
                "search {host}: the answer is not a search result: {e}"
            ))
        })?;
        return Ok(answer.results);
    }
    Err(Error::unavailable(format!(
        "cannot search {index}: {}",
        failures.join("; ")
    )))
}
