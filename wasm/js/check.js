// @ts-check
// Core's code check (`code::check`: peek's decision, the code's shape only;
// the signature is the backend's to verify) in the landing capture's small
// module (`referral_capture_bg.wasm`, `wasm/src/capture.rs`: two plain
// exports, no wasm-bindgen glue). The capture checks `?ref=` with it, and
// the widget its code before it draws the launcher, so neither waits for the
// nudge engine's larger module.

let loading = null;

/**
 * `(code) => boolean`, loaded once (by default from next to this file; the
 * first caller's URL wins: the module is the same). A failed load is not
 * remembered: the next call tries again.
 * @param {string | URL} [url]
 * @returns {Promise<(code: string) => boolean>}
 */
export function loadCheck(url = new URL("referral_capture_bg.wasm", import.meta.url)) {
  if (!loading) {
    // A bundler may inline this small file as a base64 data: URL (Vite does
    // under 4 KB), which a strict CSP's connect-src would refuse to fetch.
    const inline = String(url).match(/^data:[^,]*;base64,(.*)$/);
    loading = (inline ? Promise.resolve(Uint8Array.from(atob(inline[1]), (c) => c.charCodeAt(0))) : fetch(url).then((response) => response.arrayBuffer()))
      .then((bytes) => WebAssembly.instantiate(bytes))
      .then(({ instance }) => (code) => {
        /** @type {{ memory: WebAssembly.Memory, input(): number, input_len(): number, check(len: number): number }} */
        const wasm = /** @type {any} */ (instance.exports);
        const buffer = new Uint8Array(wasm.memory.buffer, wasm.input(), wasm.input_len());
        const { read, written } = new TextEncoder().encodeInto(code, buffer);
        return read === code.length && wasm.check(written) === 1;
      });
    loading.catch(() => (loading = null));
  }
  return loading;
}
