//! Reading a config.json as runc reads it: an unknown capability name is
//! warned about and left out (runc's "ignoring unknown or unavailable
//! capabilities"), not a reason to refuse the whole config; the process
//! fields berth-runc does not apply (scheduler, execCPUAffinity) are
//! warned about too.

use std::path::Path;

use oci_spec::runtime::{Capability, Spec};

use crate::error::{Error, Result};

const SETS: &[&str] = &[
    "bounding",
    "effective",
    "inheritable",
    "permitted",
    "ambient",
];

/// Removes capability names this runtime does not know from a process
/// (as JSON); returns them, sorted and once each.
pub fn strip_unknown_capabilities(process: &mut serde_json::Value) -> Vec<String> {
    let mut unknown = Vec::new();
    for set in SETS {
        if let Some(list) = process["capabilities"][set].as_array_mut() {
            list.retain(|c| {
                let known = serde_json::from_value::<Capability>(c.clone()).is_ok();
                if !known {
                    unknown.push(c.as_str().unwrap_or_default().to_string());
                }
                known
            });
        }
    }
    unknown.sort();
    unknown.dedup();
    unknown
}

/// `names` split into the capabilities this runtime knows and the names
/// it does not (sorted, once each).
pub fn known_capabilities(names: &[String]) -> (Vec<Capability>, Vec<String>) {
    let mut known = Vec::new();
    let mut unknown = Vec::new();
    for name in names {
        match serde_json::from_value::<Capability>(name.clone().into()) {
            Ok(c) => known.push(c),
            Err(_) => unknown.push(name.clone()),
        }
    }
    unknown.sort();
    unknown.dedup();
    (known, unknown)
}

/// Warns, as runc does, about capabilities left out.
pub fn warn_unknown(unknown: &[String]) {
    if !unknown.is_empty() {
        eprintln!(
            "{}",
            crate::log::line(
                false,
                "warning",
                &format!(
                    "ignoring unknown or unavailable capabilities: [{}]",
                    unknown.join(" ")
                )
            )
        );
    }
}

/// Loads `path` (a bundle's config.json).
pub fn load(path: &Path) -> Result<Spec> {
    let text = std::fs::read(path).map_err(|e| Error::io("read", path, e))?;
    let mut doc: serde_json::Value = serde_json::from_slice(&text)
        .map_err(|e| Error::invalid(format!("load {}: {e}", path.display())))?;
    // Idmapped mounts: the spec's types have no field for them, so they
    // would vanish in parsing and the files show with the wrong owners.
    for m in doc["mounts"].as_array().into_iter().flatten() {
        if m.get("uidMappings").is_some() || m.get("gidMappings").is_some() {
            return Err(Error::unsupported(format!(
                "mount {}: uidMappings/gidMappings (idmapped mounts) are not supported by berth-runc",
                m["destination"].as_str().unwrap_or_default()
            )));
        }
    }
    if doc.get("process").is_some() {
        warn_unknown(&strip_unknown_capabilities(&mut doc["process"]));
        // Fields runc 1.1 does not know either: run without them, said.
        for field in ["scheduler", "execCPUAffinity"] {
            if doc["process"].get(field).is_some() {
                eprintln!(
                    "{}",
                    crate::log::line(
                        false,
                        "warning",
                        &format!("ignoring process.{field}: not applied by berth-runc")
                    )
                );
            }
        }
    }
    serde_json::from_value(doc).map_err(|e| Error::invalid(format!("load {}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    #[test]
    fn unknown_capabilities_are_left_out() {
        let mut p = serde_json::json!({"capabilities": {
            "bounding": ["CAP_CHOWN", "CAP_BOGUS"],
            "effective": ["CAP_BOGUS", "CAP_KILL"],
        }});
        assert_eq!(super::strip_unknown_capabilities(&mut p), ["CAP_BOGUS"]);
        assert_eq!(
            p["capabilities"]["bounding"],
            serde_json::json!(["CAP_CHOWN"])
        );
        assert_eq!(
            p["capabilities"]["effective"],
            serde_json::json!(["CAP_KILL"])
        );
    }
}
