//! berth-net: the mechanism of bridge networking, and nothing else.
//!
//! Bridges, veth pairs, addresses, routes and sysctls are set through
//! rtnetlink (`netlink-packet-route` over a `netlink-sys` socket, used
//! synchronously, one request at a time); firewall rules live in a table of
//! berth's own that nothing else touches (`nft.rs`). It knows no images, no
//! containers and no SQL: the engine decides what exists and asks for it.
//!
//! Every operation runs in a network namespace given as a file descriptor.
//! The caller's threads never change namespace: work for another namespace
//! runs on a short-lived thread that enters it (`netns::within`), so the
//! engine, a daemon with many threads, can call this at any time.

pub mod dns;
pub mod docker_user;
mod error;
pub mod netns;
pub mod nft;
pub mod port_reservation;
mod rtnl;
pub mod sysctl;

pub mod addr;
pub mod link;
pub mod route;

pub use error::{Error, Result};
pub use netns::NetNs;
pub use rtnl::Rtnl;
