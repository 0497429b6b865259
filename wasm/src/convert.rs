//! JSON ⇄ core types, by hand, over the small tree of [`crate::json`].
//!
//! This mirrors the serde shapes the native bindings use (same field names,
//! defaults, `null` for absent options, unknown fields refused where serde
//! refuses them) without linking serde_json or serde-wasm-bindgen (why:
//! docs/adr/0005-json-reader-in-the-browser.md). Every rule stays in core:
//! this only moves values; `convert/schema_test.rs` checks the field lists,
//! defaults and written states against core's serde derives, and the shared
//! vectors run through it in the browser.
//!
//! Reading never returns early: a reader records the first problem (with
//! the path of the field at fault) and goes on with defaults, and the caller
//! checks once at the end. Early returns from deep inside a half-built
//! config each needed their own clean-up code, which was most of this
//! module's size.
//!
//! Two known differences from serde, both on documents no SDK writes: a
//! struct must be a JSON object (serde_json also fills a struct from a list,
//! by position), and when a document has several problems this reader may
//! name a different one of them than serde (unknown and missing fields come
//! first here; serde reports in document order). A document with one
//! problem is named the same way: the shared vectors check every case.

use std::cell::RefCell;

use referral_core::code::hex_bytes;
use referral_core::nudge::config::{
    Eligibility, Experiment, Messages, Offboarding, Suppression, Variant,
};
use referral_core::nudge::{
    Ask, ConfigError, Decision, Event, FrictionMark, Moment, NudgeConfig, NudgeState, Operator,
    Pending, Predicate, PredicateValue, Profile, PropValue, QuietReason, Span, StateError,
};
use referral_core::{Claims, ReferrerId, ShareAction, Template};

use crate::json::{self, Json, Writer};

/// A value at `field` (a path like `moments[0].when[1].op`) could not be read.
#[derive(Debug)]
pub struct Bad {
    pub field: String,
    pub problem: &'static str,
}

/// The first problem met while reading a document.
#[derive(Default)]
struct Problems(RefCell<Option<Bad>>);

impl Problems {
    fn report(&self, field: String, problem: &'static str) {
        let mut first = self.0.borrow_mut();
        if first.is_none() {
            *first = Some(Bad {
                field: if field.is_empty() { ".".into() } else { field },
                problem,
            });
        }
    }

    /// `value`, or the first problem met while building it.
    fn finish<T>(self, value: T) -> Result<T, Bad> {
        match self.0.into_inner() {
            None => Ok(value),
            Some(bad) => Err(bad),
        }
    }
}

/// A JSON object whose fields are read by name; `path` names it in problems.
struct Obj<'a> {
    fields: &'a [(String, Json)],
    path: String,
    problems: &'a Problems,
}

const NO_FIELDS: &[(String, Json)] = &[];

