// The widget under real-world conditions: calls made in every phase of
// loading, slow and failing endpoints, bad input from the host, a full
// localStorage, two widgets on one page, a framework re-setting equal
// options, and events that must outlive a failing server or a page load.
// Prints "N passed, M failed".
import { launchChromium, until } from "./browser.mjs";
import { CODE, start } from "./server.mjs";

const server = await start();
const browser = await launchChromium();
let passed = 0;
let failed = 0;
const log = [];
function assert(condition, message) {
  if (!condition) throw new Error(message);
}
const askShown = () => [...document.querySelectorAll("referral-widget")].filter((w) => w.shadowRoot.querySelector(".nudge") && !w.shadowRoot.querySelector(".nudge").hidden).length;

async function test(name, body) {
  Object.assign(server.behaviour, { codeFailures: 0, configDelayMs: 0, eventsStatus: 202, eventsRetryAfter: null, codeCalls: 0, eventCalls: 0, stateDelayMs: 0 });
  Object.assign(server.person, { state: null, version: 0, puts: [] });
  const context = await browser.newContext();
  const page = await context.newPage();
  page.errors = [];
  page.warnings = [];
  page.on("pageerror", (e) => page.errors.push(String(e)));
  page.on("console", (m) => m.type() === "warning" && page.warnings.push(m.text()));
  try {
    await body(page, context);
    assert(page.errors.length === 0, `uncaught in the page: ${page.errors.join("; ")}`);
    passed++;
    log.push(`ok   ${name}`);
  } catch (error) {
    failed++;
    log.push(`FAIL ${name}: ${error.message}`);
  } finally {
    await context.close();
  }
}

await test("track() before the widget is ready is queued, not dropped", async (page) => {
  server.behaviour.configDelayMs = 800;
  await page.goto(`${server.origin}/pages/plain.html?user=early-${Date.now()}&early=1`);
  await until(page, askShown, "the ask for events sent before the widget was ready");
});

await test("track() through the stub, before the module loaded, is replayed", async (page) => {
  await page.goto(`${server.origin}/pages/early.html?user=stub-${Date.now()}`);
  await until(page, askShown, "the ask for events sent before the module loaded");
});

await test("a hanging nudge config does not hold the launcher back", async (page) => {
  server.behaviour.configDelayMs = 20000;
  const started = Date.now();
  await page.goto(`${server.origin}/pages/plain.html?user=hang-${Date.now()}`);
  await until(page, () => !!document.querySelector("referral-widget")?.shadowRoot?.querySelector(".launcher"), "the launcher", 5000);
  assert(Date.now() - started < 5000, "the launcher waited for the config");
});

await test("a failing code URL is retried, then reported with referral-error", async (page) => {
  server.behaviour.codeFailures = 2;
  await page.goto(`${server.origin}/pages/plain.html?user=retry-${Date.now()}`);
  await until(page, () => !!document.querySelector("referral-widget")?.shadowRoot?.querySelector(".launcher"), "the launcher after two failures", 15000);
  assert(server.behaviour.codeCalls >= 3, `code fetched ${server.behaviour.codeCalls} times`);
  server.behaviour.codeFailures = "always";
  const other = await page.context().newPage();
  await other.addInitScript(() => {
    window.errorsSeen = [];
    addEventListener("referral-error", (e) => window.errorsSeen.push(e.detail.code), true);
    document.addEventListener("DOMContentLoaded", () => document.querySelector("referral-widget").addEventListener("referral-error", (e) => window.errorsSeen.push(e.detail.code)));
  });
  await other.goto(`${server.origin}/pages/plain.html?user=fail-${Date.now()}`);
  const seen = await until(other, () => window.errorsSeen.length && window.errorsSeen, "referral-error", 20000);
  assert(seen.includes("code_unavailable"), `errors: ${seen}`);
});

