// @ts-check
// The queue stub: load this tiny file (or inline it in a bundle) before the
// widget module, so `referral.track(...)` calls made early are not lost.
globalThis.referral = globalThis.referral || { q: [], track(...a) { this.q.push(["track", a]); }, mount(...a) { this.q.push(["mount", a]); } };
