// Time from module import to the launcher being rendered, median of 20 cold
// loads (new browser context each: no cache) in headless Chromium.
// Run: `cargo xtask wasm && node tests/e2e/bench.mjs`.
import { chromium } from "playwright-core";
import { start } from "./server.mjs";

const server = await start();
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--headless", "--disable-gpu", "--disable-quic", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
});
// The plain embedding, then the same page with the preload hints the
// README recommends (module and wasm fetched while the page parses).
for (const [label, path] of [["plain", "bench.html"], ["with preload hints", "bench-preload.html"]]) {
  const samples = [];
  for (let i = 0; i < 20; i++) {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${server.origin}/pages/${path}`);
    samples.push(await page.evaluate(() => window.launcherRendered));
    await context.close();
  }
  samples.sort((a, b) => a - b);
  const median = (samples[9] + samples[10]) / 2;
  console.log(`${label}: import → launcher rendered, 20 cold loads: median ${median.toFixed(1)} ms, min ${samples[0].toFixed(1)} ms, max ${samples[19].toFixed(1)} ms`);
}
await browser.close();
server.close();
