//! A minimal tar writer that writes exactly the header it is given.
//!
//! The `tar` crate refuses to build entries with `..` or absolute names, which
//! is right for producing archives but useless for testing how berth handles
//! hostile ones. This writer emits ustar headers (with a PAX record for names
//! and link targets over 100 bytes) and nothing else; it is used by tests and
//! by fixtures, never to unpack.

use std::io::{self, Write};

pub const REGULAR: u8 = b'0';
pub const HARDLINK: u8 = b'1';
pub const SYMLINK: u8 = b'2';
pub const CHAR: u8 = b'3';
pub const BLOCK: u8 = b'4';
pub const DIRECTORY: u8 = b'5';
pub const FIFO: u8 = b'6';

/// One entry to write.
#[derive(Clone, Debug)]
pub struct RawEntry {
    pub name: Vec<u8>,
    pub kind: u8,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub mtime: u64,
    pub link: Vec<u8>,
    pub data: Vec<u8>,
    pub dev: (u32, u32),
    /// Extra PAX records (e.g. `SCHILY.xattr.user.x`).
    pub pax: Vec<(String, Vec<u8>)>,
}

impl RawEntry {
    pub fn file(name: &str, data: &[u8]) -> RawEntry {
        RawEntry::new(name.as_bytes(), REGULAR, 0o644).with_data(data)
    }
    pub fn dir(name: &str) -> RawEntry {
        RawEntry::new(name.as_bytes(), DIRECTORY, 0o755)
    }
    pub fn symlink(name: &str, target: &str) -> RawEntry {
        RawEntry::new(name.as_bytes(), SYMLINK, 0o777).with_link(target.as_bytes())
    }
    pub fn hardlink(name: &str, target: &str) -> RawEntry {
        RawEntry::new(name.as_bytes(), HARDLINK, 0o644).with_link(target.as_bytes())
    }
    pub fn new(name: &[u8], kind: u8, mode: u32) -> RawEntry {
        RawEntry {
            name: name.to_vec(),
            kind,
            mode,
            uid: 0,
            gid: 0,
            mtime: 1_700_000_000,
            link: Vec::new(),
            data: Vec::new(),
            dev: (0, 0),
            pax: Vec::new(),
        }
    }
    pub fn with_data(mut self, data: &[u8]) -> Self {
        self.data = data.to_vec();
        self
    }
    pub fn with_link(mut self, link: &[u8]) -> Self {
        self.link = link.to_vec();
        self
    }
    pub fn with_owner(mut self, uid: u32, gid: u32) -> Self {
        self.uid = uid;
        self.gid = gid;
        self
    }
    pub fn with_pax(mut self, key: &str, value: &[u8]) -> Self {
        self.pax.push((key.to_string(), value.to_vec()));
        self
    }
}

/// Writes entries, then the two zero blocks that end an archive.
pub fn write_archive(out: &mut impl Write, entries: &[RawEntry]) -> io::Result<()> {
    for e in entries {
        write_entry(out, e)?;
    }
    out.write_all(&[0u8; 1024])
}

/// The archive as bytes.
pub fn archive(entries: &[RawEntry]) -> Vec<u8> {
    let mut out = Vec::new();
    // Writing to a Vec cannot fail.
    let _ = write_archive(&mut out, entries);
    out
}

pub fn write_entry(out: &mut impl Write, e: &RawEntry) -> io::Result<()> {
    let mut pax = Vec::new();
    if e.name.len() > 100 {
        pax.push(("path".to_string(), e.name.clone()));
    }
    if e.link.len() > 100 {
        pax.push(("linkpath".to_string(), e.link.clone()));
    }
    pax.extend(e.pax.iter().cloned());
    if !pax.is_empty() {
        let mut body = Vec::new();
        for (k, v) in &pax {
            body.extend_from_slice(&pax_record(k, v));
        }
        let header = header(
            b"PaxHeaders/entry",
            b'x',
            0o644,
            0,
            0,
            0,
            b"",
            body.len() as u64,
            (0, 0),
        );
        out.write_all(&header)?;
        write_padded(out, &body)?;
    }
    let name = &e.name[..e.name.len().min(100)];
    let link = &e.link[..e.link.len().min(100)];
    let size = if e.kind == REGULAR {
        e.data.len() as u64
    } else {
        0
    };
    out.write_all(&header(
        name, e.kind, e.mode, e.uid, e.gid, e.mtime, link, size, e.dev,
    ))?;
    if size > 0 {
        write_padded(out, &e.data)?;
    }
    Ok(())
}

fn pax_record(key: &str, value: &[u8]) -> Vec<u8> {
    // "<len> <key>=<value>\n" where len counts its own digits too.
    let base = 1 + key.len() + 1 + value.len() + 1;
    let mut len = base + 1;
    while len != base + len.to_string().len() {
        len = base + len.to_string().len();
    }
    let mut r = format!("{len} {key}=").into_bytes();
    r.extend_from_slice(value);
    r.push(b'\n');
    r
}

fn write_padded(out: &mut impl Write, data: &[u8]) -> io::Result<()> {
    out.write_all(data)?;
    let pad = (512 - data.len() % 512) % 512;
    out.write_all(&vec![0u8; pad])
}

#[allow(clippy::too_many_arguments)]
fn header(
    name: &[u8],
    kind: u8,
    mode: u32,
    uid: u32,
    gid: u32,
    mtime: u64,
    link: &[u8],
    size: u64,
    dev: (u32, u32),
) -> [u8; 512] {
    let mut h = [0u8; 512];
    h[..name.len()].copy_from_slice(name);
    octal(&mut h[100..108], mode as u64);
    octal(&mut h[108..116], uid as u64);
    octal(&mut h[116..124], gid as u64);
    octal(&mut h[124..136], size);
    octal(&mut h[136..148], mtime);
    h[156] = kind;
    h[157..157 + link.len()].copy_from_slice(link);
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    octal(&mut h[329..337], dev.0 as u64);
    octal(&mut h[337..345], dev.1 as u64);
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|&b| b as u32).sum();
    let cks = format!("{sum:06o}\0 ");
    h[148..156].copy_from_slice(cks.as_bytes());
    h
}

fn octal(field: &mut [u8], value: u64) {
    let s = format!("{value:0width$o}", width = field.len() - 1);
    field[..s.len()].copy_from_slice(s.as_bytes());
}
