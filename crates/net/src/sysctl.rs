//! Network sysctls of the calling thread's namespace (/proc/sys/net is the
//! opener's namespace's): run inside `NetNs::within`.

use crate::error::{Error, Result};

pub fn read(key: &str) -> Result<String> {
    let path = format!("/proc/sys/{}", key.replace('.', "/"));
    std::fs::read_to_string(&path)
        .map(|s| s.trim().to_string())
        .map_err(|e| Error::io(format!("read {path}"), e))
}

pub fn write(key: &str, value: &str) -> Result<()> {
    let path = format!("/proc/sys/{}", key.replace('.', "/"));
    std::fs::write(&path, value).map_err(|e| Error::io(format!("write {value} to {path}"), e))
}

/// `net.ipv4.conf.<interface>.<key>`: by path, as an interface name may
/// hold dots.
pub fn write_interface_v4(interface: &str, key: &str, value: &str) -> Result<()> {
    let path = format!("/proc/sys/net/ipv4/conf/{interface}/{key}");
    std::fs::write(&path, value).map_err(|e| Error::io(format!("write {value} to {path}"), e))
}
