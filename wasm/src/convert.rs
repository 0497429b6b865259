//! JS values ⇄ core types, by hand.
//!
//! The browser has already parsed any JSON (`JSON.parse` is free there), so
//! the module reads plain JS objects field by field and builds plain JS
//! objects back. This mirrors the serde shapes the native bindings use
//! (same field names, defaults, `null` for absent options, unknown fields
//! refused where serde refuses them) without linking serde_json or
//! serde-wasm-bindgen: their monomorphised visitors were most of the
//! module (see BENCHMARKS.md). Every rule stays in core: this only moves
//! values, and the shared vectors run through it in the browser.

use js_sys::{Array, Object, Reflect};
use referral_core::nudge::config::{Eligibility, Experiment, Offboarding, Suppression, Variant};
use referral_core::nudge::{
    Ask, ConfigError, Decision, Event, FrictionMark, Moment, NudgeConfig, NudgeState, Operator,
    Predicate, PredicateValue, Profile, PropValue, QuietReason, Span, StateError,
};
use referral_core::{
    Claims, LinkOptions, MessageVars, ReferrerId, ShareAction, ShareMessage, Template,
};
use wasm_bindgen::{JsCast, JsValue};

/// Largest integer a JS number holds exactly.
const MAX_SAFE: f64 = 9_007_199_254_740_991.0;

/// A value at `field` (a path like `moments[0].when[1].op`) could not be read.
pub struct Bad {
    pub field: String,
    pub problem: &'static str,
}

type Read<T> = Result<T, Bad>;

// The readers below are deliberately few and not generic: one function per
// JS type, called with a key, keeps the module small (each generic helper
// instantiated per field cost more than the logic it reads for).

/// A JS object whose fields are read by name; `path` names it in errors.
struct Obj {
    value: JsValue,
    path: String,
}

fn is_plain_object(value: &JsValue) -> bool {
    value.is_object() && !Array::is_array(value)
}

