//! What the monitor and its clients say to each other.
//!
//! Status (monitor stdout -> the process that started it), one line each:
//! `created PID`, `started PID`, or `error KIND MESSAGE` (KIND an engine
//! [`ErrorKind`] by name, so the starter learns why a start failed as a
//! type, not from the message).
//!
//! Control socket (`<run>/monitor/<id>/control.sock`): the client sends one
//! JSON line ([`Hello`]: the protocol version it speaks and what it wants),
//! the monitor answers one JSON line ([`Welcome`]: its own version, or an
//! error), then both sides exchange frames of
//! `[kind u8][length u32 big-endian][payload]`.
//! Client -> monitor: [`STDIN`] data, [`STDIN_EOF`], [`RESIZE`] (rows, cols
//! as two u16). Monitor -> client: [`STDOUT`]/[`STDERR`] data (a tty's
//! output is all STDOUT) and finally [`EXIT`] with the exit code as i32.
//!
//! Monitors outlive upgrades of the berth binary, so the protocol is
//! versioned: a monitor serves every version up to its own, and a client
//! that needs more than a monitor offers says so. Version 1 (before exec
//! moved into the monitor) had no Welcome and only attach, on
//! `attach.sock`.

use std::io::{self, Read, Write};

use serde::{Deserialize, Serialize};

use crate::error::ErrorKind;

/// The version this build speaks.
pub const VERSION: u32 = 2;

/// The socket of a version-2 monitor, and of a version-1 one.
pub const CONTROL_SOCKET: &str = "control.sock";
pub const LEGACY_ATTACH_SOCKET: &str = "attach.sock";

pub const STDIN: u8 = 0;
pub const STDOUT: u8 = 1;
pub const STDERR: u8 = 2;
pub const EXIT: u8 = 3;
pub const STDIN_EOF: u8 = 4;
pub const RESIZE: u8 = 5;

/// Frames larger than this are a protocol error.
pub const MAX_FRAME: usize = 1 << 20;

/// What a client asks for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Op {
    /// The container's stdio (its init's).
    #[default]
    Attach,
    /// Start an exec (created in the store) and relay its stdio.
    Exec,
    /// Set the terminal size of the init or of an exec, then close.
    Resize,
}

fn legacy_version() -> u32 {
    1
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Hello {
    #[serde(default = "legacy_version")]
    pub version: u32,
    #[serde(default)]
    pub op: Op,
    #[serde(default)]
    pub stdin: bool,
    #[serde(default)]
    pub stdout: bool,
    #[serde(default)]
    pub stderr: bool,
    /// Exec and Resize: which exec (None: the init).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exec_id: Option<String>,
    /// Exec: start, then hang up (the process's output is discarded).
    #[serde(default)]
    pub detach: bool,
    /// The terminal's (rows, columns).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<(u16, u16)>,
}

impl Hello {
    pub fn new(op: Op) -> Hello {
        Hello {
            version: VERSION,
            op,
            ..Hello::default()
        }
    }
}

/// The monitor's answer to a Hello.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Welcome {
    pub version: u32,
    /// Exec: the pid of the process started.
    #[serde(default)]
    pub pid: i32,
    /// Why the request failed (then the connection ends).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<ErrorKind>,
    /// The error is the exec'd process's (it could not be started), not
    /// the request's.
    #[serde(default)]
    pub exec_failed: bool,
}

pub fn write_frame(w: &mut impl Write, kind: u8, payload: &[u8]) -> io::Result<()> {
    w.write_all(&frame(kind, payload))
}

/// One frame as bytes (one write keeps a frame whole on a socket).
pub fn frame(kind: u8, payload: &[u8]) -> Vec<u8> {
    let mut buf = Vec::with_capacity(5 + payload.len());
    buf.push(kind);
    buf.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    buf.extend_from_slice(payload);
    buf
}

/// Reads one frame; None at a clean end of stream.
pub fn read_frame(r: &mut impl Read) -> io::Result<Option<(u8, Vec<u8>)>> {
    let mut header = [0u8; 5];
    match r.read_exact(&mut header) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let len = u32::from_be_bytes([header[1], header[2], header[3], header[4]]) as usize;
    if len > MAX_FRAME {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("attach frame of {len} bytes is over the limit"),
        ));
    }
    let mut payload = vec![0u8; len];
    r.read_exact(&mut payload)?;
    Ok(Some((header[0], payload)))
}

/// Splits complete frames off the front of `buf` (for a non-blocking reader).
pub fn take_frames(buf: &mut Vec<u8>) -> io::Result<Vec<(u8, Vec<u8>)>> {
    let mut out = Vec::new();
    let mut at = 0;
    while buf.len() - at >= 5 {
        let len = u32::from_be_bytes([buf[at + 1], buf[at + 2], buf[at + 3], buf[at + 4]]) as usize;
        if len > MAX_FRAME {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "attach frame over the limit",
            ));
        }
        if buf.len() - at - 5 < len {
            break;
        }
        out.push((buf[at], buf[at + 5..at + 5 + len].to_vec()));
        at += 5 + len;
    }
    buf.drain(..at);
    Ok(out)
}

/// A resize payload: rows and columns as two big-endian u16.
pub fn size_payload(rows: u16, cols: u16) -> [u8; 4] {
    let mut out = [0u8; 4];
    out[..2].copy_from_slice(&rows.to_be_bytes());
    out[2..].copy_from_slice(&cols.to_be_bytes());
    out
}

pub fn parse_size(payload: &[u8]) -> Option<(u16, u16)> {
    (payload.len() == 4).then(|| {
        (
            u16::from_be_bytes([payload[0], payload[1]]),
            u16::from_be_bytes([payload[2], payload[3]]),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_split() {
        let mut buf = Vec::new();
        write_frame(&mut buf, STDOUT, b"hello").unwrap();
        write_frame(&mut buf, EXIT, &7i32.to_be_bytes()).unwrap();
        let mut partial = buf[..7].to_vec();
        assert!(take_frames(&mut partial).unwrap().is_empty());
        partial.extend_from_slice(&buf[7..]);
        let frames = take_frames(&mut partial).unwrap();
        assert_eq!(
            frames,
            vec![
                (STDOUT, b"hello".to_vec()),
                (EXIT, 7i32.to_be_bytes().to_vec())
            ]
        );
        assert!(partial.is_empty());
        let mut r = &buf[..];
        assert_eq!(
            read_frame(&mut r).unwrap(),
            Some((STDOUT, b"hello".to_vec()))
        );
    }

    #[test]
    fn a_version_1_hello_is_an_attach() {
        let h: Hello =
            serde_json::from_str(r#"{"stdin":true,"stdout":true,"stderr":false}"#).unwrap();
        assert_eq!(h.version, 1);
        assert_eq!(h.op, Op::Attach);
        assert!(h.stdin && h.stdout && !h.stderr);
        let h: Hello =
            serde_json::from_str(&serde_json::to_string(&Hello::new(Op::Exec)).unwrap()).unwrap();
        assert_eq!((h.version, h.op), (VERSION, Op::Exec));
    }

    #[test]
    fn sizes_round_trip() {
        assert_eq!(parse_size(&size_payload(24, 80)), Some((24, 80)));
        assert_eq!(parse_size(&[1, 2, 3]), None);
    }
}
