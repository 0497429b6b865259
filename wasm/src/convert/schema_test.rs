//! `convert` against core's serde derives, natively (`cargo test -p
//! referral-wasm`): the field lists it accepts are the fields core's
//! `Deserialize` knows, and what it reads (with every default) and writes
//! is what serde reads and writes. A field renamed, added or given a new
//! default in core fails here, not in a browser.

use std::collections::BTreeSet;

use referral_core::nudge::config::{Eligibility, Experiment, Offboarding, Suppression, Variant};
use referral_core::nudge::{FrictionMark, Moment, NudgeConfig, NudgeState, Predicate, Profile};
use serde::de::{DeserializeOwned, Visitor};
use serde_json::Value;

use super::*;

/// Stops a derive's `deserialize` once it has named its fields.
#[derive(Debug)]
struct Stop;

impl std::fmt::Display for Stop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("stop")
    }
}

impl std::error::Error for Stop {}

impl serde::de::Error for Stop {
    fn custom<T: std::fmt::Display>(_: T) -> Self {
        Stop
    }
}

/// A deserializer that records the field list a `#[derive(Deserialize)]`
/// struct passes to `deserialize_struct` (every field, skipped-when-empty
/// ones too).
struct FieldNames<'a>(&'a mut &'static [&'static str]);

impl<'de> serde::Deserializer<'de> for FieldNames<'_> {
    type Error = Stop;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Stop> {
        Err(Stop)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        fields: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, Stop> {
        *self.0 = fields;
        Err(Stop)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map enum identifier ignored_any
    }
}

fn serde_fields<T: DeserializeOwned>() -> BTreeSet<&'static str> {
    let mut fields: &'static [&'static str] = &[];
    let _ = T::deserialize(FieldNames(&mut fields));
    assert!(
        !fields.is_empty(),
        "{} names no fields",
        std::any::type_name::<T>()
    );
    fields.iter().copied().collect()
}

