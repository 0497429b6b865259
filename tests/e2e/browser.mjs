// What every browser test shares: Debian's Chromium started headless the
// way this machine needs it (no downloaded browser, no background
// networking), and a poll that reads the page through CDP.
import { chromium } from "playwright-core";

export function launchChromium() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--no-sandbox", "--headless", "--disable-gpu", "--disable-quic", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
  });
}

/**
 * Polls `fn` in the page (page.evaluate, so strict-CSP pages work too)
 * until it returns something truthy, which is returned. A navigation that
 * replaces the page under the poll is retried, not failed.
 */
export async function until(page, fn, what = "condition", ms = 10000, arg) {
  const end = Date.now() + ms;
  for (;;) {
    const value = await page.evaluate(fn, arg).catch(() => null);
    if (value) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
