// Walks the Codex Desktop wizard in Debian's Chromium (playwright-core): check, dry run, patch,
// restore. Prints one JSON report line for tests/ui_wizard.rs.
import { chromium } from "playwright-core";

const cfg = JSON.parse(process.env.UI_TEST);
const browser = await chromium.launch({
  executablePath: cfg.chromium,
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const report = {};
try {
  const page = await browser.newPage();
  // The tray's "Patch Codex Desktop…" opens the page at the wizard, which checks the app at once.
  await page.goto(`${cfg.shim}/ui#token=${cfg.token}&section=wizard`);
  await page.waitForSelector('#wz-status:has-text("not patched")');
  report.checked = await page.textContent("#wz-status");
  report.targets = await page.$$eval("#wz-targets li", (lis) => lis.map((l) => l.textContent));

  // Step 2: the dry run shows the exact before/after.
  await page.click("#wz-preview");
  await page.waitForSelector('.wizard-step[data-step="2"]:not([hidden]) .diff');
  report.before = await page.$$eval(".diff pre.before", (ps) => ps.map((p) => p.textContent));
  report.after = await page.$$eval(".diff pre.after", (ps) => ps.map((p) => p.textContent));
  report.step2_only = await page.$$eval(".wizard-step", (s) => s.filter((e) => !e.hidden).map((e) => e.dataset.step));
  if (cfg.screenshot) await page.locator("#wizard").screenshot({ path: cfg.screenshot });

  // Step 3, then apply.
  await page.click('.wizard-step[data-step="2"] button[data-go="3"]');
  await page.click("#wz-apply");
  await page.waitForSelector('#wz-result:has-text("patched Codex Desktop")', { timeout: 20000 });
  report.patched = await page.textContent("#wz-result");
  report.patch_steps = await page.$$eval("#wz-steps li", (lis) => lis.map((l) => l.textContent));
  const status = await fetch(`${cfg.shim}/api/status`, { headers: { "x-codex-shim-token": cfg.token } }).then((r) => r.json());
  report.status_after_patch = status.desktop_patch;

  // Start over: the check now says patched; then restore with one button.
  await page.click('.wizard-step[data-step="4"] button[data-go="1"]');
  await page.waitForSelector('#wz-status:has-text("patched")');
  report.rechecked = await page.textContent("#wz-status");
  await page.click("#wz-restore");
  await page.waitForSelector('#wz-result:has-text("restored Codex Desktop")', { timeout: 20000 });
  report.restored = await page.textContent("#wz-result");
} catch (e) {
  report.error = String(e && e.stack ? e.stack : e);
} finally {
  await browser.close();
}
console.log(JSON.stringify(report));
