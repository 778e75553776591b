//! Routes: a namespace's default route through a gateway.

use std::net::Ipv4Addr;

use netlink_packet_core::{NLM_F_CREATE, NLM_F_EXCL};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteProtocol, RouteScope, RouteType,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};

use crate::error::Result;
use crate::rtnl::Rtnl;

/// `default via gateway` in the main table.
pub fn add_default_v4(rtnl: &mut Rtnl, gateway: Ipv4Addr) -> Result<()> {
    let mut m = RouteMessage::default();
    m.header.address_family = AddressFamily::Inet;
    m.header.table = RouteHeader::RT_TABLE_MAIN;
    m.header.protocol = RouteProtocol::Boot;
    m.header.scope = RouteScope::Universe;
    m.header.kind = RouteType::Unicast;
    m.attributes
        .push(RouteAttribute::Gateway(RouteAddress::Inet(gateway)));
    rtnl.request(
        &format!("add default route via {gateway}"),
        RouteNetlinkMessage::NewRoute(m),
        NLM_F_CREATE | NLM_F_EXCL,
    )?;
    Ok(())
}

/// The IPv4 destinations of the main table's routes (not the default
/// route): what a new subnet must not overlap.
pub fn destinations_v4(rtnl: &mut Rtnl) -> Result<Vec<(Ipv4Addr, u8)>> {
    let mut m = RouteMessage::default();
    m.header.address_family = AddressFamily::Inet;
    let replies = rtnl.request(
        "list routes",
        RouteNetlinkMessage::GetRoute(m),
        netlink_packet_core::NLM_F_DUMP,
    )?;
    let mut out = Vec::new();
    for r in replies {
        let RouteNetlinkMessage::NewRoute(route) = r else {
            continue;
        };
        if route.header.table != RouteHeader::RT_TABLE_MAIN
            || route.header.destination_prefix_length == 0
        {
            continue;
        }
        for a in &route.attributes {
            if let RouteAttribute::Destination(RouteAddress::Inet(d)) = a {
                out.push((*d, route.header.destination_prefix_length));
            }
        }
    }
    Ok(out)
}
