//! A network's DNS responder: answers A queries for the names the caller's
//! lookup knows (containers, their aliases) and forwards every other query,
//! as it came, to upstream servers the lookup names, relaying their answer.
//! Messages are read and written with hickory's protocol crate; the loop is
//! plain blocking UDP, one thread per forwarded query so that a slow
//! upstream never holds up local answers; TCP (for answers too big for a
//! datagram, which clients retry over TCP) has a thread per connection and
//! forwards over TCP.
//!
//! It knows no containers and no store: `Lookup` is the caller's.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
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
    tcp: &TcpListener,
    lookup: &(dyn Fn(Ipv4Addr, &str) -> Answer + Sync),
    keep_going: &mut dyn FnMut() -> bool,
) -> Result<()> {
    socket
        .set_read_timeout(Some(Duration::from_millis(500)))
        .map_err(|e| Error::io("dns: set read timeout", e))?;
    tcp.set_nonblocking(true)
        .map_err(|e| Error::io("dns: tcp nonblocking", e))?;
    let mut buf = [0u8; 4096];
    let mut last_check = Instant::now();
    let stop = AtomicBool::new(false);
    std::thread::scope(|scope| -> Result<()> {
        let stop = &stop;
        scope.spawn(move || accept_tcp(tcp, lookup, stop));
        let result = serve_udp(socket, lookup, keep_going, &mut buf, &mut last_check, scope);
        stop.store(true, Ordering::Relaxed);
        result
    })
}

fn serve_udp<'scope>(
    socket: &'scope UdpSocket,
    lookup: &'scope (dyn Fn(Ipv4Addr, &str) -> Answer + Sync),
    keep_going: &mut dyn FnMut() -> bool,
    buf: &mut [u8],
    last_check: &mut Instant,
    scope: &'scope std::thread::Scope<'scope, '_>,
) -> Result<()> {
    {
        loop {
            if last_check.elapsed() >= Duration::from_millis(500) {
                *last_check = Instant::now();
                if !keep_going() {
                    return Ok(());
                }
            }
            let (n, from) = match socket.recv_from(buf) {
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
    }
}

/// TCP connections, each on a thread of its own, until `stop`.
fn accept_tcp(
    tcp: &TcpListener,
    lookup: &(dyn Fn(Ipv4Addr, &str) -> Answer + Sync),
    stop: &AtomicBool,
) {
    std::thread::scope(|scope| {
        while !stop.load(Ordering::Relaxed) {
            match tcp.accept() {
                Ok((stream, SocketAddr::V4(from))) => {
                    scope.spawn(move || serve_tcp(stream, *from.ip(), lookup));
                }
                Ok(_) => {}
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    });
}

/// One TCP connection: length-prefixed queries, answered in order.
fn serve_tcp(mut stream: TcpStream, querier: Ipv4Addr, lookup: &dyn Fn(Ipv4Addr, &str) -> Answer) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    while let Some(packet) = read_framed(&mut stream) {
        let reply = match respond(&packet, querier, lookup) {
            Reply::Now(bytes) => bytes,
            Reply::Forward(servers) => forward_tcp(&packet, &servers)
                .unwrap_or_else(|| error_reply(&packet, ResponseCode::ServFail)),
            Reply::Nothing => return,
        };
        if reply.is_empty() || write_framed(&mut stream, &reply).is_err() {
            return;
        }
    }
}

fn read_framed(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let mut len = [0u8; 2];
    stream.read_exact(&mut len).ok()?;
    let mut packet = vec![0u8; u16::from_be_bytes(len) as usize];
    stream.read_exact(&mut packet).ok()?;
    Some(packet)
}

fn write_framed(stream: &mut TcpStream, packet: &[u8]) -> std::io::Result<()> {
    let len = u16::try_from(packet.len()).unwrap_or(u16::MAX);
    let mut out = len.to_be_bytes().to_vec();
    out.extend_from_slice(&packet[..len as usize]);
    stream.write_all(&out)
}

/// The query sent on over TCP to each server in turn: the first answer.
fn forward_tcp(packet: &[u8], servers: &[SocketAddr]) -> Option<Vec<u8>> {
    for server in servers {
        let Ok(mut s) = TcpStream::connect_timeout(server, UPSTREAM_TIMEOUT) else {
            continue;
        };
        let _ = s.set_read_timeout(Some(UPSTREAM_TIMEOUT));
        if write_framed(&mut s, packet).is_ok()
            && let Some(reply) = read_framed(&mut s)
        {
            return Some(reply);
        }
    }
    None
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
