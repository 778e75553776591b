//! Container names and IDs: Docker's name rule, generated names for
//! containers created without `--name`, and random 64-hex IDs.

use std::io::Read;

use crate::error::{Error, Result};

/// Docker's rule: `[a-zA-Z0-9][a-zA-Z0-9_.-]+`, with an optional leading '/'.
pub fn validate(name: &str) -> Result<String> {
    let bare = name.strip_prefix('/').unwrap_or(name);
    let mut chars = bare.chars();
    let valid = bare.len() >= 2
        && chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if !valid {
        return Err(Error::invalid(format!(
            "Invalid container name ({name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
        )));
    }
    Ok(bare.to_string())
}

/// Random bytes from the kernel.
pub fn random_bytes<const N: usize>() -> Result<[u8; N]> {
    let mut buf = [0u8; N];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut buf))
        .map_err(|e| Error::internal(format!("read /dev/urandom: {e}")))?;
    Ok(buf)
}

/// A new container ID: 64 hex digits, never all digits (Docker avoids IDs
/// that look like numbers, which some tools would parse as one).
pub fn new_id() -> Result<String> {
    loop {
        let id = hex::encode(random_bytes::<32>()?);
        if !id[..12].bytes().all(|b| b.is_ascii_digit()) {
            return Ok(id);
        }
    }
}

// Two short word lists of berth's own: qualities and seafaring things.
const LEFT: &[&str] = &[
    "agile", "amber", "ancient", "bold", "brave", "bright", "calm", "clever", "cosmic", "crisp",
    "daring", "eager", "fair", "fancy", "fearless", "gentle", "golden", "happy", "hidden",
    "humble", "jolly", "keen", "kind", "lively", "lucid", "merry", "mighty", "modest", "nimble",
    "noble", "patient", "placid", "proud", "quiet", "rapid", "restless", "shiny", "silent",
    "steady", "sturdy", "swift", "tender", "tidy", "vivid", "wise", "witty", "young", "zealous",
];
const RIGHT: &[&str] = &[
    "anchor",
    "atoll",
    "bay",
    "beacon",
    "bosun",
    "bow",
    "breaker",
    "buoy",
    "cabin",
    "canal",
    "cape",
    "cargo",
    "compass",
    "coral",
    "cove",
    "current",
    "delta",
    "dock",
    "estuary",
    "ferry",
    "fjord",
    "galley",
    "gull",
    "harbor",
    "helm",
    "inlet",
    "island",
    "jetty",
    "keel",
    "lagoon",
    "lighthouse",
    "mast",
    "mooring",
    "narrows",
    "oar",
    "pier",
    "port",
    "quay",
    "reef",
    "rudder",
    "sail",
    "schooner",
    "shoal",
    "skiff",
    "sound",
    "starboard",
    "tide",
    "wharf",
];

/// A name like `swift_harbor`; `attempt` > 0 appends a digit to escape
/// collisions.
pub fn generate(attempt: u32) -> Result<String> {
    let r = random_bytes::<4>()?;
    let left = LEFT[(u16::from_le_bytes([r[0], r[1]]) as usize) % LEFT.len()];
    let right = RIGHT[(u16::from_le_bytes([r[2], r[3]]) as usize) % RIGHT.len()];
    Ok(if attempt == 0 {
        format!("{left}_{right}")
    } else {
        format!("{left}_{right}{}", r[0] % 10)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_name_rule() {
        assert_eq!(validate("/b1").unwrap(), "b1");
        assert_eq!(validate("web.1_a-b").unwrap(), "web.1_a-b");
        for bad in ["a", "", "/", "-x", "_x", "a b", "a/b", "ü1"] {
            let e = validate(bad).unwrap_err();
            assert!(e.message.contains(&format!("({bad})")), "{bad}: {e}");
        }
    }

    #[test]
    fn ids_are_64_hex_and_generated_names_valid() {
        let id = new_id().unwrap();
        assert_eq!(id.len(), 64);
        assert!(
            id.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
        for attempt in 0..20 {
            let name = generate(attempt % 2).unwrap();
            assert_eq!(validate(&name).unwrap(), name);
        }
    }
}
