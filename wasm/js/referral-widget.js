// @ts-check
// <referral-widget>: a launcher and an accessible share panel in a Shadow
// DOM, plus success-moment nudges. Every rule (peeking the code, links,
// share targets, QR, when to ask) is the WebAssembly core's; this file only
// draws and wires the DOM. User-supplied text is only ever set as text.
import { loadCheck } from "./check.js";
import { CSS } from "./styles.js";
import { EventQueue } from "./events.js";
import { RTL, strings } from "./strings.js";

const STORAGE_PREFIX = "referral-widget:v1:";
let sheet = null;

function stylesheet() {
  if (!sheet) {
    sheet = new CSSStyleSheet();
    sheet.replaceSync(CSS);
  }
  return sheet;
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === false || v == null) continue;
    if (k === "text") node.textContent = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  node.append(...children);
  return node;
}

// localStorage that degrades to memory (private mode, quota, disabled).
// Once a write failed (quota, private mode), the memory copy is the newer
// one and wins, so the state still advances for the rest of the page view.
const memory = new Map();
const storage = {
  get(key) {
    if (memory.has(key)) return memory.get(key);
    try {
      return localStorage.getItem(key);
    } catch {
      return null;
    }
  },
  set(key, value) {
    try {
      localStorage.setItem(key, value);
      memory.delete(key);
    } catch {
      memory.set(key, value);
    }
  },
};

// The nudge engine's module, fetched only when there is a nudge config (or
// to name why a code was refused): not in the first load.
const loadCore = (wasmUrl) => import("./core.js").then((m) => m.loadCore(wasmUrl));

const unavailable = (error) => Object.assign(new Error(`the widget's module did not load: ${error?.message || error}`), { code: "module_unavailable" });

function warn(message, detail) {
  try {
    console.warn(`referral-widget: ${message}`, detail ?? "");
  } catch {
    // A host that replaced console: say nothing.
  }
}

// Options compare equal when their values do; functions (a framework's
// fresh arrow function each render) compare equal to any function.
function sameValue(a, b) {
  if (typeof a === "function" && typeof b === "function") return true;
  if (a === b) return true;
  if (a && b && typeof a === "object" && typeof b === "object") {
    try {
      return JSON.stringify(a) === JSON.stringify(b);
    } catch {
      return false;
    }
  }
  return false;
}

function sameOptions(a, b) {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const k of keys) if (!sameValue(a[k], b[k])) return false;
  return true;
}

/** Tries `fn` up to `tries` times with a timeout each and growing pauses. */
async function withRetries(fn, { tries = 4, timeoutMs = 8000, pauseMs = 500 } = {}) {
  let last;
  for (let i = 0; i < tries; i++) {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), timeoutMs);
    try {
      return await fn(abort.signal);
    } catch (error) {
      last = error;
      if (error && error.permanent) break;
    } finally {
      clearTimeout(timer);
    }
    await new Promise((r) => setTimeout(r, pauseMs * 2 ** i));
  }
  throw last;
}

const ATTRIBUTES = {
  code: "code", "code-url": "codeUrl", "share-base-url": "shareBaseUrl", "referrer-name": "referrerName",
  product: "product", reward: "reward", locale: "locale", "events-url": "eventsUrl", "stats-url": "statsUrl",
  "user-id": "userId", "nudge-config-url": "nudgeConfigUrl", "link-param": "linkParam", "state-url": "stateUrl",
};

let idCounter = 0;

export class ReferralWidget extends HTMLElement {
  static get observedAttributes() {
    return Object.keys(ATTRIBUTES);
  }

  constructor() {
    super();
    this.root = this.attachShadow({ mode: "open" });
    this.root.adoptedStyleSheets = [stylesheet()];
    this.opts = {};
    this.uid = `rw${++idCounter}`;
  }

