// Browser end-to-end tests of the widget and the capture script, in Debian's
// Chromium driven by playwright-core. Prints "N passed, M failed" and exits
// non-zero on any failure. Screenshots go to tests/e2e/screenshots/.
import { mkdir, readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { CODE, start } from "./server.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const shots = join(here, "screenshots");
await mkdir(shots, { recursive: true });
const axeSource = await readFile(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

const server = await start();
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--headless", "--disable-gpu", "--disable-quic", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
});

let passed = 0;
let failed = 0;
const results = [];
function assert(condition, message) {
  if (!condition) throw new Error(message);
}

async function newPage(context) {
  const page = await (context || (await browser.newContext())).newPage();
  page.errors = [];
  page.requests = [];
  page.on("pageerror", (e) => page.errors.push(String(e)));
  page.on("console", (m) => m.type() === "error" && page.errors.push(m.text()));
  page.on("request", (r) => page.requests.push(r.url()));
  page.on("dialog", (d) => {
    page.errors.push(`a dialog opened: ${d.message()}`);
    d.dismiss();
  });
  return page;
}

async function test(name, body) {
  const context = await browser.newContext({ permissions: ["clipboard-read", "clipboard-write"] });
  const page = await newPage(context);
  try {
    await body(page, context);
    const foreign = page.requests.filter((u) => !u.startsWith(server.origin) && !u.startsWith("data:"));
    assert(foreign.length === 0, `requests to other origins: ${foreign.join(", ")}`);
    passed++;
    results.push(`ok   ${name}`);
  } catch (error) {
    failed++;
    results.push(`FAIL ${name}: ${error.message}`);
    await page.screenshot({ path: join(shots, `FAILED-${name.replace(/\W+/g, "-")}.png`) }).catch(() => {});
  } finally {
    await context.close();
  }
}

