// Drives the codex-shim UI in Debian's Chromium through playwright-core, as a user would, then
// visits an attacker page on another origin. Prints one JSON report line for the Rust test.
import { chromium } from "playwright-core";

const cfg = JSON.parse(process.env.UI_TEST);
const browser = await chromium.launch({
  executablePath: cfg.chromium,
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const report = {};
const page = await browser.newPage({ viewport: { width: 900, height: 640 } });
try {
  const go = (section) => page.click(`.sidebar a[data-section="${section}"]`);
  const bodies = [];
  page.on("response", async (r) => {
    try {
      bodies.push(await r.text());
    } catch {}
  });
  await page.goto(`${cfg.shim}/ui#token=${cfg.token}`);
  await page.waitForSelector('#model-rows tr[data-slug="beta"]');
  report.models = await page.$$eval("#model-rows tr", (rows) => rows.map((r) => r.dataset.slug));

  // Switch the active model.
  await page.getByRole("button", { name: "Use beta", exact: true }).click();
  await page.waitForSelector('#model-rows tr.active[data-slug="beta"]');
  report.switched = await page.textContent("#model-result");

  // A request through the proxy shows up in the live log.
  await go("requests");
  const t0 = Date.now();
  await fetch(`${cfg.shim}/v1/responses`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ model: "beta", stream: true, input: "hi" }) }).then((r) => r.text());
  await page.waitForSelector('#log-rows tr[data-model="beta"]', { timeout: 1000 });
  report.log_ms = Date.now() - t0;

  // Keys: set, then delete; the value never comes back.
  await go("keys");
  if (cfg.keychain) {
    await page.fill("#key-name", cfg.keyName);
    await page.fill("#key-value", cfg.keyValue);
    await page.click('#key-form button[type="submit"]');
    await page.waitForSelector(`#key-rows tr[data-name="${cfg.keyName}"] td:has-text("keychain")`);
    await page.getByRole("button", { name: `Delete ${cfg.keyName}`, exact: true }).click();
    await page.waitForSelector(`#key-rows tr[data-name="${cfg.keyName}"] td:has-text("MISSING")`);
    report.key_cycle = true;
  }

  // Add a model with the form (its key goes to the keychain), then edit it.
  await go("models");
  await page.click("#model-form-h");
  await page.selectOption("#mf-provider", "generic-chat-completion-api");
  await page.fill("#mf-model", "d-up");
  await page.fill("#mf-display", "Delta Model");
  await page.fill("#mf-base", cfg.upstream);
  if (cfg.keychain) {
    await page.fill("#mf-key-name", cfg.formKeyName);
    await page.fill("#mf-key-value", cfg.formKeyValue);
  }
  await page.click("#mf-submit");
  await page.waitForSelector('#model-rows tr[data-slug="delta-model"]');
  report.added = await page.textContent("#model-form-result");
  await page.getByRole("button", { name: "Edit delta-model", exact: true }).click();
  report.edit_prefilled = { model: await page.inputValue("#mf-model"), base: await page.inputValue("#mf-base"), key: await page.inputValue("#mf-key-name") };
  await page.fill("#mf-context", "96000");
  await page.click("#mf-submit");
  await page.waitForSelector('#model-rows tr[data-slug="delta-model"] td:has-text("96k")');

  // The server's own log is shown too, and the filter applies to it.
  await go("requests");
  await page.click("#server-log-h");
  await page.waitForSelector('#server-log div:has-text("model=beta")', { timeout: 5000 });
  await page.fill("#log-filter", "model=beta");
  report.server_log_filtered = await page.$$eval("#server-log div", (ds) => ds.filter((d) => !d.hidden).every((d) => d.textContent.includes("model=beta")));
  await page.fill("#log-filter", "");

  // The launch button reaches the launcher.
  await go("models");
  await page.click("#launch-desktop");
  await page.waitForSelector('#launch-result:has-text("launched")');
  report.launch = await page.textContent("#launch-result");
  await page.screenshot({ path: cfg.screenshot, fullPage: true });

  // The tray's "Logs…" item opens the same window at #…&section=requests (an older tray: `logs`),
  // also when the window is already open (only the fragment changes): that section alone shows.
  for (const section of ["logs", "requests"]) {
    await page.goto(`${cfg.shim}/ui#token=${cfg.token}&section=models`);
    await page.evaluate((s) => { location.hash = `token=${new URLSearchParams(location.hash.slice(1)).get("token")}&section=${s}`; }, section);
    await page.waitForFunction(() => !document.getElementById("requests").hidden && document.getElementById("models").hidden, null, { timeout: 5000 });
  }
  report.section_shown = await page.$eval('.sidebar a[aria-current="page"]', (a) => a.dataset.section) === "requests";
  report.secret_seen = bodies.some((b) => b.includes(cfg.keyValue) || b.includes(cfg.formKeyValue));

  // Another origin tries to drive the shim.
  const evil = await browser.newPage();
  await evil.goto(`${cfg.attacker}/?shim=${encodeURIComponent(cfg.shim)}&token=${cfg.token}&key=${cfg.attackKey}`);
  await evil.waitForSelector("#done", { state: "attached", timeout: 15000 });
  report.attacks = JSON.parse(await evil.textContent("#done"));
} catch (e) {
  report.error = String(e && e.stack ? e.stack : e);
  // What the page said when it stopped, for a failure to explain itself.
  for (const id of ["model-form-result", "model-result", "key-result", "model-rows"]) {
    report[`at_failure_${id}`] = await page.textContent(`#${id}`, { timeout: 1000 }).catch(() => null);
  }
} finally {
  await browser.close();
}
console.log(JSON.stringify(report));
