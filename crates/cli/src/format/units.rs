//! Sizes and durations the way Docker prints them (go-units): decimal units
//! with Go's `%g`, and "About an hour"-style durations.

/// `HumanSizeWithPrecision`: 1982256 -> "1.98MB" with precision 3.
pub fn human_size(bytes: u64, precision: usize) -> String {
    const UNITS: [&str; 9] = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"];
    let mut size = bytes as f64;
    let mut i = 0;
    while size >= 1000.0 && i < UNITS.len() - 1 {
        size /= 1000.0;
        i += 1;
    }
    format!("{}{}", go_g(size, precision), UNITS[i])
}

/// `BytesSize`: binary units with two decimals, as `stats` prints memory
/// ("1.5MiB", "7.64GiB").
pub fn human_size_binary(bytes: u64) -> String {
    const UNITS: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut size = bytes as f64;
    let mut i = 0;
    while size >= 1024.0 && i < UNITS.len() - 1 {
        size /= 1024.0;
        i += 1;
    }
    format!("{}{}", go_g((size * 100.0).round() / 100.0, 4), UNITS[i])
}

/// Go's `%.{prec}g`: `prec` significant digits, no trailing zeros, exponent
/// form when the exponent is below -4 or at least `prec`.
pub fn go_g(v: f64, prec: usize) -> String {
    let prec = prec.max(1);
    if v == 0.0 {
        return "0".into();
    }
    let sci = format!("{:.*e}", prec - 1, v);
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if exp < -4 || exp >= prec as i32 {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{}e{sign}{:02}", trim_zeros(mantissa), exp.abs())
    } else {
        let decimals = (prec as i32 - 1 - exp).max(0) as usize;
        trim_zeros(&format!("{v:.decimals$}")).to_string()
    }
}

fn trim_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

pub use berth_engine::times::human_duration;

/// Go's default time format as Docker prints `CreatedAt`:
/// `2026-11-28 18:00:00 +0000 UTC`.
pub fn docker_time(unix_nanos: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(unix_nanos as i128)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let f = time::macros::format_description!(
        "[year]-[month]-[day] [hour]:[minute]:[second] +0000 UTC"
    );
    t.format(&f).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_match_docker() {
        assert_eq!(human_size(1_982_256, 3), "1.98MB");
        assert_eq!(human_size(0, 3), "0B");
        assert_eq!(human_size(999, 3), "999B");
        assert_eq!(human_size(1000, 3), "1kB");
        assert_eq!(human_size(155_000, 3), "155kB");
        assert_eq!(human_size(999_900, 3), "1e+03kB");
        assert_eq!(human_size(4_261_550, 4), "4.262MB");
        assert_eq!(human_size(1_500_000_000, 3), "1.5GB");
        assert_eq!(go_g(0.0001234, 3), "0.000123");
        assert_eq!(go_g(0.00001234, 3), "1.23e-05");
    }

    #[test]
    fn durations_match_docker() {
        assert_eq!(human_duration(0), "Less than a second");
        assert_eq!(human_duration(1), "1 second");
        assert_eq!(human_duration(59), "59 seconds");
        assert_eq!(human_duration(60), "About a minute");
        assert_eq!(human_duration(45 * 60), "45 minutes");
        assert_eq!(human_duration(3600), "About an hour");
        assert_eq!(human_duration(5 * 3600), "5 hours");
        assert_eq!(human_duration(3 * 86400), "3 days");
        assert_eq!(human_duration(20 * 86400), "2 weeks");
        assert_eq!(human_duration(90 * 86400), "3 months");
        assert_eq!(human_duration(800 * 86400), "2 years");
    }
}
