// The HTML divergence report at 10,000 items in a real browser (Debian's headless Chromium via
// playwright-core): it must stay readable — a bounded page (timeline histogram, grouped
// tables, items in pages of 100), a legend, and paging that works — and a screenshot is saved.
//   node report_test.mjs REPORT_SAMPLE_BINARY OUT_DIR
import { chromium } from "playwright-core";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";

const [sample, outDir] = process.argv.slice(2);
if (!sample || !outDir) {
  console.error("usage: node report_test.mjs REPORT_SAMPLE_BINARY OUT_DIR");
  process.exit(2);
}
mkdirSync(outDir, { recursive: true });
let failed = false;
const check = (ok, what) => {
  console.log(`${ok ? "ok  " : "FAIL"} ${what}`);
  if (!ok) failed = true;
};

const file = join(outDir, "report-10000.html");
execFileSync(sample, ["10000", file]);
let browser;
try {
  browser = await chromium.launch({ executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
                                    args: ["--no-sandbox", "--headless=new"] });
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const external = [];
  page.on("request", (r) => { if (!r.url().startsWith("file:")) external.push(r.url()); });
  await page.goto("file://" + file);
  const height = await page.evaluate(() => document.documentElement.scrollHeight);
  check(height < 6000, `the page is ${height} px tall for 10,000 items (bounded)`);
  check((await page.locator(".legend span").count()) === 6, "the timeline has a legend of 6 causes");
  const bars = await page.locator("svg rect").count();
  check(bars > 10 && bars <= 48 * 6, `the timeline is a histogram (${bars} bars)`);
  check((await page.locator("#items tr.item").count()) === 10000, "every item is in the file");
  check((await page.locator("#items tr.item.on").count()) === 100, "one page of 100 items shows");
  check((await page.locator("#page").innerText()) === "page 1 of 100 (10000 items)", "page 1 of 100");
  await page.click("#next");
  check((await page.locator("#page").innerText()).startsWith("page 2 of 100"), "next shows page 2");
  const first = await page.locator("#items tr.item.on").first().innerText();
  check(first.includes("user-100\t") || first.includes("user-100 "), `page 2 starts at item 101 (${first.slice(0, 40)})`);
  const groups = await page.locator(".group table").count();
  check(groups === 4, `grouped by cause, user, op and hour (${groups} tables)`);
  const userRows = await page.locator(".group").nth(1).locator("tr").count();
  check(userRows <= 22, `the user group shows the top 20 and a "more" line (${userRows} rows)`);
  check(external.length === 0, `no external requests (${external.join(", ")})`);
  const shot = join(outDir, "report-10000.png");
  await page.screenshot({ path: shot, fullPage: true });
  check(existsSync(shot), `screenshot saved to ${shot}`);
} catch (e) {
  console.error(e);
  failed = true;
} finally {
  if (browser) await browser.close();
}
process.exit(failed ? 1 : 0);