await test("bad input to track() never throws into the host", async (page) => {
  await page.goto(`${server.origin}/pages/plain.html?user=bad-${Date.now()}`);
  await until(page, () => document.querySelector("referral-widget")?.engine, "the engine");
  const out = await page.evaluate(() => {
    const errors = [];
    document.addEventListener("referral-error", (e) => errors.push(e.detail.code));
    const results = [];
    for (const args of [[42], [""], ["x".repeat(65)], ["report_generated", "nope"], ["report_generated", { nested: { a: 1 } }], ["report_generated", [1, 2]]]) {
      try {
        results.push(window.referral.track(...args));
      } catch (e) {
        return { threw: String(e) };
      }
    }
    try {
      document.querySelector("referral-widget").track(undefined);
    } catch (e) {
      return { threw: String(e) };
    }
    return { results, errors };
  });
  assert(!out.threw, `threw: ${out.threw}`);
  assert(out.results.every((r) => r === null), JSON.stringify(out.results));
  assert(out.errors.length >= 6 && out.errors.every((c) => c === "invalid_event"), JSON.stringify(out.errors));
  assert(page.warnings.length >= 6, `console warnings: ${page.warnings.length}`);
});

await test("a share template with an unknown placeholder shows an error state", async (page) => {
  await page.goto(`${server.origin}/pages/plain.html?user=tpl-${Date.now()}`);
  await until(page, () => !!document.querySelector("referral-widget")?.shadowRoot?.querySelector(".launcher"), "the launcher");
  const out = await page.evaluate(async () => {
    const w = document.querySelector("referral-widget");
    const errors = [];
    w.addEventListener("referral-error", (e) => errors.push(e.detail.code));
    w.options = { message: { subject: "Hi", body: "Join {nope}" } };
    await new Promise((r) => w.addEventListener("referral-ready", r, { once: true }));
    try {
      w.shadowRoot.querySelector(".launcher").click();
    } catch (e) {
      return { threw: String(e) };
    }
    // The panel's module is fetched on the first open: it opens once loaded.
    const panel = w.shadowRoot.querySelector(".panel");
    for (let i = 0; i < 250 && !panel.open; i++) await new Promise((r) => setTimeout(r, 20));
    return { open: panel.open, error: !!panel.querySelector('[part="error"]'), errors };
  });
  assert(!out.threw, out.threw);
  assert(out.open && out.error, JSON.stringify(out));
  assert(out.errors.length >= 1, "no referral-error");
});

await test("the panel's module fetched on intent; when it fails, an error state, and the next open loads it", async (page) => {
  const panelFetches = [];
  page.on("request", (r) => r.url().includes("referral_panel_bg.wasm") && panelFetches.push(r.url()));
  let failPanel = true;
  await page.route("**/referral_panel_bg.wasm", (route) => (failPanel ? route.abort() : route.continue()));
  await page.goto(`${server.origin}/pages/plain.html?user=panel-${Date.now()}`);
  await until(page, () => !!document.querySelector("referral-widget")?.shadowRoot?.querySelector(".launcher"), "the launcher");
  await new Promise((r) => setTimeout(r, 300));
  assert(panelFetches.length === 0, "the panel's module was fetched by the first load");
  const first = await page.evaluate(async () => {
    const w = document.querySelector("referral-widget");
    const errors = [];
    w.addEventListener("referral-error", (e) => errors.push(e.detail.code));
    await w.open();
    const panel = w.shadowRoot.querySelector(".panel");
    const out = { open: panel.open, error: !!panel.querySelector('[part="error"]'), errors };
    w.close();
    return out;
  });
  assert(first.open && first.error && first.errors.join() === "module_unavailable", JSON.stringify(first));
  page.warnings.length = 0;
  failPanel = false;
  await page.hover("referral-widget");
  const second = await page.evaluate(async () => {
    const w = document.querySelector("referral-widget");
    await w.open();
    const panel = w.shadowRoot.querySelector(".panel");
    return { open: panel.open, link: panel.querySelector('[part="link"]')?.value || "", qr: !!panel.querySelector('[part="qr"] path') };
  });
  assert(second.open && second.link.includes("ref=") && second.qr, JSON.stringify(second));
});

