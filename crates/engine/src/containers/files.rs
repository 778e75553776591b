//! The files berth writes for a container: /etc/hostname, /etc/hosts and
//! /etc/resolv.conf, bind-mounted from the container's directory. Written
//! at create, and again at each start on a network (its address, the
//! network's resolver), in place: the bind mounts see the new contents.

use std::net::Ipv4Addr;
use std::path::Path;

use super::config::HostConfig;
use crate::error::{Error, Result};
use crate::store::perms;

const HOSTS: &str = "127.0.0.1\tlocalhost
::1\tlocalhost ip6-localhost ip6-loopback
fe00::0\tip6-localnet
ff00::0\tip6-mcastprefix
ff02::1\tip6-allnodes
ff02::2\tip6-allrouters
";

/// What the files say about the container's network at a start.
#[derive(Clone, Copy, Debug, Default)]
pub struct OnNetwork {
    /// Its address on its first network.
    pub ip: Option<Ipv4Addr>,
    /// That network's gateway (`host-gateway` in `--add-host`).
    pub gateway: Option<Ipv4Addr>,
    /// The network's resolver (a user network's gateway): the only
    /// nameserver, as Docker's 127.0.0.11 is.
    pub resolver: Option<Ipv4Addr>,
}

/// Writes the three files into `dir`. With the host's network the host's
/// hosts and resolv.conf are copied; otherwise nameservers on the host's
/// loopback (unreachable from the container) are dropped, falling back to
/// public resolvers as Docker does; `--dns*` replace the host's lines.
pub fn write(dir: &Path, hostname: &str, host: &HostConfig, net: OnNetwork) -> Result<()> {
    let host_network = host.network_mode == "host";
    perms::write_file(
        &dir.join("hostname"),
        format!("{hostname}\n").as_bytes(),
        perms::SHARED_FILE,
    )?;

    let mut hosts = if host_network {
        std::fs::read_to_string("/etc/hosts").unwrap_or_else(|_| HOSTS.to_string())
    } else {
        HOSTS.to_string()
    };
    for entry in &host.extra_hosts {
        let (name, ip) = parse_extra_host(entry)?;
        let ip = match ip {
            "host-gateway" => match net.gateway {
                Some(g) => g.to_string(),
                // Not on a bridge (yet): the line comes with the start.
                None => continue,
            },
            ip => ip.to_string(),
        };
        hosts.push_str(&format!("{ip}\t{name}\n"));
    }
    if let Some(ip) = net.ip {
        hosts.push_str(&format!("{ip}\t{hostname}\n"));
    }
    perms::write_file(&dir.join("hosts"), hosts.as_bytes(), perms::SHARED_FILE)?;

    let host_resolv = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let resolv = if host_network
        && host.dns.is_empty()
        && host.dns_search.is_empty()
        && host.dns_options.is_empty()
    {
        host_resolv
    } else {
        resolv_conf(&host_resolv, host, net.resolver)
    };
    perms::write_file(
        &dir.join("resolv.conf"),
        resolv.as_bytes(),
        perms::SHARED_FILE,
    )?;
    Ok(())
}

/// `--add-host name:ip` (the address may hold colons: IPv6).
pub fn parse_extra_host(entry: &str) -> Result<(&str, &str)> {
    let (name, ip) = entry
        .split_once(':')
        .or_else(|| entry.split_once('='))
        .ok_or_else(|| Error::invalid(format!("bad format for add-host: {entry:?}")))?;
    if name.is_empty() {
        return Err(Error::invalid(format!(
            "bad format for add-host: {entry:?}"
        )));
    }
    if ip != "host-gateway"
        && ip
            .trim_matches(['[', ']'])
            .parse::<std::net::IpAddr>()
            .is_err()
    {
        return Err(Error::invalid(format!(
            "invalid IP address in add-host: {ip:?}"
        )));
    }
    Ok((name, ip.trim_matches(['[', ']'])))
}

