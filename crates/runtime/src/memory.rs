//! Keeping a long-lived supervisor small: after setting a container up, the
//! engine's monitor only relays bytes, yet the code it ran for set-up (the
//! runtime, SQLite, libseccomp) stays resident. Dropping the clean,
//! read-only file pages lets only what the relay touches come back.

use crate::sys;

/// Drops the resident pages of every read-only file mapping that holds no
/// modified page (a relocated RELRO segment does, and is left alone).
/// Returns the bytes of mappings released.
pub fn release_clean_file_pages() -> u64 {
    let Ok(smaps) = std::fs::read_to_string("/proc/self/smaps") else {
        return 0;
    };
    let mut released = 0;
    let mut current: Option<(usize, usize, bool)> = None;
    let flush = |m: Option<(usize, usize, bool)>, released: &mut u64| {
        if let Some((start, end, true)) = m
            && sys::drop_clean_file_pages(start, end - start).is_ok()
        {
            *released += (end - start) as u64;
        }
    };
    for line in smaps.lines() {
        let mut words = line.split_whitespace();
        let first = words.next().unwrap_or_default();
        if let Some((a, b)) = first.split_once('-')
            && let (Ok(start), Ok(end)) =
                (usize::from_str_radix(a, 16), usize::from_str_radix(b, 16))
        {
            flush(current.take(), &mut released);
            let perms = words.next().unwrap_or_default();
            let _offset = words.next();
            let _dev = words.next();
            let inode = words.next().unwrap_or("0");
            let path = words.next().unwrap_or_default();
            let candidate = perms.starts_with('r')
                && !perms.contains('w')
                && perms.ends_with('p')
                && inode != "0"
                && path.starts_with('/')
                && !path.starts_with("/dev/");
            current = Some((start, end, candidate));
        } else if first == "Anonymous:"
            && words.next().is_some_and(|kb| kb != "0")
            && let Some(m) = current.as_mut()
        {
            m.2 = false;
        }
    }
    flush(current, &mut released);
    sys::trim_heap();
    released
}
