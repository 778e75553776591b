//! Layer compression: detected from the first bytes, never trusted from a
//! media type alone (archives and registries mislabel layers).

use std::io::{self, BufRead, BufReader, Read};

use crate::spec::media;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

const GZIP_MAGIC: &[u8] = &[0x1f, 0x8b];
const ZSTD_MAGIC: &[u8] = &[0x28, 0xb5, 0x2f, 0xfd];
const XZ_MAGIC: &[u8] = &[0xfd, b'7', b'z', b'X', b'Z', 0x00];
const BZIP2_MAGIC: &[u8] = b"BZh";

impl Compression {
    /// Detects the compression from a stream's first bytes.
    pub fn detect(head: &[u8]) -> Result<Compression, String> {
        if head.starts_with(GZIP_MAGIC) {
            Ok(Compression::Gzip)
        } else if head.starts_with(ZSTD_MAGIC) {
            Ok(Compression::Zstd)
        } else if head.starts_with(XZ_MAGIC) {
            Err("xz compression is not supported (use gzip or zstd)".into())
        } else if head.starts_with(BZIP2_MAGIC) && head.len() > 3 && head[3].is_ascii_digit() {
            Err("bzip2 compression is not supported (use gzip or zstd)".into())
        } else {
            Ok(Compression::None)
        }
    }

    /// The OCI layer media type for a layer with this compression.
    pub fn oci_layer_media_type(self) -> &'static str {
        match self {
            Compression::None => media::OCI_LAYER,
            Compression::Gzip => media::OCI_LAYER_GZIP,
            Compression::Zstd => media::OCI_LAYER_ZSTD,
        }
    }
}

/// Wraps `reader` in the right decompressor, detecting the compression from
/// its first bytes.
pub fn decompress<'a, R: Read + 'a>(reader: R) -> io::Result<(Compression, Box<dyn Read + 'a>)> {
    let mut buffered = BufReader::with_capacity(256 * 1024, reader);
    let head = buffered.fill_buf()?;
    let compression =
        Compression::detect(head).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    let reader: Box<dyn Read + 'a> = match compression {
        Compression::None => Box::new(buffered),
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(buffered)),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(buffered)?),
    };
    Ok((compression, reader))
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    #[test]
    fn detects_and_decompresses() {
        let data = b"layer bytes".repeat(100);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&data).expect("gzip");
        let gz = gz.finish().expect("gzip");
        let zs = zstd::encode_all(&data[..], 3).expect("zstd");
        for (input, want) in [
            (&gz, Compression::Gzip),
            (&zs, Compression::Zstd),
            (&data, Compression::None),
        ] {
            let (c, mut r) = decompress(&input[..]).expect("decompress");
            assert_eq!(c, want);
            let mut out = Vec::new();
            r.read_to_end(&mut out).expect("read");
            assert_eq!(out, data);
        }
        assert!(decompress(&b"\xfd7zXZ\x00rest"[..]).is_err());
    }

    #[test]
    fn truncated_gzip_is_an_error() {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&b"x".repeat(100_000)).expect("gzip");
        let gz = gz.finish().expect("gzip");
        let (_, mut r) = decompress(&gz[..gz.len() / 2]).expect("header is fine");
        let mut out = Vec::new();
        assert!(r.read_to_end(&mut out).is_err());
    }
}
