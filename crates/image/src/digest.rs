//! Content digests (`sha256:<hex>`), parsed strictly, and hashing readers/writers.
//!
//! A digest names content everywhere in berth: blobs, image IDs, layer diff IDs.
//! Parsing is strict because digests become file names in the content store:
//! only a known algorithm and exactly the right number of lowercase hex digits
//! pass, so `sha256:../../x` can never reach a path.

use std::fmt;
use std::io::{self, Read, Write};
use std::str::FromStr;

use sha2::{Digest as _, Sha256};

/// A validated content digest. Only sha256 is produced; sha512 is accepted on
/// input (the OCI spec allows it) but cannot be verified by the content store.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest(String);

/// Why a string is not a digest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DigestError {
    #[error("invalid digest {0:?}: expected <algorithm>:<hex>")]
    Format(String),
    #[error("invalid digest {0:?}: unsupported algorithm {1:?} (sha256 and sha512 are supported)")]
    Algorithm(String, String),
    #[error("invalid digest {0:?}: {1} needs exactly {2} lowercase hex digits")]
    Hex(String, String, usize),
}

impl Digest {
    /// Parses `sha256:<64 hex>` or `sha512:<128 hex>`.
    pub fn parse(s: &str) -> Result<Digest, DigestError> {
        let Some((algo, hex)) = s.split_once(':') else {
            return Err(DigestError::Format(s.to_string()));
        };
        let want = match algo {
            "sha256" => 64,
            "sha512" => 128,
            _ if valid_algorithm_syntax(algo) => {
                return Err(DigestError::Algorithm(s.to_string(), algo.to_string()));
            }
            _ => return Err(DigestError::Format(s.to_string())),
        };
        if hex.len() != want || !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(DigestError::Hex(s.to_string(), algo.to_string(), want));
        }
        Ok(Digest(s.to_string()))
    }

    /// A sha256 digest from raw hash bytes.
    pub fn from_sha256_bytes(bytes: &[u8]) -> Digest {
        Digest(format!("sha256:{}", hex::encode(bytes)))
    }

    /// A sha256 digest from 64 hex digits (as used in file names).
    pub fn from_sha256_hex(hex: &str) -> Result<Digest, DigestError> {
        Digest::parse(&format!("sha256:{hex}"))
    }

    /// The sha256 digest of `data`.
    pub fn of(data: &[u8]) -> Digest {
        Digest::from_sha256_bytes(&Sha256::digest(data))
    }

    pub fn algorithm(&self) -> &str {
        self.0.split_once(':').map(|(a, _)| a).unwrap_or_default()
    }

    pub fn hex(&self) -> &str {
        self.0.split_once(':').map(|(_, h)| h).unwrap_or_default()
    }

    /// The 12-hex-digit form Docker shows by default.
    pub fn short(&self) -> &str {
        &self.hex()[..12]
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_sha256(&self) -> bool {
        self.algorithm() == "sha256"
    }
}

/// The OCI grammar for algorithm names: `[a-z0-9]+([+._-][a-z0-9]+)*`.
fn valid_algorithm_syntax(algo: &str) -> bool {
    !algo.is_empty()
        && algo.split(['+', '.', '_', '-']).all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({})", self.0)
    }
}

impl FromStr for Digest {
    type Err = DigestError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Digest::parse(s)
    }
}

impl serde::Serialize for Digest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for Digest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Digest::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Incremental sha256 that yields a [`Digest`].
#[derive(Default, Clone)]
pub struct Hasher(Sha256);

impl Hasher {
    pub fn new() -> Hasher {
        Hasher(Sha256::new())
    }
    pub fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }
    pub fn finish(self) -> Digest {
        Digest::from_sha256_bytes(&self.0.finalize())
    }
}

/// A reader that hashes and counts every byte read through it, and fails once
/// more than `limit` bytes have passed (a decompression bomb stops here, not
/// when the disk is full).
pub struct HashingReader<R> {
    inner: R,
    hasher: Hasher,
    count: u64,
    limit: u64,
    /// False for a reader that only counts (see `counting_only`).
    hashing: bool,
}

