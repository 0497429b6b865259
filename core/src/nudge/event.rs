//! What the host tells the engine: an event name and its properties.

use core::fmt;

use serde::{Deserialize, Serialize};

/// A property value. Numbers keep integers exact; anything a predicate can't
/// compare (null, arrays, objects) is `Other` and never matches.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum PropValue {
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(String),
    #[serde(serialize_with = "serialize_other")]
    Other,
}

fn serialize_other<S: serde::Serializer>(serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_unit()
}

impl PropValue {
    pub fn as_number(&self) -> Option<f64> {
        match self {
            PropValue::Int(i) => Some(*i as f64),
            PropValue::Float(f) => Some(*f),
            _ => None,
        }
    }

    pub fn as_text(&self) -> Option<&str> {
        match self {
            PropValue::Text(text) => Some(text),
            _ => None,
        }
    }

    /// Equality across int/float (`9 == 9.0`), exact for the rest.
    pub fn same_as(&self, other: &PropValue) -> bool {
        match (self.as_number(), other.as_number()) {
            (Some(a), Some(b)) => a == b,
            _ => self == other && !matches!(self, PropValue::Other),
        }
    }
}

impl From<&str> for PropValue {
    fn from(value: &str) -> Self {
        PropValue::Text(value.to_owned())
    }
}

impl From<i64> for PropValue {
    fn from(value: i64) -> Self {
        PropValue::Int(value)
    }
}

impl From<bool> for PropValue {
    fn from(value: bool) -> Self {
        PropValue::Bool(value)
    }
}

impl<'de> Deserialize<'de> for PropValue {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = PropValue;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a property value")
            }
            fn visit_bool<E>(self, v: bool) -> Result<PropValue, E> {
                Ok(PropValue::Bool(v))
            }
            fn visit_i64<E>(self, v: i64) -> Result<PropValue, E> {
                Ok(PropValue::Int(v))
            }
            fn visit_u64<E>(self, v: u64) -> Result<PropValue, E> {
                Ok(i64::try_from(v).map_or(PropValue::Float(v as f64), PropValue::Int))
            }
            fn visit_f64<E>(self, v: f64) -> Result<PropValue, E> {
                Ok(PropValue::Float(v))
            }
            fn visit_str<E>(self, v: &str) -> Result<PropValue, E> {
                Ok(PropValue::Text(v.to_owned()))
            }
            fn visit_string<E>(self, v: String) -> Result<PropValue, E> {
                Ok(PropValue::Text(v))
            }
            fn visit_unit<E>(self) -> Result<PropValue, E> {
                Ok(PropValue::Other)
            }
            fn visit_none<E>(self) -> Result<PropValue, E> {
                Ok(PropValue::Other)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<PropValue, A::Error> {
                while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
                Ok(PropValue::Other)
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<PropValue, A::Error> {
                while map
                    .next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?
                    .is_some()
                {}
                Ok(PropValue::Other)
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

/// One product event, e.g. `report_generated` or `nps_submitted {score: 10}`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub name: String,
    /// In JSON, an object: `{"score": 10}`. Kept as pairs in order.
    #[serde(default, with = "properties_as_map")]
    pub properties: Vec<(String, PropValue)>,
    /// The person's language (`de`, `ar-EG`): picks the ask's message from
    /// the moment's (or variant's) `messages`; none or no match, the default
    /// `message`. See [`crate::nudge::config::Messages::pick`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
}

/// Serde helpers: properties as a JSON object, kept as ordered pairs.
pub mod properties_as_map {
    use core::fmt;

    use serde::ser::SerializeMap;

    use super::PropValue;

    pub fn serialize<S: serde::Serializer>(
        pairs: &[(String, PropValue)],
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(pairs.len()))?;
        for (k, v) in pairs {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Vec<(String, PropValue)>, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Vec<(String, PropValue)>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object of properties")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Self::Value, A::Error> {
                let mut pairs = Vec::with_capacity(map.size_hint().unwrap_or(0).min(64));
                while let Some((k, v)) = map.next_entry::<String, PropValue>()? {
                    pairs.push((k, v));
                }
                Ok(pairs)
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(Vec::new())
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

impl Event {
    pub fn new(name: &str) -> Event {
        Event {
            name: name.to_owned(),
            properties: Vec::new(),
            locale: None,
        }
    }

    /// The same event in the person's language (`"de"`, `"ar-EG"`).
    pub fn in_locale(mut self, locale: &str) -> Event {
        self.locale = Some(locale.to_owned());
        self
    }

    pub fn with(mut self, key: &str, value: impl Into<PropValue>) -> Event {
        self.properties.push((key.to_owned(), value.into()));
        self
    }

    pub fn property(&self, key: &str) -> Option<&PropValue> {
        self.properties
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }
}