await test("without a nudge config the engine's module is not fetched; a refused code is named by core", async (page) => {
  const engineFetches = [];
  page.on("request", (r) => r.url().endsWith("/referral_wasm_bg.wasm") && engineFetches.push(r.url()));
  await page.goto(`${server.origin}/pages/launch-plain.html`);
  const out = await page.evaluate(async (code) => {
    await import("/pkg/widget.min.js");
    const w = window.referral.mount(document.body, { code, shareBaseUrl: "https://app.example.com/join" });
    await new Promise((r) => w.addEventListener("referral-ready", r, { once: true }));
    return { launcher: !!w.shadowRoot.querySelector(".launcher") };
  }, CODE);
  assert(out.launcher, "no launcher");
  await new Promise((r) => setTimeout(r, 300));
  assert(engineFetches.length === 0, `the engine's module was fetched: ${engineFetches.join(", ")}`);
  const refused = await page.evaluate(async () => {
    const errors = [];
    const w = document.createElement("referral-widget");
    w.addEventListener("referral-error", (e) => errors.push(e.detail.code));
    w.options = { code: "not-a-code", shareBaseUrl: "https://app.example.com/join" };
    document.body.append(w);
    await new Promise((r) => w.addEventListener("referral-ready", r, { once: true }));
    return { errors, launcher: !!w.shadowRoot.querySelector(".launcher") };
  });
  assert(refused.errors.join() === "malformed" && !refused.launcher, JSON.stringify(refused));
  page.warnings.length = 0;
});

await test("two widgets on one page count each event once and ask once", async (page) => {
  await page.goto(`${server.origin}/pages/two.html`);
  await page.evaluate(() => localStorage.clear());
  await page.reload();
  await until(page, () => [...document.querySelectorAll("referral-widget")].every((w) => w.engine), "both engines");
  await page.evaluate(() => {
    window.referral.track("onboarding_completed");
    window.referral.track("report_generated");
  });
  await until(page, askShown, "the ask");
  const state = JSON.parse(await page.evaluate(() => localStorage.getItem("referral-widget:v1:nudge:two-widgets")));
  const text = JSON.stringify(state);
  assert(await page.evaluate(askShown) === 1, "asked twice");
  // The second report is the second occurrence, not the fourth.
  assert(state.counts?.report_generated === 1, `state counts: ${text}`);
});

await test("with localStorage full the state still advances and the ask comes", async (page) => {
  await page.goto(`${server.origin}/pages/plain.html?user=full-${Date.now()}`);
  await page.evaluate(() => {
    const chunk = "x".repeat(1 << 16);
    try {
      for (let i = 0; i < 10000; i++) localStorage.setItem(`junk-${i}`, chunk);
    } catch {
      // full
    }
  });
  await page.reload();
  await until(page, () => document.querySelector("referral-widget")?.engine, "the engine");
  await page.evaluate(() => {
    window.referral.track("onboarding_completed");
    window.referral.track("report_generated");
  });
  await until(page, askShown, "the ask with storage full");
  // "Don't ask again" must hold for the rest of the page view.
  await page.evaluate(() => document.querySelector("referral-widget").shadowRoot.querySelector('[part="nudge-never"]').click());
  await page.evaluate(() => {
    window.referral.track("report_generated");
    window.referral.track("report_generated");
    window.referral.track("nps_submitted", { score: 10 });
  });
  await new Promise((r) => setTimeout(r, 300));
  assert((await page.evaluate(askShown)) === 0, "asked again after don't ask again (the state did not advance)");
  await page.evaluate(() => localStorage.clear());
});

await test("equal options from a re-render change nothing; the open panel stays", async (page) => {
  await page.goto(`${server.origin}/pages/plain.html?user=rerender-${Date.now()}`);
  await until(page, () => !!document.querySelector("referral-widget")?.shadowRoot?.querySelector(".launcher"), "the launcher");
  const out = await page.evaluate(async () => {
    const w = document.querySelector("referral-widget");
    w.options = { product: "Acme", userToken: () => "t1" };
    await new Promise((r) => setTimeout(r, 100));
    await w.open();
    const input = w.shadowRoot.querySelector('[part="link"]');
    for (let i = 0; i < 10; i++) {
      w.options = { product: "Acme", userToken: () => `t${i}` }; // a fresh object and function each render
      await new Promise((r) => setTimeout(r, 20));
    }
    return { open: w.shadowRoot.querySelector(".panel").open, sameInput: w.shadowRoot.querySelector('[part="link"]') === input, focused: w.shadowRoot.activeElement === input };
  });
  assert(out.open && out.sameInput && out.focused, JSON.stringify(out));
  // A real change re-renders but keeps the panel open.
  const changed = await page.evaluate(async () => {
    const w = document.querySelector("referral-widget");
    w.options = { product: "Acme Pro" };
    await new Promise((r) => w.addEventListener("referral-ready", r, { once: true }));
    return { open: w.shadowRoot.querySelector(".panel").open, title: w.shadowRoot.querySelector("h2")?.textContent };
  });
  assert(changed.open && changed.title.includes("Acme Pro"), JSON.stringify(changed));
  await page.goto("about:blank");
  await new Promise((r) => setTimeout(r, 300));
  const impressions = server.received.filter((e) => e.type === "impression" && e.surface === "launcher");
  assert(impressions.length >= 1, "no impression");
});

