//! Durations in configuration: `"90s"`, `"30m"`, `"12h"`, `"7d"`, or an
//! integer number of seconds. Negative or malformed values fail at load.

use core::fmt;

use serde::{Deserialize, Serialize};

/// A non-negative span of time in whole seconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Span(pub u64);

impl Span {
    pub const ZERO: Span = Span(0);

    pub fn secs(self) -> u64 {
        self.0
    }

    pub fn days(days: u64) -> Span {
        Span(days * 86_400)
    }

    pub fn hours(hours: u64) -> Span {
        Span(hours * 3_600)
    }

    pub fn parse(text: &str) -> Result<Span, String> {
        let trimmed = text.trim();
        Span::read_checked(text).map_err(|problem| match problem {
            Problem::NoUnit => format!("\"{trimmed}\" needs a unit: s, m, h or d"),
            Problem::NoNumber => {
                format!("\"{trimmed}\" is not a non-negative duration like \"7d\"")
            }
            Problem::TooLarge => format!("\"{trimmed}\" is too large"),
            Problem::UnknownUnit(unit) => {
                format!("unknown unit \"{unit}\" in \"{trimmed}\": use s, m, h or d")
            }
        })
    }

    /// [`Span::parse`] without its message: the same reading, and no
    /// formatting machinery linked (the browser's module, which reports
    /// the field instead, uses it; issue 17).
    pub fn read(text: &str) -> Option<Span> {
        Span::read_checked(text).ok()
    }

    fn read_checked(text: &str) -> Result<Span, Problem<'_>> {
        let text = text.trim();
        let split = text
            .find(|c: char| !c.is_ascii_digit())
            .ok_or(Problem::NoUnit)?;
        // `split` is at an ASCII digit's end: checked, never fails.
        let (number, unit) = text.split_at_checked(split).unwrap_or((text, ""));
        if number.is_empty() {
            return Err(Problem::NoNumber);
        }
        let value: u64 = number.parse().map_err(|_| Problem::TooLarge)?;
        let scale = match unit {
            "s" => 1,
            "m" => 60,
            "h" => 3_600,
            "d" => 86_400,
            _ => return Err(Problem::UnknownUnit(unit)),
        };
        value.checked_mul(scale).map(Span).ok_or(Problem::TooLarge)
    }
}

/// Why a duration's text was refused ([`Span::parse`] words it).
enum Problem<'a> {
    NoUnit,
    NoNumber,
    TooLarge,
    UnknownUnit(&'a str),
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0;
        if s != 0 && s.is_multiple_of(86_400) {
            write!(f, "{}d", s / 86_400)
        } else if s != 0 && s.is_multiple_of(3_600) {
            write!(f, "{}h", s / 3_600)
        } else if s != 0 && s.is_multiple_of(60) {
            write!(f, "{}m", s / 60)
        } else {
            write!(f, "{s}s")
        }
    }
}

impl Serialize for Span {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Span {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Span;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "a non-negative duration such as \"7d\", \"12h\", \"30m\", \"90s\" or seconds",
                )
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Span, E> {
                Ok(Span(v))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Span, E> {
                u64::try_from(v)
                    .map(Span)
                    .map_err(|_| E::custom(format!("negative duration {v}")))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Span, E> {
                Span::parse(v).map_err(E::custom)
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_is_parse_without_the_message() {
        for text in [
            "7d",
            " 12h ",
            "30m",
            "90s",
            "0s",
            "d",
            "7",
            "7w",
            "-1d",
            "",
            "7dd",
            "18446744073709551615s",
            "18446744073709551615d",
            "99999999999999999999s",
        ] {
            assert_eq!(Span::read(text), Span::parse(text).ok(), "{text:?}");
        }
    }

    #[test]
    fn parses_units_and_refuses_negatives() {
        assert_eq!(Span::parse("7d"), Ok(Span(604_800)));
        assert_eq!(Span::parse("12h"), Ok(Span(43_200)));
        assert_eq!(Span::parse("0s"), Ok(Span(0)));
        assert!(Span::parse("-5d").is_err());
        assert!(Span::parse("5").is_err());
        assert!(Span::parse("5w").is_err());
        assert!(Span::parse("99999999999999999999d").is_err());
        assert_eq!(Span(604_800).to_string(), "7d");
    }
}