impl<'a> Obj<'a> {
    /// Opens `value` as an object; anything else is reported and read as `{}`.
    /// With `known`, any other field is reported (serde's
    /// `deny_unknown_fields`).
    fn open(
        value: &'a Json,
        path: String,
        known: Option<&[&str]>,
        problems: &'a Problems,
    ) -> Obj<'a> {
        let fields = match value {
            Json::Obj(fields) => fields.as_slice(),
            _ => {
                problems.report(path.clone(), "expected an object");
                NO_FIELDS
            }
        };
        let obj = Obj {
            fields,
            path,
            problems,
        };
        if let Some(known) = known {
            for (key, _) in fields {
                if !known.contains(&key.as_str()) {
                    obj.fail(key, "unknown field");
                }
            }
        }
        obj
    }

    fn path_of(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_owned()
        } else {
            let mut path = self.path.clone();
            path.push('.');
            path.push_str(key);
            path
        }
    }

    fn index_path(&self, key: &str, i: usize) -> String {
        let mut path = self.path_of(key);
        path.push('[');
        json::push_digits(&mut path, i as u64);
        path.push(']');
        path
    }

    fn fail(&self, key: &str, problem: &'static str) {
        self.problems.report(self.path_of(key), problem);
    }

    /// The field, or `None` when absent or, if `null_is_absent` (serde's
    /// `Option`), `null`. A field given twice is reported, as serde does.
    fn get(&self, key: &str, null_is_absent: bool) -> Option<&'a Json> {
        let mut found = None;
        for (k, v) in self.fields {
            if k == key {
                if found.is_some() {
                    self.fail(key, "duplicate field");
                    break;
                }
                found = Some(v);
            }
        }
        found.filter(|v| !(null_is_absent && **v == Json::Null))
    }

    fn text(&self, key: &str, null_is_absent: bool) -> Option<String> {
        match self.get(key, null_is_absent)? {
            Json::Str(s) => Some(s.clone()),
            _ => {
                self.fail(key, "expected a string");
                None
            }
        }
    }

    fn required_text(&self, key: &str) -> String {
        if self.get(key, false).is_none() {
            self.fail(key, "missing field");
        }
        self.text(key, false).unwrap_or_default()
    }

    fn flag(&self, key: &str, null_is_absent: bool) -> Option<bool> {
        match self.get(key, null_is_absent)? {
            Json::Bool(b) => Some(*b),
            _ => {
                self.fail(key, "expected true or false");
                None
            }
        }
    }

    /// An integer (not a float, as serde's integer types) up to `max`.
    fn uint(&self, key: &str, null_is_absent: bool, max: u64) -> Option<u64> {
        match self.get(key, null_is_absent)? {
            Json::UInt(n) if *n <= max => Some(*n),
            _ => {
                self.fail(key, "expected a whole number in range");
                None
            }
        }
    }

    fn count(&self, key: &str) -> Option<u32> {
        self.uint(key, false, u32::MAX.into()).map(|n| n as u32)
    }

    fn time(&self, key: &str) -> Option<u64> {
        self.uint(key, true, u64::MAX)
    }

    fn priority(&self, key: &str) -> Option<i32> {
        let value = match self.get(key, false)? {
            Json::UInt(n) => i32::try_from(*n).ok(),
            Json::NegInt(n) => i32::try_from(*n).ok(),
            _ => None,
        };
        if value.is_none() {
            self.fail(key, "expected a whole number in range");
        }
        value
    }

    /// `"7d"`, `"12h"`, `"30m"`, `"90s"` or whole seconds, as core's `Span`.
    fn span(&self, key: &str) -> Option<Span> {
        let problem = match self.get(key, false)? {
            // `read`, not `parse`: the same reading without building a
            // message (no core::fmt in the module; issue 17).
            Json::Str(text) => match Span::read(text) {
                Some(span) => return Some(span),
                None => "expected a duration such as \"7d\"",
            },
            Json::UInt(seconds) => return Some(Span(*seconds)),
            Json::NegInt(_) => "negative duration",
            _ => "expected a whole number in range",
        };
        self.fail(key, problem);
        None
    }

    fn template(&self, key: &str) -> Template {
        let source = self.required_text(key);
        Template::parse(&source).unwrap_or_else(|e| {
            self.fail(key, e.reason());
            Template::default()
        })
    }

    /// `{"de": "…", "ar": "…"}`: every pair, a repeated tag too (core's
    /// `validate` refuses it), as core's serde reads `Messages`.
    fn messages(&self, key: &str) -> Messages {
        let Some(m) = self.child(key, false, None) else {
            return Messages::default();
        };
        Messages::new(
            m.fields
                .iter()
                .map(|(tag, source)| {
                    let template = match source {
                        Json::Str(s) => Template::parse(s).unwrap_or_else(|e| {
                            m.fail(tag, e.reason());
                            Template::default()
                        }),
                        _ => {
                            m.fail(tag, "expected a string");
                            Template::default()
                        }
                    };
                    (tag.clone(), template)
                })
                .collect(),
        )
    }

    fn array(&self, key: &str) -> &'a [Json] {
        match self.get(key, false) {
            None => &[],
            Some(Json::Arr(items)) => items,
            Some(_) => {
                self.fail(key, "expected a list");
                &[]
            }
        }
    }

    fn strings(&self, key: &str) -> Option<Vec<String>> {
        self.get(key, false)?;
        let mut out = Vec::new();
        for (i, item) in self.array(key).iter().enumerate() {
            match item {
                Json::Str(s) => out.push(s.clone()),
                _ => self
                    .problems
                    .report(self.index_path(key, i), "expected a string"),
            }
        }
        Some(out)
    }

    /// Each element of the list `key` opened as an object.
    fn objects(&self, key: &str, known: Option<&[&str]>) -> Vec<Obj<'a>> {
        self.array(key)
            .iter()
            .enumerate()
            .map(|(i, item)| Obj::open(item, self.index_path(key, i), known, self.problems))
            .collect()
    }

    fn child(&self, key: &str, null_is_absent: bool, known: Option<&[&str]>) -> Option<Obj<'a>> {
        self.get(key, null_is_absent)
            .map(|v| Obj::open(v, self.path_of(key), known, self.problems))
    }
}

