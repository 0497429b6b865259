// @ts-check
// The panel's half of the WebAssembly core: referral links, share actions
// and QR codes. A module of its own (`referral_panel_bg.wasm`), fetched
// when the panel is about to open, so a page's first load carries none of
// it (issue 17). Loaded once, from next to this file unless told otherwise.
import init, * as wasm from "./referral_panel.js";

let loading = null;

export function loadPanel(wasmUrl) {
  if (!loading) {
    loading = init(wasmUrl ? { module_or_path: wasmUrl } : undefined).then(() => api);
    // A failed load is not remembered: the next open tries again.
    loading.catch(() => {
      loading = null;
    });
  }
  return loading;
}

const api = {
  /** `options`: `{base_url, param?, utm?: {source?, campaign}}`. */
  referralUrl(options, code, channel) {
    const utm = options.utm || {};
    return wasm.referralUrl(options.base_url, options.param, utm.source, utm.campaign, code, channel);
  },
  /** `message`: `{subject, body}` templates; `vars`: `{referrer_name, product, reward}`. */
  shareAction(channel, link, message, vars = {}) {
    return JSON.parse(wasm.shareAction(channel, link, message.subject, message.body, vars.referrer_name || "", vars.product || "", vars.reward || ""));
  },
  qr(text) {
    return JSON.parse(wasm.qrPath(text));
  },
};
