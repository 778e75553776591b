//! A network's DNS responder: answers A queries for the names the caller's
//! lookup knows (containers, their aliases) and forwards every other query,
//! as it came, to upstream servers the lookup names, relaying their answer.
//! Messages are read and written with hickory's protocol crate; the loop is
//! plain blocking UDP, one thread per forwarded query so that a slow
//! upstream never holds up local answers.
//!
//! It knows no containers and no store: `Lookup` is the caller's.

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, MessageType, Metadata, OpCode, ResponseCode};
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{RData, Record, RecordType};

use crate::error::{Error, Result};

/// What the caller knows about a name, asked by `querier`.
pub enum Answer {
    /// A name of the network's: its addresses (A records; other types get
    /// an empty answer, so clients do not ask elsewhere).
    Local(Vec<Ipv4Addr>),
    /// Not ours: ask these servers, in order.
    Forward(Vec<SocketAddr>),
}

/// Time to live of local answers (Docker's embedded resolver: 600 s).
pub const TTL: u32 = 600;

/// How long an upstream server has to answer before the next is tried.
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(2);

/// Serves queries on `socket` until `keep_going` (asked about twice a
/// second) says to stop.
pub fn serve(
    socket: &UdpSocket,
    lookup: &(dyn Fn(Ipv4Addr, &str) -> Answer + Sync),
    keep_going: &mut dyn FnMut() -> bool,
) -> Result<()> {
    socket
        .set_read_timeout(Some(Duration::from_millis(500)))
        .map_err(|e| Error::io("dns: set read timeout", e))?;
    let mut buf = [0u8; 4096];
    let mut last_check = Instant::now();
    std::thread::scope(|scope| -> Result<()> {
        loop {
            if last_check.elapsed() >= Duration::from_millis(500) {
                last_check = Instant::now();
                if !keep_going() {
                    return Ok(());
                }
            }
            let (n, from) = match socket.recv_from(&mut buf) {
                Ok(v) => v,
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    continue;
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Error::io("dns: receive", e)),
            };
            let packet = buf[..n].to_vec();
            let querier = match from {
                SocketAddr::V4(a) => *a.ip(),
                SocketAddr::V6(_) => continue,
            };
            match respond(&packet, querier, lookup) {
                Reply::Now(bytes) => {
                    let _ = socket.send_to(&bytes, from);
                }
                Reply::Forward(servers) => {
                    let Ok(reply_socket) = socket.try_clone() else {
                        continue;
                    };
                    scope.spawn(move || {
                        let reply = forward(&packet, &servers)
                            .unwrap_or_else(|| error_reply(&packet, ResponseCode::ServFail));
                        if !reply.is_empty() {
                            let _ = reply_socket.send_to(&reply, from);
                        }
                    });
                }
                Reply::Nothing => {}
            }
        }
    })
}

enum Reply {
    Now(Vec<u8>),
    Forward(Vec<SocketAddr>),
    Nothing,
}

/// The answer to one query packet.
fn respond(packet: &[u8], querier: Ipv4Addr, lookup: &dyn Fn(Ipv4Addr, &str) -> Answer) -> Reply {
    let Ok(request) = Message::from_vec(packet) else {
        return Reply::Nothing;
    };
    if request.metadata.message_type != MessageType::Query {
        return Reply::Nothing;
    }
    let Some(query) = request.queries.first() else {
        return Reply::Now(error_reply(packet, ResponseCode::FormErr));
    };
    if request.metadata.op_code != OpCode::Query {
        return Reply::Now(error_reply(packet, ResponseCode::NotImp));
    }
    let name = query
        .name()
        .to_ascii()
        .trim_end_matches('.')
        .to_ascii_lowercase();
    match lookup(querier, &name) {
        Answer::Local(addrs) => {
            let mut response =
                Message::new(request.metadata.id, MessageType::Response, OpCode::Query);
            response.metadata = Metadata::response_from_request(&request.metadata);
            response.metadata.authoritative = true;
            response.metadata.recursion_available = true;
            response.add_query(query.clone());
            if matches!(query.query_type(), RecordType::A | RecordType::ANY) {
                for a in addrs {
                    response.add_answer(Record::from_rdata(
                        query.name().clone(),
                        TTL,
                        RData::A(A(a)),
                    ));
                }
            }
            match response.to_vec() {
                Ok(bytes) => Reply::Now(bytes),
                Err(_) => Reply::Now(error_reply(packet, ResponseCode::ServFail)),
            }
        }
        Answer::Forward(servers) if servers.is_empty() => {
            Reply::Now(error_reply(packet, ResponseCode::ServFail))
        }
        Answer::Forward(servers) => Reply::Forward(servers),
    }
}

