//! Nudge configuration: success moments, eligibility, suppression,
//! offboarding and experiments. Loaded from JSON or TOML (features `json`,
//! `toml`) or any serde format, then [`NudgeConfig::validate`]d: every
//! problem is reported at load with the path of the field at fault.

use serde::{Deserialize, Serialize};

use super::duration::Span;
use super::event::PropValue;
use crate::template::Template;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NudgeConfig {
    /// Success moments; the highest-priority match wins (ties: first listed).
    pub moments: Vec<Moment>,
    #[serde(default)]
    pub eligibility: Eligibility,
    #[serde(default)]
    pub suppression: Suppression,
    #[serde(default)]
    pub offboarding: Offboarding,
    #[serde(default)]
    pub experiment: Option<Experiment>,
    /// `{product}` and `{reward}` for every moment's message.
    #[serde(default)]
    pub product: String,
    #[serde(default)]
    pub reward: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Moment {
    /// Unique name, reported in decisions (`first_report`, `nps_promoter`).
    pub name: String,
    /// The event that can trigger it.
    pub event: String,
    /// All must hold on the event's properties.
    #[serde(default)]
    pub when: Vec<Predicate>,
    /// Only the Nth occurrence of `event` (1-based) triggers, e.g. the 3rd report.
    #[serde(default)]
    pub occurrence: Option<u32>,
    #[serde(default)]
    pub priority: i32,
    pub message: Template,
    /// The message in other languages, by locale tag (`de`, `ar`, `pt-BR`);
    /// the event's `locale` picks one (see [`Messages::pick`]), else
    /// `message` is used.
    #[serde(default, skip_serializing_if = "Messages::is_empty")]
    pub messages: Messages,
    /// Alternative messages; with an experiment, users are split between the
    /// moment's own message (variant `control`) and these.
    #[serde(default)]
    pub variants: Vec<Variant>,
    /// A cancel-flow moment: may ask when other rules would wait (see
    /// [`Offboarding`]).
    #[serde(default)]
    pub offboarding: bool,
    /// When the moment matches but a passing rule holds it back
    /// (onboarding, the friction window, a cooldown, the quiet after a
    /// referral), keep it pending and ask at the next event once the rule
    /// clears, if that is within this span (`"72h"`). See
    /// [`super::state::Pending`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub defer_within: Option<Span>,
}

/// The longest a moment may wait: past it, the moment is stale.
pub const MAX_DEFER: Span = Span(30 * 86_400);

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Variant {
    pub name: String,
    pub message: Template,
    /// The variant's own translations. A variant without one for the
    /// event's locale shows its own `message`, never the moment's
    /// translation (that would be another variant's copy).
    #[serde(default, skip_serializing_if = "Messages::is_empty")]
    pub messages: Messages,
}

/// Translations of a message: locale tag → template. In JSON and TOML an
/// object (`{"de": "…", "ar": "…"}`); kept in the order read. Tags are
/// checked by [`NudgeConfig::validate`] (letters, digits and `-`, starting
/// with a letter, at most 35 characters, no two equal ignoring case).
/// Equality ignores the order, as for a map: a config read from TOML equals
/// the same config read back from its JSON.
#[derive(Clone, Debug, Default)]
pub struct Messages(Vec<(String, Template)>);

impl PartialEq for Messages {
    fn eq(&self, other: &Messages) -> bool {
        self.0.len() == other.0.len() && self.0.iter().all(|pair| other.0.contains(pair))
    }
}

impl Messages {
    /// Every pair is kept, a repeated tag too (`validate` refuses it).
    pub fn new(pairs: Vec<(String, Template)>) -> Messages {
        Messages(pairs)
    }

    /// The tags and templates, in the order read.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Template)> {
        self.0
            .iter()
            .map(|(tag, template)| (tag.as_str(), template))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The translation for `locale`, with the tag it was found under, by a
    /// fixed fallback chain (ASCII case-insensitive at every step):
    ///
    /// 1. the exact tag (`ar-EG` finds `ar-EG`);
    /// 2. its primary language, the part before the first `-` (or `_`, as
    ///    POSIX and Java locales write it): `ar-EG` finds `ar`;
    /// 3. none: the caller uses the default `message`.
    ///
    /// A tag written only with a region (`pt-BR`) is found by that tag, not
    /// by `pt` alone. Pure: the same inputs give the same answer everywhere.
    pub fn pick(&self, locale: &str) -> Option<(&str, &Template)> {
        let find = |tag: &str| {
            self.0
                .iter()
                .find(|(key, _)| !tag.is_empty() && key.eq_ignore_ascii_case(tag))
                .map(|(key, template)| (key.as_str(), template))
        };
        find(locale).or_else(|| {
            let cut = locale.bytes().position(|b| b == b'-' || b == b'_')?;
            find(locale.get(..cut)?)
        })
    }
}

impl Serialize for Messages {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (tag, template) in &self.0 {
            map.serialize_entry(tag, template)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Messages {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Messages;
            fn expecting(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.write_str("an object of messages by locale")
            }
            // Every pair is kept, a repeated tag too: `validate` refuses it.
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Messages, A::Error> {
                let mut pairs = Vec::new();
                while let Some(pair) = map.next_entry::<String, Template>()? {
                    pairs.push(pair);
                }
                Ok(Messages::new(pairs))
            }
        }
        deserializer.deserialize_map(Visitor)
    }
}

/// Letters, digits and `-`, starting with a letter, 1 to 35 characters,
/// no empty part (`de`, `ar-EG`, `zh-Hant-TW`): BCP 47's alphabet, not its
/// full grammar.
pub fn is_locale_tag(tag: &str) -> bool {
    let bytes = tag.as_bytes();
    bytes.len() <= 35
        && bytes.first().is_some_and(u8::is_ascii_alphabetic)
        && bytes.last().is_some_and(u8::is_ascii_alphanumeric)
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'-')
        && !bytes.windows(2).any(|pair| pair == b"--")
}

