//! berth's firewall: one nftables table, `ip berth`, that nothing else
//! writes and that berth never leaves: every change replaces the whole
//! table in one nft transaction, rendered from the complete state the
//! engine holds (networks and published ports). A crash between changes
//! leaves the previous table, and the next change (or the start-up sweep)
//! renders the truth again; tables, chains and rules of anyone else are
//! never read or touched.
//!
//! Rules are given to `nft -f -` (run in the namespace of the calling
//! thread: see `NetNs::within`).

use std::io::Write;
use std::net::Ipv4Addr;
use std::process::{Command, Stdio};

use crate::error::{Error, Result};

pub const TABLE: &str = "berth";

/// A bridge network's part of the table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Network {
    pub bridge: String,
    pub subnet: Ipv4Addr,
    pub prefix: u8,
    /// No way out: nothing forwarded between the bridge and anything else.
    pub internal: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    Tcp,
    Udp,
    Sctp,
}

impl Protocol {
    pub fn parse(s: &str) -> Option<Protocol> {
        match s {
            "tcp" => Some(Protocol::Tcp),
            "udp" => Some(Protocol::Udp),
            "sctp" => Some(Protocol::Sctp),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Sctp => "sctp",
        }
    }
}

/// A published port: the host's `host_ip:host_port` (any local address
/// without `host_ip`) to `container_ip:container_port` on `bridge`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Port {
    pub protocol: Protocol,
    pub host_ip: Option<Ipv4Addr>,
    pub host_port: u16,
    pub container_ip: Ipv4Addr,
    pub container_port: u16,
    pub bridge: String,
}

/// Everything berth's table holds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ruleset {
    pub networks: Vec<Network>,
    pub ports: Vec<Port>,
}

impl Ruleset {
    /// The nft script that replaces berth's table with this one.
    pub fn render(&self) -> String {
        let mut forward = Vec::new();
        let mut postrouting = Vec::new();
        let mut prerouting = Vec::new();
        let mut output = Vec::new();
        for n in &self.networks {
            let br = &n.bridge;
            // Replies and published ports (DNAT'd) reach the network.
            forward.push(format!(
                "oifname \"{br}\" ct state established,related accept"
            ));
            forward.push(format!("oifname \"{br}\" ct status dnat accept"));
            // Within a network: allowed; between networks: never.
            forward.push(format!("iifname \"{br}\" oifname \"{br}\" accept"));
            for other in self.networks.iter().filter(|o| o.bridge != *br) {
                forward.push(format!(
                    "iifname \"{br}\" oifname \"{}\" drop",
                    other.bridge
                ));
            }
            if n.internal {
                forward.push(format!("iifname \"{br}\" drop"));
                forward.push(format!("oifname \"{br}\" drop"));
            } else {
                forward.push(format!("iifname \"{br}\" accept"));
                postrouting.push(format!(
                    "ip saddr {}/{} oifname != \"{br}\" masquerade",
                    n.subnet, n.prefix
                ));
                // A container to a published port of another on its own
                // network: without the host's address as source, the answer
                // would go straight back over the bridge, past the DNAT's
                // undo. (Internal networks publish nothing.)
                postrouting.push(format!(
                    "oifname \"{br}\" ip saddr {}/{} ct status dnat masquerade",
                    n.subnet, n.prefix
                ));
            }
            // The host's own 127.0.0.1 to a published port: the source must
            // not stay a loopback address on the bridge.
            postrouting.push(format!("oifname \"{br}\" ip saddr 127.0.0.0/8 masquerade"));
        }
        for p in &self.ports {
            let proto = p.protocol.as_str();
            let target = format!("dnat to {}:{}", p.container_ip, p.container_port);
            let matching = match p.host_ip {
                Some(ip) => format!("ip daddr {ip} {proto} dport {}", p.host_port),
                None => format!("fib daddr type local {proto} dport {}", p.host_port),
            };
            // From other hosts and containers (not from the bridge the
            // container itself is on back to its own address: hairpin is
            // still DNAT'd, as Docker does).
            prerouting.push(format!("{matching} {target}"));
            // From the host itself.
            output.push(format!("{matching} {target}"));
        }
        let chain = |name: &str, hook: &str, kind: &str, prio: &str, rules: &[String]| {
            let mut s = format!(
                "  chain {name} {{\n    type {kind} hook {hook} priority {prio}; policy accept;\n"
            );
            for r in rules {
                s.push_str(&format!("    {r}\n"));
            }
            s.push_str("  }\n");
            s
        };
        let mut script =
            format!("table ip {TABLE}\ndelete table ip {TABLE}\ntable ip {TABLE} {{\n");
        script.push_str(&chain("forward", "forward", "filter", "filter", &forward));
        script.push_str(&chain(
            "postrouting",
            "postrouting",
            "nat",
            "srcnat",
            &postrouting,
        ));
        script.push_str(&chain(
            "prerouting",
            "prerouting",
            "nat",
            "dstnat",
            &prerouting,
        ));
        // (dstnat is a name for prerouting only: -100 is its value.)
        script.push_str(&chain("output", "output", "nat", "-100", &output));
        script.push_str("}\n");
        script
    }