/// What a property can be, as serde reads it: integer literals that fit an
/// `i64` are `Int`, other numbers `Float`; anything else a predicate can't
/// compare is `Other`.
pub fn prop_value(value: &Json) -> PropValue {
    match value {
        Json::Bool(b) => PropValue::Bool(*b),
        Json::UInt(n) => i64::try_from(*n).map_or(PropValue::Float(*n as f64), PropValue::Int),
        Json::NegInt(n) => PropValue::Int(*n),
        Json::Float(n) => PropValue::Float(*n),
        Json::Str(text) => PropValue::Text(text.clone()),
        _ => PropValue::Other,
    }
}

/// Parses `text`; a syntax error is reported at the document (`.`).
fn parse(text: &str) -> Result<Json, Bad> {
    json::parse(text).map_err(|e| Bad {
        field: ".".into(),
        problem: e.problem,
    })
}

// ---------------------------------------------------------------- config

/// A nudge configuration (JSON text), validated by core.
pub fn nudge_config(text: &str) -> Result<NudgeConfig, ConfigError> {
    let config = parse(text)
        .and_then(|value| {
            let problems = Problems::default();
            let config = read_config(&Obj::open(
                &value,
                String::new(),
                Some(CONFIG_FIELDS),
                &problems,
            ));
            problems.finish(config)
        })
        .map_err(|b| ConfigError {
            field: b.field,
            problem: b.problem.to_owned(),
        })?;
    config.validate()?;
    Ok(config)
}

const CONFIG_FIELDS: &[&str] = &[
    "moments",
    "eligibility",
    "suppression",
    "offboarding",
    "experiment",
    "product",
    "reward",
];

const MOMENT_FIELDS: &[&str] = &[
    "name",
    "event",
    "when",
    "occurrence",
    "priority",
    "message",
    "messages",
    "variants",
    "offboarding",
    "defer_within",
];

fn read_config(f: &Obj) -> NudgeConfig {
    if f.get("moments", false).is_none() {
        f.fail("moments", "missing field");
    }
    NudgeConfig {
        moments: f
            .objects("moments", Some(MOMENT_FIELDS))
            .iter()
            .map(moment)
            .collect(),
        eligibility: f
            .child("eligibility", false, Some(ELIGIBILITY_FIELDS))
            .map_or_else(Eligibility::default, |e| eligibility(&e)),
        suppression: f
            .child("suppression", false, Some(SUPPRESSION_FIELDS))
            .map_or_else(Suppression::default, |s| suppression(&s)),
        offboarding: f
            .child("offboarding", false, Some(OFFBOARDING_FIELDS))
            .map_or_else(Offboarding::default, |o| offboarding(&o)),
        experiment: f
            .child("experiment", true, Some(EXPERIMENT_FIELDS))
            .map(|e| Experiment {
                name: e.required_text("name"),
                holdout_basis_points: e.count("holdout_basis_points").unwrap_or(0),
            }),
        product: f.text("product", false).unwrap_or_default(),
        reward: f.text("reward", false).unwrap_or_default(),
    }
}

