// A static server for the browser tests, on 127.0.0.1 only: the pages, the
// built package under /pkg/, and the small host endpoints the widget calls
// (code, stats, nudge config, events), all same-origin.
import { createServer } from "node:http";
import { gzipSync } from "node:zlib";
import { readFile } from "node:fs/promises";
import { dirname, extname, join, normalize } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..");
const pkg = join(root, "target", "npm", "widget");
const vectors = JSON.parse(await readFile(join(root, "tests", "vectors", "vectors.json"), "utf8"));

export const CODE = vectors.codes.mint.cases[0].code;
// The vectors' nudge config, made usable in real time: no minimum account age.
const nudge = structuredClone(vectors.nudge.config);
nudge.eligibility.min_account_age = "0s";

const TYPES = { ".html": "text/html; charset=utf-8", ".js": "text/javascript", ".mjs": "text/javascript", ".wasm": "application/wasm", ".json": "application/json", ".css": "text/css", ".ts": "text/plain" };
export const CSP = "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'self'";

export function start({ mounts: extraMounts = [], compress = false } = {}) {
  const received = [];
  const thirdParty = [];
  // What the host endpoints do, changed by tests: failures, delays, statuses.
  const behaviour = { codeFailures: 0, configDelayMs: 0, eventsStatus: 202, eventsRetryAfter: null, codeCalls: 0, eventCalls: 0, stateDelayMs: 0 };
  // A person's nudge state, as the reference service keeps it (one person).
  const person = { state: null, version: 0, puts: [] };
  const server = createServer((req, res) => {
    // A client that goes away mid-request (a page left, a fetch aborted by
    // its timeout) must not take the test server down.
    handle(req, res).catch(() => res.destroy());
  });
  async function handle(req, res) {
    const url = new URL(req.url, "http://127.0.0.1");
    const send = (status, type, body, headers = {}) => {
      // Served gzipped when asked (benchmarks), as a real deployment would.
      if (compress && body && body.length > 512 && /gzip/.test(req.headers["accept-encoding"] || "")) {
        body = gzipSync(body);
        headers = { ...headers, "content-encoding": "gzip" };
      }
      res.writeHead(status, { "content-type": type, "cache-control": "no-store", ...headers });
      res.end(body);
    };
    if (url.pathname === "/api/code") {
      behaviour.codeCalls++;
      if (behaviour.codeFailures === "always" || behaviour.codeFailures > 0) {
        if (behaviour.codeFailures !== "always") behaviour.codeFailures--;
        return send(503, TYPES[".json"], JSON.stringify({ error: "unavailable" }));
      }
      return send(200, TYPES[".json"], JSON.stringify({ code: CODE }));
    }
    if (url.pathname === "/api/stats") return send(200, TYPES[".json"], JSON.stringify({ invites: 12, signups: 3, rewards: 1 }));
    if (url.pathname === "/api/state") {
      if (behaviour.stateDelayMs) await new Promise((r) => setTimeout(r, behaviour.stateDelayMs));
      if (req.method === "PUT") {
        let body = "";
        for await (const chunk of req) body += chunk;
        const expected = Number(String(req.headers["if-match"] || "").replaceAll('"', ""));
        if (expected !== person.version) return send(412, TYPES[".json"], JSON.stringify({ state: person.state, version: person.version }));
        person.state = JSON.parse(body).state;
        person.version += 1;
        person.puts.push(person.state);
        return send(200, TYPES[".json"], JSON.stringify({ state: person.state, version: person.version }));
      }
      return send(200, TYPES[".json"], JSON.stringify({ state: person.state, version: person.version }));
    }
    if (url.pathname === "/api/nudge-config") {
      if (behaviour.configDelayMs) await new Promise((r) => setTimeout(r, behaviour.configDelayMs));
      return send(200, TYPES[".json"], JSON.stringify(nudge));
    }
    if (url.pathname === "/api/events" && req.method === "POST") {
      let body = "";
      for await (const chunk of req) body += chunk;
      behaviour.eventCalls++;
      if (behaviour.eventsStatus !== 202) {
        const headers = behaviour.eventsRetryAfter != null ? { "retry-after": String(behaviour.eventsRetryAfter) } : {};
        return send(behaviour.eventsStatus, TYPES[".json"], JSON.stringify({ error: "test" }), headers);
      }
      try {
        received.push(...JSON.parse(body).events);
        return send(202, TYPES[".json"], "{}");
      } catch {
        return send(400, TYPES[".json"], JSON.stringify({ error: "invalid_json" }));
      }
    }
    if (url.pathname === "/favicon.ico") return send(204, "image/x-icon", "");
    if (url.pathname === "/oauth/callback") return send(302, "text/plain", "", { location: "/pages/signup.html" });
    const mounts = [["/pkg/", pkg], ["/vite/", join(root, "examples", "web-vite", "dist")], ...extraMounts];
    const [prefix, base] = mounts.find(([p]) => url.pathname.startsWith(p)) || ["/", here];
    let rel = url.pathname.slice(prefix.length);
    if (rel === "" || rel.endsWith("/")) rel += "index.html";
    const file = normalize(join(base, rel));
    if (!file.startsWith(base)) return send(403, "text/plain", "forbidden");
    try {
      const body = await readFile(file);
      const headers = url.pathname.endsWith("csp.html") ? { "content-security-policy": CSP } : {};
      return send(200, TYPES[extname(file)] || "application/octet-stream", body, headers);
    } catch {
      return send(404, "text/plain", "not found");
    }
  }
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      resolve({ origin: `http://127.0.0.1:${port}`, received, thirdParty, behaviour, person, close: () => server.close() });
    });
  });
}
