// Stripe's webhooks against the real reference backend, signed by Stripe's
// own library (npm `stripe`, `webhooks.generateTestHeaderString`), not by
// the project's code: events built from Stripe's published fixtures pay,
// duplicate, wait for their customer's link, and reverse a referral's
// reward; a header signed with another secret is refused.
// Prints "N passed, M failed".
import { execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import Stripe from "stripe";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..");
const bin = process.env.SERVER_BIN || join(root, "target", "debug", "referral-server");
const port = 20000 + Math.floor(Math.random() * 20000);
const origin = `http://127.0.0.1:${port}`;
const data = await mkdtemp(join(tmpdir(), "referral-stripe-"));
const secret = `whsec_${randomBytes(24).toString("hex")}`;
const env = { ...process.env, PORT: String(port), DATA_DIR: data, PUBLIC_URL: origin, RATE_PER_MINUTE: "1000" };
const apiKey = execFileSync(bin, ["create-api-key", "--name", "stripe e2e"], { env, encoding: "utf8" }).trim();
const server = spawn(bin, [], { env: { ...env, STRIPE_WEBHOOK_SECRETS: secret }, stdio: ["ignore", "pipe", "inherit"] });
await new Promise((resolve, reject) => {
  server.stdout.on("data", (d) => String(d).includes("referral-server on") && resolve());
  server.on("exit", (code) => reject(new Error(`server exited ${code}`)));
});

const stripe = new Stripe("sk_test_unused");
const fixture = async (name) => JSON.parse(await readFile(join(root, "tests", "fixtures", "stripe", `${name}.json`), "utf8"));
const now = () => Math.floor(Date.now() / 1000);
async function event(id, type, object) {
  return { ...(await fixture("event")), id, type, created: now(), livemode: false, data: { object } };
}
async function deliver(evt, withSecret = secret) {
  const payload = JSON.stringify(evt);
  const header = stripe.webhooks.generateTestHeaderString({ payload, secret: withSecret });
  const res = await fetch(`${origin}/api/v1/webhooks/stripe`, { method: "POST", headers: { "content-type": "application/json", "stripe-signature": header }, body: payload });
  return { status: res.status, body: await res.json() };
}
async function api(method, path, body) {
  const res = await fetch(`${origin}${path}`, {
    method,
    headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json", "idempotency-key": randomBytes(8).toString("hex") },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
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

await step("a referred signup to pay for", async () => {
  assert((await api("PUT", "/api/v1/users/anna", { email: "anna@annaco.example", display_name: "Anna", share_name: true })).status === 200, "register");
  const { body } = await api("GET", "/api/v1/users/anna/referral");
  const signup = await api("POST", "/api/v1/signups", { user_id: "bo", email: "bo@boco.example", code: body.codes.email });
  assert(signup.body.reason === "attributed", JSON.stringify(signup.body));
});
const invoice = async (customer, charge, amount) => {
  const inv = await fixture("invoice");
  const start = now();
  return { ...inv, customer, charge, amount_paid: amount, status: "paid", lines: { ...inv.lines, data: [{ ...inv.lines.data[0], period: { start, end: start + 30 * 86400 } }] } };
};
await step("an invoice before its checkout waits, then pays when the checkout links the customer", async () => {
  const early = await deliver(await event("evt_e2e_1", "invoice.paid", await invoice("cus_bo", "ch_bo", 4900)));
  assert(early.status === 200 && early.body.outcome === "pending", JSON.stringify(early));
  const session = { ...(await fixture("checkout_session")), client_reference_id: "bo", customer: "cus_bo", mode: "subscription", payment_status: "paid", status: "complete" };
  const linked = await deliver(await event("evt_e2e_2", "checkout.session.completed", session));
  assert(linked.body.outcome === "ignored" && linked.body.reason === "subscription_checkout", JSON.stringify(linked));
  const again = await deliver(await event("evt_e2e_1", "invoice.paid", await invoice("cus_bo", "ch_bo", 4900)));
  assert(again.body.outcome === "duplicate", `the invoice, delivered again after its link: ${JSON.stringify(again)}`);
});
await step("a renewal is recorded without a second reward; a dispute on the first charge reverses the reward", async () => {
  const renewal = await deliver(await event("evt_e2e_3", "invoice.paid", await invoice("cus_bo", "ch_bo_2", 4900)));
  // The program rewards the first payment: a renewal is recorded, no new reward.
  assert(renewal.status === 200 && renewal.body.outcome === "not_qualifying", JSON.stringify(renewal));
  const dispute = { ...(await fixture("dispute")), charge: "ch_bo" };
  const reversed = await deliver(await event("evt_e2e_4", "charge.dispute.created", dispute));
  assert(reversed.body.outcome === "reversed", JSON.stringify(reversed));
});
await step("Stripe's header made with another secret is refused", async () => {
  const forged = await deliver(await event("evt_e2e_5", "invoice.paid", await invoice("cus_bo", "ch_x", 100)), "whsec_not_ours");
  assert(forged.status === 401 && forged.body.error === "bad_signature", JSON.stringify(forged));
});

server.kill("SIGTERM");
for (const line of log) console.log(line);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