await test("events outlive a failing server and a page load; 4xx other than 408/429 are dropped", async (page) => {
  server.behaviour.eventsStatus = 503;
  const user = `queue-${Date.now()}`;
  await page.goto(`${server.origin}/pages/plain.html?user=${user}`);
  await until(page, () => document.querySelector("referral-widget")?.shadowRoot?.querySelector(".launcher"), "the launcher");
  await page.evaluate(() => document.querySelector("referral-widget").open());
  const queued = await until(page, () => {
    const q = Object.keys(localStorage).filter((k) => k.startsWith("referral-widget:v1:events:/api/events|")).flatMap((k) => JSON.parse(localStorage.getItem(k) || "[]"));
    return q.length >= 2 && q;
  }, "events kept in storage");
  const ids = queued.map((e) => e.id);
  await page.goto("about:blank");
  await new Promise((r) => setTimeout(r, 300));
  // The next page view starts while the server still fails (so a beacon
  // from the last page cannot be what delivers them), then it is back.
  const before = server.received.length;
  await page.goto(`${server.origin}/pages/plain.html?user=${user}`);
  await until(page, () => document.querySelector("referral-widget")?.shadowRoot?.querySelector(".launcher"), "the launcher again");
  assert(server.received.length === before, "something was accepted while the server failed");
  server.behaviour.eventsStatus = 202;
  const end = Date.now() + 15000;
  while (Date.now() < end && !ids.every((id) => server.received.slice(before).some((e) => e.id === id))) await new Promise((r) => setTimeout(r, 100));
  assert(ids.every((id) => server.received.slice(before).some((e) => e.id === id)), "events from the earlier page view were lost");
  // 429 with Retry-After: retried, not dropped.
  server.behaviour.eventsStatus = 429;
  server.behaviour.eventsRetryAfter = 1;
  await page.evaluate(() => document.querySelector("referral-widget").open());
  await until(page, () => Object.keys(localStorage).filter((k) => k.startsWith("referral-widget:v1:events:/api/events|")).flatMap((k) => JSON.parse(localStorage.getItem(k) || "[]")).length > 0, "queued after 429");
  server.behaviour.eventsStatus = 202;
  await until(page, () => Object.keys(localStorage).filter((k) => k.startsWith("referral-widget:v1:events:/api/events|")).flatMap((k) => JSON.parse(localStorage.getItem(k) || "[]")).length === 0, "delivered after Retry-After", 15000);
  // 400: given up, not retried forever.
  server.behaviour.eventsStatus = 400;
  await page.evaluate(() => document.querySelector("referral-widget").close());
  await page.evaluate(() => document.querySelector("referral-widget").open());
  await until(page, () => Object.keys(localStorage).filter((k) => k.startsWith("referral-widget:v1:events:/api/events|")).flatMap((k) => JSON.parse(localStorage.getItem(k) || "[]")).length === 0, "dropped after 400", 15000);
  page.warnings.length = 0;
});

const optedOut = (user) => ({ v: 2, user_id: user, profile: { onboarding_completed_at: 1780000000 }, first_seen: 1780000000, counts: { report_generated: 1 }, asks: [1780000100], last_shown: 1780000100, opted_out_at: 1780000101, total_asks: 1 });

