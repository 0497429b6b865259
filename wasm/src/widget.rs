//! What a page loads first (feature `engine`): `peek` and the nudge
//! engine. The panel's links, share actions and QR codes are in `panel`,
//! a second module fetched when the panel is about to open.

use referral_core::nudge::{self, NudgeConfig, NudgeState, Outcome, StateError};
use wasm_bindgen::prelude::*;

use crate::{convert, error, set};
use referral_core::peek as core_peek;

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
