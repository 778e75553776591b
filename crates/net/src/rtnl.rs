//! A synchronous rtnetlink socket: one request, then its acknowledgement or
//! its dump, as netavark uses netlink. The socket belongs to the network
//! namespace of the thread that opened it, for its whole life.

use netlink_packet_core::{
    NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST, NetlinkHeader, NetlinkMessage, NetlinkPayload,
};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_sys::{Socket, SocketAddr, protocols::NETLINK_ROUTE};

use crate::error::{Error, Result};

pub struct Rtnl {
    socket: Socket,
    sequence: u32,
    buf: Vec<u8>,
}

impl Rtnl {
    /// A socket in the calling thread's network namespace.
    pub fn open() -> Result<Rtnl> {
        let mut socket =
            Socket::new(NETLINK_ROUTE).map_err(|e| Error::io("open rtnetlink socket", e))?;
        socket
            .bind_auto()
            .map_err(|e| Error::io("bind rtnetlink socket", e))?;
        socket
            .connect(&SocketAddr::new(0, 0))
            .map_err(|e| Error::io("connect rtnetlink socket", e))?;
        // Replies to a request that failed come with the request: ask the
        // kernel to leave it out (smaller reads), where it can.
        let _ = socket.set_ext_ack(true);
        Ok(Rtnl {
            socket,
            sequence: 0,
            buf: vec![0; 64 * 1024],
        })
    }

    /// Sends `message` with `flags` (besides REQUEST and ACK) and waits for
    /// the kernel's answer: the messages of a dump, or none.
    pub fn request(
        &mut self,
        op: &str,
        message: RouteNetlinkMessage,
        flags: u16,
    ) -> Result<Vec<RouteNetlinkMessage>> {
        self.sequence = self.sequence.wrapping_add(1);
        let mut header = NetlinkHeader::default();
        header.flags = NLM_F_REQUEST | NLM_F_ACK | flags;
        header.sequence_number = self.sequence;
        let mut packet = NetlinkMessage::new(header, NetlinkPayload::from(message));
        packet.finalize();
        let mut out = vec![0; packet.buffer_len()];
        packet.serialize(&mut out);
        self.socket
            .send(&out, 0)
            .map_err(|e| Error::io(format!("{op}: send"), e))?;
        let dump = flags & NLM_F_DUMP == NLM_F_DUMP;
        let mut replies = Vec::new();
        loop {
            let n = self
                .socket
                .recv(&mut &mut self.buf[..], 0)
                .map_err(|e| Error::io(format!("{op}: receive"), e))?;
            let mut offset = 0;
            while offset < n {
                let reply =
                    NetlinkMessage::<RouteNetlinkMessage>::deserialize(&self.buf[offset..n])
                        .map_err(|e| Error::Protocol {
                            op: op.to_string(),
                            message: e.to_string(),
                        })?;
                let len = reply.header.length as usize;
                if len == 0 {
                    break;
                }
                offset += len;
                if reply.header.sequence_number != self.sequence {
                    continue;
                }
                match reply.payload {
                    NetlinkPayload::Error(e) => match e.code {
                        None => {
                            if !dump {
                                return Ok(replies);
                            }
                        }
                        Some(code) => {
                            return Err(Error::Netlink {
                                op: op.to_string(),
                                errno: -code.get(),
                            });
                        }
                    },
                    NetlinkPayload::Done(_) => return Ok(replies),
                    NetlinkPayload::InnerMessage(m) => replies.push(m),
                    _ => {}
                }
            }
        }
    }
}