  /** Options set from JS (frameworks): merged over attributes. */
  set options(value) {
    // Replaced, not merged: an option the host stops passing is gone.
    const next = { ...(value || {}) };
    const same = sameOptions(this.opts, next);
    // The newest functions are kept (they close over the host's newest
    // state), but equal values change nothing on screen and send nothing.
    this.opts = next;
    if (!same && this.isConnected) this.scheduleSetup();
  }
  /** @returns {import("./widget.js").WidgetOptions & { linkParam: string }} */
  get options() {
    const fromAttrs = {};
    for (const [attr, key] of Object.entries(ATTRIBUTES)) {
      if (this.hasAttribute(attr)) fromAttrs[key] = this.getAttribute(attr);
    }
    return { linkParam: "ref", ...fromAttrs, ...this.opts };
  }

  connectedCallback() {
    this.scheduleSetup();
  }
  attributeChangedCallback(_name, old, value) {
    if (old !== value && this.isConnected) this.scheduleSetup();
  }
  // Removed from the page: its listeners and timers go with it, and a
  // setup still running stops.
  disconnectedCallback() {
    this.run = (this.run || 0) + 1;
    this.hideNudge();
    clearTimeout(this.pushTimer);
    this.nudgesReady = false;
  }

  // An upgrade fires attributeChangedCallback once per attribute and then
  // connectedCallback, synchronously: one setup (and one code fetch) for all.
  scheduleSetup() {
    if (this.setupQueued) return;
    this.setupQueued = true;
    queueMicrotask(() => {
      this.setupQueued = false;
      if (this.isConnected) this.setup();
    });
  }

  async setup() {
    const run = (this.run = (this.run || 0) + 1);
    const o = this.options;
    this.fetchedCodes = null;
    this.nudgesReady = false;
    // The code, the nudge config and the modules load in parallel; the
    // launcher waits only for the code and core's small code check, not for
    // the nudge config or the nudge engine's module, which is fetched only
    // when there is a nudge config.
    const codeLoad = !o.code && o.codeUrl ? this.loadCode(o.codeUrl, run) : null;
    const configLoad = !o.nudgeConfig && o.nudgeConfigUrl ? this.fetchConfig(o.nudgeConfigUrl).catch((failed) => ({ failed })) : null;
    const engineLoad = o.nudgeConfig || configLoad ? loadCore(o.wasmUrl).catch((failed) => ({ failed })) : null;
    let check;
    try {
      check = await loadCheck(o.checkWasmUrl || (o.wasmUrl ? new URL("referral_capture_bg.wasm", new URL(o.wasmUrl, location.href)).href : undefined));
    } catch (error) {
      this.fail(unavailable(error));
      return;
    }
    if (run !== this.run) return;
    this.t = strings(o.locale, o.strings);
    this.dir = RTL.has((o.locale || "en").split("-")[0]) ? "rtl" : "ltr";
    this.events = new EventQueue(o.eventsUrl, { auth: () => this.authHeaders(), user: o.userId || "" });
    const code = o.code || (codeLoad && (await codeLoad));
    if (run !== this.run) return;
    const valid = !!code && check(code);
    // A refused code: the engine's peek names core's reason (`malformed`,
    // `unsupported_version`); a rare path, worth its fetch.
    if (code && !valid) await this.explain(code);
    if (run !== this.run) return;
    this.code = valid ? code : null;
    const wasOpen = this.panel?.open;
    const shownAsk = this.nudge && !this.nudge.hidden ? this.lastAsk : null;
    this.render();
    // A re-render (a real options change) keeps what the person was doing.
    if (wasOpen) this.open({ quiet: true });
    if (shownAsk) this.showNudge(shownAsk, { again: true });
    if (this.code && !this.impressed) {
      this.impressed = true; // one impression per page view
      this.events.push("impression", { surface: "launcher" });
    }
    this.dispatchEvent(new CustomEvent("referral-ready"));
    if (engineLoad) {
      await this.setupNudges(engineLoad, o.nudgeConfig || configLoad, run);
      if (run !== this.run) return;
      // The person's state from the backend first (a few seconds at most),
      // so an opt-out on another device holds before anything is asked.
      if (this.engine && o.stateUrl) {
        await Promise.race([this.pullState(), new Promise((r) => setTimeout(r, 3000))]);
        if (run !== this.run) return;
      }
    }
    // Only now may events be evaluated here: after the person's state.
    this.nudgesReady = true;
    flushTracks();
  }