impl Obj {
    /// `known`: with `Some`, any other own field is refused (serde's
    /// `deny_unknown_fields`).
    fn open(value: JsValue, path: String, known: Option<&[&str]>) -> Read<Obj> {
        if !is_plain_object(&value) {
            return Err(Bad {
                field: if path.is_empty() { ".".into() } else { path },
                problem: "expected an object",
            });
        }
        let obj = Obj { value, path };
        if let Some(known) = known {
            for key in Object::keys(obj.value.unchecked_ref::<Object>()).iter() {
                let key = key.as_string().unwrap_or_default();
                if !known.contains(&key.as_str()) {
                    return Err(obj.fail(&key, "unknown field"));
                }
            }
        }
        Ok(obj)
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

    fn fail(&self, key: &str, problem: &'static str) -> Bad {
        Bad {
            field: self.path_of(key),
            problem,
        }
    }

    fn missing(&self, key: &str) -> Bad {
        self.fail(key, "missing field")
    }

    /// The field, or `None` when absent (`undefined`) or, if `null_is_absent`
    /// (serde's `Option`), `null`.
    fn get(&self, key: &str, null_is_absent: bool) -> Option<JsValue> {
        Reflect::get(&self.value, &JsValue::from_str(key))
            .ok()
            .filter(|v| !(v.is_undefined() || (null_is_absent && v.is_null())))
    }

    fn text(&self, key: &str, null_is_absent: bool) -> Read<Option<String>> {
        match self.get(key, null_is_absent) {
            None => Ok(None),
            Some(v) => v
                .as_string()
                .map(Some)
                .ok_or_else(|| self.fail(key, "expected a string")),
        }
    }

    fn flag(&self, key: &str, null_is_absent: bool) -> Read<Option<bool>> {
        match self.get(key, null_is_absent) {
            None => Ok(None),
            Some(v) => v
                .as_bool()
                .map(Some)
                .ok_or_else(|| self.fail(key, "expected true or false")),
        }
    }

    /// A whole number in `min..=max`.
    fn whole(&self, key: &str, null_is_absent: bool, min: f64, max: f64) -> Read<Option<f64>> {
        match self.get(key, null_is_absent) {
            None => Ok(None),
            Some(v) => match v.as_f64() {
                Some(n) if n.fract() == 0.0 && n >= min && n <= max => Ok(Some(n)),
                _ => Err(self.fail(key, "expected a whole number in range")),
            },
        }
    }

    fn count(&self, key: &str) -> Read<Option<u32>> {
        Ok(self
            .whole(key, false, 0.0, u32::MAX as f64)?
            .map(|n| n as u32))
    }

    fn time(&self, key: &str) -> Read<Option<u64>> {
        Ok(self.whole(key, true, 0.0, MAX_SAFE)?.map(|n| n as u64))
    }

    /// `"7d"`, `"12h"`, `"30m"`, `"90s"` or whole seconds, as core's `Span`.
    fn span(&self, key: &str) -> Read<Option<Span>> {
        if let Some(Some(text)) = self.get(key, false).map(|v| v.as_string()) {
            return Span::parse(&text)
                .map(Some)
                .map_err(|_| self.fail(key, "expected a duration such as \"7d\""));
        }
        Ok(self
            .whole(key, false, 0.0, MAX_SAFE)?
            .map(|n| Span(n as u64)))
    }

    fn template(&self, key: &str) -> Read<Template> {
        let source = self.text(key, false)?.ok_or_else(|| self.missing(key))?;
        Template::parse(&source).map_err(|e| self.fail(key, e.reason()))
    }

    fn strings(&self, key: &str) -> Read<Option<Vec<String>>> {
        let Some(items) = self.array(key)? else {
            return Ok(None);
        };
        let mut out = Vec::with_capacity(items.length() as usize);
        for (i, item) in items.iter().enumerate() {
            out.push(item.as_string().ok_or_else(|| Bad {
                field: self.index_path(key, i),
                problem: "expected a string",
            })?);
        }
        Ok(Some(out))
    }

    fn array(&self, key: &str) -> Read<Option<Array>> {
        match self.get(key, false) {
            None => Ok(None),
            Some(v) if Array::is_array(&v) => Ok(Some(v.unchecked_into())),
            Some(_) => Err(self.fail(key, "expected a list")),
        }
    }

    fn index_path(&self, key: &str, i: usize) -> String {
        let mut path = self.path_of(key);
        path.push('[');
        path.push_str(&i.to_string());
        path.push(']');
        path
    }

    /// Each element of the list `key` opened as an object.
    fn objects(&self, key: &str, known: &[&str]) -> Read<Option<Vec<Obj>>> {
        let Some(items) = self.array(key)? else {
            return Ok(None);
        };
        let mut out = Vec::with_capacity(items.length() as usize);
        for (i, item) in items.iter().enumerate() {
            out.push(Obj::open(item, self.index_path(key, i), Some(known))?);
        }
        Ok(Some(out))
    }

    fn child(&self, key: &str, null_is_absent: bool, known: Option<&[&str]>) -> Read<Option<Obj>> {
        match self.get(key, null_is_absent) {
            None => Ok(None),
            Some(v) => Obj::open(v, self.path_of(key), known).map(Some),
        }
    }

    /// An object's own `[key, value]` pairs, in order.
    fn entries(&self) -> Vec<(String, JsValue)> {
        Object::entries(self.value.unchecked_ref::<Object>())
            .iter()
            .map(|entry| {
                let pair: Array = entry.unchecked_into();
                (pair.get(0).as_string().unwrap_or_default(), pair.get(1))
            })
            .collect()
    }
}

/// What a property can be: numbers that are whole (and exact in JS) are
/// integers, as serde reads `9`; anything else a predicate can't compare is
/// `Other`.
pub fn prop_value(value: &JsValue) -> PropValue {
    if let Some(b) = value.as_bool() {
        PropValue::Bool(b)
    } else if let Some(n) = value.as_f64() {
        if n.fract() == 0.0 && n.abs() <= MAX_SAFE {
            PropValue::Int(n as i64)
        } else {
            PropValue::Float(n)
        }
    } else if let Some(text) = value.as_string() {
        PropValue::Text(text)
    } else {
        PropValue::Other
    }
}

// ---------------------------------------------------------------- config

/// A nudge configuration object, validated by core.
pub fn nudge_config(value: JsValue) -> Result<NudgeConfig, ConfigError> {
    let config = read_config(value).map_err(|b| ConfigError {
        field: b.field,
        problem: b.problem.to_owned(),
    })?;
    config.validate()?;
    Ok(config)
}

const MOMENT_FIELDS: &[&str] = &[
    "name",
    "event",
    "when",
    "occurrence",
    "priority",
    "message",
    "variants",
    "offboarding",
];

fn read_config(value: JsValue) -> Read<NudgeConfig> {
    let f = Obj::open(
        value,
        String::new(),
        Some(&[
            "moments",
            "eligibility",
            "suppression",
            "offboarding",
            "experiment",
            "product",
            "reward",
        ]),
    )?;
    let mut moments = Vec::new();
    for m in f
        .objects("moments", MOMENT_FIELDS)?
        .ok_or_else(|| f.missing("moments"))?
    {
        moments.push(moment(&m)?);
    }
    Ok(NudgeConfig {
        moments,
        eligibility: eligibility(&f)?,
        suppression: suppression(&f)?,
        offboarding: offboarding(&f)?,
        experiment: match f.child("experiment", true, Some(&["name", "holdout_basis_points"]))? {
            Some(e) => Some(Experiment {
                name: e.text("name", false)?.ok_or_else(|| e.missing("name"))?,
                holdout_basis_points: e.count("holdout_basis_points")?.unwrap_or(0),
            }),
            None => None,
        },
        product: f.text("product", false)?.unwrap_or_default(),
        reward: f.text("reward", false)?.unwrap_or_default(),
    })
}

fn moment(m: &Obj) -> Read<Moment> {
    let mut when = Vec::new();
    for p in m
        .objects("when", &["property", "op", "value"])?
        .unwrap_or_default()
    {
        when.push(predicate(&p)?);
    }
    let mut variants = Vec::new();
    for v in m
        .objects("variants", &["name", "message"])?
        .unwrap_or_default()
    {
        variants.push(Variant {
            name: v.text("name", false)?.ok_or_else(|| v.missing("name"))?,
            message: v.template("message")?,
        });
    }
    Ok(Moment {
        name: m.text("name", false)?.ok_or_else(|| m.missing("name"))?,
        event: m.text("event", false)?.ok_or_else(|| m.missing("event"))?,
        when,
        occurrence: m
            .whole("occurrence", true, 0.0, u32::MAX as f64)?
            .map(|n| n as u32),
        priority: m
            .whole("priority", false, i32::MIN as f64, i32::MAX as f64)?
            .map_or(0, |n| n as i32),
        message: m.template("message")?,
        variants,
        offboarding: m.flag("offboarding", false)?.unwrap_or(false),
    })
}

fn predicate(p: &Obj) -> Read<Predicate> {
    let op = match p.text("op", false)?.as_deref() {
        Some("equals") => Operator::Equals,
        Some("at_least") => Operator::AtLeast,
        Some("at_most") => Operator::AtMost,
        Some("one_of") => Operator::OneOf,
        Some(_) => return Err(p.fail("op", "expected equals, at_least, at_most or one_of")),
        None => return Err(p.missing("op")),
    };
    let value = p.get("value", false).ok_or_else(|| p.missing("value"))?;
    let value = if Array::is_array(&value) {
        PredicateValue::Many(
            value
                .unchecked_into::<Array>()
                .iter()
                .map(|v| prop_value(&v))
                .collect(),
        )
    } else {
        PredicateValue::One(prop_value(&value))
    };
    Ok(Predicate {
        property: p
            .text("property", false)?
            .ok_or_else(|| p.missing("property"))?,
        op,
        value,
    })
}

fn eligibility(config: &Obj) -> Read<Eligibility> {
    let known: &[&str] = &[
        "signup_event",
        "min_account_age",
        "onboarding_completed_event",
        "plans",
        "roles",
        "require_active_customer",
    ];
    let Some(e) = config.child("eligibility", false, Some(known))? else {
        return Ok(Eligibility::default());
    };
    Ok(Eligibility {
        signup_event: e.text("signup_event", true)?,
        min_account_age: e.span("min_account_age")?.unwrap_or(Span::ZERO),
        onboarding_completed_event: e.text("onboarding_completed_event", true)?,
        plans: e.strings("plans")?.unwrap_or_default(),
        roles: e.strings("roles")?.unwrap_or_default(),
        require_active_customer: e.flag("require_active_customer", false)?.unwrap_or(false),
    })
}

fn suppression(config: &Obj) -> Read<Suppression> {
    let known: &[&str] = &[
        "friction_events",
        "friction_window",
        "cooldown_after_shown",
        "cooldown_after_dismissed",
        "max_asks_per_30_days",
        "quiet_after_referred",
    ];
    let d = Suppression::default();
    let Some(s) = config.child("suppression", false, Some(known))? else {
        return Ok(d);
    };
    Ok(Suppression {
        friction_events: s.strings("friction_events")?.unwrap_or(d.friction_events),
        friction_window: s.span("friction_window")?.unwrap_or(d.friction_window),
        cooldown_after_shown: s
            .span("cooldown_after_shown")?
            .unwrap_or(d.cooldown_after_shown),
        cooldown_after_dismissed: s
            .span("cooldown_after_dismissed")?
            .unwrap_or(d.cooldown_after_dismissed),
        max_asks_per_30_days: s
            .count("max_asks_per_30_days")?
            .unwrap_or(d.max_asks_per_30_days),
        quiet_after_referred: s
            .span("quiet_after_referred")?
            .unwrap_or(d.quiet_after_referred),
    })
}

fn offboarding(config: &Obj) -> Read<Offboarding> {
    let known: &[&str] = &[
        "bypass_cooldown",
        "bypass_cap",
        "bypass_friction",
        "bypass_eligibility",
    ];
    let d = Offboarding::default();
    let Some(o) = config.child("offboarding", false, Some(known))? else {
        return Ok(d);
    };
    Ok(Offboarding {
        bypass_cooldown: o
            .flag("bypass_cooldown", false)?
            .unwrap_or(d.bypass_cooldown),
        bypass_cap: o.flag("bypass_cap", false)?.unwrap_or(d.bypass_cap),
        bypass_friction: o
            .flag("bypass_friction", false)?
            .unwrap_or(d.bypass_friction),
        bypass_eligibility: o
            .flag("bypass_eligibility", false)?
            .unwrap_or(d.bypass_eligibility),
    })
}

// ---------------------------------------------------------------- event

/// `{name, properties?}`; properties keep their order.
pub fn event(value: JsValue) -> Read<Event> {
    let f = Obj::open(value, "event".into(), None)?;
    let name = f.text("name", false)?.ok_or_else(|| f.missing("name"))?;
    let properties = match f.child("properties", true, None)? {
        Some(p) => p
            .entries()
            .into_iter()
            .map(|(k, v)| (k, prop_value(&v)))
            .collect(),
        None => Vec::new(),
    };
    Ok(Event { name, properties })
}

// ---------------------------------------------------------------- state

/// A stored state of any known version, migrating version 1 in core.
pub fn nudge_state(value: JsValue) -> Result<NudgeState, StateError> {
    let invalid = |b: Bad| StateError::Invalid(format!("{}: {}", b.field, b.problem));
    let f = Obj::open(value, String::new(), None).map_err(invalid)?;
    match f.count("v").map_err(invalid)?.unwrap_or(1) {
        1 => read_state_v1(&f).map_err(invalid),
        referral_core::nudge::state::STATE_VERSION => read_state(&f).map_err(invalid),
        newer => Err(StateError::FutureVersion(newer)),
    }
}

fn friction_mark(m: &Obj) -> Read<FrictionMark> {
    Ok(FrictionMark {
        event: m.text("event", false)?.ok_or_else(|| m.missing("event"))?,
        at: m.time("at")?.ok_or_else(|| m.missing("at"))?,
    })
}

fn times(f: &Obj, key: &str) -> Read<Vec<u64>> {
    let mut out = Vec::new();
    for (i, t) in f.array(key)?.unwrap_or_default().iter().enumerate() {
        match t.as_f64() {
            Some(n) if n.fract() == 0.0 && (0.0..=MAX_SAFE).contains(&n) => out.push(n as u64),
            _ => {
                return Err(Bad {
                    field: f.index_path(key, i),
                    problem: "expected Unix seconds",
                })
            }
        }
    }
    Ok(out)
}

fn read_state_v1(f: &Obj) -> Read<NudgeState> {
    let last_friction = match f.child("last_friction", true, None)? {
        Some(m) => Some(friction_mark(&m)?),
        None => None,
    };
    Ok(NudgeState::migrate_v1(
        &f.text("user_id", false)?
            .ok_or_else(|| f.missing("user_id"))?,
        last_friction,
        times(f, "asked_at")?,
        f.time("dismissed_at")?,
        f.flag("opted_out", false)?.unwrap_or(false),
    ))
}

fn read_state(f: &Obj) -> Read<NudgeState> {
    let mut state = NudgeState::new("");
    state.user_id = f
        .text("user_id", false)?
        .ok_or_else(|| f.missing("user_id"))?;
    if let Some(p) = f.child("profile", false, None)? {
        state.profile = Profile {
            signed_up_at: p.time("signed_up_at")?,
            onboarding_completed_at: p.time("onboarding_completed_at")?,
            plan: p.text("plan", true)?,
            role: p.text("role", true)?,
            active_customer: p.flag("active_customer", true)?,
            display_name: p.text("display_name", false)?.unwrap_or_default(),
            share_link: p.text("share_link", false)?.unwrap_or_default(),
        };
    }
    state.first_seen = f.time("first_seen")?;
    if let Some(c) = f.child("counts", false, None)? {
        for (event, count) in c.entries() {
            match count.as_f64() {
                Some(n) if n.fract() == 0.0 && (0.0..=u32::MAX as f64).contains(&n) => {
                    state.counts.insert(event, n as u32);
                }
                _ => return Err(c.fail(&event, "expected a count")),
            }
        }
    }
    for m in f.objects("friction", &["event", "at"])?.unwrap_or_default() {
        state.friction.push(friction_mark(&m)?);
    }
    state.asks = times(f, "asks")?;
    state.last_shown = f.time("last_shown")?;
    state.last_dismissed = f.time("last_dismissed")?;
    state.opted_out_at = f.time("opted_out_at")?;
    state.last_shared = f.time("last_shared")?;
    state.last_referred = f.time("last_referred")?;
    state.total_asks = f.count("total_asks")?.unwrap_or(0);
    state.total_shares = f.count("total_shares")?.unwrap_or(0);
    state.total_referred = f.count("total_referred")?.unwrap_or(0);
    Ok(state)
}

// ---------------------------------------------------------------- share

/// `{base_url, param?, utm?: {source?, campaign}}`.
pub fn link_options(value: JsValue) -> Read<LinkOptions> {
    let f = Obj::open(value, "options".into(), None)?;
    let mut options = LinkOptions::new(
        &f.text("base_url", false)?
            .ok_or_else(|| f.missing("base_url"))?,
    );
    if let Some(param) = f.text("param", true)? {
        options.param = param;
    }
    if let Some(u) = f.child("utm", true, None)? {
        options.utm = Some(referral_core::Utm {
            source: u.text("source", true)?.unwrap_or_else(|| "referral".into()),
            campaign: u
                .text("campaign", false)?
                .ok_or_else(|| u.missing("campaign"))?,
        });
    }
    Ok(options)
}

/// `{subject, body}` templates. Errors: `(reason, message)`, the reason being
/// core's template reason (`unknown_placeholder`, …) or `invalid_input`.
pub fn share_message(value: JsValue) -> Result<ShareMessage, (&'static str, String)> {
    let invalid = |b: Bad| ("invalid_input", format!("{}: {}", b.field, b.problem));
    let f = Obj::open(value, "message".into(), None).map_err(invalid)?;
    let template = |key: &str| {
        let source = f
            .text(key, false)
            .map_err(invalid)?
            .ok_or_else(|| invalid(f.missing(key)))?;
        Template::parse(&source).map_err(|e| (e.reason(), format!("{}: {e}", f.path_of(key))))
    };
    Ok(ShareMessage {
        subject: template("subject")?,
        body: template("body")?,
    })
}

/// `{referrer_name?, product?, reward?, link?}`: missing means empty.
pub fn message_vars(value: JsValue) -> Read<MessageVars> {
    if value.is_undefined() || value.is_null() {
        return Ok(MessageVars::default());
    }
    let f = Obj::open(value, "vars".into(), None)?;
    Ok(MessageVars {
        referrer_name: f.text("referrer_name", true)?.unwrap_or_default(),
        product: f.text("product", true)?.unwrap_or_default(),
        reward: f.text("reward", true)?.unwrap_or_default(),
        link: f.text("link", true)?.unwrap_or_default(),
    })
}

// ---------------------------------------------------------------- to JS

/// A plain JS object built field by field.
pub struct Out(Object);

impl Out {
    pub fn new() -> Out {
        Out(Object::new())
    }

