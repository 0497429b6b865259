//! The browser's view of the core, through wasm-bindgen. Thin: convert,
//! call core, map errors to real JS `Error`s with a stable `name` and
//! `code`. Values cross as plain JS objects read and built by hand in
//! [`convert`] (no serde_json, no serde-wasm-bindgen: see BENCHMARKS.md for
//! what they cost), in the same shapes as the native bindings' JSON.
//!
//! Built without core's `signing` and `json` features: the widget only ever
//! peeks at a code its host's backend minted, and links no signing code.

pub mod convert;

use referral_core::nudge::{self, NudgeConfig, NudgeState, Outcome};
use referral_core::{peek as core_peek, referral_url, share_action, url, Channel};
use wasm_bindgen::prelude::*;

use convert::{Bad, Out};

/// A JS `Error` with `name = "ReferralError"` and a machine-readable `code`.
fn error(code: &str, message: &str) -> JsValue {
    let error = js_sys::Error::new(message);
    error.set_name("ReferralError");
    // Setting a property on a fresh Error object cannot fail.
    let _ = js_sys::Reflect::set(&error, &"code".into(), &code.into());
    error.into()
}

fn invalid(what: &str) -> impl Fn(Bad) -> JsValue + '_ {
    move |b| {
        error(
            "invalid_input",
            &format!("{what}: {}: {}", b.field, b.problem),
        )
    }
}

fn channel(name: &str) -> Result<Channel, JsValue> {
    Channel::parse(name)
        .ok_or_else(|| error("invalid_input", &format!("unknown channel \"{name}\"")))
}

/// The unverified claims of a code: `{key_id, program_id, referrer,
/// channel, campaign?, issued_at}`. Throws `ReferralError` with `code` =
/// `malformed` or `unsupported_version`.
#[wasm_bindgen]
pub fn peek(code: &str) -> Result<JsValue, JsValue> {
    let claims = core_peek(code).map_err(|e| error(e.reason(), &e.to_string()))?;
    Ok(convert::claims_to_js(claims.unverified()))
}

/// The referral URL for `code` on `channel` (`options`: `{base_url, param?, utm?}`).
#[wasm_bindgen(js_name = referralUrl)]
pub fn referral_url_js(
    options: JsValue,
    code: &str,
    channel_name: &str,
) -> Result<String, JsValue> {
    let options = convert::link_options(options).map_err(invalid("link options"))?;
    referral_url(&options, code, channel(channel_name)?)
        .map_err(|e| error(e.reason(), &e.to_string()))
}

/// What the share button for `channel` does: `{kind: "copy", text}`,
/// `{kind: "open", url}` or `{kind: "native_share", title, text, url}`.
/// `message` is `{subject, body}` templates, `vars` `{referrer_name,
/// product, reward}`; a bad template throws with core's reason.
#[wasm_bindgen(js_name = shareAction)]
pub fn share_action_js(
    channel_name: &str,
    link: &str,
    message: JsValue,
    vars: JsValue,
) -> Result<JsValue, JsValue> {
    let message = convert::share_message(message).map_err(|(code, m)| error(code, &m))?;
    let vars = convert::message_vars(vars).map_err(invalid("vars"))?;
    let action = share_action(channel(channel_name)?, link, &message, &vars);
    Ok(convert::share_action_to_js(&action))
}

/// A referral code found in `page_url`'s `param`, if it has the shape of
/// one: `{code, claims, clean_url}`, or `undefined`. `clean_url` is the URL
/// without the parameter, for `history.replaceState`.
#[wasm_bindgen]
pub fn capture(page_url: &str, param: &str) -> JsValue {
    let Some(code) = url::query_param(page_url, param) else {
        return JsValue::UNDEFINED;
    };
    let Ok(claims) = core_peek(&code) else {
        return JsValue::UNDEFINED;
    };
    let clean_url = url::remove_query_params(page_url, &[param]);
    Out::new()
        .set("code", code.as_str())
        .set("claims", convert::claims_to_js(claims.unverified()))
        .set("clean_url", clean_url.as_str())
        .done()
}

/// The nudge engine for one page: the config is read and validated once.
#[wasm_bindgen]
pub struct NudgeEngine {
    config: NudgeConfig,
}