const PREDICATE_FIELDS: &[&str] = &["property", "op", "value"];
const VARIANT_FIELDS: &[&str] = &["name", "message", "messages"];
const EXPERIMENT_FIELDS: &[&str] = &["name", "holdout_basis_points"];

fn moment(m: &Obj) -> Moment {
    Moment {
        name: m.required_text("name"),
        event: m.required_text("event"),
        when: m
            .objects("when", Some(PREDICATE_FIELDS))
            .iter()
            .map(predicate)
            .collect(),
        occurrence: m
            .uint("occurrence", true, u32::MAX.into())
            .map(|n| n as u32),
        priority: m.priority("priority").unwrap_or(0),
        message: m.template("message"),
        messages: m.messages("messages"),
        variants: m
            .objects("variants", Some(VARIANT_FIELDS))
            .iter()
            .map(|v| Variant {
                name: v.required_text("name"),
                message: v.template("message"),
                messages: v.messages("messages"),
            })
            .collect(),
        offboarding: m.flag("offboarding", false).unwrap_or(false),
        // `null` is absent, as for serde's `Option`.
        defer_within: m.get("defer_within", true).and(m.span("defer_within")),
    }
}

fn predicate(p: &Obj) -> Predicate {
    let property = p.required_text("property");
    let op = Operator::parse(&p.required_text("op")).unwrap_or_else(|| {
        if p.get("op", false).is_some() {
            p.fail("op", "expected equals, at_least, at_most or one_of");
        }
        Operator::Equals
    });
    let value = match p.get("value", false) {
        Some(Json::Arr(items)) => PredicateValue::Many(items.iter().map(prop_value).collect()),
        Some(one) => PredicateValue::One(prop_value(one)),
        None => {
            p.fail("value", "missing field");
            PredicateValue::One(PropValue::Other)
        }
    };
    Predicate {
        property,
        op,
        value,
    }
}

const ELIGIBILITY_FIELDS: &[&str] = &[
    "signup_event",
    "min_account_age",
    "onboarding_completed_event",
    "plans",
    "roles",
    "require_active_customer",
];

fn eligibility(e: &Obj) -> Eligibility {
    let mut out = Eligibility::default();
    if let Some(event) = e.text("signup_event", true) {
        out.signup_event = Some(event);
    }
    if let Some(age) = e.span("min_account_age") {
        out.min_account_age = age;
    }
    if let Some(event) = e.text("onboarding_completed_event", true) {
        out.onboarding_completed_event = Some(event);
    }
    if let Some(plans) = e.strings("plans") {
        out.plans = plans;
    }
    if let Some(roles) = e.strings("roles") {
        out.roles = roles;
    }
    if let Some(flag) = e.flag("require_active_customer", false) {
        out.require_active_customer = flag;
    }
    out
}

const SUPPRESSION_FIELDS: &[&str] = &[
    "friction_events",
    "friction_window",
    "cooldown_after_shown",
    "cooldown_after_dismissed",
    "max_asks_per_30_days",
    "quiet_after_referred",
];

fn suppression(s: &Obj) -> Suppression {
    let mut out = Suppression::default();
    if let Some(events) = s.strings("friction_events") {
        out.friction_events = events;
    }
    let spans = [
        ("friction_window", &mut out.friction_window),
        ("cooldown_after_shown", &mut out.cooldown_after_shown),
        (
            "cooldown_after_dismissed",
            &mut out.cooldown_after_dismissed,
        ),
        ("quiet_after_referred", &mut out.quiet_after_referred),
    ];
    for (key, slot) in spans {
        if let Some(span) = s.span(key) {
            *slot = span;
        }
    }
    if let Some(cap) = s.count("max_asks_per_30_days") {
        out.max_asks_per_30_days = cap;
    }
    out
}

