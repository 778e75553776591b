//! `search`: Docker's rules around the index search (the term names the
//! index, filters `stars`, `is-official` and `is-automated` are checked and
//! applied here as Docker's daemon applies them, after the index answered
//! `limit` results).

use berth_registry::Credentials;
use berth_registry::search::{self, SearchResult};

use crate::Engine;
use crate::error::{Error, Result};

/// What Docker's `docker search` asks.
#[derive(Clone, Debug, Default)]
pub struct SearchOptions {
    pub term: String,
    /// 1 to 100; Docker's default is 25.
    pub limit: Option<i64>,
    /// `key=value` filters as given.
    pub filters: Vec<(String, String)>,
    /// The caller's credentials (the API's X-Registry-Auth); else the
    /// credentials file's for the index.
    pub credentials: Option<Credentials>,
}

/// The filters, checked before the index is asked.
#[derive(Default)]
struct Wanted {
    stars: u64,
    official: Option<bool>,
    automated: Option<bool>,
}

fn wanted(filters: &[(String, String)]) -> Result<Wanted> {
    let mut w = Wanted::default();
    for (key, value) in filters {
        let flag = |v: &str| match v {
            "true" | "1" => Ok(true),
            "false" | "0" => Ok(false),
            _ => Err(Error::invalid(format!("Invalid filter '{key}={v}'"))),
        };
        match key.as_str() {
            "stars" => {
                let n: u64 = value
                    .parse()
                    .map_err(|_| Error::invalid(format!("Invalid filter 'stars={value}'")))?;
                w.stars = w.stars.max(n);
            }
            "is-official" => w.official = Some(flag(value)?),
            "is-automated" => w.automated = Some(flag(value)?),
            _ => return Err(Error::invalid(format!("Invalid filter '{key}'"))),
        }
    }
    Ok(w)
}

impl Engine {
    /// Searches the index the term names; blocking (the CLI).
    pub fn search(&self, options: &SearchOptions) -> Result<Vec<SearchResult>> {
        super::block_on(self.search_async(options))
    }

    /// Searches from async code (the API daemon).
    pub async fn search_async(&self, options: &SearchOptions) -> Result<Vec<SearchResult>> {
        // 0 (or none) is the default, as in docker.
        let limit = options.limit.filter(|l| *l != 0).unwrap_or(25);
        if !(1..=100).contains(&limit) {
            return Err(Error::invalid(format!(
                "Limit {limit} is outside the range of [1, 100]"
            )));
        }
        let limit = limit as u32;
        let wanted = wanted(&options.filters)?;
        let (index, query) = search::split_term(&options.term);
        let config = self.registries_config()?;
        let credentials = match &options.credentials {
            Some(c) => Some(c.clone()),
            None => self.docker_config().get(&index).map_err(Error::from)?,
        };
        let results = search::search(&index, &query, limit, &config, credentials.as_ref())
            .await
            .map_err(Error::from)?;
        Ok(results
            .into_iter()
            .filter(|r| wanted.official.is_none_or(|o| o == r.is_official))
            .filter(|r| wanted.automated.is_none_or(|a| a == r.is_automated))
            .filter(|r| r.star_count >= wanted.stars)
            .take(limit as usize)
            .collect())
    }
}