    pub fn set(self, key: &str, value: impl Into<JsValue>) -> Out {
        // Defining a property on a fresh plain object cannot fail.
        let _ = Reflect::set(&self.0, &JsValue::from_str(key), &value.into());
        self
    }

    fn set_some(self, key: &str, value: Option<u64>) -> Out {
        match value {
            Some(n) => self.set(key, n as f64),
            None => self,
        }
    }

    pub fn done(self) -> JsValue {
        self.0.into()
    }
}

impl Default for Out {
    fn default() -> Self {
        Out::new()
    }
}

fn array<T>(items: &[T], each: impl Fn(&T) -> JsValue) -> Array {
    items.iter().map(each).collect()
}

pub fn claims_to_js(claims: &Claims) -> JsValue {
    let referrer = match &claims.referrer {
        // Past 2^53 a JS number would round: such ids cross as decimal text.
        ReferrerId::Numeric(n) if (*n as f64) <= MAX_SAFE => Out::new().set("numeric", *n as f64),
        ReferrerId::Numeric(n) => Out::new().set("numeric", n.to_string()),
        ReferrerId::Opaque(bytes) => Out::new().set("opaque", hex(bytes)),
    };
    Out::new()
        .set("key_id", claims.key_id)
        .set("program_id", claims.program_id)
        .set("referrer", referrer.done())
        .set("channel", claims.channel.as_str())
        .set_some("campaign", claims.campaign.map(u64::from))
        .set("issued_at", claims.issued_at as f64)
        .done()
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[(b >> 4) as usize] as char);
        out.push(DIGITS[(b & 15) as usize] as char);
    }
    out
}

