//! Tar headers for layer entries: one ustar block per entry, preceded by a
//! PAX extended header when something does not fit ustar or has no field
//! there.
//!
//! PAX is the only extension used, so the format is one thing: names and link
//! targets over 100 bytes (`path`, `linkpath`), sizes from 8 GiB (`size`),
//! ids above 2 097 151 (`uid`, `gid`), mtimes outside 0..8^11 (`mtime`), and
//! extended attributes (`SCHILY.xattr.NAME`, in the order given, which the
//! caller sorts). Records always appear in that order, the PAX header's own
//! fields are constants, and uname/gname stay empty, so the same entry always
//! encodes to the same bytes.

use std::io::{self, Write};

use super::sink::Sink;

pub const REGULAR: u8 = b'0';
pub const HARDLINK: u8 = b'1';
pub const SYMLINK: u8 = b'2';
pub const CHAR: u8 = b'3';
pub const BLOCK: u8 = b'4';
pub const DIRECTORY: u8 = b'5';
pub const FIFO: u8 = b'6';
const PAX: u8 = b'x';

const NAME_LEN: usize = 100;

/// The header fields of one entry, other than its name and link target.
#[derive(Clone, Copy, Debug)]
pub struct Meta {
    pub kind: u8,
    /// Permission bits with setuid, setgid and sticky; no file type bits.
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    /// Seconds since the epoch.
    pub mtime: i64,
    /// Bytes of data that follow the header (regular files only).
    pub size: u64,
    /// Major and minor numbers (devices only).
    pub dev: (u32, u32),
}

/// Encodes headers; owns the scratch buffer for PAX records so that writing an
/// entry allocates nothing once the buffer has grown.
#[derive(Default)]
pub struct Encoder {
    pax: Vec<u8>,
}

impl Encoder {
    /// Writes the header(s) of one entry. `name` is the full relative name
    /// (directories with their trailing `/`); `link` is the symlink target or
    /// hard link source, empty otherwise. The caller writes the data and its
    /// padding.
    pub fn write<'x, W: Write>(
        &mut self,
        sink: &mut Sink<W>,
        name: &[u8],
        link: &[u8],
        meta: &Meta,
        xattrs: impl Iterator<Item = (&'x [u8], &'x [u8])>,
    ) -> io::Result<()> {
        let mut block = [0u8; 512];
        self.pax.clear();

        if name.len() > NAME_LEN {
            record(&mut self.pax, b"path", b"", name);
        }
        put(&mut block[0..100], name);
        if link.len() > NAME_LEN {
            record(&mut self.pax, b"linkpath", b"", link);
        }
        put(&mut block[157..257], link);

        octal(&mut block[100..108], u64::from(meta.mode & 0o7777));
        if !octal(&mut block[124..136], meta.size) {
            octal(&mut block[124..136], 0);
            record_number(&mut self.pax, b"size", i128::from(meta.size));
        }
        if !octal(&mut block[108..116], u64::from(meta.uid)) {
            octal(&mut block[108..116], 0);
            record_number(&mut self.pax, b"uid", i128::from(meta.uid));
        }
        if !octal(&mut block[116..124], u64::from(meta.gid)) {
            octal(&mut block[116..124], 0);
            record_number(&mut self.pax, b"gid", i128::from(meta.gid));
        }
        let mtime_fits = u64::try_from(meta.mtime).is_ok_and(|t| octal(&mut block[136..148], t));
        if !mtime_fits {
            octal(&mut block[136..148], 0);
            record_number(&mut self.pax, b"mtime", i128::from(meta.mtime));
        }
        // Linux device numbers are 12 + 20 bits, well inside 7 octal digits;
        // anything else did not come from this kernel.
        if !octal(&mut block[329..337], u64::from(meta.dev.0))
            || !octal(&mut block[337..345], u64::from(meta.dev.1))
        {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "device number {}:{} does not fit a tar header",
                    meta.dev.0, meta.dev.1
                ),
            ));
        }
        block[156] = meta.kind;
        block[257..263].copy_from_slice(b"ustar\0");
        block[263..265].copy_from_slice(b"00");

        for (key, value) in xattrs {
            record(&mut self.pax, b"SCHILY.xattr.", key, value);
        }

        if !self.pax.is_empty() {
            let pax_header = pax_header(name, self.pax.len() as u64);
            sink.write(&pax_header)?;
            sink.write(&self.pax)?;
            sink.pad(self.pax.len() as u64)?;
        }
        checksum(&mut block);
        sink.write(&block)
    }
}