  // The person's nudge state on the host's backend (the reference
  // service's /api/v1/me/nudge-state): pulled and merged by core's rule
  // before the first evaluation, pushed after each change with If-Match.
  // A 412 answers the stored state, which is merged and sent again.
  // Offline or failing, the local state goes on and is merged next time.
  async pullState() {
    try {
      const target = new URL(this.options.stateUrl, location.href);
      if (target.origin !== location.origin) return;
      const res = await fetch(target, { credentials: "same-origin", headers: { accept: "application/json", ...(await this.authHeaders()) } });
      if (!res.ok) return;
      const remote = await res.json();
      this.remoteVersion = remote.version || 0;
      const local = storage.get(this.stateKey());
      if (remote.state) {
        const text = JSON.stringify(remote.state);
        const merged = this.mergeInto(local, text);
        storage.set(this.stateKey(), merged);
        if (merged !== this.mergeInto(null, text)) this.pushState();
      } else if (local) {
        this.pushState();
      }
    } catch {
      this.whenOnline(() => this.pullState());
    }
  }

  // Core's merge of this browser's copy with the backend's. A local copy
  // that cannot be read (corrupt, or from a newer widget) gives way to the
  // backend's, so a fresh local state can never overwrite an opt-out.
  mergeInto(local, remoteText) {
    try {
      return this.engine.merge(local || remoteText, remoteText);
    } catch {
      return this.engine.merge(remoteText, remoteText);
    }
  }

  whenOnline(fn) {
    if (this.onlineRetry) return;
    this.onlineRetry = () => {
      this.onlineRetry = null;
      fn();
    };
    addEventListener("online", this.onlineRetry, { once: true });
  }

  pushState() {
    if (!this.options.stateUrl || !this.engine) return;
    clearTimeout(this.pushTimer);
    this.pushTimer = setTimeout(() => this.sendState(0), 300);
  }

  async sendState(attempt) {
    const local = storage.get(this.stateKey());
    if (!local || attempt > 3) return;
    try {
      const target = new URL(this.options.stateUrl, location.href);
      if (target.origin !== location.origin) return;
      const res = await fetch(target, {
        method: "PUT",
        credentials: "same-origin",
        keepalive: true,
        headers: { "content-type": "application/json", "if-match": `"${this.remoteVersion || 0}"`, ...(await this.authHeaders()) },
        body: `{"state":${local}}`,
      });
      const body = await res.json().catch(() => null);
      if (res.status === 412 && body) {
        // Another device wrote first: take its state in, then try again.
        this.remoteVersion = body.version || 0;
        if (body.state) storage.set(this.stateKey(), this.mergeInto(storage.get(this.stateKey()) || local, JSON.stringify(body.state)));
        return this.sendState(attempt + 1);
      }
      if (res.ok && body) {
        this.remoteVersion = body.version;
        return;
      }
    } catch {
      this.whenOnline(() => this.pushState());
    }
  }

  fail(error) {
    const detail = { code: error?.code || "error", message: error?.message || String(error) };
    warn(detail.message, detail.code);
    this.dispatchEvent(new CustomEvent("referral-error", { detail }));
  }

  // The code, with timeouts and retries; after the last failure a
  // referral-error, and another try when the browser is back online.
  async loadCode(url, run) {
    try {
      const { code, codes } = await withRetries((signal) => this.fetchCode(url, signal));
      if (run === this.run) this.fetchedCodes = codes;
      return code;
    } catch (error) {
      this.fail(Object.assign(new Error(`referral code: ${error?.message || error}`), { code: "code_unavailable" }));
      const again = () => run === this.run && this.isConnected && this.scheduleSetup();
      addEventListener("online", again, { once: true });
      setTimeout(again, 60000);
      return null;
    }
  }

  // The user token the host's backend minted for its signed-in user, sent
  // to the referral service's browser API. A function is asked before each
  // request, so it can hand out a refreshed token.
  async authHeaders() {
    const t = this.options.userToken;
    const token = typeof t === "function" ? await t() : t;
    return token ? { authorization: `Bearer ${token}` } : {};
  }