/// resolv.conf for a container: the host's, its loopback nameservers
/// dropped (public ones if none is left); `--dns`, `--dns-search` and
/// `--dns-option` replace its nameserver, search and options lines; on a
/// user network the network's resolver is the one nameserver (it forwards
/// what it does not know to the servers above).
fn resolv_conf(host_resolv: &str, host: &HostConfig, resolver: Option<Ipv4Addr>) -> String {
    let mut nameservers = Vec::new();
    let mut search = Vec::new();
    let mut options = Vec::new();
    let mut other = Vec::new();
    for line in host_resolv.lines() {
        let mut words = line.split_whitespace();
        match words.next() {
            Some("nameserver") => {
                let addr = words.next().unwrap_or_default();
                if !(addr.starts_with("127.") || addr == "::1") {
                    nameservers.push(addr.to_string());
                }
            }
            Some("search") | Some("domain") => search = words.map(str::to_string).collect(),
            Some("options") => options.extend(words.map(str::to_string)),
            _ => other.push(line.to_string()),
        }
    }
    if !host.dns.is_empty() {
        nameservers = host.dns.clone();
    }
    if nameservers.is_empty() {
        nameservers = vec!["8.8.8.8".into(), "8.8.4.4".into()];
    }
    if !host.dns_search.is_empty() {
        search = host
            .dns_search
            .iter()
            .filter(|s| *s != ".")
            .cloned()
            .collect();
    }
    if !host.dns_options.is_empty() {
        options = host.dns_options.clone();
    }
    let mut out = String::new();
    for line in other.iter().filter(|l| !l.trim().is_empty()) {
        out.push_str(line);
        out.push('\n');
    }
    // Docker's order: search, nameservers, options.
    if !search.is_empty() {
        out.push_str(&format!("search {}\n", search.join(" ")));
    }
    match resolver {
        Some(r) => {
            out.push_str(&format!("nameserver {r}\n"));
            out.push_str(&format!("# ExtServers: [{}]\n", nameservers.join(" ")));
        }
        None => {
            for n in &nameservers {
                out.push_str(&format!("nameserver {n}\n"));
            }
        }
    }
    if resolver.is_some() && !options.iter().any(|o| o.starts_with("ndots:")) {
        // As Docker's embedded resolver: names are tried as given first.
        options.push("ndots:0".into());
    }
    if !options.is_empty() {
        out.push_str(&format!("options {}\n", options.join(" ")));
    }
    out
}

/// The servers a network's resolver forwards to for this container: the
/// `# ExtServers` its resolv.conf names.
pub fn upstream_servers(resolv: &str) -> Vec<String> {
    resolv
        .lines()
        .find_map(|l| l.strip_prefix("# ExtServers: ["))
        .map(|rest| {
            rest.trim_end_matches(']')
                .split_whitespace()
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_nameservers_are_dropped() {
        let h = HostConfig::default();
        let out = resolv_conf(
            "search lan\nnameserver 127.0.0.53\noptions edns0\n",
            &h,
            None,
        );
        assert_eq!(
            out,
            "search lan\nnameserver 8.8.8.8\nnameserver 8.8.4.4\noptions edns0\n"
        );
        let out = resolv_conf("nameserver 10.0.0.2\n", &h, None);
        assert_eq!(out, "nameserver 10.0.0.2\n");
    }

    #[test]
    fn dns_flags_replace_the_hosts_lines() {
        let h = HostConfig {
            dns: vec!["192.0.2.53".into()],
            dns_search: vec!["example.org".into()],
            dns_options: vec!["timeout:1".into()],
            ..Default::default()
        };
        let out = resolv_conf("search lan\nnameserver 10.0.0.2\noptions edns0\n", &h, None);
        assert_eq!(
            out,
            "search example.org\nnameserver 192.0.2.53\noptions timeout:1\n"
        );
        let out = resolv_conf(
            "nameserver 10.0.0.2\n",
            &h,
            Some(Ipv4Addr::new(10, 88, 0, 1)),
        );
        assert_eq!(
            out,
            "search example.org\nnameserver 10.88.0.1\n# ExtServers: [192.0.2.53]\noptions timeout:1 ndots:0\n"
        );
        assert_eq!(upstream_servers(&out), ["192.0.2.53"]);
    }

    #[test]
    fn extra_hosts() {
        assert_eq!(parse_extra_host("db:10.0.0.5").unwrap(), ("db", "10.0.0.5"));
        assert_eq!(
            parse_extra_host("gw:host-gateway").unwrap(),
            ("gw", "host-gateway")
        );
        assert_eq!(parse_extra_host("v6:::1").unwrap(), ("v6", "::1"));
        assert!(parse_extra_host("nocolon").is_err());
        assert!(parse_extra_host("x:notanip").is_err());
    }
}
