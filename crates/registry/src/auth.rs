//! Answering registry challenges: Basic credentials, or Bearer tokens fetched
//! from the challenge's realm per scope (`repository:NAME:pull,push`) and
//! cached until they expire. Credentials only go to a realm over HTTPS or on
//! the registry's own host, so a registry cannot make berth send a password
//! in clear text to a third party.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use reqwest::header::HeaderValue;
use serde::Deserialize;

use crate::challenge::Challenge;
use crate::credentials::Credentials;
use crate::error::{Error, Result, describe};

pub(crate) struct Auth {
    /// The registry's `host[:port]` as it is reached (after mirror choice).
    origin_host: String,
    credentials: Option<Credentials>,
    challenge: Mutex<Option<Challenge>>,
    tokens: Mutex<HashMap<String, (String, Instant)>>,
}

#[derive(Deserialize)]
struct TokenResponse {
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    access_token: Option<String>,
    #[serde(default)]
    expires_in: Option<u64>,
}

impl Auth {
    pub fn new(origin_host: String, credentials: Option<Credentials>) -> Auth {
        Auth {
            origin_host,
            credentials,
            challenge: Mutex::new(None),
            tokens: Mutex::new(HashMap::new()),
        }
    }

    pub fn challenge(&self) -> Option<Challenge> {
        self.challenge
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Learns the scheme from a 401; forgets the token cached for `scope` (it
    /// was not enough).
    pub fn learn(&self, challenge: Option<Challenge>, scope: Option<&str>) {
        if let Some(c) = challenge {
            *self.challenge.lock().unwrap_or_else(|e| e.into_inner()) = Some(c);
        }
        self.tokens
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(scope.unwrap_or(""));
    }

    /// The Authorization header for a request needing `scope`, if any.
    pub async fn header(
        &self,
        http: &reqwest::Client,
        scope: Option<&str>,
    ) -> Result<Option<HeaderValue>> {
        let challenge = self.challenge();
        match challenge {
            None => Ok(None),
            Some(Challenge::Basic) => Ok(self.credentials.as_ref().map(basic_header)),
            Some(Challenge::Bearer { realm, service, .. }) => {
                let key = scope.unwrap_or("").to_string();
                if let Some((token, expiry)) = self
                    .tokens
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .get(&key)
                    && Instant::now() < *expiry
                {
                    return Ok(Some(bearer_header(token)?));
                }
                let (token, lifetime) = self
                    .fetch_token(http, &realm, service.as_deref(), scope)
                    .await?;
                // Renew a little early so a token never expires mid-request.
                let expiry = Instant::now() + lifetime.saturating_sub(Duration::from_secs(5));
                self.tokens
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(key, (token.clone(), expiry));
                Ok(Some(bearer_header(&token)?))
            }
        }
    }

    /// Fetches a token from `realm` (Docker's token protocol, GET form).
    pub async fn fetch_token(
        &self,
        http: &reqwest::Client,
        realm: &str,
        service: Option<&str>,
        scope: Option<&str>,
    ) -> Result<(String, Duration)> {
        let mut url = reqwest::Url::parse(realm).map_err(|e| {
            Error::invalid(format!(
                "registry {}: token realm {realm:?}: {e}",
                self.origin_host
            ))
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(Error::invalid(format!(
                "registry {}: token realm {realm:?} is not an http(s) URL",
                self.origin_host
            )));
        }
        {
            let mut q = url.query_pairs_mut();
            if let Some(s) = service {
                q.append_pair("service", s);
            }
            // Several scopes (a cross-repository mount) go as separate
            // parameters, as Docker sends them.
            for s in scope
                .into_iter()
                .flat_map(|s| s.split(' '))
                .filter(|s| !s.is_empty())
            {
                q.append_pair("scope", s);
            }
        }
        let what = format!("get token from {realm}");
        let mut request = http.get(url.clone());
        let send_credentials = self.credentials.is_some() && self.may_receive_credentials(&url);
        if send_credentials && let Some(c) = &self.credentials {
            request = request.header(reqwest::header::AUTHORIZATION, basic_header(c));
        }
        let response = request
            .send()
            .await
            .map_err(|e| Error::unavailable(format!("{what}: {}", describe(&e))))?;
        let status = response.status();
        if status == reqwest::StatusCode::UNAUTHORIZED || status == reqwest::StatusCode::FORBIDDEN {
            let who = match (&self.credentials, send_credentials) {
                (Some(c), true) => format!("the credentials of {:?} were refused", c.username),
                (Some(_), false) => {
                    "credentials were withheld: the realm is plain HTTP on another host".into()
                }
                (None, _) => "anonymous access was refused (try `berth login`)".into(),
            };
            return Err(Error::unauthorized(format!("{what}: {status}: {who}")));
        }
        if !status.is_success() {
            return Err(Error::unavailable(format!("{what}: {status}")));
        }
        let body = crate::client::read_capped(response, 1 << 20, &what).await?;
        let parsed: TokenResponse = serde_json::from_slice(&body)
            .map_err(|e| Error::invalid(format!("{what}: bad JSON: {e}")))?;
        let token = parsed
            .token
            .or(parsed.access_token)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| Error::invalid(format!("{what}: the answer holds no token")))?;
        // The spec's default lifetime is 60 s when none is given.
        let lifetime = Duration::from_secs(parsed.expires_in.unwrap_or(60).max(10));
        Ok((token, lifetime))
    }

    /// Credentials go to a realm over HTTPS, or on the registry's own host
    /// (any port: a token service beside the registry on the same machine).
    fn may_receive_credentials(&self, realm: &reqwest::Url) -> bool {
        if realm.scheme() == "https" {
            return true;
        }
        realm.host_str().is_some_and(|h| {
            h.trim_matches(['[', ']'])
                == crate::config::host_name(&self.origin_host).trim_matches(['[', ']'])
        })
    }
}

pub(crate) fn basic_header(c: &Credentials) -> HeaderValue {
    let encoded = STANDARD.encode(format!("{}:{}", c.username, c.secret));
    let mut v = HeaderValue::from_str(&format!("Basic {encoded}"))
        .unwrap_or_else(|_| HeaderValue::from_static(""));
    v.set_sensitive(true);
    v
}

fn bearer_header(token: &str) -> Result<HeaderValue> {
    let mut v = HeaderValue::from_str(&format!("Bearer {token}"))
        .map_err(|_| Error::invalid("the token server sent a token that is not a valid header"))?;
    v.set_sensitive(true);
    Ok(v)
}