  async fetchCode(url, signal) {
    // Same origin only: the host's backend mints; no third party is called.
    const target = new URL(url, location.href);
    if (target.origin !== location.origin) {
      throw Object.assign(new Error("codeUrl must be same-origin"), { permanent: true });
    }
    const res = await fetch(target, { signal, credentials: "same-origin", headers: { accept: "application/json", ...(await this.authHeaders()) } });
    if (!res.ok) {
      throw Object.assign(new Error(`HTTP ${res.status}`), { permanent: res.status >= 400 && res.status < 500 && ![408, 429].includes(res.status) });
    }
    const body = await res.json();
    if (typeof body === "string") return { code: body, codes: null };
    // Per-channel codes (one minted per channel) attribute each share to
    // its channel; the reference service returns them as `codes`.
    return { code: body.code, codes: body.codes && typeof body.codes === "object" ? body.codes : null };
  }

  async fetchConfig(url) {
    const target = new URL(url, location.href);
    if (target.origin !== location.origin) throw Object.assign(new Error("nudge config must be same-origin"), { code: "nudge_config_unavailable" });
    return withRetries(async (signal) => {
      const res = await fetch(target, { signal, credentials: "same-origin" });
      if (!res.ok) {
        throw Object.assign(new Error(`nudge config: HTTP ${res.status}`), { code: "nudge_config_unavailable", permanent: res.status >= 400 && res.status < 500 && ![408, 429].includes(res.status) });
      }
      return res.text();
    }, { tries: 3 });
  }

  async setupNudges(engineLoad, configOrLoad, run) {
    try {
      const core = await engineLoad;
      if (core.failed) throw unavailable(core.failed);
      this.core = core;
      const config = await configOrLoad;
      if (config && config.failed) throw config.failed;
      const engine = core.nudgeEngine(config);
      if (run !== this.run) return;
      this.engine = engine;
    } catch (error) {
      this.engine = null;
      this.fail(error);
    }
  }

  vars() {
    const o = this.options;
    return { referrer_name: o.referrerName || "", product: o.product || "", reward: o.reward || "" };
  }

  render() {
    const t = this.t;
    const o = this.options;
    this.hideNudge();
    this.root.replaceChildren();
    if (!this.code) {
      this.lastAsk = null;
      return;
    }
    const values = this.vars();
    const panelId = `${this.uid}-panel`;
    this.launcher = el("button", {
      class: "launcher", part: "launcher", type: "button", "aria-haspopup": "dialog",
      "aria-expanded": "false", "aria-controls": panelId, text: t.launcher, onclick: () => this.open(),
      // The panel's module is fetched on the first sign of intent.
      onpointerenter: () => this.preparePanel(), onfocus: () => this.preparePanel(), onpointerdown: () => this.preparePanel(),
    });
    this.live = el("div", { class: "sr", role: "status", "aria-live": "polite" });
    // A real modal in the top layer: the page behind is inert, the backdrop
    // covers the viewport, and no host stacking context or overlay can hide
    // or clip it. A click on the backdrop (the dialog element itself, whose
    // box the content fills) closes it; so does Escape ("cancel").
    this.panel = el("dialog", {
      class: "panel", id: panelId, part: "panel", hidden: true, dir: this.dir,
      "aria-labelledby": `${this.uid}-title`,
      // Only a press that starts and ends on the backdrop closes it (a drag
      // that selects the link and ends outside does not).
      onpointerdown: (e) => (this.downOnBackdrop = e.target === this.panel),
      onclick: (e) => e.target === this.panel && this.downOnBackdrop && this.close(),
      oncancel: (e) => {
        e.preventDefault();
        this.close();
      },
      onclose: () => this.closed(),
    });
    // The ask: a non-modal popover (top layer too) that never takes focus.
    this.nudge = el("div", { class: "nudge", part: "nudge", role: "region", "aria-label": t.launcher, hidden: true, dir: this.dir, popover: "manual" });
    this.root.append(this.launcher, this.panel, this.nudge, this.live);
    this.values = values;
    if (o.floating) this.setAttribute("floating", "");
  }

