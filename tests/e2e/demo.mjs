// The whole loop in a real browser against the real reference backend:
// nudge → share → land → sign up → attributed → paid (held) → payable →
// refunded (reversed) → funnel; a self-referral lands in the review queue.
// The demo host signs its own users in and hands the widget a user token;
// the admin needs its own sign-in.
// Prints "N passed, M failed"; screenshots in tests/e2e/screenshots/.
import { spawn } from "node:child_process";
import { createHmac, randomBytes } from "node:crypto";
import { mkdir, mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { launchChromium, until } from "./browser.mjs";
import { checkAsk, checkPanel } from "./geometry-lib.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..");
const shots = join(here, "screenshots");
await mkdir(shots, { recursive: true });
const port = 20000 + Math.floor(Math.random() * 20000);
const origin = `http://127.0.0.1:${port}`;
const webhookSecret = randomBytes(32);
const adminPassword = randomBytes(12).toString("hex");
const password = "correct horse battery staple";
const data = await mkdtemp(join(tmpdir(), "referral-demo-"));
const server = spawn(process.env.SERVER_BIN || join(root, "target", "debug", "referral-server"), [], {
  env: {
    ...process.env,
    PORT: String(port),
    DATA_DIR: data,
    REFERRAL_WEBHOOK_SECRET_HEX: webhookSecret.toString("hex"),
    REFERRAL_ADMIN_EMAIL: "admin@acme.example",
    REFERRAL_ADMIN_PASSWORD: adminPassword,
    DEMO: "1",
    // One test client makes every request from 127.0.0.1.
    RATE_PER_MINUTE: "1000",
    RATE_AUTH_PER_MINUTE: "100",
  },
  stdio: ["ignore", "pipe", "inherit"],
});
await new Promise((resolve, reject) => {
  server.stdout.on("data", (d) => String(d).includes("referral-server on") && resolve());
  server.on("exit", (code) => reject(new Error(`server exited ${code}`)));
});

const browser = await launchChromium();
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
// About one demo account in ten is in the experiment's holdout: never
// asked, and the app says so. Steps about the ask use an account that is
// not (`anna@…`, then `anna1@…`, …); the holdout's note is checked on each.
async function createAccount(page, email) {
  for (let attempt = 0; attempt < 20; attempt++) {
    const address = attempt ? email.replace("@", `${attempt}@`) : email;
    await page.goto(`${origin}/`);
    await page.fill("#email", address);
    await page.fill("#password", password);
    await page.click("#create-account");
    await until(page, () => !!document.querySelector("referral-widget")?.shadowRoot?.querySelector(".launcher"), "the widget");
    const held = await page.evaluate(async () => (await (await fetch("/demo/api/me")).json()).in_holdout);
    const noted = await page.isVisible("#holdout-note");
    assert(held === noted, `in the holdout: ${held}, its note shown: ${noted}`);
    if (!held) return address;
    await page.click("#sign-out");
    await until(page, () => !document.getElementById("signin").hidden, "signed out");
  }
  throw new Error("twenty new accounts in a row in a 10 % holdout");
}
async function signedIn(email) {
  const context = await browser.newContext({ permissions: ["clipboard-read", "clipboard-write"] });
  const page = await context.newPage();
  page.address = await createAccount(page, email);
  return page;
}
const nudgeVisible = (page) => page.evaluate(() => !document.querySelector("referral-widget").shadowRoot.querySelector(".nudge").hidden);
async function webhook(event) {
  const body = JSON.stringify(event);
  const t = Math.floor(Date.now() / 1000);
  const sig = createHmac("sha256", webhookSecret).update(`${t}.${body}`).digest("hex");
  const res = await fetch(`${origin}/api/v1/webhooks/billing`, { method: "POST", headers: { "content-type": "application/json", "referral-signature": `t=${t},v1=${sig}` }, body });
  return res.json();
}

await step("on a phone the ask and the panel are readable and reachable", async () => {
  const context = await browser.newContext({ viewport: { width: 375, height: 667 }, deviceScaleFactor: 2 });
  const page = await context.newPage();
  await createAccount(page, "phoebe@phoneco.example");
  await page.click("#finish-onboarding");
  await page.click("#generate-report");
  await until(page, () => !document.querySelector("referral-widget").shadowRoot.querySelector(".nudge").hidden, "the ask");
  await checkAsk(page, "demo app 375x667");
  await page.screenshot({ path: join(shots, "demo-phone-ask.png") });
  await page.evaluate(() => document.querySelector("referral-widget").shadowRoot.querySelector('[part="nudge-invite"]').click());
  await until(page, () => document.querySelector("referral-widget").shadowRoot.querySelector(".panel")?.open, "the panel");
  await checkPanel(page, "demo app 375x667");
  await page.screenshot({ path: join(shots, "demo-phone-panel.png") });
  await context.close();
});