#[wasm_bindgen]
impl NudgeEngine {
    /// `config`: the same object the native SDKs read from JSON. Throws
    /// `ReferralError` (`code` = `invalid_nudge_config`) with `field`, the
    /// path of the value at fault.
    #[wasm_bindgen(constructor)]
    pub fn new(config: JsValue) -> Result<NudgeEngine, JsValue> {
        let config = convert::nudge_config(config).map_err(|e| {
            let err = error(e.reason(), &e.to_string());
            let _ = js_sys::Reflect::set(&err, &"field".into(), &e.field.as_str().into());
            err
        })?;
        Ok(NudgeEngine { config })
    }

    /// A fresh state for `user_id`.
    #[wasm_bindgen(js_name = newState)]
    pub fn new_state(&self, user_id: &str) -> JsValue {
        convert::state_to_js(&NudgeState::new(user_id))
    }

    /// Evaluates `event` (`{name, properties}`) against the stored state:
    /// `{decision, state}`. A state that cannot be read (corrupt storage)
    /// throws `invalid_state`; the caller starts a new one.
    pub fn evaluate(&self, state: JsValue, event: JsValue, now: f64) -> Result<JsValue, JsValue> {
        let mut state = read_state(state)?;
        let event = convert::event(event).map_err(invalid("event"))?;
        let decision = nudge::evaluate(&self.config, &mut state, &event, seconds(now)?);
        Ok(Out::new()
            .set("decision", convert::decision_to_js(&decision))
            .set("state", convert::state_to_js(&state))
            .done())
    }

    /// Records `shown`, `dismissed`, `opted_out`, `shared` or `referred`;
    /// returns the new state.
    pub fn record(&self, state: JsValue, outcome: &str, now: f64) -> Result<JsValue, JsValue> {
        let mut state = read_state(state)?;
        let outcome = match outcome {
            "shown" => Outcome::Shown,
            "dismissed" => Outcome::Dismissed,
            "opted_out" => Outcome::OptedOut,
            "shared" => Outcome::Shared,
            "referred" => Outcome::Referred,
            other => {
                return Err(error(
                    "invalid_input",
                    &format!("unknown outcome \"{other}\""),
                ))
            }
        };
        nudge::record(&mut state, outcome, seconds(now)?);
        Ok(convert::state_to_js(&state))
    }
}

fn read_state(state: JsValue) -> Result<NudgeState, JsValue> {
    convert::nudge_state(state).map_err(|e| error(e.reason(), &e.to_string()))
}

/// JS numbers are f64: accept whole, non-negative seconds only.
fn seconds(now: f64) -> Result<u64, JsValue> {
    if now.is_finite() && now >= 0.0 && now.fract() == 0.0 && now < 9.0e15 {
        Ok(now as u64)
    } else {
        Err(error("invalid_input", "now must be whole Unix seconds"))
    }
}

/// A QR code for `text` as `{size, path}`: an SVG path (one `h1v1h-1z`
/// square per dark module) in a `size`×`size` box including a 4-module quiet
/// zone. The JS builds the `<svg>` with `createElementNS`: no markup string
/// ever reaches the DOM.
#[wasm_bindgen(js_name = qrPath)]
pub fn qr_path(text: &str) -> Result<JsValue, JsValue> {
    use qrcodegen::{QrCode, QrCodeEcc};
    use std::fmt::Write;
    let qr = QrCode::encode_text(text, QrCodeEcc::Medium)
        .map_err(|_| error("invalid_input", "text too long for a QR code"))?;
    let quiet = 4;
    let size = qr.size() + 2 * quiet;
    let mut path = String::new();
    for y in 0..qr.size() {
        for x in 0..qr.size() {
            if qr.get_module(x, y) {
                // Writing to a String cannot fail.
                let _ = write!(path, "M{} {}h1v1h-1z", x + quiet, y + quiet);
            }
        }
    }
    Ok(Out::new().set("size", size).set("path", path).done())
}

// Single-threaded: the module runs on the page's main thread only.
#[cfg(target_arch = "wasm32")]
#[global_allocator]
static ALLOCATOR: lol_alloc::AssumeSingleThreaded<lol_alloc::FreeListAllocator> =
    // SAFETY: wasm32-unknown-unknown without the atomics feature has one
    // thread; nothing in this crate spawns workers sharing this memory.
    unsafe { lol_alloc::AssumeSingleThreaded::new(lol_alloc::FreeListAllocator::new()) };
