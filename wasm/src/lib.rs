//! The browser's view of the core, through wasm-bindgen. Thin: convert,
//! call core, map errors to real JS `Error`s with a stable `name` and
//! `code`. Structured values cross as JSON text (parsed once by the JS
//! glue), which keeps serde-wasm-bindgen out of the module.
//!
//! Built without core's `signing` feature: the widget only ever peeks at a
//! code its host's backend minted.

use referral_core::nudge::{self, Event, NudgeConfig, NudgeState, Outcome};
use referral_core::{
    peek as core_peek, referral_url, share_action, url, Channel, LinkOptions, MessageVars,
    ShareMessage,
};
use wasm_bindgen::prelude::*;

/// A JS `Error` with `name = "ReferralError"` and a machine-readable `code`.
fn error(code: &str, message: &str) -> JsValue {
    let error = js_sys::Error::new(message);
    error.set_name("ReferralError");
    // Setting a property on a fresh Error object cannot fail.
    let _ = js_sys::Reflect::set(&error, &JsValue::from_str("code"), &JsValue::from_str(code));
    error.into()
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String, JsValue> {
    serde_json::to_string(value).map_err(|e| error("internal", &e.to_string()))
}

fn from_json<T: serde::de::DeserializeOwned>(what: &str, text: &str) -> Result<T, JsValue> {
    serde_json::from_str(text).map_err(|e| error("invalid_input", &format!("{what}: {e}")))
}

fn channel(name: &str) -> Result<Channel, JsValue> {
    Channel::parse(name).ok_or_else(|| error("invalid_input", &format!("unknown channel {name:?}")))
}

/// The unverified claims of a code, as JSON. Throws `ReferralError` with
/// `code` = `malformed` or `unsupported_version`.
#[wasm_bindgen(js_name = peekJson)]
pub fn peek_json(code: &str) -> Result<String, JsValue> {
    let claims = core_peek(code).map_err(|e| error(e.reason(), &e.to_string()))?;
    to_json(claims.unverified())
}

/// The referral URL for `code` on `channel` (`optionsJson`: `{base_url, param?, utm?}`).
#[wasm_bindgen(js_name = referralUrl)]
pub fn referral_url_js(
    options_json: &str,
    code: &str,
    channel_name: &str,
) -> Result<String, JsValue> {
    let options: LinkOptions = from_json("link options", options_json)?;
    referral_url(&options, code, channel(channel_name)?)
        .map_err(|e| error(e.reason(), &e.to_string()))
}

/// What the share button for `channel` does, as JSON
/// (`{kind: "copy"|"open"|"native_share", …}`).
#[wasm_bindgen(js_name = shareActionJson)]
pub fn share_action_json(
    channel_name: &str,
    link: &str,
    message_json: &str,
    vars_json: &str,
) -> Result<String, JsValue> {
    // A template with an unknown placeholder fails here, when it is read.
    let message: ShareMessage = from_json("message", message_json)?;
    let vars: MessageVars = from_json("vars", vars_json)?;
    to_json(&share_action(channel(channel_name)?, link, &message, &vars))
}

/// A referral code found in `page_url`'s `param`, if it has the shape of
/// one: `{code, claims, clean_url}` as JSON, or `undefined`. `clean_url` is
/// the URL without the parameter, for `history.replaceState`.
#[wasm_bindgen(js_name = captureJson)]
pub fn capture_json(page_url: &str, param: &str) -> Option<String> {
    let code = url::query_param(page_url, param)?;
    let claims = core_peek(&code).ok()?;
    let clean_url = url::remove_query_params(page_url, &[param]);
    #[derive(serde::Serialize)]
    struct Captured<'a> {
        code: &'a str,
        claims: &'a referral_core::Claims,
        clean_url: &'a str,
    }
    serde_json::to_string(&Captured {
        code: &code,
        claims: claims.unverified(),
        clean_url: &clean_url,
    })
    .ok()
}

/// The nudge engine for one page: the config is parsed and validated once.
#[wasm_bindgen]
pub struct NudgeEngine {
    config: NudgeConfig,
}

#[wasm_bindgen]
impl NudgeEngine {
    /// Throws `ReferralError` (`code` = `invalid_nudge_config`) naming the
    /// field at fault.
    #[wasm_bindgen(constructor)]
    pub fn new(config_json: &str) -> Result<NudgeEngine, JsValue> {
        let config =
            NudgeConfig::from_json(config_json).map_err(|e| error(e.reason(), &e.to_string()))?;
        Ok(NudgeEngine { config })
    }

    /// A fresh state for `user_id`, as JSON.
    #[wasm_bindgen(js_name = newState)]
    pub fn new_state(&self, user_id: &str) -> Result<String, JsValue> {
        Ok(NudgeState::new(user_id).to_json())
    }

    /// Evaluates `event` (`{name, properties}`) against the stored state:
    /// `{decision, state}` as JSON. A state that cannot be read (corrupt
    /// storage) throws `invalid_state`; the caller starts a new one.
    pub fn evaluate(
        &self,
        state_json: &str,
        event_json: &str,
        now: f64,
    ) -> Result<String, JsValue> {
        let mut state =
            NudgeState::from_json(state_json).map_err(|e| error(e.reason(), &e.to_string()))?;
        let event: Event = from_json("event", event_json)?;
        let decision = nudge::evaluate(&self.config, &mut state, &event, seconds(now)?);
        #[derive(serde::Serialize)]
        struct Evaluated<'a> {
            decision: &'a nudge::Decision,
            state: &'a NudgeState,
        }
        to_json(&Evaluated {
            decision: &decision,
            state: &state,
        })
    }

    /// Records `shown`, `dismissed`, `opted_out`, `shared` or `referred`;
    /// returns the new state as JSON.
    pub fn record(&self, state_json: &str, outcome: &str, now: f64) -> Result<String, JsValue> {
        let mut state =
            NudgeState::from_json(state_json).map_err(|e| error(e.reason(), &e.to_string()))?;
        let outcome: Outcome = from_json(
            "outcome",
            &format!("\"{}\"", outcome.replace(['"', '\\'], "")),
        )?;
        nudge::record(&mut state, outcome, seconds(now)?);
        Ok(state.to_json())
    }
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
#[wasm_bindgen(js_name = qrPathJson)]
pub fn qr_path_json(text: &str) -> Result<String, JsValue> {
    use qrcodegen::{QrCode, QrCodeEcc};
    let qr = QrCode::encode_text(text, QrCodeEcc::Medium)
        .map_err(|_| error("invalid_input", "text too long for a QR code"))?;
    let quiet = 4;
    let size = qr.size() + 2 * quiet;
    let mut path = String::new();
    for y in 0..qr.size() {
        for x in 0..qr.size() {
            if qr.get_module(x, y) {
                path.push_str(&format!("M{} {}h1v1h-1z", x + quiet, y + quiet));
            }
        }
    }
    #[derive(serde::Serialize)]
    struct Qr {
        size: i32,
        path: String,
    }
    to_json(&Qr { size, path })
}
