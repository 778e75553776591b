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
