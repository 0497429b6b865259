//! The panel's exports (feature `panel`): referral links, share actions
//! and QR codes. `cargo xtask wasm` builds them as a module of their own,
//! which the widget fetches when the panel is about to open (the launcher
//! hovered, focused or pressed, or an ask shown), so a page's first load
//! carries none of them (issue 17).

use referral_core::{
    referral_url, share_action, Channel, LinkOptions, MessageVars, ShareMessage, Template, Utm,
};
use wasm_bindgen::prelude::*;

use crate::{convert, error, json};

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