pub fn share_action_to_js(action: &ShareAction) -> JsValue {
    match action {
        ShareAction::Copy { text } => Out::new().set("kind", "copy").set("text", text.as_str()),
        ShareAction::Open { url } => Out::new().set("kind", "open").set("url", url.as_str()),
        ShareAction::NativeShare { title, text, url } => Out::new()
            .set("kind", "native_share")
            .set("title", title.as_str())
            .set("text", text.as_str())
            .set("url", url.as_str()),
    }
    .done()
}

pub fn decision_to_js(decision: &Decision) -> JsValue {
    match decision {
        Decision::Ask(Ask {
            moment,
            variant,
            message,
            why,
        }) => {
            let mut why_out = Out::new()
                .set("event", why.event.as_str())
                .set("occurrence", why.occurrence)
                .set("priority", why.priority);
            if !why.bypassed.is_empty() {
                why_out = why_out.set("bypassed", array(&why.bypassed, |s| s.into()));
            }
            Out::new()
                .set("decision", "ask")
                .set("moment", moment.as_str())
                .set("variant", variant.as_str())
                .set("message", message.as_str())
                .set("why", why_out.done())
        }
        Decision::Quiet { reason } => Out::new()
            .set("decision", "quiet")
            .set("reason", quiet_reason_to_js(reason)),
    }
    .done()
}

