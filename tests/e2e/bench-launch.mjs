// Navigation → invite button painted, for a page with the widget and the
// same page with a plain button, median of 15 cold loads each, interleaved
// in one run; unthrottled and with 4× CPU throttling plus a slow 4G network
// (150 ms RTT, 1.6 Mbit/s down, 750 kbit/s up), files served gzipped. Also
// the bytes on the wire and the longest task.
// Run: `cargo xtask wasm && node tests/e2e/bench-launch.mjs`.
import { launchChromium } from "./browser.mjs";
import { start } from "./server.mjs";

const server = await start({ compress: true });
const browser = await launchChromium();
const RUNS = Number(process.env.RUNS || 15);
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function load(path, throttled) {
  const context = await browser.newContext();
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  let bytes = 0;
  await cdp.send("Network.enable");
  cdp.on("Network.loadingFinished", (e) => (bytes += e.encodedDataLength));
  await cdp.send("Network.setCacheDisabled", { cacheDisabled: true });
  if (throttled) {
    await cdp.send("Emulation.setCPUThrottlingRate", { rate: 4 });
    await cdp.send("Network.emulateNetworkConditions", { offline: false, latency: 150, downloadThroughput: (1.6 * 1024 * 1024) / 8, uploadThroughput: (750 * 1024) / 8 });
  }
  await page.goto(`${server.origin}/pages/${path}`);
  const ms = await page.evaluate(() => window.launcherVisible);
  await new Promise((r) => setTimeout(r, 200));
  const longest = await page.evaluate(() => Math.max(0, ...window.longTasks));
  await context.close();
  return { ms, bytes, longest };
}

for (const throttled of [false, true]) {
  const results = { plain: [], widget: [] };
  for (let i = 0; i < RUNS; i++) {
    results.plain.push(await load("launch-plain.html", throttled));
    results.widget.push(await load("launch-widget.html", throttled));
  }
  const label = throttled ? "4x CPU + slow 4G" : "unthrottled";
  const p = median(results.plain.map((r) => r.ms));
  const w = median(results.widget.map((r) => r.ms));
  console.log(`${label}: plain ${p.toFixed(0)} ms, widget ${w.toFixed(0)} ms, added ${(w - p).toFixed(0)} ms (medians of ${RUNS}); bytes on the wire: plain ${median(results.plain.map((r) => r.bytes))}, widget ${median(results.widget.map((r) => r.bytes))}; longest task: plain ${Math.max(...results.plain.map((r) => r.longest)).toFixed(0)} ms, widget ${Math.max(...results.widget.map((r) => r.longest)).toFixed(0)} ms`);
}
await browser.close();
server.close();
