// Landing-page capture: read `?ref=` once, check its shape with the core's
// peek, keep it first-party (localStorage + a cookie that can span the
// marketing and app domains) for the attribution window, take it out of the
// visible URL, and keep it across SPA navigation and signup/OAuth redirects.
import { loadCaptureCore } from "./capture-core.js";

const KEY = "referral:captured";
const STASH = "referral:stash";
let settings = { param: "ref", windowDays: 90, cookieDomain: null, consent: "granted" };
let pending = null;

function cookieName() {
  return "referral_code";
}

function writeCookie(record) {
  const maxAge = Math.max(0, record.expires_at - Math.floor(Date.now() / 1000));
  let cookie = `${cookieName()}=${encodeURIComponent(JSON.stringify({ c: record.code, t: record.captured_at }))}; Max-Age=${maxAge}; Path=/; SameSite=Lax`;
  if (settings.cookieDomain) cookie += `; Domain=${settings.cookieDomain}`;
  if (location.protocol === "https:") cookie += "; Secure";
  document.cookie = cookie;
}

function readCookie() {
  const match = document.cookie.split("; ").find((c) => c.startsWith(`${cookieName()}=`));
  if (!match) return null;
  try {
    const { c, t } = JSON.parse(decodeURIComponent(match.slice(cookieName().length + 1)));
    return { code: c, captured_at: t, expires_at: t + settings.windowDays * 86400 };
  } catch {
    return null;
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

async function captureFrom(url) {
  const core = await loadCaptureCore(settings.wasmUrl);
  const found = core.capture(url, settings.param);
  if (!found) return null;
  const now = Math.floor(Date.now() / 1000);
  const record = {
    code: found.code,
    captured_at: now,
    expires_at: now + settings.windowDays * 86400,
    referrer: found.claims.referrer,
    channel: found.claims.channel,
  };
  // The parameter leaves the visible URL (and the Referer of later requests).
  history.replaceState(history.state, "", found.clean_url);
  if (settings.consent === "granted") persist(record);
  else pending = record;
  document.dispatchEvent(new CustomEvent("referral-captured", { detail: record }));
  return record;
}

/**
 * Starts capturing. Options: `param` (default "ref"), `windowDays` (90),
 * `cookieDomain` (e.g. ".example.com" to span www. and app.), `consent`
 * ("granted" or "pending": capture nothing until `grantConsent()`).
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
  if (!record) return null;
  try {
    sessionStorage.setItem(STASH, JSON.stringify(record));
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

/** What the signup form sends: `{code, captured_at, …}` or null. */
export function getCapturedReferral() {
  const now = Math.floor(Date.now() / 1000);
  let record = null;
  try {
    record = JSON.parse(localStorage.getItem(KEY) || "null");
  } catch {
    record = null;
  }
  record = record || readCookie() || pending;
  if (!record || record.expires_at <= now) return null;
  return record;
}
