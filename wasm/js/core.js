// Loads the WebAssembly core once, from next to this file (the host's own
// origin: no third-party request). Values cross as plain JS objects.
import init, * as wasm from "./referral_wasm.js";

let loading = null;

export function loadCore(wasmUrl) {
  if (!loading) {
    loading = init(wasmUrl ? { module_or_path: wasmUrl } : undefined).then(() => api);
  }
  return loading;
}

const api = {
  peek: wasm.peek,
  referralUrl: wasm.referralUrl,
  shareAction: wasm.shareAction,
  capture(url, param) {
    return wasm.capture(url, param) ?? null;
  },
  qr: wasm.qrPath,
  nudgeEngine(config) {
    return new wasm.NudgeEngine(typeof config === "string" ? JSON.parse(config) : config);
  },
};
