// Where the widget is drawn, on real screen sizes: the ask and the panel
// are checked with checkAsk/checkPanel (every control inside the viewport
// and hit at its centre) at 1280×720, 375×667, 320×568 (reflow) and 200 %
// zoom, left-to-right and right-to-left, inline and floating, with the
// launcher at the top and the bottom of the screen, inside a host container
// that traps fixed positioning, under a sticky header and a chat bubble at
// the highest z-index. Also: a click outside and Escape close the panel.
// Prints "N passed, M failed".
import { mkdir } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { launchChromium, until } from "./browser.mjs";
import { start } from "./server.mjs";
import { checkAsk, checkPanel } from "./geometry-lib.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const shots = join(here, "screenshots");
await mkdir(shots, { recursive: true });
const server = await start();
const browser = await launchChromium();

const screens = [
  { name: "1280x720", viewport: { width: 1280, height: 720 }, scale: 1 },
  { name: "375x667", viewport: { width: 375, height: 667 }, scale: 2 },
  { name: "320x568", viewport: { width: 320, height: 568 }, scale: 2 },
  // 200 % zoom of a 1280×720 window: half the CSS pixels, twice the density.
  { name: "zoom200", viewport: { width: 640, height: 360 }, scale: 2 },
];
let passed = 0;
let failed = 0;
const log = [];

for (const screen of screens) {
  for (const dir of ["ltr", "rtl"]) {
    for (const floating of [false, true]) {
      for (const at of ["top", "bottom"]) {
        const label = `${screen.name} ${dir} ${floating ? "floating" : "inline"} launcher-at-${at}`;
        const context = await browser.newContext({ viewport: screen.viewport, deviceScaleFactor: screen.scale });
        const page = await context.newPage();
        const errors = [];
        page.on("pageerror", (e) => errors.push(String(e)));
        try {
          const locale = dir === "rtl" ? "&locale=ar" : "";
          await page.goto(`${server.origin}/pages/geometry.html?dir=${dir}${floating ? "&floating=1" : ""}${locale}`);
          await until(page, () => document.querySelector("referral-widget")?.engine && document.querySelector("referral-widget").shadowRoot.querySelector(".launcher"), "the widget");
          // The launcher just under the sticky header, or at the screen's bottom edge.
          await page.evaluate((at) => {
            const l = document.querySelector("referral-widget").shadowRoot.querySelector(".launcher");
            const r = l.getBoundingClientRect();
            const vh = document.documentElement.clientHeight;
            window.scrollBy(0, at === "top" ? r.top - 60 : r.bottom - vh + 2);
          }, at);
          await page.evaluate(() => {
            referral.track("onboarding_completed");
            referral.track("report_generated");
          });
          await until(page, () => !document.querySelector("referral-widget").shadowRoot.querySelector(".nudge").hidden, "the ask");
          await checkAsk(page, label);
          // Open from the ask, as a person would.
          await page.evaluate(() => document.querySelector("referral-widget").shadowRoot.querySelector('[part="nudge-invite"]').click());
          await until(page, () => document.querySelector("referral-widget").shadowRoot.querySelector(".panel")?.open, "the panel");
          await checkPanel(page, label);
          const expanded = await page.evaluate(() => document.querySelector("referral-widget").shadowRoot.querySelector(".launcher").getAttribute("aria-expanded"));
          if (expanded !== "true") throw new Error(`${label}: aria-expanded is ${expanded} with the panel open`);
          if (screen.name === "375x667" && at === "bottom") await page.screenshot({ path: join(shots, `geometry-${dir}-${floating ? "floating" : "inline"}.png`) });
          // A click on the backdrop closes it, and focus returns.
          await page.mouse.click(3, screen.viewport.height - 3);
          const closed = await page.evaluate(() => {
            const root = document.querySelector("referral-widget").shadowRoot;
            return !root.querySelector(".panel").open && root.activeElement?.classList.contains("launcher");
          });
          if (!closed) throw new Error(`${label}: a click outside did not close the panel and return focus`);
          // Escape closes it too, after reopening.
          await page.evaluate(() => document.querySelector("referral-widget").open());
          await page.keyboard.press("Escape");
          if (await page.evaluate(() => document.querySelector("referral-widget").shadowRoot.querySelector(".panel").open)) {
            throw new Error(`${label}: Escape did not close the panel`);
          }
          if (errors.length) throw new Error(`${label}: ${errors.join("; ")}`);
          passed++;
          log.push(`ok   ${label}`);
        } catch (error) {
          failed++;
          log.push(`FAIL ${error.message}`);
          await page.screenshot({ path: join(shots, `FAILED-geometry-${label.replace(/\W+/g, "-")}.png`) }).catch(() => {});
        } finally {
          await context.close();
        }
      }
    }
  }
}

// Escape dismisses the ask as "not now": recorded, and it does not come back
// for the next report.
{
  const context = await browser.newContext({ viewport: { width: 1280, height: 720 } });
  const page = await context.newPage();
  try {
    await page.goto(`${server.origin}/pages/geometry.html?user=escape-ask`);
    await until(page, () => document.querySelector("referral-widget")?.engine, "the widget");
    await page.evaluate(() => { referral.track("onboarding_completed"); referral.track("report_generated"); });
    await until(page, () => !document.querySelector("referral-widget").shadowRoot.querySelector(".nudge").hidden, "the ask");
    await page.keyboard.press("Escape");
    const hidden = await page.evaluate(() => document.querySelector("referral-widget").shadowRoot.querySelector(".nudge").hidden);
    const state = await page.evaluate(() => localStorage.getItem("referral-widget:v1:nudge:escape-ask"));
    if (!hidden) throw new Error("Escape left the ask on screen");
    if (!state || !state.includes("dismissed")) throw new Error(`Escape was not recorded as "not now": ${state}`);
    passed++;
    log.push("ok   Escape dismisses the ask as not now");
  } catch (error) {
    failed++;
    log.push(`FAIL Escape dismisses the ask: ${error.message}`);
  } finally {
    await context.close();
  }
}

await browser.close();
server.close();
for (const line of log) console.log(line);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
