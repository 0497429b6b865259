// examples/web-react in Chromium: a React 19 app that re-renders every
// second with an inline `options` object. The open panel stays open with
// the focus where it was, a shown ask stays shown, and the page sends one
// impression. Prints "N passed, M failed".
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { launchChromium, until } from "./browser.mjs";
import { start } from "./server.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const server = await start({ mounts: [["/react/", join(here, "..", "..", "examples", "web-react", "dist")]] });
const browser = await launchChromium();
let passed = 0;
let failed = 0;
const log = [];
const seconds = (page) => page.evaluate(() => Number(document.getElementById("clock").dataset.seconds));
async function test(name, body) {
  const page = await (await browser.newContext()).newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  try {
    await body(page);
    if (errors.length) throw new Error(errors.join("; "));
    passed++;
    log.push(`ok   ${name}`);
  } catch (error) {
    failed++;
    log.push(`FAIL ${name}: ${error.message}`);
  } finally {
    await page.context().close();
  }
}

await test("re-renders keep the open panel, its focus, the shown ask and one impression", async (page) => {
  const before = server.received.length;
  await page.goto(`${server.origin}/react/`);
  await until(page, () => document.querySelector("referral-widget")?.engine, "the widget in the React app");
  await page.click("#onboarded");
  await page.click("#report");
  await until(page, () => !document.querySelector("referral-widget").shadowRoot.querySelector(".nudge").hidden, "the ask");
  const t0 = await seconds(page);
  await until(page, async () => Number(document.getElementById("clock").dataset.seconds) >= 0, "a tick");
  await new Promise((r) => setTimeout(r, 2500));
  if ((await seconds(page)) < t0 + 2) throw new Error("the app did not re-render");
  const askStill = await page.evaluate(() => !document.querySelector("referral-widget").shadowRoot.querySelector(".nudge").hidden);
  if (!askStill) throw new Error("a re-render removed the shown ask");
  await page.evaluate(() => document.querySelector("referral-widget").shadowRoot.querySelector('[part="nudge-invite"]').click());
  await until(page, () => document.querySelector("referral-widget").shadowRoot.querySelector(".panel").open, "the panel");
  const input = await page.evaluate(() => document.querySelector("referral-widget").shadowRoot.activeElement?.getAttribute("part"));
  const t1 = await seconds(page);
  await new Promise((r) => setTimeout(r, 2500));
  if ((await seconds(page)) < t1 + 2) throw new Error("the app did not re-render with the panel open");
  const after = await page.evaluate(() => {
    const root = document.querySelector("referral-widget").shadowRoot;
    return { open: root.querySelector(".panel").open, focus: root.activeElement?.getAttribute("part") };
  });
  if (!after.open || after.focus !== input) throw new Error(`after re-renders: ${JSON.stringify(after)} (focus was on ${input})`);
  await page.goto("about:blank");
  await new Promise((r) => setTimeout(r, 500));
  const mine = server.received.slice(before);
  const impressions = mine.filter((e) => e.type === "impression").length;
  const shown = mine.filter((e) => e.type === "nudge_shown").length;
  if (impressions !== 1 || shown !== 1) throw new Error(`${impressions} impressions and ${shown} nudge_shown for one page view`);
});

await browser.close();
server.close();
for (const line of log) console.log(line);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
