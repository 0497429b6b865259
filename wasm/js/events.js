// Widget events, batched to the host's own events URL: ids for idempotency,
// sendBeacon on page hide, retries with back-off, never blocking the UI.
const MAX_QUEUE = 500;

function uuid() {
  if (globalThis.crypto?.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

export class EventQueue {
  constructor(url, { flushMs = 4000, batch = 20, auth = null } = {}) {
    this.url = url;
    // Headers naming the user (a user token), asked before each upload.
    this.auth = auth;
    this.lastAuth = {};
    this.queue = [];
    this.batch = batch;
    this.backoff = 0;
    this.timer = null;
    this.flushMs = flushMs;
    if (url) {
      addEventListener("pagehide", () => this.beacon());
      document.addEventListener("visibilitychange", () => document.visibilityState === "hidden" && this.beacon());
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
    if (this.queue.length >= this.batch) this.flush();
    else this.schedule(this.flushMs);
  }

  schedule(ms) {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.flush();
    }, ms);
  }

  async flush() {
    if (!this.queue.length || this.sending) return;
    const events = this.queue.splice(0, this.batch);
    this.sending = true;
    try {
      if (this.auth) this.lastAuth = await this.auth();
      const res = await fetch(this.url, {
        method: "POST",
        headers: { "content-type": "application/json", ...this.lastAuth },
        body: JSON.stringify({ events }),
        keepalive: true,
        credentials: "same-origin",
      });
      if (!res.ok && res.status >= 500) throw new Error(`events: HTTP ${res.status}`);
      this.backoff = 0;
    } catch {
      // Put them back (ids keep the retry idempotent) and back off.
      this.queue.unshift(...events);
      this.backoff = Math.min(60000, this.backoff ? this.backoff * 2 : 1000);
      this.schedule(this.backoff);
    } finally {
      this.sending = false;
    }
    if (this.queue.length && !this.backoff) this.schedule(0);
  }

  beacon() {
    if (!this.queue.length) return;
    if (this.lastAuth.authorization) {
      // sendBeacon cannot carry the user token's header; a keepalive fetch
      // outlives the page just the same.
      const body = JSON.stringify({ events: this.queue });
      fetch(this.url, { method: "POST", headers: { "content-type": "application/json", ...this.lastAuth }, body, keepalive: true, credentials: "same-origin" }).catch(() => {});
      this.queue = [];
      return;
    }
    if (!navigator.sendBeacon) return;
    const body = new Blob([JSON.stringify({ events: this.queue })], { type: "application/json" });
    if (navigator.sendBeacon(this.url, body)) this.queue = [];
  }
}