/// The query sent on, as it came, to each server in turn: the first
/// answer (with the query's ID), or None.
fn forward(packet: &[u8], servers: &[SocketAddr]) -> Option<Vec<u8>> {
    let id = packet.get(..2)?;
    for server in servers {
        let bind: SocketAddr = match server {
            SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
            SocketAddr::V6(_) => (std::net::Ipv6Addr::UNSPECIFIED, 0).into(),
        };
        let Ok(s) = UdpSocket::bind(bind) else {
            continue;
        };
        if s.connect(server).is_err() || s.send(packet).is_err() {
            continue;
        }
        let _ = s.set_read_timeout(Some(UPSTREAM_TIMEOUT));
        let mut buf = vec![0u8; 4096];
        let deadline = Instant::now() + UPSTREAM_TIMEOUT;
        while Instant::now() < deadline {
            match s.recv(&mut buf) {
                Ok(n) if n >= 2 && &buf[..2] == id => {
                    buf.truncate(n);
                    return Some(buf);
                }
                Ok(_) => continue,
                Err(_) => break,
            }
        }
    }
    None
}

/// An empty reply with `code` to whatever `packet` asked.
fn error_reply(packet: &[u8], code: ResponseCode) -> Vec<u8> {
    let Ok(request) = Message::from_vec(packet) else {
        return Vec::new();
    };
    let mut response = Message::new(
        request.metadata.id,
        MessageType::Response,
        request.metadata.op_code,
    );
    response.metadata = Metadata::response_from_request(&request.metadata);
    response.metadata.response_code = code;
    response.metadata.recursion_available = true;
    response.add_queries(request.queries.iter().cloned());
    response.to_vec().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::op::Query;
    use hickory_proto::rr::Name;

    fn query(name: &str, kind: RecordType) -> Vec<u8> {
        let mut m = Message::new(0x1234, MessageType::Query, OpCode::Query);
        m.metadata.recursion_desired = true;
        m.add_query(Query::query(Name::from_ascii(name).unwrap(), kind));
        m.to_vec().unwrap()
    }

    fn lookup(_: Ipv4Addr, name: &str) -> Answer {
        match name {
            "web" => Answer::Local(vec![Ipv4Addr::new(10, 88, 0, 2)]),
            _ => Answer::Forward(Vec::new()),
        }
    }

    fn reply(r: Reply) -> Message {
        match r {
            Reply::Now(b) => Message::from_vec(&b).unwrap(),
            _ => panic!("no immediate reply"),
        }
    }

    #[test]
    fn local_names_are_answered_with_their_addresses() {
        let m = reply(respond(
            &query("WEB.", RecordType::A),
            Ipv4Addr::LOCALHOST,
            &lookup,
        ));
        assert_eq!(m.metadata.id, 0x1234);
        assert_eq!(m.metadata.response_code, ResponseCode::NoError);
        assert_eq!(m.answers.len(), 1);
        assert_eq!(m.answers[0].data, RData::A(A(Ipv4Addr::new(10, 88, 0, 2))));
        // AAAA of a local name: empty, not forwarded.
        let m = reply(respond(
            &query("web.", RecordType::AAAA),
            Ipv4Addr::LOCALHOST,
            &lookup,
        ));
        assert_eq!(m.metadata.response_code, ResponseCode::NoError);
        assert!(m.answers.is_empty());
    }

    #[test]
    fn other_names_without_upstreams_fail_as_servfail() {
        let m = reply(respond(
            &query("example.org.", RecordType::A),
            Ipv4Addr::LOCALHOST,
            &lookup,
        ));
        assert_eq!(m.metadata.response_code, ResponseCode::ServFail);
    }
}
