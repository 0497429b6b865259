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

// What a page loads first: peek and the nudge engine. The panel's links,
// share actions and QR codes are in ./panel.js, imported on demand.
const api = {
  peek(code) {
    return JSON.parse(wasm.peek(code));
  },
  /** The engine works on JSON text: the state is stored as it comes back. */
  nudgeEngine(config) {
    return new wasm.NudgeEngine(typeof config === "string" ? config : JSON.stringify(config));
  },
};
