//! Links: bridges, veth pairs (one end moved into another namespace),
//! up/down, a bridge port's controller, MAC addresses, lookup and removal.

use std::os::fd::{AsFd, AsRawFd};

use netlink_packet_core::{NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_packet_route::link::{
    InfoData, InfoKind, InfoVeth, LinkAttribute, LinkFlags, LinkInfo, LinkMessage,
};

use crate::error::{Error, Result};
use crate::netns::NetNs;
use crate::rtnl::Rtnl;

/// A link as the kernel lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Link {
    pub index: u32,
    pub name: String,
    pub kind: Option<String>,
    /// The bridge it is a port of.
    pub controller: Option<u32>,
    pub mac: Option<[u8; 6]>,
    pub up: bool,
}

fn named(name: &str) -> LinkMessage {
    let mut m = LinkMessage::default();
    m.attributes.push(LinkAttribute::IfName(name.to_string()));
    m
}

/// Creates a bridge (fails with EEXIST if a link has the name).
pub fn create_bridge(rtnl: &mut Rtnl, name: &str, mac: Option<[u8; 6]>) -> Result<u32> {
    let mut m = named(name);
    m.attributes
        .push(LinkAttribute::LinkInfo(vec![LinkInfo::Kind(
            InfoKind::Bridge,
        )]));
    if let Some(mac) = mac {
        m.attributes.push(LinkAttribute::Address(mac.to_vec()));
    }
    rtnl.request(
        &format!("create bridge {name}"),
        RouteNetlinkMessage::NewLink(m),
        NLM_F_CREATE | NLM_F_EXCL,
    )?;
    index_of(rtnl, name)?.ok_or_else(|| Error::NotFound(format!("bridge {name} vanished")))
}

/// Creates a veth pair: `host` here, `peer` in `peer_ns` (named there
/// `peer_name`, e.g. eth0, with `peer_mac`). Returns the host end's index.
pub fn create_veth(
    rtnl: &mut Rtnl,
    host: &str,
    peer_name: &str,
    peer_ns: &NetNs,
    peer_mac: Option<[u8; 6]>,
) -> Result<u32> {
    let mut peer = named(peer_name);
    peer.attributes
        .push(LinkAttribute::NetNsFd(peer_ns.as_fd().as_raw_fd()));
    if let Some(mac) = peer_mac {
        peer.attributes.push(LinkAttribute::Address(mac.to_vec()));
    }
    let mut m = named(host);
    m.attributes.push(LinkAttribute::LinkInfo(vec![
        LinkInfo::Kind(InfoKind::Veth),
        LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(peer))),
    ]));
    rtnl.request(
        &format!("create veth {host} (peer {peer_name})"),
        RouteNetlinkMessage::NewLink(m),
        NLM_F_CREATE | NLM_F_EXCL,
    )?;
    index_of(rtnl, host)?.ok_or_else(|| Error::NotFound(format!("veth {host} vanished")))
}

fn change(
    rtnl: &mut Rtnl,
    op: &str,
    index: u32,
    edit: impl FnOnce(&mut LinkMessage),
) -> Result<()> {
    let mut m = LinkMessage::default();
    m.header.index = index;
    edit(&mut m);
    rtnl.request(op, RouteNetlinkMessage::SetLink(m), 0)?;
    Ok(())
}

pub fn set_up(rtnl: &mut Rtnl, index: u32) -> Result<()> {
    change(rtnl, &format!("set link {index} up"), index, |m| {
        m.header.flags = LinkFlags::Up;
        m.header.change_mask = LinkFlags::Up;
    })
}

/// Makes `index` a port of the bridge `bridge`.
pub fn set_controller(rtnl: &mut Rtnl, index: u32, bridge: u32) -> Result<()> {
    change(
        rtnl,
        &format!("attach link {index} to bridge {bridge}"),
        index,
        |m| m.attributes.push(LinkAttribute::Controller(bridge)),
    )
}

pub fn delete(rtnl: &mut Rtnl, index: u32) -> Result<()> {
    let mut m = LinkMessage::default();
    m.header.index = index;
    rtnl.request(
        &format!("delete link {index}"),
        RouteNetlinkMessage::DelLink(m),
        0,
    )?;
    Ok(())
}

pub fn list(rtnl: &mut Rtnl) -> Result<Vec<Link>> {
    let replies = rtnl.request(
        "list links",
        RouteNetlinkMessage::GetLink(LinkMessage::default()),
        NLM_F_DUMP,
    )?;
    Ok(replies
        .into_iter()
        .filter_map(|r| match r {
            RouteNetlinkMessage::NewLink(m) => Some(link_of(m)),
            _ => None,
        })
        .collect())
}

/// The index of the link named `name`: the kernel looks it up (one
/// reply, not a dump of every link: this is on every container's start).
pub fn index_of(rtnl: &mut Rtnl, name: &str) -> Result<Option<u32>> {
    match rtnl.request(
        &format!("find link {name}"),
        RouteNetlinkMessage::GetLink(named(name)),
        0,
    ) {
        Ok(replies) => Ok(replies.into_iter().find_map(|r| match r {
            RouteNetlinkMessage::NewLink(m) => Some(m.header.index),
            _ => None,
        })),
        Err(e) if e.errno() == Some(libc::ENODEV) => Ok(None),
        Err(e) => Err(e),
    }
}

fn link_of(m: LinkMessage) -> Link {
    let mut link = Link {
        index: m.header.index,
        name: String::new(),
        kind: None,
        controller: None,
        mac: None,
        up: m.header.flags.contains(LinkFlags::Up),
    };
    for a in m.attributes {
        match a {
            LinkAttribute::IfName(n) => link.name = n,
            LinkAttribute::Controller(c) => link.controller = Some(c),
            LinkAttribute::Address(a) if a.len() == 6 => {
                link.mac = Some([a[0], a[1], a[2], a[3], a[4], a[5]]);
            }
            LinkAttribute::LinkInfo(infos) => {
                for i in infos {
                    if let LinkInfo::Kind(k) = i {
                        link.kind = Some(k.to_string());
                    }
                }
            }
            _ => {}
        }
    }
    link
}