  // Why core refuses `code`, reported as a referral-error.
  async explain(code) {
    try {
      (await loadCore(this.options.wasmUrl)).peek(code);
    } catch (error) {
      this.fail(error?.name === "ReferralError" ? error : unavailable(error));
    }
  }

  // The panel's module (links, share actions, QR codes): fetched once,
  // when the panel is about to open (the launcher hovered, focused or
  // pressed, an ask shown, or open() called), so a page's first load
  // carries none of it. Never rejects: a failure is kept for open() to
  // show, and the next call tries again.
  preparePanel() {
    if (!this.panelLoad) {
      const o = this.options;
      const url = o.panelWasmUrl || (o.wasmUrl ? new URL("referral_panel_bg.wasm", new URL(o.wasmUrl, location.href)).href : undefined);
      this.panelLoad = import("./panel.js").then((m) => m.loadPanel(url)).then(
        (core) => (this.panelCore = core),
        (error) => {
          this.panelLoad = null;
          this.panelError = Object.assign(new Error(`the panel's module did not load: ${error?.message || error}`), { code: "module_unavailable" });
          return null;
        },
      );
    }
    return this.panelLoad;
  }

  // Opens the panel: at once when its module is loaded, else once it is.
  // The promise settles when the panel is shown.
  open(options = {}) {
    if (!this.code || this.panel.open) return Promise.resolve();
    if (this.panelCore) {
      this.show(options);
      return Promise.resolve();
    }
    return this.preparePanel().then(() => {
      if (this.isConnected && this.code && this.panel && !this.panel.open) this.show(options);
    });
  }

  show({ quiet = false } = {}) {
    try {
      if (!this.panelCore) throw this.panelError;
      this.panelCore.buildDialog(this, el);
    } catch (error) {
      // A bad share template (or any other refusal) shows an error state.
      this.fail(error);
      const titleId = `${this.uid}-title`;
      this.dialog = el("div", { class: "dialog", part: "dialog", dir: this.dir },
        el("button", { class: "close", type: "button", part: "close", "aria-label": this.t.close, text: "×", onclick: () => this.close() }),
        el("h2", { id: titleId, text: this.t.launcher }),
        el("p", { part: "error", text: this.t.unavailable || "Sharing is not available right now." }),
      );
      this.panel.setAttribute("role", "dialog");
      this.panel.replaceChildren(this.dialog);
    }
    this.panel.hidden = false;
    this.hideNudge();
    this.panel.showModal();
    this.launcher.setAttribute("aria-expanded", "true");
    if (!quiet) this.events.push("open", {});
    const input = this.dialog.querySelector("input") || this.dialog.querySelector("button");
    input.focus();
    input.select?.();
  }

  close() {
    if (!this.panel?.open) return;
    this.panel.close();
    this.closed();
  }

  // After the dialog closed, by any path (close button, Escape, backdrop).
  closed() {
    if (this.panel.hidden) return;
    this.panel.hidden = true;
    this.launcher.setAttribute("aria-expanded", "false");
    this.launcher.focus();
    if (this.deferredAsk) {
      const ask = this.deferredAsk;
      this.deferredAsk = null;
      this.showNudge(ask);
    }
  }

  announce(text) {
    this.live.textContent = "";
    // A fresh text node each time, so screen readers announce repeats.
    requestAnimationFrame(() => (this.live.textContent = text));
  }

  stateKey() {
    return `${STORAGE_PREFIX}nudge:${this.options.userId || "anonymous"}`;
  }

  /** A product event for this widget (see the module's `track`). */
  track(name, properties = {}) {
    return track(name, properties, this);
  }