const OFFBOARDING_FIELDS: &[&str] = &[
    "bypass_cooldown",
    "bypass_cap",
    "bypass_friction",
    "bypass_eligibility",
];

fn offboarding(o: &Obj) -> Offboarding {
    let mut out = Offboarding::default();
    let flags = [
        ("bypass_cooldown", &mut out.bypass_cooldown),
        ("bypass_cap", &mut out.bypass_cap),
        ("bypass_friction", &mut out.bypass_friction),
        ("bypass_eligibility", &mut out.bypass_eligibility),
    ];
    for (key, slot) in flags {
        if let Some(flag) = o.flag(key, false) {
            *slot = flag;
        }
    }
    out
}

// ---------------------------------------------------------------- event

/// `{name, properties?, locale?}` (JSON text); properties keep their order.
pub fn event(text: &str) -> Result<Event, Bad> {
    let value = parse(text)?;
    let problems = Problems::default();
    let f = Obj::open(&value, "event".into(), None, &problems);
    let event = Event {
        name: f.required_text("name"),
        properties: f
            .child("properties", true, None)
            .map(|p| {
                p.fields
                    .iter()
                    .map(|(k, v)| (k.clone(), prop_value(v)))
                    .collect()
            })
            .unwrap_or_default(),
        locale: f.text("locale", true),
    };
    problems.finish(event)
}

// ---------------------------------------------------------------- state

/// A stored state (JSON text) of any known version, migrating version 1 in
/// core.
pub fn nudge_state(text: &str) -> Result<NudgeState, StateError> {
    let invalid = |b: Bad| StateError::Invalid([b.field.as_str(), ": ", b.problem].concat());
    let value = parse(text).map_err(invalid)?;
    let problems = Problems::default();
    let f = Obj::open(&value, String::new(), None, &problems);
    let state = match f.count("v").unwrap_or(1) {
        1 => read_state_v1(&f),
        referral_core::nudge::state::STATE_VERSION => read_state(&f),
        newer => return Err(StateError::FutureVersion(newer)),
    };
    problems.finish(state).map_err(invalid)
}

fn friction_mark(m: &Obj) -> FrictionMark {
    let at = m.time("at");
    if at.is_none() {
        m.fail("at", "missing field");
    }
    FrictionMark {
        event: m.required_text("event"),
        at: at.unwrap_or(0),
    }
}

fn times(f: &Obj, key: &str) -> Vec<u64> {
    let mut out = Vec::new();
    for (i, t) in f.array(key).iter().enumerate() {
        match t {
            Json::UInt(n) => out.push(*n),
            _ => f
                .problems
                .report(f.index_path(key, i), "expected Unix seconds"),
        }
    }
    out
}

fn read_state_v1(f: &Obj) -> NudgeState {
    NudgeState::migrate_v1(
        &f.required_text("user_id"),
        f.child("last_friction", true, None)
            .map(|m| friction_mark(&m)),
        times(f, "asked_at"),
        f.time("dismissed_at"),
        f.flag("opted_out", false).unwrap_or(false),
    )
}

