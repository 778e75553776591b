//! GNU sparse files in O(extents), not O(bytes).
//!
//! The tar crate expands a sparse entry's holes into zeros as it is read,
//! so a 10 KiB archive holding a 1 TiB sparse file would cost reading a
//! terabyte of zeros. Instead, a sparse entry's data is never read through
//! the tar crate: the [`Tap`] between the decompressed stream and the
//! parser sees the raw bytes, so it can (1) hand over the extension blocks
//! of the sparse map (the tar crate reads them but keeps them private) and
//! (2) when the parser skips the entry's stored data, write those bytes at
//! their offsets in the file — only the data, never the holes.

use std::cell::RefCell;
use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::FileExt;
use std::rc::Rc;

/// Bytes read through the tap kept for the sparse map (the newest ones:
/// extension blocks come just before the entry is handed out).
const LOG_WINDOW: usize = 64 << 20;

/// Where a sparse file's stored bytes go.
pub struct Route {
    pub file: File,
    /// (offset in the file, length), in stream order.
    pub extents: Vec<(u64, u64)>,
    /// Index of the extent being written, and bytes written into it.
    at: usize,
    done_in: u64,
}

impl Route {
    pub fn new(file: File, extents: Vec<(u64, u64)>) -> Route {
        Route {
            file,
            extents,
            at: 0,
            done_in: 0,
        }
    }

    fn remaining(&self) -> u64 {
        self.extents[self.at.min(self.extents.len())..]
            .iter()
            .map(|(_, l)| l)
            .sum::<u64>()
            - self.done_in
    }

    pub fn complete(&self) -> bool {
        self.remaining() == 0
    }

    /// Writes `data` (the next stored bytes) where they belong; returns how
    /// many of them were the route's.
    fn write(&mut self, mut data: &[u8]) -> io::Result<usize> {
        let mut taken = 0;
        while !data.is_empty() && self.at < self.extents.len() {
            let (off, len) = self.extents[self.at];
            let room = (len - self.done_in) as usize;
            if room == 0 {
                self.at += 1;
                self.done_in = 0;
                continue;
            }
            let n = room.min(data.len());
            self.file.write_all_at(&data[..n], off + self.done_in)?;
            self.done_in += n as u64;
            taken += n;
            data = &data[n..];
        }
        Ok(taken)
    }
}

#[derive(Default)]
pub struct TapState {
    /// Stream position of the next byte read.
    pub pos: u64,
    /// Recent bytes and the position of the first.
    log: Vec<u8>,
    log_start: u64,
    /// A sparse file being written from the stream.
    pub route: Option<Route>,
    /// Why routing failed (reported by the caller, not as a read error).
    pub route_error: Option<io::Error>,
}

impl TapState {
    /// The logged bytes at stream positions `[from, from + len)`.
    pub fn logged(&self, from: u64, len: usize) -> Option<&[u8]> {
        let start = from.checked_sub(self.log_start)? as usize;
        self.log.get(start..start + len)
    }
}

/// The reader between the decompressed stream and the tar parser.
pub struct Tap<R> {
    pub inner: R,
    pub state: Rc<RefCell<TapState>>,
}

impl<R: Read> Read for Tap<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let mut state = self.state.borrow_mut();
        let mut data = &buf[..n];
        if let Some(route) = state.route.as_mut()
            && !route.complete()
        {
            match route.write(data) {
                Ok(taken) => data = &data[taken..],
                Err(e) => {
                    let shown = io::Error::new(e.kind(), e.to_string());
                    state.route_error = Some(e);
                    return Err(shown);
                }
            }
        }
        let routed = n - data.len();
        if !data.is_empty() {
            if state.log.len() + data.len() > LOG_WINDOW {
                let drop = (state.log.len() + data.len()).saturating_sub(LOG_WINDOW / 2);
                let drop = drop.min(state.log.len());
                state.log.drain(..drop);
                state.log_start += drop as u64;
            }
            if state.log.is_empty() {
                state.log_start = state.pos + routed as u64;
            }
            state.log.extend_from_slice(data);
        }
        state.pos += n as u64;
        Ok(n)
    }
}

/// The extents of a GNU sparse entry: the header's four, then those of its
/// extension blocks, which start at the entry's `raw_file_position` (the
/// tar crate read them from the tap just before handing out the entry).
pub fn extents(
    header: &tar::GnuHeader,
    file_pos: u64,
    state: &TapState,
) -> io::Result<Vec<(u64, u64)>> {
    let mut out = Vec::new();
    let mut push = |block: &tar::GnuSparseHeader| -> io::Result<()> {
        if !block.is_empty() {
            out.push((block.offset()?, block.length()?));
        }
        Ok(())
    };
    for block in &header.sparse {
        push(block)?;
    }
    let mut extended = header.is_extended();
    let mut at = file_pos;
    while extended {
        let bytes = state.logged(at, 512).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                "the sparse map's extension blocks are too many to keep",
            )
        })?;
        let mut ext = tar::GnuExtSparseHeader::new();
        ext.as_mut_bytes().copy_from_slice(bytes);
        for block in &ext.sparse {
            push(block)?;
        }
        extended = ext.is_extended();
        at += 512;
    }
    Ok(out)
}
