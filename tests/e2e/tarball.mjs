// The npm package as a user receives it: `npm pack` the built package,
// install the tarball into a scratch app, and run the widget and the
// landing capture from the installed files (nothing from the build tree).
// Prints "N passed, M failed".
import { execFileSync } from "node:child_process";
import { mkdtemp, writeFile, readdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { launchChromium, until } from "./browser.mjs";
import { CODE, start } from "./server.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..");
const scratch = await mkdtemp(join(tmpdir(), "referral-installed-"));
execFileSync("npm", ["pack", join(root, "target", "npm", "widget"), "--pack-destination", scratch, "--silent"], { stdio: ["ignore", "ignore", "inherit"] });
const tarball = (await readdir(scratch)).find((f) => f.endsWith(".tgz"));
await writeFile(join(scratch, "package.json"), JSON.stringify({ name: "scratch-app", private: true, type: "module" }));
execFileSync("npm", ["install", "--no-audit", "--no-fund", "--silent", join(scratch, tarball)], { cwd: scratch, stdio: ["ignore", "ignore", "inherit"] });
const installed = await readdir(join(scratch, "node_modules", "@referral-sdk", "widget"));

const server = await start({ mounts: [["/installed/", scratch]] });
const browser = await launchChromium();
let passed = 0;
let failed = 0;
const log = [];
async function test(name, body) {
  const page = await (await browser.newContext()).newPage();
  const missing = [];
  page.on("response", (r) => r.status() === 404 && missing.push(r.url()));
  try {
    await body(page);
    if (missing.length) throw new Error(`missing from the package: ${missing.join(", ")}`);
    passed++;
    log.push(`ok   ${name}`);
  } catch (error) {
    failed++;
    log.push(`FAIL ${name}: ${error.message}`);
  } finally {
    await page.context().close();
  }
}

await test("the tarball holds both modules and their wasm", async () => {
  for (const file of ["widget.min.js", "engine.min.js", "panel.min.js", "capture.min.js", "referral_wasm_bg.wasm", "referral_panel_bg.wasm", "referral_capture_bg.wasm", "index.d.ts", "widget.d.ts", "capture.d.ts", "stub.js"]) {
    if (!installed.includes(file)) throw new Error(`${file} is not in the installed package (${installed.join(", ")})`);
  }
});

await test("the widget runs from the installed package", async (page) => {
  await page.goto(`${server.origin}/pages/installed.html`);
  await until(page, () => document.querySelector("referral-widget")?.shadowRoot?.querySelector(".launcher"), "the launcher");
  await page.evaluate(() => document.querySelector("referral-widget").open());
  const link = await page.evaluate(() => document.querySelector("referral-widget").shadowRoot.querySelector('[part="link"]').value);
  if (!link.endsWith(`ref=${CODE}`)) throw new Error(`link ${link}`);
});

await test("the landing capture runs from the installed package", async (page) => {
  await page.goto(`${server.origin}/pages/installed-landing.html?ref=${CODE}`);
  await until(page, () => document.body.dataset.done, "the capture");
  const captured = await page.textContent("#captured");
  if (captured !== CODE) throw new Error(`captured ${captured}`);
});

await browser.close();
server.close();
for (const line of log) console.log(line);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
