// The window's views in Debian's Chromium (playwright-core): no horizontal scrolling at 900 and
// 420 px in light and dark, the page opening at its top, Usage (totals, chart, table, CSV),
// Requests (a row's detail), the Test button, and the add-model presets with the provider's model
// list. Takes the README's 900×640 screenshots. Prints one JSON report line for tests/ui_views.rs.
import { chromium } from "playwright-core";
import { readFile } from "node:fs/promises";

const cfg = JSON.parse(process.env.UI_TEST);
const browser = await chromium.launch({
  executablePath: cfg.chromium,
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const SECTIONS = ["models", "usage", "requests", "keys", "wizard", "status"];
const url = (section) => `${cfg.shim}/ui#token=${cfg.token}&section=${section}`;
const report = { overflow: {}, errors: [] };
try {
  // Every section, both schemes, both widths: the page is never wider than the window.
  for (const colorScheme of ["light", "dark"]) {
    for (const [width, height] of [[900, 640], [420, 800]]) {
      const page = await browser.newPage({ viewport: { width, height }, colorScheme });
      page.on("pageerror", (e) => report.errors.push(String(e)));
      for (const s of SECTIONS) {
        await page.goto(url(s));
        await page.waitForSelector(`#${s}:not([hidden])`);
        await page.waitForLoadState("networkidle").catch(() => {});
        report.overflow[`${colorScheme} ${width} ${s}`] = await page.evaluate(() => document.documentElement.scrollWidth - innerWidth);
      }
      await page.close();
    }
  }

  const page = await browser.newPage({ viewport: { width: 900, height: 640 } });
  page.on("pageerror", (e) => report.errors.push(String(e)));
  // Opens at its top, whichever section (the Desktop wizard used to pull the page down).
  for (const s of ["models", "wizard"]) {
    await page.goto(url(s));
    await page.waitForSelector(`#${s}:not([hidden])`);
    await page.waitForTimeout(300);
    report[`scroll_${s}`] = await page.evaluate(() => scrollY);
  }

  // Usage: totals, a chart with bars, the per-model table, and the CSV.
  await page.goto(url("usage"));
  await page.waitForSelector("#usage-chart svg rect");
  await page.waitForSelector('#usage-rows tr[data-slug="beta"]');
  report.totals = await page.$$eval("#usage-totals .total", (ts) => ts.map((t) => t.textContent));
  report.bars = await page.$$eval("#usage-chart svg rect", (rs) => rs.length);
  report.legend = await page.$$eval("#usage-legend li", (ls) => ls.map((l) => l.textContent));
  report.usage_rows = await page.$$eval("#usage-rows tr", (rs) => rs.map((r) => [...r.cells].map((c) => c.textContent)));
  await page.screenshot({ path: cfg.shots.usage });
  const [download] = await Promise.all([page.waitForEvent("download"), page.click("#usage-csv")]);
  report.csv = await readFile(await download.path(), "utf8");
  report.csv_name = download.suggestedFilename();

  // Requests: the ledger's rows; a click shows every field, the upstream's error text included.
  await page.click('.sidebar a[data-section="requests"]');
  await page.waitForSelector('#log-rows tr[data-id] td:has-text("failed")');
  report.request_rows = await page.$$eval("#log-rows tr[data-id]", (rs) => rs.length);
  await page.click('#log-rows tr[data-id]:has(td:has-text("failed"))');
  await page.waitForSelector("#req-detail[open]");
  report.detail = await page.textContent("#req-detail");
  await page.screenshot({ path: cfg.shots.requests });
  await page.click("#req-detail button");

  // The Test button: one request through the model's real route, answered in a sentence.
  await page.click('.sidebar a[data-section="models"]');
  await page.getByRole("button", { name: "Test beta", exact: true }).click();
  await page.waitForSelector('#model-rows tr[data-slug="beta"] td[data-label="Check"]:has-text("OK in")');
  report.test = await page.textContent('#model-rows tr[data-slug="beta"] td[data-label="Check"]');

  // Presets fill the form; the provider's own list is offered for the model id.
  await page.click("#model-form-h");
  await page.selectOption("#mf-preset", "deepseek");
  report.preset = {
    provider: await page.inputValue("#mf-provider"), base: await page.inputValue("#mf-base"),
    key: await page.inputValue("#mf-key-name"), wire: await page.inputValue("#mf-wire"),
  };
  await page.selectOption("#mf-preset", "custom");
  await page.fill("#mf-base", cfg.upstream);
  await page.click("#mf-fetch");
  await page.waitForSelector("#mf-suggestions option", { state: "attached" });
  report.suggestions = await page.$$eval("#mf-suggestions option", (os) => os.map((o) => o.value));
  report.fetch_result = await page.textContent("#mf-fetch-result");
  await page.click("#model-form-h");
  await page.evaluate(() => scrollTo(0, 0));
  await page.screenshot({ path: cfg.shots.models });
} catch (e) {
  report.error = String(e && e.stack ? e.stack : e);
} finally {
  await browser.close();
}
console.log(JSON.stringify(report));
