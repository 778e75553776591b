//! Block I/O throttles as the runtime spec lists them, for both
//! hierarchies (v1 has a file per kind, v2 one `io.max` line per device).

use oci_spec::runtime::LinuxBlockIo;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Throttle {
    ReadBps,
    WriteBps,
    ReadIops,
    WriteIops,
}

impl Throttle {
    /// `blkio.throttle.<this>_device`.
    pub fn v1_name(self) -> &'static str {
        match self {
            Throttle::ReadBps => "read_bps",
            Throttle::WriteBps => "write_bps",
            Throttle::ReadIops => "read_iops",
            Throttle::WriteIops => "write_iops",
        }
    }

    /// The key in an `io.max` line.
    pub fn v2_key(self) -> &'static str {
        match self {
            Throttle::ReadBps => "rbps",
            Throttle::WriteBps => "wbps",
            Throttle::ReadIops => "riops",
            Throttle::WriteIops => "wiops",
        }
    }
}

/// Every throttle of `blkio`: (kind, major, minor, rate).
pub fn throttles(blkio: &LinuxBlockIo) -> Vec<(Throttle, i64, i64, u64)> {
    let lists = [
        (Throttle::ReadBps, blkio.throttle_read_bps_device()),
        (Throttle::WriteBps, blkio.throttle_write_bps_device()),
        (Throttle::ReadIops, blkio.throttle_read_iops_device()),
        (Throttle::WriteIops, blkio.throttle_write_iops_device()),
    ];
    let mut out = Vec::new();
    for (kind, list) in lists {
        for t in list.as_deref().unwrap_or(&[]) {
            out.push((kind, t.major(), t.minor(), t.rate()));
        }
    }
    out
}
