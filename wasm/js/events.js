// Widget events, batched to the host's own events URL: ids for idempotency,
// sendBeacon on page hide, retries with back-off, never blocking the UI.
const MAX_QUEUE = 500;

function uuid() {
  if (globalThis.crypto?.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

export class EventQueue {
  constructor(url, { flushMs = 4000, batch = 20 } = {}) {
    this.url = url;
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

  push(type, data = {}) {
    if (!this.url) return;
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
      const res = await fetch(this.url, {
        method: "POST",
        headers: { "content-type": "application/json" },
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
    if (!this.queue.length || !navigator.sendBeacon) return;
    const body = new Blob([JSON.stringify({ events: this.queue })], { type: "application/json" });
    if (navigator.sendBeacon(this.url, body)) this.queue = [];
  }
}