fn read_state(f: &Obj) -> NudgeState {
    let mut state = NudgeState::new("");
    state.user_id = f.required_text("user_id");
    if let Some(p) = f.child("profile", false, None) {
        state.profile = Profile {
            signed_up_at: p.time("signed_up_at"),
            onboarding_completed_at: p.time("onboarding_completed_at"),
            plan: p.text("plan", true),
            role: p.text("role", true),
            active_customer: p.flag("active_customer", true),
            display_name: p.text("display_name", false).unwrap_or_default(),
            share_link: p.text("share_link", false).unwrap_or_default(),
        };
    }
    state.first_seen = f.time("first_seen");
    if let Some(c) = f.child("counts", false, None) {
        // A map, not a struct: a repeated key keeps its last value, as in
        // serde.
        for (event, count) in c.fields {
            match count {
                Json::UInt(n) if *n <= u32::MAX.into() => {
                    if let Err(problem) = state.counts.insert_stored(event.clone(), *n as u32) {
                        c.fail(event, problem);
                        break;
                    }
                }
                _ => c.fail(event, "expected a count"),
            }
        }
    }
    state.friction = f
        .objects("friction", None)
        .iter()
        .map(friction_mark)
        .collect();
    state.asks = times(f, "asks");
    let times = [
        ("last_shown", &mut state.last_shown),
        ("last_dismissed", &mut state.last_dismissed),
        ("opted_out_at", &mut state.opted_out_at),
        ("last_shared", &mut state.last_shared),
        ("last_referred", &mut state.last_referred),
    ];
    for (key, slot) in times {
        *slot = f.time(key);
    }
    let counts = [
        ("total_asks", &mut state.total_asks),
        ("total_shares", &mut state.total_shares),
        ("total_referred", &mut state.total_referred),
    ];
    for (key, slot) in counts {
        *slot = f.count(key).unwrap_or(0);
    }
    state.pending = f.child("pending", true, None).map(|p| pending(&p));
    state.normalize();
    state
}

fn pending(p: &Obj) -> Pending {
    let time = |key: &str| {
        let at = p.time(key);
        if at.is_none() {
            p.fail(key, "missing field");
        }
        at.unwrap_or(0)
    };
    Pending {
        at: time("at"),
        until: time("until"),
        moment: p.required_text("moment"),
        event: p.required_text("event"),
        occurrence: p.count("occurrence").unwrap_or_else(|| {
            p.fail("occurrence", "missing field");
            0
        }),
        held_by: p.required_text("held_by"),
    }
}

// ---------------------------------------------------------------- to JSON

pub fn claims_json(claims: &Claims) -> String {
    let mut w = Writer::new();
    write_claims(&mut w, claims);
    w.finish()
}

fn write_claims(w: &mut Writer, claims: &Claims) {
    w.open().key("key_id").uint(claims.key_id.into());
    w.key("program_id").uint(claims.program_id.into());
    w.key("referrer").open();
    match &claims.referrer {
        ReferrerId::Numeric(n) => w.key("numeric").uint(*n),
        ReferrerId::Opaque(bytes) => w.key("opaque").string(&hex_bytes::encode(bytes)),
    };
    w.close().key("channel").string(claims.channel.as_str());
    if let Some(campaign) = claims.campaign {
        w.key("campaign").uint(campaign.into());
    }
    w.key("issued_at").uint(claims.issued_at).close();
}

pub fn share_action_json(action: &ShareAction) -> String {
    let mut w = Writer::new();
    w.open();
    match action {
        ShareAction::Copy { text } => w.key("kind").string("copy").key("text").string(text),
        ShareAction::Open { url } => w.key("kind").string("open").key("url").string(url),
        ShareAction::NativeShare { title, text, url } => w
            .key("kind")
            .string("native_share")
            .key("title")
            .string(title)
            .key("text")
            .string(text)
            .key("url")
            .string(url),
    };
    w.close();
    w.finish()
}