fn check_messages(path: &str, messages: &Messages) -> Result<(), ConfigError> {
    for (i, (tag, _)) in messages.0.iter().enumerate() {
        let field = || [path, ".messages.", tag].concat();
        if !is_locale_tag(tag) {
            return Err(ConfigError::at(
                field(),
                "a locale tag is 1 to 35 letters, digits and -, starting with a letter",
            ));
        }
        if messages.0[..i]
            .iter()
            .any(|(t, _)| t.eq_ignore_ascii_case(tag))
        {
            return Err(ConfigError::at(
                field(),
                ["duplicate locale \"", tag, "\""].concat(),
            ));
        }
    }
    Ok(())
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Operator {
    Equals,
    AtLeast,
    AtMost,
    OneOf,
}

impl Operator {
    pub const ALL: [Operator; 4] = [
        Operator::Equals,
        Operator::AtLeast,
        Operator::AtMost,
        Operator::OneOf,
    ];

    /// The wire name, as in JSON and TOML (`at_least`).
    pub fn as_str(self) -> &'static str {
        match self {
            Operator::Equals => "equals",
            Operator::AtLeast => "at_least",
            Operator::AtMost => "at_most",
            Operator::OneOf => "one_of",
        }
    }

    /// For readers that do not go through serde.
    pub fn parse(name: &str) -> Option<Operator> {
        Operator::ALL.into_iter().find(|o| o.as_str() == name)
    }
}

/// `{"property": "score", "op": "at_least", "value": 9}`; `one_of` takes a
/// list: `{"property": "plan", "op": "one_of", "value": ["pro", "team"]}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Predicate {
    pub property: String,
    pub op: Operator,
    pub value: PredicateValue,
}

