// @ts-check
// Loads the WebAssembly core once, from next to this file (the host's own
// origin: no third-party request). Structured values cross as JSON text,
// plain ones as strings; this wraps them in the object API the widget uses.
import init, * as wasm from "./referral_wasm.js";

let loading = null;

export function loadCore(wasmUrl) {
  if (!loading) {
    loading = init(wasmUrl ? { module_or_path: wasmUrl } : undefined).then(() => api);
    // A failed load is not remembered: the next setup tries again.
    loading.catch(() => {
      loading = null;
    });
  }
  return loading;
}

const api = {
  peek(code) {
    return JSON.parse(wasm.peek(code));
  },
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
  /** The engine works on JSON text: the state is stored as it comes back. */
  nudgeEngine(config) {
    return new wasm.NudgeEngine(typeof config === "string" ? config : JSON.stringify(config));
  },
};
