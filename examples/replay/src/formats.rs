//! The log formats replay reads, one JSON object a line, detected per line
//! or chosen with `--format`:
//!
//! | format | user | event | time | properties | message id |
//! |---|---|---|---|---|---|
//! | native | `user` | `event` | `timestamp` (Unix seconds or RFC 3339) | `properties` | `id` (optional) |
//! | Segment `track` | `userId`, else `anonymousId` | `event` | `timestamp` (ISO 8601) | `properties` | `messageId` |
//! | Amplitude export | `user_id`, else `device_id` | `event_type` | `event_time` (`2026-05-28 09:30:00.123000`, UTC) | `event_properties` | `$insert_id`, else `insert_id`, else `uuid` |
//! | Mixpanel export | `properties.distinct_id` | `event` | `properties.time` (Unix seconds, or milliseconds from 10¹¹ on) | the other `properties` | `properties.$insert_id` |
//!
//! Detection, in order: `event_type` → Amplitude; `type`, `userId`,
//! `anonymousId` or `messageId` → Segment; `user` → native;
//! `properties.distinct_id` → Mixpanel. Segment calls other than `track`
//! (`identify`, `page`, …) are skipped and counted, not malformed.

use referral_core::nudge::{Event, PropValue};
use serde::de::IgnoredAny;
use serde::Deserialize;

use crate::timestamp::{self, Timestamp};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Native,
    Segment,
    Amplitude,
    Mixpanel,
}

impl Format {
    pub const ALL: [Format; 4] = [
        Format::Native,
        Format::Segment,
        Format::Amplitude,
        Format::Mixpanel,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Format::Native => "native",
            Format::Segment => "segment",
            Format::Amplitude => "amplitude",
            Format::Mixpanel => "mixpanel",
        }
    }

    /// `auto` is `None`.
    pub fn parse(name: &str) -> Result<Option<Format>, String> {
        if name == "auto" {
            return Ok(None);
        }
        Format::ALL
            .into_iter()
            .find(|f| f.as_str() == name)
            .map(Some)
            .ok_or_else(|| {
                format!("unknown format {name:?} (segment, amplitude, mixpanel, native or auto)")
            })
    }
}

/// A user or message id: a string, or a number written as one.
#[derive(Debug)]
struct Id(String);

impl<'de> Deserialize<'de> for Id {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Id;
            fn expecting(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.write_str("an id (string or number)")
            }
            fn visit_str<E>(self, v: &str) -> Result<Id, E> {
                Ok(Id(v.to_owned()))
            }
            fn visit_string<E>(self, v: String) -> Result<Id, E> {
                Ok(Id(v))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Id, E> {
                Ok(Id(v.to_string()))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Id, E> {
                Ok(Id(v.to_string()))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

/// Every field any format uses; unknown fields are skipped by the parser.
#[derive(Deserialize)]
struct Raw {
    // native (and Segment's / Mixpanel's `event`, `properties`, `timestamp`)
    user: Option<Id>,
    event: Option<String>,
    #[serde(
        default,
        deserialize_with = "referral_core::nudge::event::properties_as_map::deserialize"
    )]
    properties: Vec<(String, PropValue)>,
    timestamp: Option<Timestamp>,
    id: Option<Id>,
    // Segment
    #[serde(rename = "type")]
    kind: Option<String>,
    #[serde(rename = "userId")]
    segment_user_id: Option<Id>,
    #[serde(rename = "anonymousId")]
    anonymous_id: Option<Id>,
    #[serde(rename = "messageId")]
    message_id: Option<Id>,
    // Amplitude
    event_type: Option<String>,
    user_id: Option<Id>,
    device_id: Option<Id>,
    event_time: Option<String>,
    #[serde(
        default,
        deserialize_with = "referral_core::nudge::event::properties_as_map::deserialize"
    )]
    event_properties: Vec<(String, PropValue)>,
    #[serde(rename = "$insert_id")]
    dollar_insert_id: Option<Id>,
    insert_id: Option<Id>,
    uuid: Option<Id>,
}

