//! The files berth writes for a container: /etc/hostname, /etc/hosts and
//! /etc/resolv.conf, bind-mounted from the container's directory.

use std::path::Path;

use crate::error::Result;
use crate::store::perms;

const HOSTS: &str = "127.0.0.1\tlocalhost
::1\tlocalhost ip6-localhost ip6-loopback
fe00::0\tip6-localnet
ff00::0\tip6-mcastprefix
ff02::1\tip6-allnodes
ff02::2\tip6-allrouters
";

/// Writes the three files into `dir`. With the host's network the host's
/// hosts and resolv.conf are copied; otherwise nameservers on the host's
/// loopback (unreachable from the container) are dropped, falling back to
/// public resolvers as Docker does.
pub fn write(dir: &Path, hostname: &str, host_network: bool) -> Result<()> {
    let hostname_path = dir.join("hostname");
    perms::write_file(
        &hostname_path,
        format!("{hostname}\n").as_bytes(),
        perms::SHARED_FILE,
    )?;

    let hosts_path = dir.join("hosts");
    let hosts = if host_network {
        std::fs::read_to_string("/etc/hosts").unwrap_or_else(|_| HOSTS.to_string())
    } else {
        HOSTS.to_string()
    };
    perms::write_file(&hosts_path, hosts.as_bytes(), perms::SHARED_FILE)?;

    let resolv_path = dir.join("resolv.conf");
    let host_resolv = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let resolv = if host_network {
        host_resolv
    } else {
        container_resolv_conf(&host_resolv)
    };
    perms::write_file(&resolv_path, resolv.as_bytes(), perms::SHARED_FILE)?;
    Ok(())
}

fn container_resolv_conf(host: &str) -> String {
    let mut out = String::new();
    let mut nameservers = 0;
    for line in host.lines() {
        let mut words = line.split_whitespace();
        if words.next() == Some("nameserver") {
            let addr = words.next().unwrap_or_default();
            if addr.starts_with("127.") || addr == "::1" {
                continue;
            }
            nameservers += 1;
        }
        out.push_str(line);
        out.push('\n');
    }
    if nameservers == 0 {
        out.push_str("nameserver 8.8.8.8\nnameserver 8.8.4.4\n");
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn loopback_nameservers_are_dropped() {
        let out =
            super::container_resolv_conf("search lan\nnameserver 127.0.0.53\noptions edns0\n");
        assert_eq!(
            out,
            "search lan\noptions edns0\nnameserver 8.8.8.8\nnameserver 8.8.4.4\n"
        );
        let out = super::container_resolv_conf("nameserver 10.0.0.2\n");
        assert_eq!(out, "nameserver 10.0.0.2\n");
    }
}
