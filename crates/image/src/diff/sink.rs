//! The output side: one large buffer between the walker and the caller's
//! writer, counting what passes through.
//!
//! File contents are read straight into the free part of the buffer
//! ([`Sink::spare`] then [`Sink::commit`]), so a file's bytes are copied once
//! in user space however large the file is, and the caller's writer sees
//! writes of [`CAPACITY`] bytes instead of one per header.

use std::io::{self, Read, Write};

/// Large enough that a pipe, a hasher or a compressor sees few, big writes;
/// small enough to be the only per-commit buffer worth mentioning.
pub const CAPACITY: usize = 1 << 20;

const ZEROS: [u8; 1024] = [0; 1024];

/// Which side of [`Sink::fill_from`] failed.
pub enum FillError {
    Read(io::Error),
    Write(io::Error),
}

pub struct Sink<W: Write> {
    out: W,
    buf: Box<[u8]>,
    /// Bytes of `buf` filled and not yet handed to `out`.
    len: usize,
    /// Bytes accepted so far (handed to `out` or waiting in `buf`).
    written: u64,
}

impl<W: Write> Sink<W> {
    pub fn new(out: W) -> Sink<W> {
        Sink {
            out,
            buf: vec![0u8; CAPACITY].into_boxed_slice(),
            len: 0,
            written: 0,
        }
    }

    pub fn write(&mut self, mut data: &[u8]) -> io::Result<()> {
        while !data.is_empty() {
            let spare = self.spare()?;
            let n = spare.len().min(data.len());
            spare[..n].copy_from_slice(&data[..n]);
            self.commit(n);
            data = &data[n..];
        }
        Ok(())
    }

    /// Writes `n` zero bytes (tar padding and the end-of-archive blocks).
    pub fn zeros(&mut self, mut n: usize) -> io::Result<()> {
        while n > 0 {
            let k = n.min(ZEROS.len());
            self.write(&ZEROS[..k])?;
            n -= k;
        }
        Ok(())
    }

    /// Pads what follows `size` bytes of data to the next 512-byte block.
    pub fn pad(&mut self, size: u64) -> io::Result<()> {
        // The remainder is below 512, so the cast cannot truncate.
        let rem = (size % 512) as usize;
        if rem == 0 {
            Ok(())
        } else {
            self.zeros(512 - rem)
        }
    }

    /// The free part of the buffer, never empty: a full buffer is flushed
    /// first. Fill a prefix of it, then [`Sink::commit`] that many bytes.
    pub fn spare(&mut self) -> io::Result<&mut [u8]> {
        if self.len == self.buf.len() {
            self.flush_buffer()?;
        }
        Ok(&mut self.buf[self.len..])
    }

    /// Accepts `n` bytes written into [`Sink::spare`].
    pub fn commit(&mut self, n: usize) {
        debug_assert!(self.len + n <= self.buf.len());
        self.len += n;
        self.written += n as u64;
    }

    /// Reads at most `max` bytes of `src` straight into the buffer; returns
    /// how many (0 at end of file). Interrupted reads are retried.
    pub fn fill_from(&mut self, src: &mut impl Read, max: u64) -> Result<usize, FillError> {
        let spare = self.spare().map_err(FillError::Write)?;
        let want = usize::try_from(max).map_or(spare.len(), |m| m.min(spare.len()));
        let n = loop {
            match src.read(&mut spare[..want]) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(FillError::Read(e)),
            }
        };
        self.commit(n);
        Ok(n)
    }

    /// Hands everything to `out`, flushes it and returns the byte count.
    pub fn finish(mut self) -> io::Result<u64> {
        self.flush_buffer()?;
        self.out.flush()?;
        Ok(self.written)
    }

    fn flush_buffer(&mut self) -> io::Result<()> {
        if self.len > 0 {
            self.out.write_all(&self.buf[..self.len])?;
            self.len = 0;
        }
        Ok(())
    }
}