/// Untagged: a list is `Many`, anything else `One`. `Many` is tried first,
/// since `PropValue` reads any list (as `Other`) and would swallow it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum PredicateValue {
    Many(Vec<PropValue>),
    One(PropValue),
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Eligibility {
    /// The event that marks signup; account age counts from it (or from the
    /// first event seen, or the host-set profile).
    #[serde(default)]
    pub signup_event: Option<String>,
    #[serde(default)]
    pub min_account_age: Span,
    /// While this event has not happened, the user is onboarding: no asks.
    #[serde(default)]
    pub onboarding_completed_event: Option<String>,
    /// Plans allowed to be asked (from the `plan` event property or the
    /// profile); empty means any.
    #[serde(default)]
    pub plans: Vec<String>,
    /// Roles allowed to be asked (`role` property or profile); empty means any.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Only active customers (`active_customer` property or profile).
    #[serde(default)]
    pub require_active_customer: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Suppression {
    /// Events that mean the user just hit friction.
    #[serde(default = "default_friction_events")]
    pub friction_events: Vec<String>,
    #[serde(default = "default_friction_window")]
    pub friction_window: Span,
    #[serde(default = "default_cooldown_after_shown")]
    pub cooldown_after_shown: Span,
    #[serde(default = "default_cooldown_after_dismissed")]
    pub cooldown_after_dismissed: Span,
    /// At most this many asks in any rolling 30 days (1 to 16).
    #[serde(default = "default_max_asks")]
    pub max_asks_per_30_days: u32,
    #[serde(default = "default_quiet_after_referred")]
    pub quiet_after_referred: Span,
}

fn default_friction_events() -> Vec<String> {
    ["error", "integration_failed", "payment_failed"]
        .into_iter()
        .map(String::from)
        .collect()
}
fn default_friction_window() -> Span {
    Span::hours(24)
}
fn default_cooldown_after_shown() -> Span {
    Span::days(3)
}
fn default_cooldown_after_dismissed() -> Span {
    Span::days(14)
}
fn default_max_asks() -> u32 {
    3
}
fn default_quiet_after_referred() -> Span {
    Span::days(30)
}

impl Default for Suppression {
    fn default() -> Self {
        Suppression {
            friction_events: default_friction_events(),
            friction_window: default_friction_window(),
            cooldown_after_shown: default_cooldown_after_shown(),
            cooldown_after_dismissed: default_cooldown_after_dismissed(),
            max_asks_per_30_days: default_max_asks(),
            quiet_after_referred: default_quiet_after_referred(),
        }
    }
}

/// What a cancel-flow (`offboarding: true`) moment may skip. Opt-out, the
/// holdout and onboarding are never skipped.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Offboarding {
    #[serde(default = "yes")]
    pub bypass_cooldown: bool,
    #[serde(default = "yes")]
    pub bypass_cap: bool,
    #[serde(default)]
    pub bypass_friction: bool,
    #[serde(default = "yes")]
    pub bypass_eligibility: bool,
}

fn yes() -> bool {
    true
}

impl Default for Offboarding {
    fn default() -> Self {
        Offboarding {
            bypass_cooldown: true,
            bypass_cap: true,
            bypass_friction: false,
            bypass_eligibility: true,
        }
    }
}

/// Deterministic assignment: FNV-1a 64 of `"<name>\0<user id>"`; the
/// bucket is that modulo 10,000.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Experiment {
    pub name: String,
    /// Users in buckets below this (out of 10,000) are never asked, so the
    /// lift referrals bring can be measured against them.
    #[serde(default)]
    pub holdout_basis_points: u32,
}

/// Why a configuration was refused; `field` is the path of the culprit.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid nudge config at `{field}`: {problem}")]
pub struct ConfigError {
    pub field: String,
    pub problem: String,
}

impl ConfigError {
    pub fn reason(&self) -> &'static str {
        "invalid_nudge_config"
    }

    /// serde reports a missing or duplicate field at its parent's path:
    /// name the field itself, as every loader does.
    #[cfg(any(feature = "json", feature = "toml"))]
    fn located(path: String, problem: String) -> ConfigError {
        let missing = problem
            .strip_prefix("missing field `")
            .or_else(|| problem.strip_prefix("duplicate field `"))
            .and_then(|rest| rest.split('`').next())
            .filter(|name| !name.is_empty());
        let field = match missing {
            Some(name) if path == "." || path.is_empty() => name.to_owned(),
            Some(name) => format!("{path}.{name}"),
            None => path,
        };
        ConfigError { field, problem }
    }

    fn at(field: impl Into<String>, problem: impl Into<String>) -> ConfigError {
        ConfigError {
            field: field.into(),
            problem: problem.into(),
        }
    }
}