fn set(fields: &[&'static str]) -> BTreeSet<&'static str> {
    fields.iter().copied().collect()
}

/// The keys of every object `value` has at the top level.
fn keys(value: &Value) -> BTreeSet<String> {
    value
        .as_object()
        .expect("an object")
        .keys()
        .cloned()
        .collect()
}

#[test]
fn config_field_lists_are_core_serde_fields() {
    assert_eq!(set(CONFIG_FIELDS), serde_fields::<NudgeConfig>());
    assert_eq!(set(MOMENT_FIELDS), serde_fields::<Moment>());
    assert_eq!(set(PREDICATE_FIELDS), serde_fields::<Predicate>());
    assert_eq!(set(VARIANT_FIELDS), serde_fields::<Variant>());
    assert_eq!(set(ELIGIBILITY_FIELDS), serde_fields::<Eligibility>());
    assert_eq!(set(SUPPRESSION_FIELDS), serde_fields::<Suppression>());
    assert_eq!(set(OFFBOARDING_FIELDS), serde_fields::<Offboarding>());
    assert_eq!(set(EXPERIMENT_FIELDS), serde_fields::<Experiment>());
}

/// Read by `convert` and by core's serde, then written back by serde: the
/// same value.
fn both_read_config(text: &str) -> (Value, Value) {
    let ours = nudge_config(text).unwrap_or_else(|e| panic!("convert: {e}: {text}"));
    let serde: NudgeConfig = serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"));
    (
        serde_json::to_value(&ours).unwrap(),
        serde_json::to_value(&serde).unwrap(),
    )
}

const MOMENT: &str =
    r#"{"name": "first_report", "event": "report_generated", "message": "Hi {product}"}"#;

#[test]
fn config_defaults_are_core_serde_defaults() {
    // Every optional part left out, then each section present but empty:
    // each default must be core's, from `Default` or a serde default fn.
    for text in [
        format!(r#"{{"moments": [{MOMENT}]}}"#),
        format!(
            r#"{{"moments": [{MOMENT}], "eligibility": {{}}, "suppression": {{}},
                "offboarding": {{}}, "experiment": {{"name": "x"}}}}"#
        ),
    ] {
        let (ours, serde) = both_read_config(&text);
        assert_eq!(ours, serde, "{text}");
    }
    // The structs convert starts from are core's defaults.
    let (ours, _) = both_read_config(&format!(r#"{{"moments": [{MOMENT}]}}"#));
    assert_eq!(
        ours["eligibility"],
        serde_json::to_value(Eligibility::default()).unwrap()
    );
    assert_eq!(
        ours["suppression"],
        serde_json::to_value(Suppression::default()).unwrap()
    );
    assert_eq!(
        ours["offboarding"],
        serde_json::to_value(Offboarding::default()).unwrap()
    );
}

/// A config with every field of every struct given a non-default value.
const FULL_CONFIG: &str = r#"{
  "moments": [{
    "name": "nps", "event": "nps_submitted",
    "when": [{"property": "score", "op": "at_least", "value": 9},
             {"property": "plan", "op": "one_of", "value": ["pro", "team"]}],
    "occurrence": 2, "priority": -3,
    "message": "Tell a friend about {product}", "messages": {"de": "Erzähl es weiter"},
    "variants": [{"name": "b", "message": "Share {product}", "messages": {"ar": "شارك"}}],
    "offboarding": true, "defer_within": "2d"
  }],
  "eligibility": {"signup_event": "signed_up", "min_account_age": "3d",
    "onboarding_completed_event": "onboarded", "plans": ["pro"], "roles": ["admin"],
    "require_active_customer": true},
  "suppression": {"friction_events": ["payment_failed"], "friction_window": "2h",
    "cooldown_after_shown": "4d", "cooldown_after_dismissed": "20d",
    "max_asks_per_30_days": 2, "quiet_after_referred": "45d"},
  "offboarding": {"bypass_cooldown": true, "bypass_cap": true, "bypass_friction": true,
    "bypass_eligibility": true},
  "experiment": {"name": "spring", "holdout_basis_points": 1000},
  "product": "Acme", "reward": "A month free."
}"#;

#[test]
fn a_full_config_reads_as_core_serde_reads_it() {
    let (ours, serde) = both_read_config(FULL_CONFIG);
    assert_eq!(ours, serde);
    // The document sets every field core has (so nothing new went unread).
    let doc: Value = serde_json::from_str(FULL_CONFIG).unwrap();
    let moment = &doc["moments"][0];
    for (value, fields) in [
        (&doc, serde_fields::<NudgeConfig>()),
        (moment, serde_fields::<Moment>()),
        (&moment["when"][0], serde_fields::<Predicate>()),
        (&moment["variants"][0], serde_fields::<Variant>()),
        (&doc["eligibility"], serde_fields::<Eligibility>()),
        (&doc["suppression"], serde_fields::<Suppression>()),
        (&doc["offboarding"], serde_fields::<Offboarding>()),
        (&doc["experiment"], serde_fields::<Experiment>()),
    ] {
        let fields: BTreeSet<String> = fields.into_iter().map(String::from).collect();
        assert_eq!(keys(value), fields, "FULL_CONFIG must set every field");
    }
}

/// A stored state with every field set.
const FULL_STATE: &str = r#"{
  "v": 2, "user_id": "u-1",
  "profile": {"signed_up_at": 100, "onboarding_completed_at": 200, "plan": "pro",
    "role": "admin", "active_customer": true, "display_name": "Anna",
    "share_link": "https://acme.example/join?ref=x"},
  "first_seen": 50, "counts": {"report_generated": 3, "nps_submitted": 1},
  "friction": [{"event": "payment_failed", "at": 300}], "asks": [400, 500],
  "last_shown": 500, "last_dismissed": 510, "opted_out_at": 520, "last_shared": 530,
  "last_referred": 540, "total_asks": 2, "total_shares": 1, "total_referred": 1,
  "pending": {"at": 600, "until": 700, "moment": "nps", "event": "nps_submitted",
    "occurrence": 1, "held_by": "cooldown"}
}"#;

#[test]
fn a_full_state_reads_and_writes_as_core_serde_does() {
    let doc: Value = serde_json::from_str(FULL_STATE).unwrap();
    for (value, fields) in [
        (&doc, serde_fields::<NudgeState>()),
        (&doc["profile"], serde_fields::<Profile>()),
        (&doc["friction"][0], serde_fields::<FrictionMark>()),
    ] {
        let fields: BTreeSet<String> = fields.into_iter().map(String::from).collect();
        assert_eq!(keys(value), fields, "FULL_STATE must set every field");
    }
    let serde: NudgeState = serde_json::from_str(FULL_STATE).unwrap();
    let ours = nudge_state(FULL_STATE).unwrap_or_else(|e| panic!("convert: {e}"));
    assert_eq!(ours, serde, "read");
    assert_eq!(
        state_json(&serde),
        serde_json::to_string(&serde).unwrap(),
        "written"
    );
    // And the smallest state: every default.
    let small = r#"{"v": 2, "user_id": "u-2"}"#;
    let serde: NudgeState = serde_json::from_str(small).unwrap();
    assert_eq!(nudge_state(small).unwrap(), serde);
    assert_eq!(state_json(&serde), serde_json::to_string(&serde).unwrap());
}
