//! Docker's port syntaxes: `-p [ip:][hostPort[-range]:]containerPort
//! [-range][/proto]` and `--expose port[-range][/proto]`, into the
//! `ExposedPorts` keys ("80/tcp") and `PortBindings` the API carries too.
//! Errors are Docker's words, naming the bad value.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use super::config::PortBinding;
use crate::error::{Error, Result};

/// `-p` specs into bindings per "port/proto" (appended to `into`).
pub fn parse_publish(spec: &str, into: &mut BTreeMap<String, Vec<PortBinding>>) -> Result<()> {
    let (rest, proto) = split_proto(spec)?;
    // IP, host part and container part: the container part is the last
    // colon-separated field, the IP whatever precedes the host part.
    let (ip, host, container) = match rest.rsplit_once(':') {
        None => ("", "", rest),
        Some((before, container)) => match before.rsplit_once(':') {
            None => ("", before, container),
            Some((ip, host)) => (ip, host, container),
        },
    };
    let ip = ip.trim_start_matches('[').trim_end_matches(']');
    if !ip.is_empty() && ip.parse::<std::net::IpAddr>().is_err() {
        return Err(Error::invalid(format!("invalid IP address: {ip}")));
    }
    if ip.contains(':') {
        return Err(Error::unsupported(format!(
            "publishing on IPv6 address {ip}: berth's networks are IPv4 only"
        )));
    }
    let (c_first, c_last) = range(container)
        .ok_or_else(|| Error::invalid(format!("invalid containerPort: {container}")))?;
    let (h_first, h_last) = if host.is_empty() {
        (0, 0)
    } else {
        range(host).ok_or_else(|| Error::invalid(format!("invalid hostPort: {host}")))?
    };
    let c_count = c_last - c_first;
    let h_count = h_last - h_first;
    if !host.is_empty() && c_count != h_count && c_count != 0 {
        return Err(Error::invalid(format!(
            "invalid ranges specified for container and host Ports: {container} and {host}"
        )));
    }
    for (i, port) in (c_first..=c_last).enumerate() {
        let host_port = if host.is_empty() {
            String::new()
        } else if c_count == 0 && h_count != 0 {
            // One container port, a host range: any one of the range.
            host.to_string()
        } else {
            (h_first + i as u16).to_string()
        };
        into.entry(format!("{port}/{proto}"))
            .or_default()
            .push(PortBinding {
                host_ip: ip.to_string(),
                host_port,
            });
    }
    Ok(())
}

/// `--expose`: the "port/proto" keys.
pub fn parse_expose(spec: &str) -> Result<Vec<String>> {
    let (rest, proto) = split_proto(spec)?;
    let (first, last) = range(rest)
        .ok_or_else(|| Error::invalid(format!("invalid range format for --expose: {spec}")))?;
    Ok((first..=last).map(|p| format!("{p}/{proto}")).collect())
}

/// "80/tcp" into (80, "tcp"), as a stored key is read back.
pub fn port_key(key: &str) -> Option<(u16, &str)> {
    let (port, proto) = key.split_once('/').unwrap_or((key, "tcp"));
    Some((port.parse().ok().filter(|p| *p > 0)?, proto))
}

/// A binding's host address: "" and 0.0.0.0 are every address.
pub fn host_ip(binding: &PortBinding) -> Result<Option<Ipv4Addr>> {
    match binding.host_ip.as_str() {
        "" | "0.0.0.0" => Ok(None),
        ip => ip.parse().map(Some).map_err(|_| {
            Error::invalid(format!(
                "invalid host IP {ip:?}: berth publishes on IPv4 addresses"
            ))
        }),
    }
}

/// A binding's host ports, first to last (0, 0: any).
pub fn host_ports(binding: &PortBinding) -> Result<(u16, u16)> {
    if binding.host_port.is_empty() {
        return Ok((0, 0));
    }
    range(&binding.host_port)
        .ok_or_else(|| Error::invalid(format!("invalid hostPort: {}", binding.host_port)))
}

fn split_proto(spec: &str) -> Result<(&str, &str)> {
    let (rest, proto) = spec.split_once('/').unwrap_or((spec, "tcp"));
    let proto = if proto.is_empty() { "tcp" } else { proto };
    if !matches!(proto, "tcp" | "udp" | "sctp") {
        return Err(Error::invalid(format!("invalid proto: {proto}")));
    }
    Ok((rest, proto))
}

/// "80" or "8000-8010": 1 to 65535, first <= last.
fn range(s: &str) -> Option<(u16, u16)> {
    let port = |p: &str| p.parse::<u16>().ok().filter(|p| *p > 0);
    match s.split_once('-') {
        None => port(s).map(|p| (p, p)),
        Some((a, b)) => {
            let (a, b) = (port(a)?, port(b)?);
            (a <= b).then_some((a, b))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn publish(spec: &str) -> Result<BTreeMap<String, Vec<PortBinding>>> {
        let mut m = BTreeMap::new();
        parse_publish(spec, &mut m)?;
        Ok(m)
    }

    fn b(ip: &str, port: &str) -> PortBinding {
        PortBinding {
            host_ip: ip.into(),
            host_port: port.into(),
        }
    }

    #[test]
    fn docker_publish_forms() {
        assert_eq!(publish("80").unwrap()["80/tcp"], vec![b("", "")]);
        assert_eq!(publish("8080:80").unwrap()["80/tcp"], vec![b("", "8080")]);
        assert_eq!(
            publish("127.0.0.1:8080:80/udp").unwrap()["80/udp"],
            vec![b("127.0.0.1", "8080")]
        );
        assert_eq!(
            publish("127.0.0.1::80").unwrap()["80/tcp"],
            vec![b("127.0.0.1", "")]
        );
        let r = publish("8000-8001:80-81").unwrap();
        assert_eq!(r["80/tcp"], vec![b("", "8000")]);
        assert_eq!(r["81/tcp"], vec![b("", "8001")]);
        assert_eq!(
            publish("8000-8010:80").unwrap()["80/tcp"],
            vec![b("", "8000-8010")]
        );
    }

    #[test]
    fn docker_publish_errors_name_the_value() {
        let e = |s: &str| publish(s).unwrap_err().to_string();
        assert_eq!(e("70000:80"), "invalid hostPort: 70000");
        assert_eq!(e("80:70000"), "invalid containerPort: 70000");
        assert_eq!(e("abc"), "invalid containerPort: abc");
        assert_eq!(e("8080:80/xyz"), "invalid proto: xyz");
        assert_eq!(e("1.2.3:80:80"), "invalid IP address: 1.2.3");
        assert_eq!(
            e("8000-8001:80-82"),
            "invalid ranges specified for container and host Ports: 80-82 and 8000-8001"
        );
    }

    #[test]
    fn expose_ranges() {
        assert_eq!(parse_expose("80").unwrap(), ["80/tcp"]);
        assert_eq!(parse_expose("53/udp").unwrap(), ["53/udp"]);
        assert_eq!(parse_expose("7000-7001").unwrap(), ["7000/tcp", "7001/tcp"]);
        assert!(parse_expose("x").is_err());
    }
}