  // The engine's evaluation of one event; the state is kept as the JSON
  // text the engine returns.
  evaluate(name, properties) {
    const now = Math.floor(Date.now() / 1000);
    const fresh = () => this.engine.newState(this.options.userId || "anonymous");
    // The ask's language: core picks the message for this locale, falling
    // back to its primary language and then to the default.
    const event = JSON.stringify({ name, properties, locale: this.options.locale || undefined });
    let out;
    try {
      out = this.engine.evaluate(storage.get(this.stateKey()) || fresh(), event, now);
    } catch (error) {
      if (error.code !== "invalid_state" && error.code !== "future_state_version") throw error;
      // Corrupt or foreign storage: start over rather than break the host page.
      out = this.engine.evaluate(fresh(), event, now);
    }
    const { decision, state } = JSON.parse(out);
    storage.set(this.stateKey(), JSON.stringify(state));
    this.pushState();
    if (decision.decision === "ask") {
      // Never over the open panel: shown when it closes.
      if (this.panel?.open) this.deferredAsk = decision;
      else this.showNudge(decision);
    }
    return decision;
  }

  record(outcome) {
    const state = storage.get(this.stateKey());
    if (!state || !this.engine) return;
    try {
      storage.set(this.stateKey(), this.engine.record(state, outcome, Math.floor(Date.now() / 1000)));
      this.pushState();
    } catch {
      // An unreadable stored state: the next track() starts a new one.
    }
  }

  showNudge(ask, { again = false } = {}) {
    const t = this.t;
    if (!this.nudge?.isConnected) return;
    this.detachAsk();
    this.lastAsk = ask;
    const dismiss = () => { this.record("dismissed"); this.events.push("nudge_dismissed", { moment: ask.moment }); this.hideNudge(); };
    this.nudge.replaceChildren(
      el("p", { text: ask.message, part: "nudge-message" }),
      el("div", { class: "row" },
        el("button", { class: "primary", type: "button", part: "nudge-invite", text: t.invite, onclick: () => { this.record("shared"); this.events.push("nudge_invite", { moment: ask.moment }); this.open(); } }),
        el("button", { type: "button", part: "nudge-dismiss", text: t.notNow, onclick: dismiss }),
        el("button", { type: "button", part: "nudge-never", text: t.never, onclick: () => { this.record("opted_out"); this.events.push("nudge_opted_out", { moment: ask.moment }); this.hideNudge(); } }),
      ),
    );
    // Its invite button opens the panel: fetch the panel's module now.
    this.preparePanel();
    // Non-modal and polite: shown and announced, focus stays where it was.
    this.nudge.hidden = false;
    if (!this.nudge.matches(":popover-open")) this.nudge.showPopover();
    this.place();
    // Escape anywhere dismisses the ask, as "not now".
    this.onEscape = (e) => {
      if (e.key === "Escape" && !this.panel.open) dismiss();
    };
    this.onMove = () => this.place();
    document.addEventListener("keydown", this.onEscape);
    addEventListener("scroll", this.onMove, { passive: true, capture: true });
    addEventListener("resize", this.onMove, { passive: true });
    if (again) return;
    this.announce(ask.message);
    this.events.push("nudge_shown", { moment: ask.moment, variant: ask.variant });
  }

  // Next to the launcher where the ask fits there (above, else below),
  // wholly inside the viewport; at the bottom corner where it does not.
  place() {
    const n = this.nudge;
    if (!n || n.hidden) return;
    const margin = 8;
    // The viewport (less scrollbars) in standards mode; in quirks mode the
    // root element is the whole document, so the window's size is used.
    const standards = document.compatMode === "CSS1Compat";
    const vw = standards ? document.documentElement.clientWidth : innerWidth;
    const vh = standards ? document.documentElement.clientHeight : innerHeight;
    n.style.maxWidth = `${Math.max(0, Math.min(380, vw - 2 * margin))}px`;
    const w = n.offsetWidth;
    const h = n.offsetHeight;
    const a = this.launcher.getBoundingClientRect();
    const visible = a.bottom > 0 && a.top < vh && a.right > 0 && a.left < vw;
    let top = null;
    if (visible && a.top - h - margin >= margin) top = a.top - h - margin;
    else if (visible && a.bottom + margin + h <= vh - margin) top = a.bottom + margin;
    let left;
    if (top === null) {
      // The fixed corner: bottom, at the end of the line of text.
      top = vh - h - 16;
      left = this.dir === "rtl" ? 16 : vw - w - 16;
    } else {
      left = this.dir === "rtl" ? a.right - w : a.left;
    }
    n.style.top = `${Math.max(margin, Math.min(top, vh - h - margin))}px`;
    n.style.left = `${Math.max(margin, Math.min(left, vw - w - margin))}px`;
  }

