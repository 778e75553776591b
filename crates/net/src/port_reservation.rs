//! A published port's host side is held by a socket bound to it and never
//! listened on: packets to the port are DNAT'd to the container before any
//! socket sees them, so the socket only keeps every other program (and
//! every other container) from taking the port, and makes a port already
//! in use fail the start, as docker-proxy's listener does for Docker.
//! Port 0 asks the kernel for a free one from its ephemeral range.
//!
//! No SO_REUSEADDR: with it, two sockets that never listen may share a
//! port, and two containers would publish the same one.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::os::fd::OwnedFd;

use rustix::net::{AddressFamily, SocketType, ipproto};

use crate::error::{Error, Result};
use crate::nft::Protocol;

/// Holds `ip:port` (`0.0.0.0` for every address); returns the socket and
/// the port it holds.
pub fn reserve(protocol: Protocol, ip: Ipv4Addr, port: u16) -> Result<(OwnedFd, u16)> {
    let what = format!("{ip}:{port}/{}", protocol.as_str());
    let (kind, proto) = match protocol {
        Protocol::Tcp => (SocketType::STREAM, ipproto::TCP),
        Protocol::Udp => (SocketType::DGRAM, ipproto::UDP),
        Protocol::Sctp => (SocketType::STREAM, ipproto::SCTP),
    };
    let fd = rustix::net::socket_with(
        AddressFamily::INET,
        kind,
        rustix::net::SocketFlags::CLOEXEC,
        Some(proto),
    )
    .map_err(|e| Error::io(format!("reserve {what}: socket"), e.into()))?;
    rustix::net::bind(&fd, &SocketAddrV4::new(ip, port))
        .map_err(|e| Error::io(format!("reserve {what}: bind"), e.into()))?;
    let bound = rustix::net::getsockname(&fd)
        .ok()
        .and_then(|a| SocketAddrV4::try_from(a).ok())
        .map_or(port, |a| a.port());
    Ok((fd, bound))
}
