// The dashboard in a real browser: starts `cmo serve` on a fresh state dir, ramps an op through
// the CLI with --server, opens the page in Debian's headless Chromium (driven by
// playwright-core; no browser is downloaded), checks the op's row shows its percent, searches
// divergences for a user, and saves a screenshot.
//   node dashboard_test.mjs CMO_BINARY OUT_DIR
import { chromium } from "playwright-core";
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, existsSync, readFileSync, rmSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const [cmo, outDir] = process.argv.slice(2);
if (!cmo || !outDir) {
  console.error("usage: node dashboard_test.mjs CMO_BINARY OUT_DIR");
  process.exit(2);
}
mkdirSync(outDir, { recursive: true });
const dir = mkdtempSync(join(tmpdir(), "cmo-dashboard-"));
const state = join(dir, "state");
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const cli = (...args) => execFileSync(cmo, ["--state-dir", state, ...args], {
  encoding: "utf8", env: { ...process.env, CMO_ACTOR: "dashboard-test" } });

let serve;
let browser;
let failed = false;
function check(ok, what) {
  console.log(`${ok ? "ok  " : "FAIL"} ${what}`);
  if (!ok) failed = true;
}
try {
  cli("ops", "add", "post.like", "--domain", "likes", "--target", "eventual");
  cli("ops", "add", "payment.transfer", "--domain", "payments", "--class", "critical", "--target", "strong");
  serve = spawn(cmo, ["--state-dir", state, "serve", "--listen", "127.0.0.1:0", "--regions", "eu-west,us-east"],
                { stdio: ["ignore", "inherit", "inherit"] });
  const urlFile = join(state, "api-url");
  for (let i = 0; i < 200 && !existsSync(urlFile); i++) await sleep(100);
  check(existsSync(urlFile), "cmo serve wrote its API address");
  const url = readFileSync(urlFile, "utf8").trim();
  const remote = ["--server", url, "--token-file", join(state, "api-token")];
  cli("advance", "post.like", "--reason", "dual-write likes", ...remote);
  cli("advance", "post.like", "--sample", "5%", "--reason", "shadow 5%", ...remote);
  cli("ramp", "post.like", "--to", "10%", "--reason", "first ramp", "--confirm", ...remote);

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
  await page.locator("#audit tbody tr").first().waitFor({ timeout: 10000 });
  check((await page.locator("#audit").innerText()).includes("first ramp"), "audit shows the ramp's reason");
  await page.locator('#regions tr[data-region="eu-west"]').waitFor({ timeout: 10000 });
  check(true, "regions table lists eu-west");
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
  failed = true;
} finally {
  if (browser) await browser.close();
  if (serve) {
    serve.kill("SIGTERM");
    await new Promise((r) => serve.once("exit", r));
  }
  rmSync(dir, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