/// Replay's own lines, read without the other formats' fields (a smaller
/// value to build and move: the common case stays as fast as before the
/// other formats). A line that also has a field of another format is left
/// to [`Raw`], so detection is the same.
#[derive(Deserialize)]
struct Native {
    user: Id,
    event: String,
    #[serde(
        default,
        deserialize_with = "referral_core::nudge::event::properties_as_map::deserialize"
    )]
    properties: Vec<(String, PropValue)>,
    timestamp: Timestamp,
    id: Option<Id>,
    #[serde(rename = "type")]
    kind: Option<IgnoredAny>,
    #[serde(rename = "userId")]
    segment_user_id: Option<IgnoredAny>,
    #[serde(rename = "anonymousId")]
    anonymous_id: Option<IgnoredAny>,
    #[serde(rename = "messageId")]
    message_id: Option<IgnoredAny>,
    event_type: Option<IgnoredAny>,
}

impl Native {
    fn is_native(&self) -> bool {
        self.kind.is_none()
            && self.segment_user_id.is_none()
            && self.anonymous_id.is_none()
            && self.message_id.is_none()
            && self.event_type.is_none()
    }
}

/// One event, whatever format it came in.
#[derive(Debug)]
pub struct Parsed {
    pub format: Format,
    pub user: String,
    pub event: Event,
    pub at: u64,
    /// The message id duplicates share, if the line has one.
    pub id: Option<String>,
}

/// What a line is.
#[derive(Debug)]
pub enum Line {
    Event(Parsed),
    /// A line that is valid but not an event (a Segment `identify`): the
    /// reason, for the report's count.
    Skipped(String),
}

fn take(properties: &mut Vec<(String, PropValue)>, key: &str) -> Option<PropValue> {
    let i = properties.iter().position(|(k, _)| k == key)?;
    Some(properties.remove(i).1)
}

fn detect(raw: &Raw) -> Option<Format> {
    if raw.event_type.is_some() {
        Some(Format::Amplitude)
    } else if raw.kind.is_some()
        || raw.segment_user_id.is_some()
        || raw.anonymous_id.is_some()
        || raw.message_id.is_some()
    {
        Some(Format::Segment)
    } else if raw.user.is_some() {
        Some(Format::Native)
    } else if raw.properties.iter().any(|(k, _)| k == "distinct_id") {
        Some(Format::Mixpanel)
    } else {
        None
    }
}

fn event(name: String, properties: Vec<(String, PropValue)>) -> Event {
    Event {
        name,
        properties,
        locale: None,
    }
}