/// The error kind a [`HashingReader`] returns past its limit; callers map it to
/// a message naming the limit.
pub const LIMIT_EXCEEDED_MARKER: &str = "berth: byte limit exceeded";

impl<R: Read> HashingReader<R> {
    pub fn new(inner: R) -> Self {
        Self::with_limit(inner, u64::MAX)
    }
    pub fn with_limit(inner: R, limit: u64) -> Self {
        HashingReader {
            inner,
            hasher: Hasher::new(),
            count: 0,
            limit,
            hashing: true,
        }
    }
    /// Counts and enforces the limit without hashing: for a stream whose
    /// digest the caller already knows. Its digests are meaningless, hence
    /// crate-private.
    pub(crate) fn counting_only(inner: R, limit: u64) -> Self {
        HashingReader {
            hashing: false,
            ..Self::with_limit(inner, limit)
        }
    }
    pub fn count(&self) -> u64 {
        self.count
    }
    /// The digest of what has been read so far.
    pub fn digest_so_far(&self) -> Digest {
        self.hasher.clone().finish()
    }
    /// Reads the rest of the stream (through the hash) and returns digest and size.
    pub fn drain_and_finish(mut self) -> io::Result<(Digest, u64)> {
        let mut buf = vec![0u8; 64 * 1024];
        while self.read(&mut buf)? != 0 {}
        Ok((self.hasher.finish(), self.count))
    }
    pub fn into_inner(self) -> R {
        self.inner
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count += n as u64;
        if self.count > self.limit {
            return Err(io::Error::other(LIMIT_EXCEEDED_MARKER));
        }
        if self.hashing {
            self.hasher.update(&buf[..n]);
        }
        Ok(n)
    }
}

/// Whether an I/O error came from a [`HashingReader`] limit.
pub fn is_limit_error(err: &io::Error) -> bool {
    err.get_ref()
        .is_some_and(|e| e.to_string() == LIMIT_EXCEEDED_MARKER)
}

/// A writer that hashes and counts everything written through it.
pub struct HashingWriter<W> {
    inner: W,
    hasher: Hasher,
    count: u64,
}

impl<W: Write> HashingWriter<W> {
    pub fn new(inner: W) -> Self {
        HashingWriter {
            inner,
            hasher: Hasher::new(),
            count: 0,
        }
    }
    pub fn finish(self) -> (W, Digest, u64) {
        (self.inner, self.hasher.finish(), self.count)
    }
    pub fn count(&self) -> u64 {
        self.count
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMPTY: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn digest_of_empty_input() {
        assert_eq!(Digest::of(b"").as_str(), EMPTY);
        assert_eq!(Digest::of(b"").short(), "e3b0c44298fc");
    }

    #[test]
    fn rejects_path_like_and_malformed_digests() {
        for bad in [
            "sha256:../../x",
            "sha256:",
            "sha256",
            "",
            "SHA256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85",
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855/",
            "md5:d41d8cd98f00b204e9800998ecf8427e",
        ] {
            assert!(Digest::parse(bad).is_err(), "{bad:?} must be rejected");
        }
        assert!(matches!(
            Digest::parse("md5:abc"),
            Err(DigestError::Algorithm(..))
        ));
        assert_eq!(Digest::parse(EMPTY).map(|d| d.hex().len()), Ok(64));
    }

    #[test]
    fn hashing_reader_counts_hashes_and_limits() {
        let mut r = HashingReader::with_limit(&b"hello world"[..], 5);
        let mut buf = [0u8; 64];
        let err = r.read(&mut buf).expect_err("11 bytes over a limit of 5");
        assert!(is_limit_error(&err));

        let r = HashingReader::new(&b"hello world"[..]);
        let (d, n) = r.drain_and_finish().expect("in-memory read");
        assert_eq!(n, 11);
        assert_eq!(d, Digest::of(b"hello world"));
    }
}