  hideNudge() {
    this.detachAsk();
    if (!this.nudge) return;
    // Focus inside the ask goes back to the launcher, not into nowhere.
    const hadFocus = this.nudge.contains(this.root.activeElement);
    if (this.nudge.matches(":popover-open")) this.nudge.hidePopover();
    this.nudge.hidden = true;
    if (hadFocus && this.launcher?.isConnected) this.launcher.focus();
  }

  detachAsk() {
    if (this.onEscape) document.removeEventListener("keydown", this.onEscape);
    if (this.onMove) {
      removeEventListener("scroll", this.onMove, { capture: true });
      removeEventListener("resize", this.onMove);
    }
    this.onEscape = this.onMove = null;
  }
}

export function defineReferralWidget(name = "referral-widget") {
  if (!customElements.get(name)) customElements.define(name, ReferralWidget);
}

/** Framework API: mount into `element` with `options`. */
export function mount(element, options = {}) {
  defineReferralWidget();
  const widget = /** @type {import("./widget.js").ReferralWidget} */ (document.createElement("referral-widget"));
  widget.options = options;
  element.append(widget);
  return widget;
}

// Product events wait here until a widget's nudge engine is ready, in
// every phase of loading; each is evaluated once for the page.
const pending = [];
const MAX_PENDING = 200;

function leadWidget(preferred) {
  const ready = (w) => w?.isConnected && w.engine && w.code && w.nudgesReady;
  if (ready(preferred)) return preferred;
  for (const w of document.querySelectorAll("referral-widget")) {
    if (ready(w)) return w;
  }
  return null;
}

function validEvent(name, properties) {
  if (typeof name !== "string" || name.length === 0 || name.length > 64) return "the event name must be a string of 1 to 64 characters";
  if (properties != null && (typeof properties !== "object" || Array.isArray(properties))) return "properties must be an object";
  for (const [k, v] of Object.entries(properties || {})) {
    if (!["string", "number", "boolean"].includes(typeof v) || (typeof v === "number" && !Number.isFinite(v))) return `property ${k}: only strings, finite numbers and booleans`;
  }
  return null;
}

function flushTracks() {
  while (pending.length && leadWidget(pending[0][2])) {
    const [name, properties, preferred] = pending.shift();
    evaluateOnce(name, properties, preferred);
  }
}

function evaluateOnce(name, properties, preferred) {
  const widget = leadWidget(preferred);
  try {
    return widget.evaluate(name, properties);
  } catch (error) {
    widget.fail(error);
    return null;
  }
}

/**
 * A product event (`report_generated`, …). Evaluated once for the page by
 * the core's nudge engine, which decides whether to ask now; before the
 * widget is ready it is queued, never dropped. Never throws: bad input is
 * a `referral-error` event and a console warning. Returns the decision, or
 * null while queued.
 */
export function track(name, properties = {}, preferred = null) {
  try {
    const problem = validEvent(name, properties);
    if (problem) {
      warn(problem, name);
      (preferred || document).dispatchEvent(new CustomEvent("referral-error", { detail: { code: "invalid_event", message: problem } }));
      return null;
    }
    const props = { ...(properties || {}) };
    if (leadWidget(preferred) && pending.length === 0) return evaluateOnce(name, props, preferred);
    if (pending.length >= MAX_PENDING) pending.shift();
    pending.push([name, props, preferred]);
    flushTracks();
    return null;
  } catch (error) {
    warn(error?.message || String(error));
    return null;
  }
}

defineReferralWidget();

// Replay calls made through the queue stub before this module loaded:
// tracks are queued until a widget is ready, mounts happen now.
const stub = globalThis.referral;
const queued = Array.isArray(stub?.q) ? stub.q : [];
globalThis.referral = { track, mount, ready: Promise.resolve(), q: [] };
for (const [method, args] of queued) {
  try {
    globalThis.referral[method]?.(...args);
  } catch (error) {
    warn(error?.message || String(error));
  }
}
