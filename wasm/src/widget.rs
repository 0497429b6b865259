//! The widget's exports: links, share actions, QR codes and the nudge
//! engine (feature `widget`, on by default).

use referral_core::nudge::{self, NudgeConfig, NudgeState, Outcome, StateError};
use referral_core::{
    referral_url, share_action, Channel, LinkOptions, MessageVars, ShareMessage, Template, Utm,
};
use wasm_bindgen::prelude::*;

use crate::{convert, json};
use referral_core::peek as core_peek;

/// A JS `Error` with `name = "ReferralError"`, a machine-readable `code`
/// and a message joined from `parts`. Messages are joined, never formatted:
/// `format!` and the errors' `Display` would link core::fmt into the module
/// (issue 17); the JS reads `code` (and `field`), not the text.
pub(crate) fn error(code: &str, parts: &[&str]) -> JsValue {
    let error = js_sys::Error::new(&parts.concat());
    error.set_name("ReferralError");
    let error = JsValue::from(error);
    set(&error, "code", code);
    error
}

fn set(target: &JsValue, key: &str, value: &str) {
    // Setting a property on a fresh Error object cannot fail.
    let _ = js_sys::Reflect::set(target, &key.into(), &value.into());
}

/// The unverified claims of a code as JSON: `{key_id, program_id,
/// referrer, channel, campaign?, issued_at}`. Throws `ReferralError` with
/// `code` = `malformed` or `unsupported_version`.
#[wasm_bindgen]
pub fn peek(code: &str) -> Result<String, JsValue> {
    let claims =
        core_peek(code).map_err(|e| error(e.reason(), &["not a referral code: ", e.reason()]))?;
    Ok(convert::claims_json(claims.unverified()))
}

fn invalid(what: &str) -> impl Fn(convert::Bad) -> JsValue + '_ {
    move |b| error("invalid_input", &[what, ": ", &b.field, ": ", b.problem])
}

fn channel(name: &str) -> Result<Channel, JsValue> {
    Channel::parse(name).ok_or_else(|| error("invalid_input", &["unknown channel \"", name, "\""]))
}

/// The referral URL for `code` on `channel`. `param` defaults to `ref`;
/// with `utm_campaign`, `utm_source` (default `referral`), `utm_medium` and
/// `utm_campaign` are added.
#[wasm_bindgen(js_name = referralUrl)]
pub fn referral_url_js(
    base_url: &str,
    param: Option<String>,
    utm_source: Option<String>,
    utm_campaign: Option<String>,
    code: &str,
    channel_name: &str,
) -> Result<String, JsValue> {
    let mut options = LinkOptions::new(base_url);
    if let Some(param) = param {
        options.param = param;
    }
    options.utm = utm_campaign.map(|campaign| {
        let mut utm = Utm::new(&campaign);
        if let Some(source) = utm_source {
            utm.source = source;
        }
        utm
    });
    referral_url(&options, code, channel(channel_name)?)
        .map_err(|e| error(e.reason(), &["cannot build the link: ", e.reason()]))
}

/// What the share button for `channel` does, as JSON: `{kind: "copy",
/// text}`, `{kind: "open", url}` or `{kind: "native_share", title, text,
/// url}`. `subject` and `body` are core templates; a bad one throws with
/// core's reason (`unknown_placeholder`, …).
#[wasm_bindgen(js_name = shareAction)]
#[allow(clippy::too_many_arguments)]
pub fn share_action_js(
    channel_name: &str,
    link: &str,
    subject: &str,
    body: &str,
    referrer_name: &str,
    product: &str,
    reward: &str,
) -> Result<String, JsValue> {
    let template = |source: &str| {
        Template::parse(source).map_err(|e| error(e.reason(), &["bad template: ", e.reason()]))
    };
    let message = ShareMessage {
        subject: template(subject)?,
        body: template(body)?,
    };
    let vars = MessageVars {
        referrer_name: referrer_name.to_owned(),
        product: product.to_owned(),
        reward: reward.to_owned(),
        link: String::new(),
    };
    let action = share_action(channel(channel_name)?, link, &message, &vars);
    Ok(convert::share_action_json(&action))
}

/// The nudge engine for one page: the config is read and validated once.
#[wasm_bindgen]
pub struct NudgeEngine {
    config: NudgeConfig,
}