// Polls with page.evaluate (CDP), not waitForFunction (eval in the page),
// so it also works on the strict-CSP page.
async function until(page, fn, what = "condition", ms = 10000) {
  const end = Date.now() + ms;
  for (;;) {
    const value = await page.evaluate(fn);
    if (value) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
const ready = (page) => until(page, () => !!document.querySelector("referral-widget")?.shadowRoot?.querySelector(".launcher"), "the launcher");
const shadow = (page, selector) => page.evaluate((s) => {
  const n = document.querySelector("referral-widget").shadowRoot.querySelector(s);
  return n && { text: n.textContent, hidden: n.hidden || n.closest("[hidden]") !== null };
}, selector);
const activeInShadow = (page) => page.evaluate(() => {
  const a = document.querySelector("referral-widget").shadowRoot.activeElement;
  return a ? (a.getAttribute("part") || a.tagName.toLowerCase()) : null;
});

async function axe(page) {
  await page.addScriptTag({ content: axeSource });
  return page.evaluate(async () => {
    const r = await window.axe.run(document, { runOnly: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] });
    return r.violations.map((v) => `${v.id}: ${v.nodes.length}`);
  });
}

await test("keyboard: launcher → panel → copy → Escape, focus trapped and returned", async (page) => {
  await page.goto(`${server.origin}/pages/plain.html`);
  await ready(page);
  await page.focus("#before");
  await page.keyboard.press("Tab");
  assert((await activeInShadow(page)) === "launcher", `focus on ${await activeInShadow(page)}`);
  await page.keyboard.press("Enter");
  await until(page, () => !document.querySelector("referral-widget").shadowRoot.querySelector(".panel").hidden, "the panel");
  assert((await activeInShadow(page)) === "link", "focus moves into the dialog, on the link");
  const label = await page.evaluate(() => {
    const d = document.querySelector("referral-widget").shadowRoot.querySelector('[role="dialog"]');
    return { modal: d.getAttribute("aria-modal"), title: d.getRootNode().getElementById(d.getAttribute("aria-labelledby"))?.textContent };
  });
  assert(label.modal === "true" && label.title === "Invite friends to Acme Analytics", `dialog label ${JSON.stringify(label)}`);
  for (let i = 0; i < 12; i++) {
    await page.keyboard.press("Tab");
    const inside = await page.evaluate(() => document.querySelector("referral-widget").shadowRoot.activeElement?.closest('[role="dialog"]') !== null);
    assert(inside, `Tab ${i + 1} left the dialog`);
  }
  await page.keyboard.press("Shift+Tab");
  await page.evaluate(() => document.querySelector("referral-widget").shadowRoot.querySelector('[part="copy"]').focus());
  await page.keyboard.press("Enter");
  await until(page, () => document.querySelector("referral-widget").shadowRoot.querySelector('[role="status"]').textContent === "Link copied", "the Copied announcement");
  const clip = await page.evaluate(() => navigator.clipboard.readText());
  assert(clip.endsWith(`ref=${await page.evaluate(() => document.querySelector("referral-widget").code)}`), `clipboard holds ${clip}`);
  await page.screenshot({ path: join(shots, "panel-open.png") });
  await page.keyboard.press("Escape");
  assert((await shadow(page, ".panel")).hidden, "Escape closes the panel");
  assert((await activeInShadow(page)) === "launcher", "focus returns to the launcher");
  assert(page.errors.length === 0, page.errors.join("; "));
});

await test("share targets carry the referral link and the pre-written message", async (page) => {
  await page.goto(`${server.origin}/pages/plain.html?name=${encodeURIComponent("Zoë & \"Bob\" #1 100%")}`);
  await ready(page);
  await page.evaluate(() => document.querySelector("referral-widget").open());
  const hrefs = await page.evaluate(() => Object.fromEntries([...document.querySelector("referral-widget").shadowRoot.querySelectorAll("a[data-channel]")].map((a) => [a.dataset.channel, a.href])));
  const link = `https://app.example.com/join?ref=${CODE}`;
  assert(Object.keys(hrefs).join() === "email,linkedin,x,whatsapp,sms", Object.keys(hrefs).join());
  const param = (href, name) => new URL(href.replace(/^mailto:|^sms:/, "https://x.invalid/")).searchParams.get(name);
  assert(param(hrefs.email, "subject") === "Zoë & \"Bob\" #1 100% invited you to Acme Analytics", `subject ${param(hrefs.email, "subject")}`);
  assert(param(hrefs.email, "body").endsWith(link), "email body ends with the link");
  assert(param(hrefs.linkedin, "url") === link, "linkedin url");
  assert(param(hrefs.x, "url") === link, "x url");
  assert(param(hrefs.whatsapp, "text").includes(link), "whatsapp text");
  assert(param(hrefs.sms, "body").includes(link), "sms body");
  const qr = await page.evaluate(() => document.querySelector("referral-widget").shadowRoot.querySelector("svg.qr path").getAttribute("d").length);
  assert(qr > 500, "QR code drawn");
  const stats = await until(page, () => document.querySelector("referral-widget").shadowRoot.querySelector(".stats:not([hidden])")?.textContent, "stats");
  assert(stats.includes("12"), "progress from the stats URL");
});

await test("nudge: not during onboarding, not after friction, then asks without stealing focus", async (page) => {
  await page.goto(`${server.origin}/pages/plain.html?user=nudge-1`);
  await ready(page);
  await page.click("text=Generate report");
  assert((await page.evaluate(() => window.lastDecision.reason.code)) === "onboarding", "quiet during onboarding");
  assert((await shadow(page, ".nudge")).hidden, "no nudge during onboarding");
  const rough = await newPage(page.context());
  await rough.goto(`${server.origin}/pages/plain.html?user=nudge-friction`);
  await ready(rough);
  await rough.click("text=Finish onboarding");
  await rough.click("text=Break an integration");
  await rough.click("text=Generate report");
  assert((await rough.evaluate(() => window.lastDecision.reason.code)) === "recent_friction", "quiet after friction");
  assert((await shadow(rough, ".nudge")).hidden, "no nudge after friction");

  const fresh = await newPage(page.context());
  await fresh.goto(`${server.origin}/pages/plain.html?user=nudge-2`);
  await ready(fresh);
  await fresh.click("text=Finish onboarding");
  await fresh.focus("text=Generate report");
  await fresh.keyboard.press("Enter");
  const nudge = await shadow(fresh, ".nudge");
  assert(!nudge.hidden && nudge.text.includes("Your first report is ready!"), `nudge: ${JSON.stringify(nudge)}`);
  assert((await fresh.evaluate(() => document.activeElement.textContent)) === "Generate report", "focus stays on the host's button");
  await fresh.screenshot({ path: join(shots, "nudge.png") });
  const violations = await axe(fresh);
  assert(violations.length === 0, `axe with the nudge open: ${violations.join(", ")}`);
  await fresh.evaluate(() => document.querySelector("referral-widget").shadowRoot.querySelector('[part="nudge-never"]').click());
  assert((await shadow(fresh, ".nudge")).hidden, "Don't ask again hides it");
  await fresh.reload();
  await ready(fresh);
  // seat_added is a success moment: only the opt-out keeps it quiet.
  assert((await fresh.evaluate(() => window.referral.track("seat_added").reason.code)) === "opted_out", "opt-out survives a reload");
  assert((await shadow(fresh, ".nudge")).hidden, "no nudge after don't ask again");
});

await test("events are batched to the host's events URL with unique ids", async (page) => {
  const before = server.received.length;
  await page.goto(`${server.origin}/pages/plain.html?user=events-1`);
  await ready(page);
  await page.evaluate(() => document.querySelector("referral-widget").open());
  await page.evaluate(() => document.querySelector("referral-widget").shadowRoot.querySelector('a[data-channel="linkedin"]').dispatchEvent(new MouseEvent("click", { cancelable: true })));
  // Leaving the page flushes with sendBeacon.
  await page.goto("about:blank");
  await new Promise((r) => setTimeout(r, 500));
  const got = server.received.slice(before);
  const types = got.map((e) => e.type);
  assert(types.includes("impression") && types.includes("open") && types.includes("share"), `events: ${types}`);
  assert(new Set(got.map((e) => e.id)).size === got.length, "ids are unique");
});

await test("hostile global CSS changes nothing inside; the widget's CSS leaks nothing out", async (page) => {
  await page.goto(`${server.origin}/pages/plain.html`);
  await ready(page);
  const style = (p) => p.evaluate(() => {
    const b = document.querySelector("referral-widget").shadowRoot.querySelector(".launcher");
    const s = getComputedStyle(b);
    return { bg: s.backgroundColor, size: s.fontSize, border: s.borderStyle, transform: s.textTransform, width: b.getBoundingClientRect().width };
  });
  const reference = await style(page);
  const hostile = await newPage(page.context());
  await hostile.goto(`${server.origin}/pages/hostile.html`);
  await ready(hostile);
  const attacked = await style(hostile);
  assert(JSON.stringify(reference) === JSON.stringify(attacked), `${JSON.stringify(reference)} vs ${JSON.stringify(attacked)}`);
  await hostile.evaluate(() => document.querySelector("referral-widget").open());
  const dialogVisible = await hostile.evaluate(() => getComputedStyle(document.querySelector("referral-widget").shadowRoot.querySelector('[role="dialog"]')).display !== "none");
  assert(dialogVisible, "the host's [role=dialog] rule does not hide the panel");
  await hostile.screenshot({ path: join(shots, "hostile-css-panel.png") });
  const hostButton = await page.evaluate(() => getComputedStyle(document.getElementById("host-button")).backgroundColor);
  assert(hostButton !== reference.bg, "the widget's .launcher style did not leak onto the host's button");
});

await test("strict CSP page works (no inline script or style, wasm-unsafe-eval only)", async (page) => {
  const violations = [];
  page.on("console", (m) => /Content Security Policy/i.test(m.text()) && violations.push(m.text()));
  await page.goto(`${server.origin}/pages/csp.html?user=csp-1`);
  await ready(page);
  await page.click("text=Finish onboarding");
  await page.click("text=Generate report");
  await page.evaluate(() => document.querySelector("referral-widget").open());
  const styled = await page.evaluate(() => getComputedStyle(document.querySelector("referral-widget").shadowRoot.querySelector(".launcher")).fontWeight);
  assert(styled === "600", "constructable stylesheet applied under CSP");
  assert(violations.length === 0, violations.join("; "));
  await page.screenshot({ path: join(shots, "csp.png") });
});

await test("an XSS referrer name renders as inert text", async (page) => {
  await page.goto(`${server.origin}/pages/plain.html?name=${encodeURIComponent("<img src=x onerror=alert(1)>")}`);
  await ready(page);
  await page.evaluate(() => document.querySelector("referral-widget").open());
  const r = await page.evaluate(() => {
    const root = document.querySelector("referral-widget").shadowRoot;
    return { imgs: root.querySelectorAll("img").length, title: root.querySelector("h2").textContent };
  });
  assert(r.imgs === 0, "no element was created from the name");
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert(!page.errors.some((e) => e.includes("dialog opened")), "no script ran");
  const body = await page.evaluate(() => decodeURIComponent(document.querySelector("referral-widget").shadowRoot.querySelector('a[data-channel="email"]').href));
  assert(body.includes("<img src=x onerror=alert(1)>"), "the name reaches the message literally");
});

await test("axe-core: no WCAG 2.1 A/AA violations with the panel open", async (page) => {
  await page.goto(`${server.origin}/pages/plain.html`);
  await ready(page);
  await page.evaluate(() => document.querySelector("referral-widget").open());
  const violations = await axe(page);
  assert(violations.length === 0, violations.join(", "));
});

await test("right-to-left locale lays out right to left", async (page) => {
  await page.goto(`${server.origin}/pages/plain.html?locale=ar`);
  await ready(page);
  await page.evaluate(() => document.querySelector("referral-widget").open());
  const r = await page.evaluate(() => {
    const d = document.querySelector("referral-widget").shadowRoot.querySelector('[role="dialog"]');
    const close = d.querySelector(".close").getBoundingClientRect();
    const box = d.getBoundingClientRect();
    return { dir: getComputedStyle(d).direction, closeOnLeft: close.left - box.left < box.right - close.right, launcher: document.querySelector("referral-widget").shadowRoot.querySelector(".launcher").textContent };
  });
  assert(r.dir === "rtl" && r.closeOnLeft && r.launcher === "ادعُ أصدقاءك", JSON.stringify(r));
  await page.screenshot({ path: join(shots, "rtl.png") });
});

await test("capture: landing → URL cleaned → SPA navigation → OAuth redirect → signup sees it", async (page) => {
  await page.goto(`${server.origin}/pages/landing.html?utm_source=referral&ref=${CODE}#top`);
  const captured = await page.evaluate(() => window.captureDone);
  assert(captured && captured.code === CODE, "captured");
  assert(page.url() === `${server.origin}/pages/landing.html?utm_source=referral#top`, `URL now ${page.url()}`);
  const cookie = (await page.context().cookies()).find((c) => c.name === "referral_code");
  assert(cookie && cookie.expires > Date.now() / 1000 + 89 * 86400, "first-party cookie for the window");
  await page.click("#spa-link");
  assert((await page.evaluate(() => window.getCapturedReferral()?.code)) === CODE, "kept across SPA navigation");
  await page.click("#oauth");
  await page.waitForURL(`${server.origin}/pages/signup.html`);
  const record = await page.evaluate(() => window.ready);
  assert(record && record.code === CODE, "signup page reads it after the redirect");
  const bad = await newPage(page.context());
  await bad.goto(`${server.origin}/pages/landing.html?ref=not-a-real-code`);
  assert((await bad.evaluate(() => window.captureDone)) === null, "a malformed code is not captured");
});

await test("capture: consent mode stores nothing until consent", async (page) => {
  await page.goto(`${server.origin}/pages/landing.html?consent=pending&ref=${CODE}`);
  await page.evaluate(() => window.captureDone);
  const stored = await page.evaluate(() => localStorage.getItem("referral:captured"));
  assert(stored === null && !(await page.context().cookies()).some((c) => c.name === "referral_code"), "nothing stored before consent");
  await page.click("#consent");
  assert((await page.evaluate(() => JSON.parse(localStorage.getItem("referral:captured")).code)) === CODE, "stored after consent");
});

await test("a Vite-built app mounts the widget from the npm package", async (page) => {
  await page.goto(`${server.origin}/vite/`);
  await until(page, () => document.body.dataset.widgetReady === "true", "the widget in the Vite app");
  const launcher = await page.evaluate(() => document.querySelector("referral-widget").shadowRoot.querySelector(".launcher").textContent);
  assert(launcher === "Invite friends", launcher);
  // The code check's small module is inlined by Vite (a data: URL); the
  // panel's comes from Vite's assets when the panel opens.
  await page.evaluate(() => document.querySelector("referral-widget").open());
  assert(page.requests.some((u) => /\/vite\/assets\/referral_panel_bg-.*\.wasm$/.test(u)), "the panel's wasm came from Vite's assets");
});

await browser.close();
server.close();
for (const line of results) console.log(line);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