    /// Replaces berth's table (in the calling thread's namespace) with this
    /// one, atomically.
    pub fn apply(&self) -> Result<()> {
        run_nft("replace berth's nftables table", &self.render())
    }
}

/// The DNAT targets of berth's table as it is in the kernel ("ip:port"
/// per rule, sorted), or None when there is no table: `system check`
/// compares them with the published ports the engine holds.
pub fn current_dnat_targets() -> Result<Option<Vec<String>>> {
    let out = Command::new("nft")
        .args(["list", "table", "ip", TABLE])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| Error::io("list berth's nftables table: run nft", e))?;
    if !out.status.success() {
        return Ok(None);
    }
    let mut targets: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split("dnat to ").nth(1))
        .map(|t| t.trim().to_string())
        .collect();
    targets.sort();
    Ok(Some(targets))
}

/// Removes berth's table, if there is one.
pub fn remove() -> Result<()> {
    run_nft(
        "remove berth's nftables table",
        &format!("table ip {TABLE}\ndelete table ip {TABLE}\n"),
    )
}

fn run_nft(op: &str, script: &str) -> Result<()> {
    let mut child = Command::new("nft")
        .args(["-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| Error::io(format!("{op}: run nft (apt-get install nftables)"), e))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(script.as_bytes())
            .map_err(|e| Error::io(format!("{op}: write to nft"), e))?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| Error::io(format!("{op}: wait for nft"), e))?;
    if !out.status.success() {
        return Err(Error::Nft {
            op: op.to_string(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_network_and_a_port_render_to_one_table() {
        let r = Ruleset {
            networks: vec![
                Network {
                    bridge: "berth0".into(),
                    subnet: Ipv4Addr::new(172, 17, 0, 0),
                    prefix: 16,
                    internal: false,
                },
                Network {
                    bridge: "berth-int".into(),
                    subnet: Ipv4Addr::new(172, 18, 0, 0),
                    prefix: 16,
                    internal: true,
                },
            ],
            ports: vec![Port {
                protocol: Protocol::Tcp,
                host_ip: None,
                host_port: 8080,
                container_ip: Ipv4Addr::new(172, 17, 0, 2),
                container_port: 80,
                bridge: "berth0".into(),
            }],
        };
        let s = r.render();
        assert!(s.starts_with("table ip berth\ndelete table ip berth\ntable ip berth {\n"));
        assert!(s.contains("ip saddr 172.17.0.0/16 oifname != \"berth0\" masquerade"));
        assert!(
            !s.contains("172.18.0.0/16 oifname"),
            "internal: no masquerade"
        );
        assert!(s.contains("iifname \"berth-int\" drop"));
        assert!(s.contains("iifname \"berth0\" oifname \"berth-int\" drop"));
        assert!(s.contains("fib daddr type local tcp dport 8080 dnat to 172.17.0.2:80"));
    }
}