fn quiet_reason_to_js(reason: &QuietReason) -> JsValue {
    let out = Out::new().set("code", reason.code());
    match reason {
        QuietReason::NotEligible { rule } => out.set("rule", rule.as_str()),
        QuietReason::RecentFriction { event, seconds_ago } => out
            .set("event", event.as_str())
            .set("seconds_ago", *seconds_ago as f64),
        QuietReason::RecentlyReferred { until }
        | QuietReason::Cooldown { until }
        | QuietReason::CapReached { until } => out.set("until", *until as f64),
        QuietReason::NoMatchingMoment
        | QuietReason::OptedOut
        | QuietReason::Holdout
        | QuietReason::Onboarding => out,
    }
    .done()
}

/// The state in the same shape (and field order) as core's serde JSON, so a
/// state stored by the widget reads back on any platform.
pub fn state_to_js(state: &NudgeState) -> JsValue {
    let p = &state.profile;
    let mut profile = Out::new()
        .set_some("signed_up_at", p.signed_up_at)
        .set_some("onboarding_completed_at", p.onboarding_completed_at);
    if let Some(plan) = &p.plan {
        profile = profile.set("plan", plan.as_str());
    }
    if let Some(role) = &p.role {
        profile = profile.set("role", role.as_str());
    }
    if let Some(active) = p.active_customer {
        profile = profile.set("active_customer", active);
    }
    if !p.display_name.is_empty() {
        profile = profile.set("display_name", p.display_name.as_str());
    }
    if !p.share_link.is_empty() {
        profile = profile.set("share_link", p.share_link.as_str());
    }
    let mut out = Out::new()
        .set("v", state.v)
        .set("user_id", state.user_id.as_str())
        .set("profile", profile.done())
        .set_some("first_seen", state.first_seen);
    if !state.counts.is_empty() {
        let mut counts = Out::new();
        for (event, count) in &state.counts {
            counts = counts.set(event, *count);
        }
        out = out.set("counts", counts.done());
    }
    if !state.friction.is_empty() {
        out = out.set(
            "friction",
            array(&state.friction, |m| {
                Out::new()
                    .set("event", m.event.as_str())
                    .set("at", m.at as f64)
                    .done()
            }),
        );
    }
    if !state.asks.is_empty() {
        out = out.set("asks", array(&state.asks, |t| (*t as f64).into()));
    }
    out.set_some("last_shown", state.last_shown)
        .set_some("last_dismissed", state.last_dismissed)
        .set_some("opted_out_at", state.opted_out_at)
        .set_some("last_shared", state.last_shared)
        .set_some("last_referred", state.last_referred)
        .set("total_asks", state.total_asks)
        .set("total_shares", state.total_shares)
        .set("total_referred", state.total_referred)
        .done()
}