/// Parses one line in `format`, or in the format its fields show (`None`).
pub fn parse_line(text: &str, format: Option<Format>) -> Result<Line, String> {
    // The fast path: a line that starts like replay's own.
    if (format.is_none() && text.starts_with("{\"user\":")) || format == Some(Format::Native) {
        if let Ok(native) = serde_json::from_str::<Native>(text) {
            if format.is_some() || native.is_native() {
                return Ok(Line::Event(Parsed {
                    format: Format::Native,
                    user: native.user.0,
                    event: event(native.event, native.properties),
                    at: native.timestamp.0,
                    id: native.id.map(|id| id.0),
                }));
            }
        }
    }
    let raw: Raw = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let format = match format.or_else(|| detect(&raw)) {
        Some(format) => format,
        None => {
            return Err(
                "not an event line in any known format (no user, userId, anonymousId, \
                 event_type or properties.distinct_id)"
                    .to_owned(),
            )
        }
    };
    let missing = |field: &str| format!("{} line without {field}", format.as_str());
    let parsed = match format {
        Format::Native => Parsed {
            format,
            user: raw.user.ok_or_else(|| missing("user"))?.0,
            at: raw.timestamp.ok_or_else(|| missing("timestamp"))?.0,
            event: event(raw.event.ok_or_else(|| missing("event"))?, raw.properties),
            id: raw.id.map(|id| id.0),
        },
        Format::Segment => {
            if let Some(kind) = raw.kind.as_deref().filter(|k| *k != "track") {
                return Ok(Line::Skipped(format!("segment {kind}")));
            }
            Parsed {
                format,
                user: raw
                    .segment_user_id
                    .or(raw.anonymous_id)
                    .ok_or_else(|| missing("userId or anonymousId"))?
                    .0,
                at: raw.timestamp.ok_or_else(|| missing("timestamp"))?.0,
                event: event(raw.event.ok_or_else(|| missing("event"))?, raw.properties),
                id: raw.message_id.map(|id| id.0),
            }
        }
        Format::Amplitude => Parsed {
            format,
            user: raw
                .user_id
                .or(raw.device_id)
                .ok_or_else(|| missing("user_id or device_id"))?
                .0,
            at: timestamp::parse_utc(&raw.event_time.ok_or_else(|| missing("event_time"))?)?,
            event: event(
                raw.event_type.ok_or_else(|| missing("event_type"))?,
                raw.event_properties,
            ),
            id: raw
                .dollar_insert_id
                .or(raw.insert_id)
                .or(raw.uuid)
                .map(|id| id.0),
        },
        Format::Mixpanel => {
            let mut properties = raw.properties;
            let user = match take(&mut properties, "distinct_id") {
                Some(PropValue::Text(user)) => user,
                Some(PropValue::Int(user)) => user.to_string(),
                _ => return Err(missing("properties.distinct_id")),
            };
            let at = match take(&mut properties, "time") {
                Some(PropValue::Int(t)) if t >= 0 => t as u64,
                Some(PropValue::Float(t)) if t >= 0.0 => t as u64,
                _ => return Err(missing("properties.time (Unix seconds or milliseconds)")),
            };
            // Milliseconds: 10¹¹ seconds is the year 5138.
            let at = if at >= 100_000_000_000 { at / 1000 } else { at };
            let id = match take(&mut properties, "$insert_id") {
                Some(PropValue::Text(id)) => Some(id),
                _ => None,
            };
            Parsed {
                format,
                user,
                at,
                event: event(raw.event.ok_or_else(|| missing("event"))?, properties),
                id,
            }
        }
    };
    Ok(Line::Event(parsed))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(text: &str) -> Parsed {
        match parse_line(text, None).unwrap() {
            Line::Event(p) => p,
            Line::Skipped(s) => panic!("skipped: {s}"),
        }
    }

    #[test]
    fn each_format_is_detected_and_read() {
        let n = parsed(
            r#"{"user":"u1","event":"nps_submitted","properties":{"score":10},"timestamp":1780000000,"id":"e1"}"#,
        );
        assert_eq!(
            (n.format, n.user.as_str(), n.at, n.id.as_deref()),
            (Format::Native, "u1", 1_780_000_000, Some("e1"))
        );
        let s = parsed(
            r#"{"type":"track","event":"nps_submitted","userId":"u1","anonymousId":"a","properties":{"score":10},"timestamp":"2026-05-28T20:26:40.000Z","messageId":"m1","context":{"ip":"1.2.3.4"}}"#,
        );
        assert_eq!(
            (s.format, s.user.as_str(), s.at, s.id.as_deref()),
            (Format::Segment, "u1", 1_780_000_000, Some("m1"))
        );
        let a = parsed(
            r#"{"event_type":"nps_submitted","user_id":null,"device_id":"d1","event_time":"2026-05-28 20:26:40.123000","event_properties":{"score":10},"$insert_id":"i1","uuid":"x"}"#,
        );
        assert_eq!(
            (a.format, a.user.as_str(), a.at, a.id.as_deref()),
            (Format::Amplitude, "d1", 1_780_000_000, Some("i1"))
        );
        let m = parsed(
            r#"{"event":"nps_submitted","properties":{"distinct_id":"u1","time":1780000000123,"$insert_id":"i2","score":10}}"#,
        );
        assert_eq!(
            (m.format, m.user.as_str(), m.at, m.id.as_deref()),
            (Format::Mixpanel, "u1", 1_780_000_000, Some("i2"))
        );
        for p in [&n, &s, &a, &m] {
            assert_eq!(p.event.name, "nps_submitted");
            assert_eq!(
                p.event.properties,
                vec![("score".to_owned(), PropValue::Int(10))]
            );
        }
    }

    #[test]
    fn other_segment_calls_are_skipped_and_a_forced_format_is_strict() {
        assert!(matches!(
            parse_line(r#"{"type":"identify","userId":"u1","traits":{}}"#, None),
            Ok(Line::Skipped(s)) if s == "segment identify"
        ));
        let err = parse_line(
            r#"{"type":"track","event":"x","userId":"u1","timestamp":"2026-05-28T20:26:40Z"}"#,
            Some(Format::Native),
        )
        .unwrap_err();
        assert!(err.contains("native line without user"), "{err}");
        assert!(parse_line(r#"{"event":"x"}"#, None).is_err());
        // The native fast path leaves a line with another format's field
        // to detection.
        let s =
            parsed(r#"{"user":"x","userId":"u2","event":"e","timestamp":"2026-05-28T20:26:40Z"}"#);
        assert_eq!((s.format, s.user.as_str()), (Format::Segment, "u2"));
    }
}
