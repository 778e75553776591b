//! Next to dockerd: when dockerd turns forwarding on it sets iptables'
//! FORWARD policy to DROP, and a packet any netfilter chain drops is
//! dropped, whatever berth's own table accepts. dockerd keeps one chain for
//! its users' rules, DOCKER-USER, evaluated first and never flushed: there,
//! and only there and only when it exists, berth inserts two ACCEPT rules
//! per bridge (marked with the comment "berth"), so its containers keep
//! their way out and their published ports. berth's own table still decides
//! what crosses between its networks (a drop in any chain wins). This is
//! the one place berth writes outside its table; the rules go with the
//! network.
//!
//! Through the `iptables` command, as dockerd itself writes them (run in
//! the namespace of the calling thread).

use std::process::{Command, Stdio};

use crate::error::{Error, Result};

const CHAIN: &str = "DOCKER-USER";

fn rules(bridge: &str) -> [Vec<String>; 2] {
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let tag = ["-m", "comment", "--comment", "berth", "-j", "ACCEPT"];
    let mut inbound = s(&["-i", bridge]);
    inbound.extend(s(&tag));
    let mut outbound = s(&["-o", bridge]);
    outbound.extend(s(&tag));
    [inbound, outbound]
}

fn iptables(args: &[String]) -> Option<bool> {
    Command::new("iptables")
        .arg("-w")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .ok()
        .map(|s| s.success())
}

/// Whether dockerd's DOCKER-USER chain is there (no iptables: no).
pub fn present() -> bool {
    iptables(&["-n".into(), "-L".into(), CHAIN.into()]) == Some(true)
}

/// Whether `bridge`'s rules are in DOCKER-USER.
pub fn has(bridge: &str) -> bool {
    rules(bridge).iter().all(|r| {
        let mut check = vec!["-C".to_string(), CHAIN.to_string()];
        check.extend(r.iter().cloned());
        iptables(&check) == Some(true)
    })
}

/// Inserts `bridge`'s rules into DOCKER-USER if the chain exists and they
/// are not there yet; returns whether the chain exists.
pub fn allow(bridge: &str) -> Result<bool> {
    if !present() {
        return Ok(false);
    }
    for r in rules(bridge) {
        let mut check = vec!["-C".to_string(), CHAIN.to_string()];
        check.extend(r.iter().cloned());
        if iptables(&check) == Some(true) {
            continue;
        }
        let mut insert = vec!["-I".to_string(), CHAIN.to_string()];
        insert.extend(r.iter().cloned());
        if iptables(&insert) != Some(true) {
            return Err(Error::Protocol {
                op: format!("iptables -I {CHAIN} for {bridge}"),
                message: "iptables refused the rule".into(),
            });
        }
    }
    Ok(true)
}

/// Removes `bridge`'s rules from DOCKER-USER, if they are there.
pub fn forget(bridge: &str) {
    if !present() {
        return;
    }
    for r in rules(bridge) {
        let mut delete = vec!["-D".to_string(), CHAIN.to_string()];
        delete.extend(r.iter().cloned());
        // Each rule once; a second delete fails harmlessly.
        while iptables(&delete) == Some(true) {}
    }
}
