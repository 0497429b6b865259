//! Timestamps in logs: Unix seconds (integer), or RFC 3339 text such as
//! `2026-05-28T09:30:00Z` / `2026-05-28T11:30:00.123+02:00`.

use core::fmt;

/// Unix seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timestamp(pub u64);

fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    // Howard Hinnant's algorithm: days since 1970-01-01.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

pub fn parse_rfc3339(text: &str) -> Result<u64, String> {
    parse(text, false).map_err(|()| format!("invalid RFC 3339 timestamp {text:?}"))
}

/// Amplitude's export time, `2026-05-28 09:30:00.123000`: UTC without an
/// offset (an offset or `Z` is accepted too).
pub fn parse_utc(text: &str) -> Result<u64, String> {
    parse(text, true).map_err(|()| format!("invalid timestamp {text:?}"))
}

fn parse(text: &str, offset_optional: bool) -> Result<u64, ()> {
    let b = text.as_bytes();
    if b.len() < 19
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return Err(());
    }
    let num = |range: core::ops::Range<usize>| -> Result<u32, ()> {
        text.get(range).and_then(|s| s.parse().ok()).ok_or(())
    };
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return Err(());
    }
    let mut rest = &text[19..];
    if let Some(fraction) = rest.strip_prefix('.') {
        let digits = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(());
        }
        rest = &fraction[digits..];
    }
    let offset: i64 = match rest {
        "Z" | "z" => 0,
        "" if offset_optional => 0,
        _ if rest.len() == 6
            && (rest.starts_with('+') || rest.starts_with('-'))
            && &rest[3..4] == ":" =>
        {
            let h: i64 = rest[1..3].parse().map_err(|_| ())?;
            let m: i64 = rest[4..6].parse().map_err(|_| ())?;
            let sign = if rest.starts_with('-') { -1 } else { 1 };
            sign * (h * 3600 + m * 60)
        }
        _ => return Err(()),
    };
    let days = days_from_civil(i64::from(year), month, day);
    let secs = days * 86_400 + i64::from(hour) * 3600 + i64::from(minute) * 60 + i64::from(second)
        - offset;
    u64::try_from(secs).map_err(|_| ())
}

impl<'de> serde::Deserialize<'de> for Timestamp {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Timestamp;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("Unix seconds or an RFC 3339 timestamp")
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Timestamp, E> {
                Ok(Timestamp(v))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Timestamp, E> {
                u64::try_from(v)
                    .map(Timestamp)
                    .map_err(|_| E::custom("negative timestamp"))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Timestamp, E> {
                parse_rfc3339(v).map(Timestamp).map_err(E::custom)
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rfc3339() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Ok(0));
        assert_eq!(parse_rfc3339("2026-05-28T20:26:40Z"), Ok(1_780_000_000));
        assert_eq!(
            parse_rfc3339("2026-05-28T22:26:40.5+02:00"),
            Ok(1_780_000_000)
        );
        assert!(parse_rfc3339("2026-13-01T00:00:00Z").is_err());
        assert!(parse_rfc3339("yesterday").is_err());
        assert!(parse_rfc3339("2026-05-28T20:26:40").is_err());
        assert_eq!(parse_utc("2026-05-28 20:26:40.123000"), Ok(1_780_000_000));
        assert_eq!(parse_utc("2026-05-28 20:26:40"), Ok(1_780_000_000));
        assert_eq!(parse_utc("2026-05-28T20:26:40Z"), Ok(1_780_000_000));
        assert!(parse_utc("2026-05-28 20:26").is_err());
    }
}
