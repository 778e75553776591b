//! The PORTS column of `ps`, as the docker CLI draws it: ports sorted,
//! runs of consecutive ports whose host side is the same number collapsed
//! into ranges (`0.0.0.0:8000-8002->8000-8002/tcp`), other mappings
//! listed one by one after them.

/// A container port and, when published, its host address and port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Port {
    pub private: u16,
    pub public: Option<(String, u16)>,
    pub proto: String,
}

pub fn displayable(mut ports: Vec<Port>) -> String {
    ports.sort_by(|a, b| {
        let ip = |p: &Port| {
            p.public
                .as_ref()
                .map(|(ip, _)| ip.clone())
                .unwrap_or_default()
        };
        let public = |p: &Port| p.public.as_ref().map_or(0, |(_, port)| *port);
        (a.private, ip(a), public(a), &a.proto).cmp(&(b.private, ip(b), public(b), &b.proto))
    });
    // Groups by "proto" or "ip/proto", in the order first seen.
    let mut groups: Vec<(String, u16, u16)> = Vec::new();
    let mut result = Vec::new();
    let mut mappings = Vec::new();
    for p in &ports {
        let key = match &p.public {
            Some((ip, public)) if *public != p.private => {
                mappings.push(format!("{ip}:{public}->{}/{}", p.private, p.proto));
                continue;
            }
            Some((ip, _)) => format!("{ip}/{}", p.proto),
            None => p.proto.clone(),
        };
        match groups.iter_mut().find(|(k, _, _)| *k == key) {
            Some(g) if p.private == g.2.wrapping_add(1) => g.2 = p.private,
            Some(g) => {
                result.push(form(&g.0, g.1, g.2));
                *g = (key, p.private, p.private);
            }
            None => groups.push((key, p.private, p.private)),
        }
    }
    result.extend(groups.iter().map(|(k, first, last)| form(k, *first, *last)));
    result.extend(mappings);
    result.join(", ")
}

fn form(key: &str, first: u16, last: u16) -> String {
    let (ip, proto) = match key.split_once('/') {
        Some((ip, proto)) => (Some(ip), proto),
        None => (None, key),
    };
    let ports = if first == last {
        first.to_string()
    } else {
        format!("{first}-{last}")
    };
    match ip {
        Some(ip) => format!("{ip}:{ports}->{ports}/{proto}"),
        None => format!("{ports}/{proto}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(private: u16, public: Option<u16>, proto: &str) -> Port {
        Port {
            private,
            public: public.map(|n| ("0.0.0.0".to_string(), n)),
            proto: proto.into(),
        }
    }

    #[test]
    fn docker_shapes() {
        assert_eq!(
            displayable(vec![p(80, Some(8080), "tcp")]),
            "0.0.0.0:8080->80/tcp"
        );
        assert_eq!(displayable(vec![p(80, None, "tcp")]), "80/tcp");
        assert_eq!(
            displayable(vec![p(8001, Some(8001), "tcp"), p(8000, Some(8000), "tcp")]),
            "0.0.0.0:8000-8001->8000-8001/tcp"
        );
        assert_eq!(
            displayable(vec![
                p(443, None, "tcp"),
                p(80, Some(8080), "tcp"),
                p(53, None, "udp")
            ]),
            "53/udp, 443/tcp, 0.0.0.0:8080->80/tcp"
        );
    }
}
