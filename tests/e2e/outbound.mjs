// Outbound webhooks from the real reference backend, checked by the
// official Standard Webhooks library (npm `standardwebhooks`), not by the
// project's code: a local receiver subscribes through the admin API; a
// referred signup, a payment and a refund arrive as referral.attributed,
// reward.held and reward.reversed, each verified with the endpoint's
// secret; after a rotation each message verifies with the old and the new
// secret alone; a tampered body or another secret is refused.
// Prints "N passed, M failed".
import { spawn } from "node:child_process";
import { createHmac, randomBytes } from "node:crypto";
import { createServer } from "node:http";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Webhook } from "standardwebhooks";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..");
const bin = process.env.SERVER_BIN || join(root, "target", "debug", "referral-server");
const port = 20000 + Math.floor(Math.random() * 20000);
const origin = `http://127.0.0.1:${port}`;
const data = await mkdtemp(join(tmpdir(), "referral-outbound-"));
const billingSecret = randomBytes(32).toString("hex");
const password = "an outbound e2e password";
const env = {
  ...process.env,
  PORT: String(port),
  DATA_DIR: data,
  PUBLIC_URL: origin,
  RATE_PER_MINUTE: "1000",
  RATE_AUTH_PER_MINUTE: "1000",
  REFERRAL_WEBHOOK_SECRET_HEX: billingSecret,
  REFERRAL_ADMIN_EMAIL: "admin@acme.example",
  REFERRAL_ADMIN_PASSWORD: password,
  ALLOW_PRIVATE_WEBHOOK_URLS: "true",
  WEBHOOK_POLL_MS: "50",
};
delete env.DATABASE_URL;

// The receiver: every request's headers and raw body.
const received = [];
const receiver = createServer((req, res) => {
  let body = "";
  req.setEncoding("utf8");
  req.on("data", (c) => (body += c));
  req.on("end", () => {
    received.push({ headers: req.headers, body });
    res.writeHead(204).end();
  });
});
await new Promise((resolve) => receiver.listen(0, "127.0.0.1", resolve));
const hookUrl = `http://127.0.0.1:${receiver.address().port}/hook`;

const server = spawn(bin, [], { env, stdio: ["ignore", "pipe", "inherit"] });
await new Promise((resolve, reject) => {
  server.stdout.on("data", (d) => String(d).includes("referral-server on") && resolve());
  server.on("exit", (code) => reject(new Error(`server exited ${code}`)));
});

