// Loads the capture-only WebAssembly module (peek and URL clean-up, a
// fraction of the widget's module) once, from next to this file.
import init, { capture } from "./referral_capture.js";

let loading = null;

export function loadCaptureCore(wasmUrl) {
  if (!loading) {
    loading = init(wasmUrl ? { module_or_path: wasmUrl } : undefined).then(() => ({
      capture(url, param) {
        const found = capture(url, param);
        return found === undefined ? null : JSON.parse(found);
      },
    }));
  }
  return loading;
}