/// The extended header that carries the records. Its name is informative only
/// (readers take the name from the records), so it is a fixed prefix plus the
/// entry's last component, as Go's archive/tar does.
fn pax_header(name: &[u8], size: u64) -> [u8; 512] {
    let mut block = [0u8; 512];
    let trimmed = name.strip_suffix(b"/").unwrap_or(name);
    let base = match trimmed.iter().rposition(|&b| b == b'/') {
        Some(i) => &trimmed[i + 1..],
        None => trimmed,
    };
    let prefix = b"PaxHeaders.0/";
    block[..prefix.len()].copy_from_slice(prefix);
    put(&mut block[prefix.len()..100], base);
    octal(&mut block[100..108], 0o644);
    octal(&mut block[108..116], 0);
    octal(&mut block[116..124], 0);
    // The records of one entry are far below 8 GiB: a name is at most 4 KiB
    // and xattrs are at most 64 KiB each.
    octal(&mut block[124..136], size);
    octal(&mut block[136..148], 0);
    block[156] = PAX;
    block[257..263].copy_from_slice(b"ustar\0");
    block[263..265].copy_from_slice(b"00");
    checksum(&mut block);
    block
}

/// Copies as much of `value` as fits; the field is zero-filled already.
fn put(field: &mut [u8], value: &[u8]) {
    let n = value.len().min(field.len());
    field[..n].copy_from_slice(&value[..n]);
}

/// Writes `value` as zero-padded octal digits and a NUL. False (and the field
/// untouched) if it does not fit.
fn octal(field: &mut [u8], value: u64) -> bool {
    let digits = field.len() - 1;
    // Fields are at most 12 bytes: 11 digits, 33 bits, so the shift is fine.
    if value >> (3 * digits) != 0 {
        return false;
    }
    let mut v = value;
    for slot in field[..digits].iter_mut().rev() {
        *slot = b'0' + (v & 7) as u8;
        v >>= 3;
    }
    field[digits] = 0;
    true
}

/// The ustar checksum: the byte sum with the checksum field read as spaces,
/// stored as six octal digits, NUL, space.
fn checksum(block: &mut [u8; 512]) {
    block[148..156].fill(b' ');
    let sum: u64 = block.iter().map(|&b| u64::from(b)).sum();
    octal(&mut block[148..155], sum);
    block[155] = b' ';
}

/// Appends the PAX record `"<len> <prefix><key>=<value>\n"`, where `len`
/// counts the whole record including its own digits.
fn record(out: &mut Vec<u8>, prefix: &[u8], key: &[u8], value: &[u8]) {
    let base = prefix.len() + key.len() + value.len() + 3; // ' ', '=', '\n'
    let mut len = base + 1;
    while len != base + decimal_len(len as u128) {
        len = base + decimal_len(len as u128);
    }
    push_decimal(out, len as i128);
    out.push(b' ');
    out.extend_from_slice(prefix);
    out.extend_from_slice(key);
    out.push(b'=');
    out.extend_from_slice(value);
    out.push(b'\n');
}

fn record_number(out: &mut Vec<u8>, key: &[u8], value: i128) {
    let mut digits = [0u8; 48];
    let n = format_decimal(&mut digits, value);
    record(out, b"", key, &digits[digits.len() - n..]);
}

fn decimal_len(mut n: u128) -> usize {
    let mut len = 1;
    while n >= 10 {
        n /= 10;
        len += 1;
    }
    len
}

fn push_decimal(out: &mut Vec<u8>, value: i128) {
    let mut digits = [0u8; 48];
    let n = format_decimal(&mut digits, value);
    out.extend_from_slice(&digits[digits.len() - n..]);
}

/// Formats `value` right-aligned at the end of `buf`; returns its length.
fn format_decimal(buf: &mut [u8; 48], value: i128) -> usize {
    let mut v = value.unsigned_abs();
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    if value < 0 {
        i -= 1;
        buf[i] = b'-';
    }
    buf.len() - i
}

#[cfg(test)]
pub(super) fn pax_record_for_test(key: &[u8], value: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    record(&mut out, b"", key, value);
    out
}
