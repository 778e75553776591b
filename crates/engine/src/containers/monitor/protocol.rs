//! What the monitor and its clients say to each other.
//!
//! Status (monitor stdout -> the CLI that started it), one line each:
//! `created PID`, `started PID`, or `error CODE MESSAGE` (CODE is the exit
//! code Docker would give: 127 not found, 126 cannot execute, 125 otherwise).
//!
//! Attach socket (`<run>/monitor/<id>/attach.sock`): the client sends one
//! JSON line ([`Hello`]), then both sides exchange frames of
//! `[kind u8][length u32 big-endian][payload]`.
//! Client -> monitor: [`STDIN`] data, [`STDIN_EOF`], [`RESIZE`] (rows, cols
//! as two u16). Monitor -> client: [`STDOUT`]/[`STDERR`] data (a tty's
//! output is all STDOUT) and finally [`EXIT`] with the exit code as i32.

use std::io::{self, Read, Write};

use serde::{Deserialize, Serialize};

pub const STDIN: u8 = 0;
pub const STDOUT: u8 = 1;
pub const STDERR: u8 = 2;
pub const EXIT: u8 = 3;
pub const STDIN_EOF: u8 = 4;
pub const RESIZE: u8 = 5;

/// Frames larger than this are a protocol error.
pub const MAX_FRAME: usize = 1 << 20;

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Hello {
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
}

pub fn write_frame(w: &mut impl Write, kind: u8, payload: &[u8]) -> io::Result<()> {
    let mut header = [0u8; 5];
    header[0] = kind;
    header[1..].copy_from_slice(&(payload.len() as u32).to_be_bytes());
    // One write for small frames keeps them atomic on the socket.
    if payload.len() <= 4096 {
        let mut buf = Vec::with_capacity(5 + payload.len());
        buf.extend_from_slice(&header);
        buf.extend_from_slice(payload);
        return w.write_all(&buf);
    }
    w.write_all(&header)?;
    w.write_all(payload)
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

/// Docker's exit code for a start that failed, from the runtime's message.
pub fn start_failure_code(message: &str) -> i32 {
    let m = message.to_ascii_lowercase();
    if m.contains("executable file not found") || m.contains("no such file or directory") {
        127
    } else if m.contains("permission denied")
        || m.contains("cannot execute")
        || m.contains("is a directory")
    {
        126
    } else {
        125
    }
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
    fn docker_exit_codes_for_start_failures() {
        assert_eq!(
            start_failure_code("exec \"top\": executable file not found in $PATH"),
            127
        );
        assert_eq!(start_failure_code("exec /etc: permission denied"), 126);
        assert_eq!(start_failure_code("unable to find user x"), 125);
    }
}
