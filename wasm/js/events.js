// @ts-check
// Widget events, batched to the host's own events URL: ids for idempotency,
// kept in first-party storage until the server confirms them (so they
// survive page loads, offline spells and failing servers), retried with
// back-off on network errors, 5xx, 408 and 429 (honouring Retry-After),
// given up only on other 4xx. On page hide they are handed to a keepalive
// request but stay queued until a later delivery confirms them; the ids
// make a redelivery harmless. Never blocks the UI.
const MAX_QUEUE = 500;
const PREFIX = "referral-widget:v1:events:";

function uuid() {
  if (globalThis.crypto?.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

function load(key) {
  try {
    const stored = JSON.parse(localStorage.getItem(key) || "[]");
    return Array.isArray(stored) ? stored.filter((e) => e && typeof e.id === "string").slice(-MAX_QUEUE) : [];
  } catch {
    return [];
  }
}

/** Seconds or an HTTP date; null when absent or unreadable. */
function retryAfterMs(res) {
  const value = res.headers.get("retry-after");
  if (!value) return null;
  const secs = Number(value);
  if (Number.isFinite(secs)) return Math.max(0, secs * 1000);
  const at = Date.parse(value);
  return Number.isFinite(at) ? Math.max(0, at - Date.now()) : null;
}

// One queue per events URL and user in a page, shared by every widget on
// it: events are only ever sent with their own user's credentials.
const queues = new Map();

export class EventQueue {
  constructor(url, { flushMs = 4000, batch = 20, auth = null, user = "" } = {}) {
    const key = `${PREFIX}${url}|${user}`;
    if (url && queues.has(key)) {
      const shared = queues.get(key);
      if (auth) shared.auth = auth;
      return shared;
    }
    this.url = url;
    this.key = key;
    // Ids this page saw confirmed, so no tab puts them back (bounded).
    this.done = new Set();
    // Server-directed pause (Retry-After) or back-off: no send before it.
    this.notBefore = 0;
    // Headers naming the user (a user token), asked before each upload.
    this.auth = auth;
    this.lastAuth = {};
    this.queue = url ? load(this.key) : [];
    this.batch = batch;
    this.backoff = 0;
    this.timer = null;
    this.flushMs = flushMs;
    if (url) {
      queues.set(key, this);
      addEventListener("pagehide", () => this.beacon());
      document.addEventListener("visibilitychange", () => document.visibilityState === "hidden" && this.beacon());
      addEventListener("online", () => {
        // The network is back: a network back-off ends, a Retry-After not.
        if (!this.serverPause) this.notBefore = 0;
        this.flush();
      });
      // What an earlier page left behind goes out soon.
      if (this.queue.length) this.schedule(1000);
    }
  }

  // Another tab may have written since: take its events in (by id) before
  // writing, so no tab overwrites another's; confirmed ids stay out.
  save() {
    const have = new Set(this.queue.map((e) => e.id));
    for (const e of load(this.key)) {
      if (!have.has(e.id) && !this.done.has(e.id)) this.queue.push(e);
    }
    this.queue = this.queue.filter((e) => !this.done.has(e.id));
    if (this.queue.length > MAX_QUEUE) this.queue.splice(0, this.queue.length - MAX_QUEUE);
    try {
      localStorage.setItem(this.key, JSON.stringify(this.queue));
    } catch {
      // Storage full or off: the queue still works for this page view.
    }
  }

  // Keeps the headers fresh, so a page that is left before the first
  // upload can still send its events with them.
  refreshAuth() {
    if (!this.auth || this.authPending) return;
    this.authPending = Promise.resolve(this.auth())
      .then((headers) => {
        this.lastAuth = headers || {};
      })
      .catch(() => {})
      .finally(() => {
        this.authPending = null;
      });
  }

  push(type, data = {}) {
    if (!this.url) return;
    this.refreshAuth();
    this.queue.push({ id: uuid(), type, at: Math.floor(Date.now() / 1000), ...data });
    if (this.queue.length > MAX_QUEUE) this.queue.splice(0, this.queue.length - MAX_QUEUE);
    this.save();
    if (this.queue.length >= this.batch && Date.now() >= this.notBefore) this.flush();
    else this.schedule(Math.max(this.flushMs, this.notBefore - Date.now()));
  }

  schedule(ms) {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.flush();
    }, Math.max(0, ms));
  }

  // Removes delivered events (by id: the queue may have grown meanwhile).
  confirm(events) {
    for (const e of events) this.done.add(e.id);
    if (this.done.size > 4 * MAX_QUEUE) this.done = new Set([...this.done].slice(-2 * MAX_QUEUE));
    this.save();
  }

  async flush() {
    if (!this.queue.length || this.sending) return;
    if (Date.now() < this.notBefore) {
      this.schedule(this.notBefore - Date.now());
      return;
    }
    const events = this.queue.slice(0, this.batch);
    this.sending = true;
    let retryIn = null;
    try {
      if (this.auth) this.lastAuth = (await this.auth()) || {};
      const res = await fetch(this.url, {
        method: "POST",
        headers: { "content-type": "application/json", ...this.lastAuth },
        body: JSON.stringify({ events }),
        keepalive: true,
        credentials: "same-origin",
      });
      if (res.ok) {
        this.confirm(events);
        this.backoff = 0;
        this.serverPause = false;
      } else if (res.status >= 500 || res.status === 408 || res.status === 429) {
        retryIn = retryAfterMs(res);
        throw new Error(`events: HTTP ${res.status}`);
      } else {
        // Another 4xx will not get better by retrying: the batch is given up.
        console.warn(`referral-widget: events refused with HTTP ${res.status}; ${events.length} dropped`);
        this.confirm(events);
        this.backoff = 0;
      }
    } catch {
      // Kept (ids keep the retry idempotent); back off, or wait as told.
      this.backoff = Math.min(60000, this.backoff ? this.backoff * 2 : 1000);
      const wait = retryIn ?? this.backoff;
      this.serverPause = retryIn != null;
      this.notBefore = Date.now() + wait;
      this.schedule(wait);
    } finally {
      this.sending = false;
    }
    if (this.queue.length && !this.backoff) this.schedule(0);
  }

  beacon() {
    // Each event is handed over once per page view (pagehide and a hidden
    // tab both fire); all of them stay queued until confirmed.
    this.beaconed = this.beaconed || new Set();
    const events = this.queue.filter((e) => !this.beaconed.has(e.id));
    if (!events.length) return;
    for (const e of events) this.beaconed.add(e.id);
    const body = JSON.stringify({ events });
    // Stays queued: confirmed only by a later delivery.
    if (this.lastAuth.authorization) {
      // sendBeacon cannot carry the user token's header; a keepalive fetch
      // outlives the page just the same.
      fetch(this.url, { method: "POST", headers: { "content-type": "application/json", ...this.lastAuth }, body, keepalive: true, credentials: "same-origin" }).catch(() => {});
      return;
    }
    if (navigator.sendBeacon) navigator.sendBeacon(this.url, new Blob([body], { type: "application/json" }));
  }
}