await step("\"don't ask again\" on one browser holds on another", async () => {
  const laptop = await signedIn("otto@ottoco.example");
  const otto = laptop.address;
  await laptop.click("#finish-onboarding");
  await laptop.click("#generate-report");
  await until(laptop, () => !document.querySelector("referral-widget").shadowRoot.querySelector(".nudge").hidden, "the ask on the laptop");
  await laptop.evaluate(() => document.querySelector("referral-widget").shadowRoot.querySelector('[part="nudge-never"]').click());
  // The person's state reaches the service.
  await until(laptop, async () => {
    const { user_token } = await (await fetch("/demo/api/me")).json();
    const res = await fetch("/api/v1/me/nudge-state", { headers: { authorization: `Bearer ${user_token}` } });
    return (await res.json()).state?.opted_out_at;
  }, "the opt-out stored by the service");
  await laptop.context().close();
  // Another browser: nothing in its storage; the same person signs in.
  const phone = await (await browser.newContext()).newPage();
  await phone.goto(`${origin}/`);
  await phone.fill("#email", otto);
  await phone.fill("#password", password);
  await phone.click("#sign-in");
  await until(phone, () => document.querySelector("referral-widget")?.engine, "the widget on the second browser");
  await phone.click("#finish-onboarding");
  await phone.click("#generate-report");
  await phone.click("#generate-report");
  await new Promise((r) => setTimeout(r, 600));
  assert(!(await nudgeVisible(phone)), "asked again on another browser after don't ask again");
  await phone.context().close();
});

let anna;
let link;
let boAccount;
await step("no ask during onboarding", async () => {
  const page = await signedIn("erin@erinco.example");
  await page.click("#generate-report");
  await new Promise((r) => setTimeout(r, 300));
  assert(!(await nudgeVisible(page)), "asked during onboarding");
  await page.context().close();
});
await step("no ask right after friction", async () => {
  const page = await signedIn("dee@deeco.example");
  await page.click("#finish-onboarding");
  await page.click("#fail");
  await page.click("#generate-report");
  await new Promise((r) => setTimeout(r, 300));
  assert(!(await nudgeVisible(page)), "asked right after friction");
  await page.context().close();
});
await step("user A finishes onboarding, generates a report and is asked", async () => {
  anna = await signedIn("anna@annaco.example");
  await anna.click("#finish-onboarding");
  await anna.click("#generate-report");
  await until(anna, () => !document.querySelector("referral-widget").shadowRoot.querySelector(".nudge").hidden, "the ask");
  await checkAsk(anna, "demo app 1280x720");
  await anna.screenshot({ path: join(shots, "demo-1-ask.png") });
});
await step("A opens the panel with the keyboard and copies the link", async () => {
  await anna.focus("#generate-report");
  await anna.evaluate(() => document.querySelector("referral-widget").shadowRoot.querySelector(".launcher").focus());
  await anna.keyboard.press("Enter");
  await until(anna, () => !document.querySelector("referral-widget").shadowRoot.querySelector(".panel").hidden, "the panel");
  await anna.evaluate(() => document.querySelector("referral-widget").shadowRoot.querySelector('[part="copy"]').focus());
  await anna.keyboard.press("Enter");
  await until(anna, () => document.querySelector("referral-widget").shadowRoot.querySelector('[role="status"]').textContent === "Link copied", "Copied");
  link = await anna.evaluate(() => navigator.clipboard.readText());
  await checkPanel(anna, "demo app 1280x720");
  assert(link.startsWith(`${origin}/r?ref=`), link);
  // Each share target carries the code minted for its channel.
  const shares = await anna.evaluate(() => Object.fromEntries([...document.querySelector("referral-widget").shadowRoot.querySelectorAll("a[data-channel]")].map((a) => [a.dataset.channel, a.href])));
  const linkCode = new URL(link).searchParams.get("ref");
  assert(!shares.email.includes(linkCode) && !shares.whatsapp.includes(linkCode), "share targets reuse the link channel's code");
  await anna.screenshot({ path: join(shots, "demo-2-panel.png") });
  await anna.keyboard.press("Escape");
});
await step("a friend opens the link, lands, browses, signs up and is attributed", async () => {
  const friend = await (await browser.newContext()).newPage();
  await friend.goto(link);
  assert(friend.url().startsWith(`${origin}/signup`), friend.url());
  await until(friend, () => document.getElementById("referred-by").textContent, "referred by");
  const annaName = await anna.evaluate(async () => (await (await fetch("/demo/api/me")).json()).name);
  assert((await friend.textContent("#referred-by")) === `You've been referred by ${annaName}`, await friend.textContent("#referred-by"));
  assert(!friend.url().includes("ref="), "the code left the visible URL");
  await friend.screenshot({ path: join(shots, "demo-3-landing.png") });
  await friend.goto(`${origin}/admin`);
  assert(friend.url() === `${origin}/admin/sign-in`, `an anonymous /admin went to ${friend.url()}`);
  await friend.goto(`${origin}/signup`);
  await friend.fill("#email", "bo@boco.example");
  await friend.fill("#password", password);
  await friend.click("#signup-form button");
  const reason = await until(friend, () => document.getElementById("result").dataset.reason, "signup result");
  assert(reason === "attributed", reason);
  boAccount = await friend.evaluate(() => document.getElementById("result").dataset.account);
  await friend.context().close();
});
await step("the loop closed: the service's referral.attributed webhook reaches the host, which thanks A", async () => {
  const thanks = await until(anna, () => document.getElementById("thanks").textContent, "the thanks", 15000);
  assert(thanks === "Your friend Bo joined — thank you!", thanks);
  assert(await anna.isVisible("#thanks"), "the thanks is hidden");
});
await step("a self-referral from A's company lands in the review queue", async () => {
  const colleague = await (await browser.newContext()).newPage();
  await colleague.goto(link);
  await colleague.fill("#email", "carl@annaco.example");
  await colleague.fill("#password", password);
  // Stating another company cannot hide the shared email domain.
  await colleague.fill("#company", "elsewhere.example");
  await colleague.click("#signup-form button");
  const reason = await until(colleague, () => document.getElementById("result").dataset.reason, "signup result");
  assert(reason === "attributed_for_review", reason);
  await colleague.context().close();
});
// The widget's own calls: the browser API with the user token.
const stats = () =>
  anna.evaluate(async () => {
    const { user_token } = await (await fetch("/demo/api/me")).json();
    return (await fetch("/api/v1/me/stats", { headers: { authorization: `Bearer ${user_token}` } })).json();
  });
