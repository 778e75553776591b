//! API versions: the `/v1.NN` path prefix, the range served, and Docker's
//! refusals of a version outside it.

use crate::error::ApiError;

/// The oldest version served (what Docker 25+ still accepts).
pub const MIN_VERSION: ApiVersion = ApiVersion(1, 24);
/// The newest: what docker CLI 28.2 speaks.
pub const MAX_VERSION: ApiVersion = ApiVersion(1, 50);

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ApiVersion(pub u32, pub u32);

impl std::fmt::Display for ApiVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.0, self.1)
    }
}

impl ApiVersion {
    pub fn parse(s: &str) -> Option<ApiVersion> {
        let (major, minor) = s.split_once('.')?;
        Some(ApiVersion(major.parse().ok()?, minor.parse().ok()?))
    }
}

/// Splits `/v1.43/containers/json` into the version and the path the
/// routes know; a path without a prefix is served as the newest version.
/// A version outside the range is refused with Docker's words.
pub fn split_path(path: &str) -> Result<(ApiVersion, &str), ApiError> {
    let Some(rest) = path.strip_prefix("/v") else {
        return Ok((MAX_VERSION, path));
    };
    let (version, tail) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let Some(v) = ApiVersion::parse(version) else {
        // Not a version prefix (`/volumes` …): a path like any other.
        return Ok((MAX_VERSION, path));
    };
    if v > MAX_VERSION {
        return Err(ApiError::bad_request(format!(
            "client version {v} is too new. Maximum supported API version is {MAX_VERSION}"
        )));
    }
    if v < MIN_VERSION {
        return Err(ApiError::bad_request(format!(
            "client version {v} is too old. Minimum supported API version is {MIN_VERSION}, please upgrade your client to a newer version"
        )));
    }
    Ok((v, tail))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes() {
        assert_eq!(
            split_path("/v1.43/containers/json").unwrap(),
            (ApiVersion(1, 43), "/containers/json")
        );
        assert_eq!(split_path("/_ping").unwrap(), (MAX_VERSION, "/_ping"));
        assert_eq!(split_path("/volumes").unwrap(), (MAX_VERSION, "/volumes"));
        let e = split_path("/v1.51/version").unwrap_err();
        assert_eq!(e.status, 400);
        assert!(e.message.contains("too new"), "{}", e.message);
        let e = split_path("/v1.12/version").unwrap_err();
        assert!(e.message.contains("too old"), "{}", e.message);
        assert_eq!(split_path("/v1.24").unwrap(), (ApiVersion(1, 24), ""));
    }
}
