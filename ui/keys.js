// API keys in the OS keychain: names and where each was found, never a value.
import { $, api, bus, button, el, newest, say } from "./lib.js";

const LABELS = ["Name", "Found in", "Used by", "Actions"];

const getKeys = newest(() => api("/api/keys"));

async function load() {
  const r = await getKeys();
  if (!r) return;
  const { keys } = r;
  const body = $("key-rows");
  body.replaceChildren();
  for (const k of keys) {
    const tr = el("tr");
    tr.dataset.name = k.name;
    const cells = [k.name, k.found, k.used_by.join(", ")];
    cells.forEach((c, i) => {
      const td = el("td", c, i === 1 && k.found === "MISSING" ? "bad" : "");
      td.dataset.label = LABELS[i];
      tr.append(td);
    });
    const td = el("td");
    td.dataset.label = LABELS[3];
    td.append(button("Delete", async () => {
      try {
        const r = await api("/api/keys/delete", { name: k.name });
        say("key-result", r.deleted ? `Deleted ${k.name}.` : `There was no ${k.name} in the keychain.`, true);
      } catch (e) {
        say("key-result", e.message, false);
      }
      bus.dispatchEvent(new Event("changed"));
    }, `Delete ${k.name}`));
    tr.append(td);
    body.append(tr);
  }
}

export function init() {
  $("key-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const name = $("key-name").value.trim();
    try {
      await api("/api/keys/set", { name, value: $("key-value").value });
      say("key-result", `Stored ${name} in the keychain.`, true);
      $("key-form").reset();
    } catch (e) {
      say("key-result", e.message, false);
    }
    bus.dispatchEvent(new Event("changed"));
  });
  bus.addEventListener("changed", () => load().catch(() => {}));
  load().catch(() => {});
}

export function shown() {
  load().catch(() => {});
}