let admin;
await step("the admin signs in (the app's users cannot)", async () => {
  admin = await (await browser.newContext()).newPage();
  await admin.goto(`${origin}/admin`);
  assert(admin.url() === `${origin}/admin/sign-in`, admin.url());
  await admin.fill("#email", "admin@acme.example");
  await admin.fill("#password", "not the password");
  await admin.click("#admin-signin button");
  await until(admin, () => document.getElementById("error").dataset.error, "the refusal");
  await admin.fill("#password", adminPassword);
  await admin.click("#admin-signin button");
  await until(admin, () => document.body.dataset.loaded === "true", "the admin page");
  const anonymous = await anna.evaluate(async () => (await fetch("/api/admin/funnel")).status);
  assert(anonymous === 401, `a signed-in app user read the admin API: ${anonymous}`);
});
await step("B's first payment (signed webhook) holds A's reward", async () => {
  const out = await webhook({ id: "evt_pay_1", type: "payment", account_id: boAccount, amount_minor: 9900, currency: "USD" });
  assert(out.outcome === "rewarded", JSON.stringify(out));
  const s = await stats();
  assert(s.entries.length === 1 && s.entries[0].status === "held", JSON.stringify(s));
});
await step("past the hold the reward is payable", async () => {
  await admin.click("#advance");
  await until(admin, () => document.getElementById("clock").textContent, "the demo clock");
  const s = await stats();
  assert(s.entries[0].status === "payable", JSON.stringify(s));
});
await step("a refund webhook reverses it", async () => {
  const out = await webhook({ id: "evt_refund_1", type: "refund", account_id: boAccount });
  assert(out.outcome === "reversed", JSON.stringify(out));
  const s = await stats();
  assert(s.entries[0].status === "reversed", JSON.stringify(s));
});
await step("the admin page lists the outbound webhook deliveries, each with a Redeliver button", async () => {
  await admin.goto(`${origin}/admin`);
  await until(admin, () => document.getElementById("webhooks").dataset.loaded === "true", "the webhooks section");
  const row = await admin.textContent("#webhook-deliveries tr");
  assert(row.includes("referral.attributed") && row.includes("delivered"), row);
  await admin.click("#webhook-deliveries tr button");
  await until(admin, () => document.querySelectorAll("#webhook-deliveries tr:first-child li").length >= 2, "the redelivery's attempt");
});
await step("the admin page shows the funnel and the review queue", async () => {
  // A leaves the app: the widget sends what it queued as the page goes.
  await anna.goto(`${origin}/signup`);
  for (let i = 0; i < 50; i++) {
    await admin.reload();
    await until(admin, () => document.body.dataset.loaded === "true", "the admin page");
    if (Number(await admin.textContent('text[data-stage="share"]')) >= 1) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  const signups = await admin.textContent('text[data-stage="signup"]');
  const shares = await admin.textContent('text[data-stage="share"]');
  const rows = await admin.locator("#review tr").count();
  const flags = await admin.textContent("#review tr td:nth-child(4)");
  assert(signups === "2" && Number(shares) >= 1 && rows === 1, `signups ${signups}, shares ${shares}, review rows ${rows}`);
  assert(flags === "same_company_domain", flags);
  await admin.screenshot({ path: join(shots, "demo-4-admin.png"), fullPage: true });
});
await step("the admin rejects the flagged referral with a reason; the audit log shows who and why", async () => {
  await admin.fill("#review tr input", "same company, self-referral");
  await admin.click('#review tr button[data-decision="reject"]');
  await until(admin, () => /rejected$/.test(document.getElementById("review-status").textContent), "the decision");
  await until(admin, () => document.querySelectorAll("#review tr").length === 0, "the queue emptied");
  await until(admin, () => document.querySelector("#audit tr")?.textContent.includes("referral.reject"), "the audit entry");
  const row = await admin.textContent("#audit tr");
  assert(row.includes("admin@acme.example") && row.includes("same company, self-referral"), row);
});
await step("the admin simulates customers and sees the lift against the holdout, drawn", async () => {
  await admin.click("#simulate");
  await until(admin, () => /^Added/.test(document.getElementById("simulated").textContent), "the simulation", 120000);
  await until(admin, () => document.querySelectorAll("#lift-chart line[data-group]").length >= 4, "the lift chart");
  const bars = await admin.evaluate(() =>
    [...document.querySelectorAll("#lift-chart line[data-group]")].map((l) => ({
      group: l.dataset.group, low: Number(l.dataset.low), high: Number(l.dataset.high),
      x1: Number(l.getAttribute("x1")), x2: Number(l.getAttribute("x2")),
    })),
  );
  const groups = bars.map((b) => b.group);
  assert(groups.includes("treatment") && groups.includes("holdout") && groups.includes("first_report:short"), groups.join(", "));
  for (const b of bars) assert(b.low <= b.high && b.x1 <= b.x2 && b.x1 >= 190, JSON.stringify(b));
  // The groups' intervals are drawn on one axis: wider interval, longer line.
  const holdout = bars.find((b) => b.group === "holdout");
  const treatment = bars.find((b) => b.group === "treatment");
  assert(holdout.high - holdout.low > treatment.high - treatment.low && holdout.x2 - holdout.x1 > treatment.x2 - treatment.x1,
    `the smaller holdout has the wider interval: ${JSON.stringify([holdout, treatment])}`);
  const box = await admin.locator("#lift-chart").boundingBox();
  const viewport = admin.viewportSize();
  assert(box.width > 300 && box.x >= 0 && box.x + box.width <= viewport.width, JSON.stringify(box));
  const verdict = await admin.textContent("#lift-verdict");
  assert(verdict.length > 40, verdict);
  const label = await admin.getAttribute("#lift-chart", "aria-label");
  assert(label.includes("Holdout (never asked)"), label);
  assert((await admin.locator("#lift-groups tr").count()) === 4, "a row per group and variant");
  await admin.locator("#lift-chart").scrollIntoViewIfNeeded();
  await admin.screenshot({ path: join(shots, "demo-5-lift.png"), fullPage: true });
});
await step("signing out ends the admin session", async () => {
  await admin.click("#sign-out");
  await admin.waitForURL(`${origin}/admin/sign-in`);
  const status = await admin.evaluate(async () => (await fetch("/api/admin/funnel")).status);
  assert(status === 401, `after sign-out the admin API answered ${status}`);
});

await browser.close();
server.kill("SIGTERM");
for (const line of log) console.log(line);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
