// @ts-check
// The panel's half of the WebAssembly core: referral links, share actions
// and QR codes. A module of its own (`referral_panel_bg.wasm`), fetched
// when the panel is about to open, so a page's first load carries none of
// it (issue 17). Loaded once, from next to this file unless told otherwise.
// The dialog's DOM, its strings (panel-strings.js) and copy/stats/focus
// handling come with it: the first load has only the launcher and the ask.
import init, * as wasm from "./referral_panel.js";
import { fill, panelStrings } from "./panel-strings.js";

const CHANNELS = ["email", "linkedin", "x", "whatsapp", "sms"];

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
  /**
   * Draws the panel's dialog into `w.panel` (a `<referral-widget>`); `el` is
   * the widget's own element helper, passed in so that the two chunks share
   * no module. Throws what the core refuses (a bad share template, …).
   */
  buildDialog,
};

// The panel's strings, the share buttons, the QR code and the stats; the
// widget keeps opening, closing and the error state.
function buildDialog(w, el) {
  const t = { ...w.t, ...panelStrings(w.options.locale, w.options.strings) };
  const o = w.options;
  const values = w.values;
  const titleId = `${w.uid}-title`;
  const link = linkFor(w, "link");
  // A URL reads left to right in every language.
  const input = el("input", { readonly: true, value: link, "aria-label": t.linkLabel, part: "link", dir: "ltr" });
  input.value = link;
  const copy = el("button", { class: "primary", type: "button", part: "copy", text: t.copy, onclick: () => copyLink(w, input, t) });
  const message = { subject: t.subject, body: t.body };
  if (o.message) Object.assign(message, o.message);
  const shares = el("div", { class: "shares", role: "group", "aria-label": t.shareOn });
  for (const channel of CHANNELS) {
    const action = api.shareAction(channel, linkFor(w, channel), message, values);
    if (action.kind !== "open") continue;
    shares.append(el("a", {
      href: action.url, target: "_blank", rel: "noopener noreferrer", part: `share share-${channel}`,
      "data-channel": channel, text: t[channel], onclick: () => w.events.push("share", { channel }),
    }));
  }
  if (navigator.share) {
    const action = api.shareAction("native_share", linkFor(w, "native_share"), message, values);
    shares.append(el("button", {
      type: "button", part: "share share-native", "data-channel": "native_share", text: t.native_share,
      onclick: () => {
        w.events.push("share", { channel: "native_share" });
        navigator.share({ title: action.title, text: action.text, url: action.url }).catch(() => {});
      },
    }));
  }
  const qr = api.qr(linkFor(w, "qr"));
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", `0 0 ${qr.size} ${qr.size}`);
  svg.setAttribute("class", "qr");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", t.qr);
  svg.setAttribute("part", "qr");
  const path = document.createElementNS("http://www.w3.org/2000/svg", "path");
  path.setAttribute("d", qr.path);
  path.setAttribute("fill", "#000");
  svg.append(path);
  const stats = el("div", { class: "stats", part: "stats", hidden: true });
  if (o.statsUrl) loadStats(w, el, stats, t);
  const dialog = el("div", { class: "dialog", part: "dialog", dir: w.dir, lang: o.locale || "en" },
    el("button", { class: "close", type: "button", part: "close", "aria-label": t.close, text: "×", onclick: () => w.close() }),
    el("h2", { id: titleId, text: fill(t.title, values) }),
    el("p", { text: fill(t.intro, values).trim() }),
    el("div", { class: "row" }, input, copy),
    el("p", { text: t.shareOn }),
    shares,
    svg,
    stats,
  );
  dialog.addEventListener("keydown", (e) => trap(w, e));
  w.panel.setAttribute("role", "dialog");
  w.panel.setAttribute("aria-modal", "true");
  w.panel.replaceChildren(dialog);
  w.dialog = dialog;
}

function linkFor(w, channel) {
  const o = w.options;
  const utm = o.utmCampaign ? { source: "referral", campaign: o.utmCampaign } : null;
  const code = (o.codes && o.codes[channel]) || (w.fetchedCodes && w.fetchedCodes[channel]) || w.code;
  return api.referralUrl({ base_url: o.shareBaseUrl || location.origin + "/", param: o.linkParam, utm }, code, channel);
}

async function loadStats(w, el, box, t) {
  try {
    const target = new URL(w.options.statsUrl, location.href);
    if (target.origin !== location.origin) return;
    const res = await fetch(target, { credentials: "same-origin", headers: await w.authHeaders() });
    if (!res.ok) return;
    const s = await res.json();
    box.replaceChildren(el("p", { text: t.progress }));
    for (const key of ["invites", "signups", "rewards"]) {
      box.append(el("div", {}, el("strong", { text: String(Number(s[key]) || 0) }), el("span", { text: t[key] })));
    }
    box.hidden = false;
  } catch {
    // Stats are a nicety: the panel works without them.
  }
}

function trap(w, e) {
  if (e.key !== "Tab") return;
  const items = [...w.dialog.querySelectorAll("button, a[href], input")].filter((n) => !n.hidden);
  const first = items[0];
  const last = items[items.length - 1];
  const active = w.root.activeElement;
  if (e.shiftKey && active === first) {
    e.preventDefault();
    last.focus();
  } else if (!e.shiftKey && active === last) {
    e.preventDefault();
    first.focus();
  }
}

async function copyLink(w, input, t) {
  const text = input.value;
  let ok = false;
  try {
    await navigator.clipboard.writeText(text);
    ok = true;
  } catch {
    input.focus();
    input.select();
    try {
      ok = document.execCommand("copy");
    } catch {
      ok = false;
    }
  }
  w.announce(ok ? t.copied : t.copyFailed);
  if (ok) w.events.push("copy", { channel: "link" });
}
