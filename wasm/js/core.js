// Loads the WebAssembly core once, from next to this file (the host's own
// origin: no third-party request), and wraps its JSON exports.
import init, * as wasm from "./referral_wasm.js";

let loading = null;

export function loadCore(wasmUrl) {
  if (!loading) {
    loading = init(wasmUrl ? { module_or_path: wasmUrl } : undefined).then(() => api);
  }
  return loading;
}

const api = {
  peek(code) {
    return JSON.parse(wasm.peekJson(code));
  },
  referralUrl(options, code, channel) {
    return wasm.referralUrl(JSON.stringify(options), code, channel);
  },
  shareAction(channel, link, message, vars) {
    return JSON.parse(wasm.shareActionJson(channel, link, JSON.stringify(message), JSON.stringify(vars)));
  },
  capture(url, param) {
    const found = wasm.captureJson(url, param);
    return found === undefined ? null : JSON.parse(found);
  },
  qr(text) {
    return JSON.parse(wasm.qrPathJson(text));
  },
  nudgeEngine(config) {
    return new wasm.NudgeEngine(typeof config === "string" ? config : JSON.stringify(config));
  },
};
