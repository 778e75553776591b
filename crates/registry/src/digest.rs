//! Digests as the registry client needs them: strict syntax (a digest is
//! spliced into URLs and file names, so `sha256:../../x` must never pass) and
//! verification of bytes held in memory.

use sha2::{Digest as _, Sha256, Sha512};

use crate::error::{Error, Result};

/// Checks `algorithm:hex` with the exact lengths of the algorithms berth
/// verifies; anything else is refused before it reaches a URL.
pub fn check_syntax(digest: &str) -> Result<()> {
    let bad = |why: &str| Error::invalid(format!("invalid digest {digest:?}: {why}"));
    let (algorithm, hex) = digest
        .split_once(':')
        .ok_or_else(|| bad("expected algorithm:hex"))?;
    let len = match algorithm {
        "sha256" => 64,
        "sha512" => 128,
        _ => return Err(bad("unsupported algorithm (sha256 and sha512 are)")),
    };
    if hex.len() != len || !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(bad(&format!("expected {len} lowercase hex digits")));
    }
    Ok(())
}

/// The digest of `bytes` in `algorithm` (sha256 or sha512).
pub fn compute(algorithm: &str, bytes: &[u8]) -> String {
    match algorithm {
        "sha512" => format!("sha512:{}", hex::encode(Sha512::digest(bytes))),
        _ => format!("sha256:{}", hex::encode(Sha256::digest(bytes))),
    }
}

/// Verifies that `bytes` hash to `expected` (whose syntax was checked).
pub fn verify(expected: &str, bytes: &[u8], what: &str) -> Result<()> {
    let algorithm = expected.split_once(':').map_or("sha256", |(a, _)| a);
    let actual = compute(algorithm, bytes);
    if actual != expected {
        return Err(Error::invalid(format!(
            "{what}: digest mismatch: expected {expected}, got {actual}"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syntax_is_strict() {
        let good = format!("sha256:{}", "a".repeat(64));
        assert!(check_syntax(&good).is_ok());
        for bad in [
            "sha256:../../x",
            "sha256:",
            &format!("sha256:{}", "A".repeat(64)),
            &format!("sha256:{}", "a".repeat(63)),
            &format!("md5:{}", "a".repeat(32)),
            &format!("sha256:{}/", "a".repeat(63)),
            "",
        ] {
            assert!(check_syntax(bad).is_err(), "{bad:?} passed");
        }
    }

    #[test]
    fn verify_names_both_digests() {
        let d = compute("sha256", b"hello");
        assert!(verify(&d, b"hello", "x").is_ok());
        let err = verify(&d, b"hellO", "blob").unwrap_err();
        assert!(err.message.contains(&d), "{err}");
    }
}