let cookie = "";
let csrf = "";
async function call(method, path, body, headers = {}) {
  const res = await fetch(`${origin}${path}`, {
    method,
    headers: { origin, "content-type": "application/json", cookie, "x-csrf-token": csrf, ...headers },
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null, res };
}

let passed = 0;
let failed = 0;
const log = [];
async function step(name, body) {
  try {
    await body();
    passed++;
    log.push(`ok   ${name}`);
  } catch (error) {
    failed++;
    log.push(`FAIL ${name}: ${error.message}`);
  }
}
function assert(condition, message) {
  if (!condition) throw new Error(message);
}
async function waitFor(type, n = 1) {
  for (let i = 0; i < 200; i++) {
    const got = received.filter((r) => JSON.parse(r.body).type === type);
    if (got.length >= n) return got;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no ${type}; got ${received.map((r) => JSON.parse(r.body).type).join(", ")}`);
}
function billing(event) {
  const body = JSON.stringify(event);
  const t = Math.floor(Date.now() / 1000);
  const sig = createHmac("sha256", Buffer.from(billingSecret, "hex")).update(`${t}.${body}`).digest("hex");
  return call("POST", "/api/v1/webhooks/billing", body, { "referral-signature": `t=${t},v1=${sig}` });
}

let secret = "";
let endpointId = "";
let apiKey = "";
await step("the admin subscribes a local receiver", async () => {
  const session = await call("POST", "/api/admin/session", { email: "admin@acme.example", password });
  assert(session.status === 200, JSON.stringify(session.body));
  cookie = session.res.headers.getSetCookie()[0].split(";")[0];
  csrf = session.body.csrf_token;
  const created = await call("POST", "/api/admin/webhooks", { url: hookUrl, event_types: [] });
  assert(created.status === 201, JSON.stringify(created.body));
  secret = created.body.secret;
  endpointId = created.body.id;
  const key = await call("POST", "/api/admin/api-keys", { name: "outbound e2e" });
  apiKey = key.body.key;
});

await step("a referred signup arrives as referral.attributed, verified by the official library", async () => {
  const api = (method, path, body) => call(method, path, body, { authorization: `Bearer ${apiKey}`, cookie: "" });
  assert((await api("PUT", "/api/v1/users/anna", { email: "anna@annaco.example", display_name: "Anna", share_name: true })).status === 200, "register");
  const links = await api("GET", "/api/v1/users/anna/referral");
  const signup = await api("POST", "/api/v1/signups", { user_id: "bo", email: "bo@boco.example", code: links.body.codes.email });
  assert(signup.body.reason === "attributed", JSON.stringify(signup.body));
  const [msg] = await waitFor("referral.attributed");
  const payload = new Webhook(secret).verify(msg.body, msg.headers);
  assert(payload.data.friend_id === "bo" && payload.data.referrer_id === "anna", JSON.stringify(payload));
});

await step("a payment and a refund arrive as reward.held and reward.reversed, all verified", async () => {
  const paid = await billing({ id: "evt_out_1", type: "payment", account_id: "bo", amount_minor: 9900, currency: "USD" });
  assert(paid.body.outcome === "rewarded", JSON.stringify(paid.body));
  const held = await waitFor("reward.held");
  const refund = await billing({ id: "evt_out_2", type: "refund", account_id: "bo" });
  assert(refund.status === 200, JSON.stringify(refund.body));
  await waitFor("reward.reversed", held.length);
  const wh = new Webhook(secret);
  for (const msg of received) wh.verify(msg.body, msg.headers);
});

await step("a tampered body or another secret is refused by the library", async () => {
  const msg = received[0];
  let refused = 0;
  try {
    new Webhook(secret).verify(msg.body.replace("bo", "eve"), msg.headers);
  } catch {
    refused++;
  }
  try {
    new Webhook(`whsec_${randomBytes(32).toString("base64")}`).verify(msg.body, msg.headers);
  } catch {
    refused++;
  }
  assert(refused === 2, "not refused");
});

await step("after a rotation each message verifies with the old and with the new secret", async () => {
  const rotated = await call("POST", `/api/admin/webhooks/${endpointId}/rotate`);
  assert(rotated.status === 200, JSON.stringify(rotated.body));
  const before = received.length;
  const api = (method, path, body) => call(method, path, body, { authorization: `Bearer ${apiKey}`, cookie: "" });
  const links = await api("GET", "/api/v1/users/anna/referral");
  await api("POST", "/api/v1/signups", { user_id: "cid", email: "cid@cidco.example", code: links.body.codes.email });
  const got = await waitFor("referral.attributed", 2);
  const msg = got[got.length - 1];
  assert(received.length > before, "nothing new");
  assert(msg.headers["webhook-signature"].split(" ").length === 2, msg.headers["webhook-signature"]);
  new Webhook(secret).verify(msg.body, msg.headers);
  new Webhook(rotated.body.secret).verify(msg.body, msg.headers);
});

await step("the admin sees the deliveries with their attempts", async () => {
  const list = await call("GET", "/api/admin/webhook-deliveries");
  assert(list.status === 200 && list.body.length === received.length, JSON.stringify(list.body).slice(0, 300));
  assert(list.body.every((d) => d.status === "delivered" && d.attempt_log[0].status_code === 204), "not all delivered");
});

server.kill();
receiver.close();
for (const line of log) console.log(line);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