await test("an opt-out kept by the backend holds, even when it arrives late", async (page) => {
  const user = `late-${Date.now()}`;
  server.person.state = optedOut(user);
  server.person.version = 3;
  server.behaviour.stateDelayMs = 1500;
  await page.goto(`${server.origin}/pages/plain.html?user=${user}&state=1`);
  await until(page, () => document.querySelector("referral-widget")?.engine, "the engine");
  // Sent the moment the engine exists, before the person's state is in.
  await page.evaluate(() => {
    window.referral.track("onboarding_completed");
    window.referral.track("report_generated");
    window.referral.track("report_generated");
  });
  await new Promise((r) => setTimeout(r, 2500));
  assert((await page.evaluate(askShown)) === 0, "asked a person who opted out on another device");
  assert(server.person.state.opted_out_at === 1780000101, `the stored opt-out changed: ${JSON.stringify(server.person.state)}`);
});

await test("a corrupt local copy gives way to the stored opt-out", async (page) => {
  const user = `corrupt-${Date.now()}`;
  server.person.state = optedOut(user);
  server.person.version = 1;
  await page.goto(`${server.origin}/pages/plain.html`);
  await page.evaluate((u) => localStorage.setItem(`referral-widget:v1:nudge:${u}`, JSON.stringify({ v: 99, user_id: u })), user);
  await page.goto(`${server.origin}/pages/plain.html?user=${user}&state=1`);
  await until(page, () => document.querySelector("referral-widget")?.nudgesReady, "the person's state");
  await page.evaluate(() => {
    window.referral.track("onboarding_completed");
    window.referral.track("report_generated");
  });
  await new Promise((r) => setTimeout(r, 800));
  assert((await page.evaluate(askShown)) === 0, "asked after a corrupt local copy");
  assert(server.person.puts.every((s) => s.opted_out_at === 1780000101), `a write dropped the opt-out: ${JSON.stringify(server.person.puts)}`);
});

await test("the ask never covers the open panel; it waits for it to close", async (page) => {
  await page.goto(`${server.origin}/pages/plain.html?user=panel-${Date.now()}`);
  await until(page, () => document.querySelector("referral-widget")?.nudgesReady, "the engine");
  await page.evaluate(() => document.querySelector("referral-widget").open());
  await page.evaluate(() => {
    window.referral.track("onboarding_completed");
    window.referral.track("report_generated");
  });
  await new Promise((r) => setTimeout(r, 300));
  assert((await page.evaluate(askShown)) === 0, "the ask was drawn over the open panel");
  await page.keyboard.press("Escape");
  await until(page, askShown, "the ask after the panel closed");
});

await test("a removed widget leaves no listener behind", async (page) => {
  const user = `removed-${Date.now()}`;
  await page.goto(`${server.origin}/pages/plain.html?user=${user}`);
  await until(page, () => document.querySelector("referral-widget")?.nudgesReady, "the engine");
  await page.evaluate(() => {
    window.referral.track("onboarding_completed");
    window.referral.track("report_generated");
  });
  await until(page, askShown, "the ask");
  await page.evaluate(() => document.querySelector("referral-widget").remove());
  await page.keyboard.press("Escape");
  const state = await page.evaluate((u) => localStorage.getItem(`referral-widget:v1:nudge:${u}`), user);
  assert(!state.includes("last_dismissed"), `Escape on a removed widget recorded a dismissal: ${state}`);
});

await test("Retry-After is honoured even with a full batch waiting", async (page) => {
  await page.goto(`${server.origin}/pages/plain.html?user=pause-${Date.now()}`);
  await until(page, () => document.querySelector("referral-widget")?.shadowRoot?.querySelector(".launcher"), "the launcher");
  server.behaviour.eventsStatus = 429;
  server.behaviour.eventsRetryAfter = 5;
  await page.evaluate(() => {
    const w = document.querySelector("referral-widget");
    for (let i = 0; i < 25; i++) w.events.push("share", { channel: "email" });
  });
  await new Promise((r) => setTimeout(r, 500));
  const first = server.behaviour.eventCalls;
  await page.evaluate(() => {
    const w = document.querySelector("referral-widget");
    for (let i = 0; i < 30; i++) w.events.push("share", { channel: "email" });
  });
  await new Promise((r) => setTimeout(r, 2500));
  assert(first >= 1, "nothing was sent");
  assert(server.behaviour.eventCalls === first, `${server.behaviour.eventCalls - first} more POSTs during a 5 s Retry-After`);
});

await browser.close();
server.close();
for (const line of log) console.log(line);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
