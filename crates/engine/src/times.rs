//! Docker's time arguments (`logs --since`, `events --until`, filters): an
//! RFC 3339 time, or a shorter one as Docker takes it (`2006-01-02`,
//! `2006-01-02T15`, `2006-01-02T15:04`; without a zone, UTC where Docker
//! takes the local zone), unix seconds (with a fraction), or a duration ago in Go's syntax
//! (`10m`, `1h30m`, `1.5s`).

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::error::{Error, Result};

/// `what` names the argument in errors (`since`, `until`).
pub fn parse(s: &str, what: &str) -> Result<OffsetDateTime> {
    parse_at(s, what, OffsetDateTime::now_utc())
}

fn parse_at(s: &str, what: &str, now: OffsetDateTime) -> Result<OffsetDateTime> {
    let bad = || Error::invalid(format!("invalid value for \"{what}\": {s:?}"));
    if let Ok(t) = OffsetDateTime::parse(s, &Rfc3339) {
        return Ok(t);
    }
    if s.contains('-') {
        // Date-like: a timestamp or nothing (Docker's rule).
        return timestamp(s).ok_or_else(bad);
    }
    if let Ok(secs) = s.parse::<f64>() {
        return OffsetDateTime::from_unix_timestamp_nanos((secs * 1e9) as i128).map_err(|_| bad());
    }
    Ok(now - duration(s).ok_or_else(bad)?)
}

/// `YYYY-MM-DD[Thh[:mm[:ss[.frac]]]][Z|±hh:mm]`, UTC when no zone is given.
fn timestamp(s: &str) -> Option<OffsetDateTime> {
    if s.len() < 10 || !s.is_char_boundary(10) {
        return None;
    }
    let (date, rest) = s.split_at(10);
    let (clock, zone) = match rest.strip_prefix(['T', 't']) {
        Some(t) => {
            let at = t.find(['Z', 'z', '+', '-']).unwrap_or(t.len());
            (t[..at].to_string(), &t[at..])
        }
        None => ("00".to_string(), rest),
    };
    let clock = match clock.matches(':').count() {
        0 => format!("{clock}:00:00"),
        1 => format!("{clock}:00"),
        _ => clock,
    };
    let zone = match zone {
        // Docker takes the local zone; berth reads no zone database and
        // takes UTC (what its hosts and containers run in).
        "" => "Z".to_string(),
        "z" => "Z".to_string(),
        z => z.to_string(),
    };
    OffsetDateTime::parse(&format!("{date}T{clock}{zone}"), &Rfc3339).ok()
}

/// A Go duration: numbers with units `ns us ms s m h`, one or more.
pub fn duration(s: &str) -> Option<time::Duration> {
    let mut rest = s;
    let mut total = 0f64;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let num_end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
        let n: f64 = rest[..num_end].parse().ok()?;
        rest = &rest[num_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_end] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        total += n * scale;
        rest = &rest[unit_end..];
    }
    Some(time::Duration::seconds_f64(total))
}

/// `HumanDuration`: how long ago, in Docker's words.
pub fn human_duration(seconds: i64) -> String {
    let s = seconds.max(0);
    let minutes = s / 60;
    let hours = (s as f64 / 3600.0 + 0.5) as i64;
    if s < 1 {
        "Less than a second".into()
    } else if s == 1 {
        "1 second".into()
    } else if s < 60 {
        format!("{s} seconds")
    } else if minutes == 1 {
        "About a minute".into()
    } else if minutes < 60 {
        format!("{minutes} minutes")
    } else if hours == 1 {
        "About an hour".into()
    } else if hours < 48 {
        format!("{hours} hours")
    } else if hours < 24 * 7 * 2 {
        format!("{} days", hours / 24)
    } else if hours < 24 * 30 * 2 {
        format!("{} weeks", hours / 24 / 7)
    } else if hours < 24 * 365 * 2 {
        format!("{} months", hours / 24 / 30)
    } else {
        format!("{} years", s / 3600 / 24 / 365)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_time_arguments() {
        let now = OffsetDateTime::from_unix_timestamp(1_000_000).unwrap();
        assert_eq!(
            parse_at("10m", "since", now).unwrap().unix_timestamp(),
            1_000_000 - 600
        );
        assert_eq!(
            parse_at("1h30m", "since", now).unwrap().unix_timestamp(),
            1_000_000 - 5400
        );
        assert_eq!(parse_at("42.5", "since", now).unwrap().unix_timestamp(), 42);
        assert_eq!(
            parse_at("2026-01-02T03:04:05Z", "until", now)
                .unwrap()
                .unix_timestamp(),
            1_767_323_045
        );
        // Docker's shorter forms; with a zone they need no local clock.
        for (short, full) in [
            ("2026-01-02Z", "2026-01-02T00:00:00Z"),
            ("2026-01-02T03+01:00", "2026-01-02T03:00:00+01:00"),
            ("2026-01-02T03:04Z", "2026-01-02T03:04:00Z"),
            ("2026-01-02T03:04:05.5-02:00", "2026-01-02T03:04:05.5-02:00"),
        ] {
            assert_eq!(
                parse_at(short, "since", now).unwrap(),
                OffsetDateTime::parse(full, &Rfc3339).unwrap(),
                "{short}"
            );
        }
        assert_eq!(
            parse_at("2026-01-02T03:04:05", "since", now).unwrap(),
            OffsetDateTime::parse("2026-01-02T03:04:05Z", &Rfc3339).unwrap()
        );
        assert!(parse_at("2026-13-02", "since", now).is_err());
        let e = parse_at("soon", "until", now).unwrap_err();
        assert!(
            e.message.contains("\"until\"") && e.message.contains("soon"),
            "{e}"
        );
    }
}
