//! IPv4 subnets: parsing, containment, overlap, and the first free one of
//! Docker's default address pools.

use std::fmt;
use std::net::Ipv4Addr;

use crate::error::{Error, Result};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Subnet {
    /// The network address (host bits zero).
    pub addr: Ipv4Addr,
    pub prefix: u8,
}

impl Subnet {
    pub fn new(addr: Ipv4Addr, prefix: u8) -> Subnet {
        let mask = mask(prefix);
        Subnet {
            addr: Ipv4Addr::from(u32::from(addr) & mask),
            prefix,
        }
    }

    /// `a.b.c.d/n` (host bits are cleared, as the kernel's routes are).
    pub fn parse(s: &str) -> Result<Subnet> {
        let bad = || Error::invalid(format!("invalid CIDR address: {s}"));
        let (addr, prefix) = s.split_once('/').ok_or_else(bad)?;
        let addr: Ipv4Addr = addr.parse().map_err(|_| {
            if addr.contains(':') {
                Error::unsupported(format!("{s}: IPv6 networks are not supported yet"))
            } else {
                bad()
            }
        })?;
        let prefix: u8 = prefix.parse().map_err(|_| bad())?;
        if prefix > 30 {
            // Docker's bridge needs a gateway and at least one address.
            return Err(Error::invalid(format!(
                "invalid subnet {s}: a /{prefix} leaves no address for a container"
            )));
        }
        Ok(Subnet::new(addr, prefix))
    }

    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & mask(self.prefix) == u32::from(self.addr)
    }

    pub fn overlaps(&self, other: &Subnet) -> bool {
        let shorter = self.prefix.min(other.prefix);
        u32::from(self.addr) & mask(shorter) == u32::from(other.addr) & mask(shorter)
    }

    /// Whether `other` lies wholly inside this subnet.
    pub fn covers(&self, other: &Subnet) -> bool {
        other.prefix >= self.prefix && self.contains(other.addr)
    }

    /// The first host address (Docker's default gateway).
    pub fn first_host(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.addr) + 1)
    }

    pub fn broadcast(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.addr) | !mask(self.prefix))
    }
}

impl fmt::Display for Subnet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

fn mask(prefix: u8) -> u32 {
    if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - prefix as u32)
    }
}

/// Docker's default pools, in its order: 172.17.0.0/16 to 172.31.0.0/16,
/// then 192.168.0.0/16 in /20s.
pub fn default_pools() -> impl Iterator<Item = Subnet> {
    let big = (17..=31).map(|b| Subnet::new(Ipv4Addr::new(172, b, 0, 0), 16));
    let small = (0..16).map(|i| Subnet::new(Ipv4Addr::new(192, 168, i * 16, 0), 20));
    big.chain(small)
}

/// The first default pool that overlaps nothing in `taken`.
pub fn first_free(taken: &[Subnet]) -> Option<Subnet> {
    default_pools().find(|p| !taken.iter().any(|t| t.overlaps(p)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_contain_overlap() {
        let s = Subnet::parse("10.1.2.3/16").unwrap();
        assert_eq!(s.to_string(), "10.1.0.0/16");
        assert!(s.contains("10.1.255.1".parse().unwrap()));
        assert!(!s.contains("10.2.0.1".parse().unwrap()));
        assert_eq!(s.first_host().to_string(), "10.1.0.1");
        assert_eq!(s.broadcast().to_string(), "10.1.255.255");
        assert!(s.overlaps(&Subnet::parse("10.0.0.0/8").unwrap()));
        assert!(!s.overlaps(&Subnet::parse("10.2.0.0/16").unwrap()));
        assert!(s.covers(&Subnet::parse("10.1.4.0/24").unwrap()));
        assert!(!s.covers(&Subnet::parse("10.0.0.0/8").unwrap()));
        for bad in ["10.1.2.3", "10.1.2/16", "10.1.2.3/33", "x/8", "10.0.0.0/31"] {
            assert!(Subnet::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            Subnet::parse("fd00::/64").unwrap_err().kind,
            crate::error::ErrorKind::Unsupported
        );
    }

    #[test]
    fn the_first_pool_that_overlaps_nothing() {
        let taken = [
            Subnet::parse("172.17.0.0/16").unwrap(),
            Subnet::parse("172.18.5.0/24").unwrap(),
        ];
        assert_eq!(first_free(&taken).unwrap().to_string(), "172.19.0.0/16");
        let all: Vec<Subnet> = default_pools().collect();
        assert_eq!(first_free(&all), None);
        assert_eq!(all.len(), 31);
    }
}
