//! Extended attributes of one upper-directory entry, split into overlayfs's
//! own (which say how to read the upper directory and are never emitted) and
//! the file's (which go into the layer).
//!
//! overlayfs keeps its state in `trusted.overlay.*`, or in `user.overlay.*`
//! when mounted with `userxattr` (rootless). Both are honoured the same way:
//!
//! - `opaque` = `y`: the directory hides the lower layers' contents;
//! - `redirect`, `metacopy`: written only with `redirect_dir=on` or
//!   `metacopy=on`. berth mounts without either, so an upper directory holding
//!   them was not written by berth's mounts, and the layer would lose the
//!   renamed directory or the data that stayed below. They are refused;
//! - anything else (`origin`, `impure`, `nlink`, `uuid`, `protattr`, escaped
//!   `overlay.overlay.*`) is bookkeeping of this mount and is dropped.
//!
//! Without `userxattr`, a process in the container can set `user.overlay.*`
//! on its own files; the effect is limited to what it could do anyway
//! (hiding lower content, or making its own commit fail).

use std::ffi::CStr;
use std::os::fd::BorrowedFd;

use rustix::fs as rfs;
use rustix::io::Errno;

/// Linux's XATTR_LIST_MAX and XATTR_SIZE_MAX: buffers this large never see
/// ERANGE from a local filesystem, so one call per attribute is enough.
const LIST_MAX: usize = 64 * 1024;
const VALUE_MAX: usize = 64 * 1024;

/// Where to read attributes from: an open file or directory, or a path whose
/// last component is not followed (symlinks, devices and fifos, which are
/// never opened).
#[derive(Clone, Copy)]
pub enum Source<'a> {
    Fd(BorrowedFd<'a>),
    Path(&'a CStr),
}

pub struct Xattrs {
    list: Vec<u8>,
    value: Vec<u8>,
    /// Kept names and values, back to back.
    data: Vec<u8>,
    /// (name start, name end = value start, value end) in `data`, sorted by
    /// name after [`Xattrs::read`].
    kept: Vec<(usize, usize, usize)>,
    /// The directory carries `overlay.opaque=y`.
    pub opaque: bool,
    /// Why the entry cannot become a layer entry, if it cannot.
    pub refused: Option<String>,
}

impl Xattrs {
    pub fn new() -> Xattrs {
        Xattrs {
            list: vec![0u8; LIST_MAX],
            value: vec![0u8; VALUE_MAX],
            data: Vec::new(),
            kept: Vec::new(),
            opaque: false,
            refused: None,
        }
    }

    /// Reads and classifies the attributes of `src`, replacing the previous
    /// entry's.
    pub fn read(&mut self, src: Source<'_>) -> rustix::io::Result<()> {
        self.data.clear();
        self.kept.clear();
        self.opaque = false;
        self.refused = None;

        let mut list = std::mem::take(&mut self.list);
        let result = self.read_with(src, &mut list);
        self.list = list;
        result?;

        let data = &self.data;
        self.kept
            .sort_unstable_by(|a, b| data[a.0..a.1].cmp(&data[b.0..b.1]));
        Ok(())
    }

    fn read_with(&mut self, src: Source<'_>, list: &mut Vec<u8>) -> rustix::io::Result<()> {
        let len = match grow_and_call(list, |buf| match src {
            Source::Fd(fd) => rfs::flistxattr(fd, buf),
            Source::Path(p) => rfs::llistxattr(p, buf),
        }) {
            Ok(n) => n,
            // A filesystem without xattrs has none to keep.
            Err(Errno::NOTSUP) => return Ok(()),
            Err(e) => return Err(e),
        };
        let mut rest = &list[..len];
        while let Ok(name) = CStr::from_bytes_until_nul(rest) {
            rest = &rest[name.to_bytes_with_nul().len()..];
            let bytes = name.to_bytes();
            if bytes.is_empty() {
                continue;
            }
            if let Some(what) = overlay_attribute(bytes) {
                match what {
                    b"opaque" => {
                        let is_opaque = self.get(src, name)? == Some(b"y".as_slice());
                        self.opaque |= is_opaque;
                    }
                    b"redirect" | b"metacopy" => {
                        self.refused.get_or_insert_with(|| {
                            format!(
                                "overlay attribute {} found: berth mounts overlayfs without \
                                 redirect_dir and metacopy, so this upper directory was not \
                                 written by a berth mount and cannot be expressed as a layer",
                                String::from_utf8_lossy(bytes)
                            )
                        });
                    }
                    _ => {}
                }
                continue;
            }
            if bytes.contains(&b'=') {
                // A PAX record's key ends at the first '=': the name would be
                // cut short on the way back.
                self.refused.get_or_insert_with(|| {
                    format!(
                        "extended attribute {:?} has '=' in its name, which a tar PAX record cannot carry",
                        String::from_utf8_lossy(bytes)
                    )
                });
                continue;
            }
            let Some(value) = self.get(src, name)? else {
                continue;
            };
            // `value` borrows all of `self`; keep its length and copy from
            // the buffer it points into.
            let value_len = value.len();
            let start = self.data.len();
            self.data.extend_from_slice(bytes);
            let mid = self.data.len();
            self.data.extend_from_slice(&self.value[..value_len]);
            self.kept.push((start, mid, self.data.len()));
        }
        Ok(())
    }

    /// One attribute's value; `None` if it vanished since it was listed.
    fn get(&mut self, src: Source<'_>, name: &CStr) -> rustix::io::Result<Option<&[u8]>> {
        let got = grow_and_call(&mut self.value, |buf| match src {
            Source::Fd(fd) => rfs::fgetxattr(fd, name, buf),
            Source::Path(p) => rfs::lgetxattr(p, name, buf),
        });
        match got {
            Ok(n) => Ok(Some(&self.value[..n])),
            Err(Errno::NODATA) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The kept attributes, sorted by name.
    pub fn kept(&self) -> impl Iterator<Item = (&[u8], &[u8])> + '_ {
        self.kept
            .iter()
            .map(|&(s, m, e)| (&self.data[s..m], &self.data[m..e]))
    }
}

/// The part after `trusted.overlay.` or `user.overlay.`, if the name is one
/// of overlayfs's own.
fn overlay_attribute(name: &[u8]) -> Option<&[u8]> {
    name.strip_prefix(b"trusted.overlay.")
        .or_else(|| name.strip_prefix(b"user.overlay."))
}

/// Calls `f` with the whole buffer; on ERANGE (an attribute grew past a size
/// no local filesystem allows, or a FUSE upper) doubles it and tries again.
fn grow_and_call(
    buf: &mut Vec<u8>,
    mut f: impl FnMut(&mut [u8]) -> rustix::io::Result<usize>,
) -> rustix::io::Result<usize> {
    for _ in 0..8 {
        match f(buf) {
            Err(Errno::RANGE) => {
                let doubled = buf.len() * 2;
                buf.resize(doubled, 0);
            }
            other => return other,
        }
    }
    Err(Errno::RANGE)
}