/// `n` in decimal. Validation builds its paths and messages by joining
/// strings, without `format!`, so the browser's module links no formatting
/// machinery for them (issue 17); the text is the same.
fn decimal(n: usize) -> String {
    fn push(out: &mut String, n: usize) {
        if n >= 10 {
            push(out, n / 10);
        }
        out.push(char::from(b'0' + (n % 10) as u8));
    }
    let mut out = String::new();
    push(&mut out, n);
    out
}

/// Most asks the rolling-cap ring remembers; bounds the state.
pub const MAX_ASKS_CAP: u32 = 16;

impl NudgeConfig {
    /// Checks what serde cannot: unique names, usable predicates and
    /// windows. Every loader calls it; call it yourself after any other serde
    /// deserialisation.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.moments.is_empty() {
            return Err(ConfigError::at(
                "moments",
                "at least one success moment is needed",
            ));
        }
        if self.moments.len() > super::state::MAX_EVENT_COUNTS {
            return Err(ConfigError::at(
                "moments",
                [
                    "at most ",
                    &decimal(super::state::MAX_EVENT_COUNTS),
                    " success moments",
                ]
                .concat(),
            ));
        }
        // Uniqueness by scanning the earlier entries (at most 256 moments),
        // and no ordered set is linked into the browser module.
        for (i, moment) in self.moments.iter().enumerate() {
            let path = ["moments[", &decimal(i), "]"].concat();
            if moment.name.trim().is_empty() {
                return Err(ConfigError::at(
                    [&path, ".name"].concat(),
                    "must not be empty",
                ));
            }
            if self.moments.iter().take(i).any(|m| m.name == moment.name) {
                return Err(ConfigError::at(
                    [&path, ".name"].concat(),
                    ["duplicate moment name \"", &moment.name, "\""].concat(),
                ));
            }
            if moment.event.trim().is_empty() {
                return Err(ConfigError::at(
                    [&path, ".event"].concat(),
                    "must not be empty",
                ));
            }
            if moment.occurrence == Some(0) {
                return Err(ConfigError::at(
                    [&path, ".occurrence"].concat(),
                    "is 1-based: use 1 for the first",
                ));
            }
            if self.suppression.friction_events.contains(&moment.event) {
                return Err(ConfigError::at(
                    [&path, ".event"].concat(),
                    ["\"", &moment.event, "\" is also a friction event"].concat(),
                ));
            }
            for (j, predicate) in moment.when.iter().enumerate() {
                let field = [&path, ".when[", &decimal(j), "].value"].concat();
                match (predicate.op, &predicate.value) {
                    (Operator::OneOf, PredicateValue::Many(values)) if !values.is_empty() => {}
                    (Operator::OneOf, _) => {
                        return Err(ConfigError::at(field, "one_of needs a non-empty list"));
                    }
                    (_, PredicateValue::Many(_)) => {
                        return Err(ConfigError::at(field, "only one_of takes a list"));
                    }
                    (Operator::AtLeast | Operator::AtMost, PredicateValue::One(value))
                        if value.as_number().is_none() =>
                    {
                        return Err(ConfigError::at(field, "at_least and at_most need a number"));
                    }
                    _ => {}
                }
            }
            if let Some(span) = moment.defer_within {
                if span == Span::ZERO || span > MAX_DEFER {
                    return Err(ConfigError::at(
                        [&path, ".defer_within"].concat(),
                        "must be more than 0s and at most 30d",
                    ));
                }
                // The waiting ask names its moment in the stored state.
                if moment.name.len() > super::state::MAX_NAME_LEN {
                    return Err(ConfigError::at(
                        [&path, ".name"].concat(),
                        "a moment that may wait: at most 64 bytes",
                    ));
                }
            }
            check_messages(&path, &moment.messages)?;
            for (j, variant) in moment.variants.iter().enumerate() {
                let taken = variant.name == "control"
                    || moment
                        .variants
                        .iter()
                        .take(j)
                        .any(|v| v.name == variant.name);
                if taken {
                    return Err(ConfigError::at(
                        [&path, ".variants[", &decimal(j), "].name"].concat(),
                        ["duplicate or reserved variant name \"", &variant.name, "\""].concat(),
                    ));
                }
                check_messages(
                    &[&path, ".variants[", &decimal(j), "]"].concat(),
                    &variant.messages,
                )?;
            }
        }
        let s = &self.suppression;
        if s.max_asks_per_30_days == 0 || s.max_asks_per_30_days > MAX_ASKS_CAP {
            return Err(ConfigError::at(
                "suppression.max_asks_per_30_days",
                ["must be 1 to ", &decimal(MAX_ASKS_CAP as usize)].concat(),
            ));
        }
        if s.cooldown_after_dismissed < s.cooldown_after_shown {
            return Err(ConfigError::at(
                "suppression.cooldown_after_dismissed",
                "must be at least cooldown_after_shown",
            ));
        }
        if let Some(experiment) = &self.experiment {
            if experiment.name.trim().is_empty() {
                return Err(ConfigError::at("experiment.name", "must not be empty"));
            }
            if experiment.holdout_basis_points > 10_000 {
                return Err(ConfigError::at(
                    "experiment.holdout_basis_points",
                    "must be 0 to 10000",
                ));
            }
        }
        Ok(())
    }

    /// Parses and validates a JSON configuration.
    #[cfg(feature = "json")]
    pub fn from_json(text: &str) -> Result<NudgeConfig, ConfigError> {
        // serde would read a top-level array as the struct's fields in order
        // and blame `[0]`; a config is an object.
        if !text.trim_start().starts_with('{') {
            return Err(ConfigError::at(".", "expected an object"));
        }
        let mut de = serde_json::Deserializer::from_str(text);
        let config: NudgeConfig = serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let problem = e.inner().to_string();
            ConfigError::located(e.path().to_string(), problem)
        })?;
        de.end().map_err(|e| ConfigError::at(".", e.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    /// Parses and validates a TOML configuration.
    #[cfg(feature = "toml")]
    pub fn from_toml(text: &str) -> Result<NudgeConfig, ConfigError> {
        let de = toml::Deserializer::new(text);
        let config: NudgeConfig = serde_path_to_error::deserialize(de).map_err(|e| {
            let problem = e.inner().message().to_owned();
            ConfigError::located(e.path().to_string(), problem)
        })?;
        config.validate()?;
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_writes_like_display() {
        for n in [0, 1, 9, 10, 99, 100, 256, 1_000_007, usize::MAX] {
            assert_eq!(decimal(n), n.to_string());
        }
    }

    fn messages(tags: &[&str]) -> Messages {
        Messages::new(
            tags.iter()
                .map(|t| ((*t).to_owned(), Template::parse(t).unwrap()))
                .collect(),
        )
    }

    #[test]
    fn picks_the_exact_tag_then_the_language_then_none() {
        let m = messages(&["de", "ar", "pt-BR", "ar-EG"]);
        let pick = |l: &str| m.pick(l).map(|(tag, _)| tag);
        assert_eq!(pick("ar-EG"), Some("ar-EG"));
        assert_eq!(pick("AR-eg"), Some("ar-EG"));
        assert_eq!(pick("ar-SA"), Some("ar"));
        assert_eq!(pick("de-AT"), Some("de"));
        assert_eq!(pick("de_AT"), Some("de"));
        assert_eq!(pick("DE"), Some("de"));
        assert_eq!(pick("pt-BR"), Some("pt-BR"));
        assert_eq!(pick("pt"), None);
        assert_eq!(pick("fr"), None);
        assert_eq!(pick(""), None);
        assert_eq!(pick("-"), None);
        assert_eq!(Messages::default().pick("de"), None);
    }

    #[test]
    fn locale_tags() {
        for good in ["de", "ar-EG", "zh-Hant-TW", "x", "en-US-u-ca-gregory"] {
            assert!(is_locale_tag(good), "{good}");
        }
        let long = format!("de-{}", "a".repeat(33));
        for bad in [
            "", "1de", "-de", "de-", "de--AT", "de_DE", "dé", "de AT", &long,
        ] {
            assert!(!is_locale_tag(bad), "{bad}");
        }
        assert!(is_locale_tag(&long[..35]));
    }
}