/// `{decision, state}`, the decision in core's serde shape.
pub fn evaluated_json(decision: &Decision, state: &NudgeState) -> String {
    let mut w = Writer::new();
    w.open().key("decision").open();
    match decision {
        Decision::Ask(Ask {
            moment,
            variant,
            message,
            locale,
            why,
        }) => {
            w.key("decision").string("ask");
            w.key("moment").string(moment);
            w.key("variant").string(variant);
            w.key("message").string(message);
            if let Some(locale) = locale {
                w.key("locale").string(locale);
            }
            w.key("why").open().key("event").string(&why.event);
            w.key("occurrence").uint(why.occurrence.into());
            w.key("priority").int(why.priority.into());
            if !why.bypassed.is_empty() {
                w.key("bypassed").open_list();
                for rule in &why.bypassed {
                    w.string(rule);
                }
                w.close_list();
            }
            if let Some(deferral) = &why.deferred {
                w.key("deferred").open().key("since").uint(deferral.since);
                w.key("held_by").string(&deferral.held_by);
                w.key("asked_on").string(&deferral.asked_on).close();
            }
            w.close();
        }
        Decision::Quiet { reason } => {
            w.key("decision").string("quiet");
            w.key("reason").open().key("code").string(reason.code());
            match reason {
                QuietReason::NotEligible { rule } => {
                    w.key("rule").string(rule);
                }
                QuietReason::RecentFriction { event, seconds_ago } => {
                    w.key("event").string(event);
                    w.key("seconds_ago").uint(*seconds_ago);
                }
                QuietReason::RecentlyReferred { until }
                | QuietReason::Cooldown { until }
                | QuietReason::CapReached { until } => {
                    w.key("until").uint(*until);
                }
                QuietReason::NoMatchingMoment
                | QuietReason::OptedOut
                | QuietReason::Holdout
                | QuietReason::Onboarding => {}
            }
            w.close();
        }
    }
    w.close().key("state");
    write_state(&mut w, state);
    w.close();
    w.finish()
}

/// The state as core's serde JSON writes it (same fields, order and
/// omissions), so a state stored by the widget reads back on any platform.
pub fn state_json(state: &NudgeState) -> String {
    let mut w = Writer::new();
    write_state(&mut w, state);
    w.finish()
}

fn write_state(w: &mut Writer, state: &NudgeState) {
    let some = |w: &mut Writer, key: &str, value: Option<u64>| {
        if let Some(n) = value {
            w.key(key).uint(n);
        }
    };
    w.open().key("v").uint(state.v.into());
    w.key("user_id").string(&state.user_id);
    let p = &state.profile;
    w.key("profile").open();
    some(w, "signed_up_at", p.signed_up_at);
    some(w, "onboarding_completed_at", p.onboarding_completed_at);
    if let Some(plan) = &p.plan {
        w.key("plan").string(plan);
    }
    if let Some(role) = &p.role {
        w.key("role").string(role);
    }
    if let Some(active) = p.active_customer {
        w.key("active_customer").bool(active);
    }
    if !p.display_name.is_empty() {
        w.key("display_name").string(&p.display_name);
    }
    if !p.share_link.is_empty() {
        w.key("share_link").string(&p.share_link);
    }
    w.close();
    some(w, "first_seen", state.first_seen);
    if !state.counts.is_empty() {
        w.key("counts").open();
        for (event, count) in state.counts.iter() {
            w.key(event).uint(count.into());
        }
        w.close();
    }
    if !state.friction.is_empty() {
        w.key("friction").open_list();
        for mark in &state.friction {
            w.open().key("event").string(&mark.event);
            w.key("at").uint(mark.at).close();
        }
        w.close_list();
    }
    if !state.asks.is_empty() {
        w.key("asks").open_list();
        for at in &state.asks {
            w.uint(*at);
        }
        w.close_list();
    }
    some(w, "last_shown", state.last_shown);
    some(w, "last_dismissed", state.last_dismissed);
    some(w, "opted_out_at", state.opted_out_at);
    some(w, "last_shared", state.last_shared);
    some(w, "last_referred", state.last_referred);
    w.key("total_asks").uint(state.total_asks.into());
    w.key("total_shares").uint(state.total_shares.into());
    w.key("total_referred").uint(state.total_referred.into());
    if let Some(p) = &state.pending {
        w.key("pending").open().key("at").uint(p.at);
        w.key("until").uint(p.until);
        w.key("moment").string(&p.moment);
        w.key("event").string(&p.event);
        w.key("occurrence").uint(p.occurrence.into());
        w.key("held_by").string(&p.held_by).close();
    }
    w.close();
}

#[cfg(test)]
mod schema_test;