#[wasm_bindgen]
impl NudgeEngine {
    /// `config_json`: the same JSON the native SDKs read. Throws
    /// `ReferralError` (`code` = `invalid_nudge_config`) with `field`, the
    /// path of the value at fault.
    #[wasm_bindgen(constructor)]
    pub fn new(config_json: &str) -> Result<NudgeEngine, JsValue> {
        let config = convert::nudge_config(config_json).map_err(|e| {
            let err = error(
                e.reason(),
                &["invalid nudge config: ", &e.field, ": ", &e.problem],
            );
            set(&err, "field", &e.field);
            err
        })?;
        Ok(NudgeEngine { config })
    }

    /// A fresh state for `user_id`, as JSON.
    #[wasm_bindgen(js_name = newState)]
    pub fn new_state(&self, user_id: &str) -> String {
        convert::state_json(&NudgeState::new(user_id))
    }

    /// Evaluates `event_json` (`{name, properties}`) against the stored
    /// state: `{decision, state}` as JSON. A state that cannot be read
    /// (corrupt storage) throws `invalid_state`; the caller starts a new one.
    pub fn evaluate(
        &self,
        state_json: &str,
        event_json: &str,
        now: f64,
    ) -> Result<String, JsValue> {
        let mut state = read_state(state_json)?;
        let event = convert::event(event_json).map_err(invalid("event"))?;
        let decision = nudge::evaluate(&self.config, &mut state, &event, seconds(now)?);
        Ok(convert::evaluated_json(&decision, &state))
    }

    /// Records `shown`, `dismissed`, `opted_out`, `shared` or `referred`;
    /// returns the new state as JSON.
    pub fn record(&self, state_json: &str, outcome: &str, now: f64) -> Result<String, JsValue> {
        let mut state = read_state(state_json)?;
        let outcome = Outcome::parse(outcome)
            .ok_or_else(|| error("invalid_input", &["unknown outcome \"", outcome, "\""]))?;
        nudge::record(&mut state, outcome, seconds(now)?);
        Ok(convert::state_json(&state))
    }

    /// Two copies of one person's state (this browser's and the one the
    /// host's backend keeps) merged by core's rule; throws `invalid_state`
    /// for unreadable copies or copies of different people.
    pub fn merge(&self, a_json: &str, b_json: &str) -> Result<String, JsValue> {
        let merged = nudge::merge_states(&read_state(a_json)?, &read_state(b_json)?)
            .map_err(|e| state_error(&e))?;
        Ok(convert::state_json(&merged))
    }
}

fn read_state(state_json: &str) -> Result<NudgeState, JsValue> {
    convert::nudge_state(state_json).map_err(|e| state_error(&e))
}

fn state_error(e: &StateError) -> JsValue {
    match e {
        StateError::Invalid(problem) => error(e.reason(), &["nudge state: ", problem]),
        _ => error(e.reason(), &["nudge state: ", e.reason()]),
    }
}

/// JS numbers are f64: accept whole, non-negative seconds only.
fn seconds(now: f64) -> Result<u64, JsValue> {
    if now.is_finite() && now >= 0.0 && now.fract() == 0.0 && now < 9.0e15 {
        Ok(now as u64)
    } else {
        Err(error("invalid_input", &["now must be whole Unix seconds"]))
    }
}

/// A QR code for `text` as JSON `{size, path}`: an SVG path (one `h1v1h-1z`
/// square per dark module) in a `size`×`size` box including a 4-module quiet
/// zone. The JS builds the `<svg>` with `createElementNS`: no markup string
/// ever reaches the DOM.
#[wasm_bindgen(js_name = qrPath)]
pub fn qr_path(text: &str) -> Result<String, JsValue> {
    use qrcodegen::{QrCode, QrCodeEcc};
    // Byte mode, as encode_text picks for any URL with lower-case letters,
    // without its text analysis (which links str slicing panics).
    let qr = QrCode::encode_binary(text.as_bytes(), QrCodeEcc::Medium)
        .map_err(|_| error("invalid_input", &["text too long for a QR code"]))?;
    let quiet = 4;
    // Coordinates are small non-negative integers: written digit by digit.
    let mut path = String::new();
    for y in 0..qr.size() {
        for x in 0..qr.size() {
            if qr.get_module(x, y) {
                path.push('M');
                json::push_digits(&mut path, (x + quiet) as u64);
                path.push(' ');
                json::push_digits(&mut path, (y + quiet) as u64);
                path.push_str("h1v1h-1z");
            }
        }
    }
    let mut w = json::Writer::new();
    w.open().key("size").uint((qr.size() + 2 * quiet) as u64);
    w.key("path").string(&path).close();
    Ok(w.finish())
}
