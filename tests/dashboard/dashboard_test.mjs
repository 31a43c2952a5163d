// The dashboard in a real browser: starts `cmo serve` on a fresh state dir, ramps an op through
// the CLI with --server, opens the page in Debian's headless Chromium (driven by
// playwright-core; no browser is downloaded), checks the op's row shows its percent, that
// audit, divergence and support overrides need a viewer token (created with `cmo token
// create`), lists an override made through the CLI, searches
// divergences for a user, and saves a screenshot.
//   node dashboard_test.mjs CMO_BINARY OUT_DIR
import { chromium } from "playwright-core";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { CmoServe } from "../js/cmo_serve.mjs";

const [cmo, outDir] = process.argv.slice(2);
if (!cmo || !outDir) {
  console.error("usage: node dashboard_test.mjs CMO_BINARY OUT_DIR");
  process.exit(2);
}
mkdirSync(outDir, { recursive: true });
const t = new CmoServe(cmo, "dashboard");
const cli = (...args) => t.cli(...args);
const check = (ok, what) => t.check(ok, what);

let browser;
try {
  const url = await t.start("eu-west,us-east", "10%");
  const remote = t.remote;

  browser = await chromium.launch({ executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
                                    args: ["--no-sandbox", "--headless=new"] });
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const external = [];
  page.on("request", (r) => { if (!r.url().startsWith(url)) external.push(r.url()); });
  await page.goto(url + "/");
  const row = page.locator('tr[data-op="post.like"]');
  await row.locator("td.percent").filter({ hasText: "10%" }).waitFor({ timeout: 10000 });
  check((await row.locator("td.percent").innerText()).includes("10%"), "post.like shows 10%");
  check((await row.locator("td.stage").innerText()) === "ramp", "post.like shows stage ramp");
  const critical = page.locator('tr[data-op="payment.transfer"] td.percent');
  check((await critical.innerText()).includes("0%"), "payment.transfer shows 0%");
  // User-level data needs a viewer token: without one the page says so and asks nothing.
  await page.locator("#audit-note").filter({ hasText: "needs a viewer token" }).waitFor({ timeout: 10000 });
  check((await page.locator("#audit tbody tr").count()) === 0, "no audit events without a token");
  const viewer = cli("token", "create", "support-desk", "--role", "viewer", ...remote).trim();
  await page.fill("#token", viewer);
  await page.click("#login button");
  await page.locator("#audit tbody tr").first().waitFor({ timeout: 10000 });
  check((await page.locator("#audit").innerText()).includes("first ramp"), "audit shows the ramp's reason");
  await page.locator('#regions tr[data-region="eu-west"]').waitFor({ timeout: 10000 });
  check(true, "regions table lists eu-west");
  // A support override made elsewhere is listed for support to see.
  cli("override", "add", "--subject", "user-42", "--op", "post.like", "--strong", "--ttl", "2h",
      "--reason", "ticket 8812", ...remote);
  const ov = page.locator('#overrides tr[data-subject="user-42"]');
  await ov.waitFor({ timeout: 10000 });
  check((await ov.innerText()).includes("ticket 8812"), "the override is listed with its reason");
  await page.fill("#user", "user-42");
  await page.click("#search button");
  await page.locator("#div-summary").filter({ hasText: "item(s)" }).waitFor({ timeout: 10000 });
  check((await page.locator("#div-summary").innerText()).startsWith("0 item(s)"), "divergence search answers");
  // Live: a rollback made elsewhere shows within the 2 s refresh.
  cli("rollback", "post.like", "--reason", "stale reads", ...remote);
  await row.locator("td.stage").filter({ hasText: "shadow" }).waitFor({ timeout: 10000 });
  check(true, "a rollback shows without reloading");
  check(external.length === 0, `no external requests (${external.join(", ")})`);
  const shot = join(outDir, "dashboard.png");
  cli("ramp", "post.like", "--to", "10%", "--reason", "ramp again for the screenshot", "--confirm", ...remote);
  await row.locator("td.stage").filter({ hasText: "ramp" }).waitFor({ timeout: 10000 });
  await page.screenshot({ path: shot, fullPage: true });
  check(existsSync(shot), `screenshot saved to ${shot}`);
} catch (e) {
  console.error(e);
  t.failed = true;
} finally {
  if (browser) await browser.close();
  await t.stop();
}
process.exit(t.failed ? 1 : 0);
