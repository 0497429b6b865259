// @ts-check
// Landing-page capture: read `?ref=` once, check it with the core's code
// check (a ~2 KB module: `wasm/src/capture.rs`), keep it first-party
// (localStorage + a cookie that can span the marketing and app domains) for
// the attribution window, take it out of the visible URL, and keep it across
// SPA navigation and signup/OAuth redirects. No wasm-bindgen glue: the module
// has two plain exports.

import { loadCheck } from "./check.js";

const KEY = "referral:captured";
const STASH = "referral:stash";
const COOKIE = "referral_code=";
const DAY = 86400;
let settings = { param: "ref", windowDays: 90, cookieDomain: null, consent: "granted" };
let pending = null;

const now = () => Math.floor(Date.now() / 1000);

// `(code) => boolean`: core's `code::check` on the code's UTF-8 bytes
// (./check.js, shared with the widget).
function loadChecker() {
  return loadCheck(settings.wasmUrl || undefined);
}

function writeCookie(record) {
  let cookie = `${COOKIE}${encodeURIComponent(JSON.stringify({ c: record.code, t: record.captured_at }))}; Max-Age=${Math.max(0, record.expires_at - now())}; Path=/; SameSite=Lax`;
  if (settings.cookieDomain) cookie += `; Domain=${settings.cookieDomain}`;
  if (location.protocol === "https:") cookie += "; Secure";
  document.cookie = cookie;
}

function readCookie() {
  const match = document.cookie.split("; ").find((c) => c.startsWith(COOKIE));
  try {
    const { c, t } = JSON.parse(decodeURIComponent(match.slice(COOKIE.length)));
    return { code: c, captured_at: t, expires_at: t + settings.windowDays * DAY };
  } catch {
    return null; // no cookie, or not ours
  }
}

function persist(record) {
  try {
    localStorage.setItem(KEY, JSON.stringify(record));
  } catch {
    // Storage off: the cookie still carries it.
  }
  writeCookie(record);
}

// The parameter's name as the page's query spells it, decoded (`+` is a
// space in a query).
function pairName(pair) {
  try {
    return decodeURIComponent(pair.split("=")[0].replace(/\+/g, " "));
  } catch {
    return null;
  }
}

async function captureFrom(href) {
  const url = new URL(href);
  const code = url.searchParams.get(settings.param);
  if (code === null || !(await loadChecker())(code)) return null;
  const t = now();
  const record = { code, captured_at: t, expires_at: t + settings.windowDays * DAY };
  // The parameter leaves the visible URL (and the Referer of later
  // requests); the rest of the query, its order and the fragment stay as
  // they were.
  url.search = url.search.slice(1).split("&").filter((pair) => pair && pairName(pair) !== settings.param).join("&");
  history.replaceState(history.state, "", url.href);
  if (settings.consent === "granted") persist(record);
  else pending = record;
  document.dispatchEvent(new CustomEvent("referral-captured", { detail: record }));
  return record;
}

/**
 * Starts capturing. Options: `param` (default "ref"), `windowDays` (90),
 * `cookieDomain` (e.g. ".example.com" to span www. and app.), `consent`
 * ("granted" or "pending": capture nothing until `grantConsent()`),
 * `wasmUrl` (where `referral_capture_bg.wasm` is, if not next to this file).
 */
export async function startCapture(options = {}) {
  settings = { ...settings, ...options };
  // SPA navigation: a ?ref= that appears through pushState is captured too.
  for (const method of ["pushState", "replaceState"]) {
    const original = history[method];
    if (original.__referral) continue;
    const wrapped = function (...args) {
      const result = original.apply(this, args);
      if (new URL(location.href).searchParams.has(settings.param)) captureFrom(location.href);
      return result;
    };
    wrapped.__referral = true;
    history[method] = wrapped;
  }
  addEventListener("popstate", () => captureFrom(location.href));
  restoreStash();
  return captureFrom(location.href);
}

/** Consent given: store what was captured while waiting. */
export function grantConsent() {
  settings.consent = "granted";
  if (pending) {
    persist(pending);
    pending = null;
  }
}

/** Before an OAuth or signup redirect that may lose storage partitions. */
export function stashForRedirect() {
  const record = getCapturedReferral();
  try {
    if (record) sessionStorage.setItem(STASH, JSON.stringify(record));
  } catch {
    // The cookie still carries it.
  }
  return record;
}

function restoreStash() {
  try {
    const stashed = sessionStorage.getItem(STASH);
    if (stashed && !localStorage.getItem(KEY) && settings.consent === "granted") persist(JSON.parse(stashed));
    sessionStorage.removeItem(STASH);
  } catch {
    // Nothing stashed, or storage off.
  }
}

/** What the signup form sends: `{code, captured_at, expires_at}` or null. */
export function getCapturedReferral() {
  let record = null;
  try {
    record = JSON.parse(localStorage.getItem(KEY));
  } catch {
    // Storage off: the cookie.
  }
  record = record || readCookie() || pending;
  return record && record.expires_at > now() ? record : null;
}
