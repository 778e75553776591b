//! Interface addresses.

use std::net::IpAddr;

use netlink_packet_core::{NLM_F_CREATE, NLM_F_EXCL};
use netlink_packet_route::address::{AddressAttribute, AddressMessage};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};

use crate::error::Result;
use crate::rtnl::Rtnl;

/// Adds `address/prefix` to the link `index` (its subnet's route comes
/// with it, as `ip addr add` does).
pub fn add(rtnl: &mut Rtnl, index: u32, address: IpAddr, prefix: u8) -> Result<()> {
    let mut m = AddressMessage::default();
    m.header.family = match address {
        IpAddr::V4(_) => AddressFamily::Inet,
        IpAddr::V6(_) => AddressFamily::Inet6,
    };
    m.header.prefix_len = prefix;
    m.header.index = index;
    m.attributes.push(AddressAttribute::Local(address));
    m.attributes.push(AddressAttribute::Address(address));
    rtnl.request(
        &format!("add address {address}/{prefix} to link {index}"),
        RouteNetlinkMessage::NewAddress(m),
        NLM_F_CREATE | NLM_F_EXCL,
    )?;
    Ok(())
}
