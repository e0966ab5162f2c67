// Models: the table (use, test, edit, remove), the launch buttons, and the add/edit form with
// provider presets and the provider's own model list as suggestions.
import { $, api, bus, button, el, newest, say } from "./lib.js";
import { PRESETS } from "./presets.js";

const LABELS = ["Model", "Provider", "Context", "Key", "Check", "Actions"];

function td(tr, i, text, cls) {
  const c = el("td", text, cls);
  c.dataset.label = LABELS[i];
  tr.appendChild(c);
  return c;
}

async function act(promise, ok) {
  try {
    const r = await promise;
    say("model-result", ok(r), true);
  } catch (e) {
    say("model-result", e.message, false);
  }
  bus.dispatchEvent(new Event("changed"));
}

async function test(m, status) {
  status.textContent = "Testing…";
  status.className = "";
  try {
    const r = await api("/api/test", { slug: m.slug });
    status.textContent = r.message;
    status.className = r.ok ? "good" : "bad";
    say("model-result", `${m.slug}: ${r.message}`, r.ok);
  } catch (e) {
    status.textContent = e.message;
    status.className = "bad";
  }
}

const getModels = newest(() => api("/api/models"));

async function load() {
  const r = await getModels();
  if (!r) return;
  const { models, file } = r;
  $("model-file").textContent = file || "your models file";
  const body = $("model-rows");
  body.replaceChildren();
  for (const m of models) {
    const tr = el("tr");
    tr.dataset.slug = m.slug;
    if (m.active) tr.className = "active";
    const name = td(tr, 0, "");
    name.append(el("div", m.display_name, "model-name"), el("div", m.slug, "slug"));
    if (m.active) name.firstChild.append(el("span", "active", "badge"));
    td(tr, 1, `${m.provider} · ${m.route}`);
    td(tr, 2, m.context_window ? `${Math.round(m.context_window / 1000)}k` : "–");
    td(tr, 3, m.key, m.key === "MISSING" ? "bad" : "");
    const status = td(tr, 4, "", "bad");
    if (m.last_error) status.textContent = `${new Date(m.last_error.time_ms).toLocaleTimeString()}: ${m.last_error.error}`;
    const actions = el("div", null, "actions");
    if (!m.active) {
      actions.append(button("Use", () => act(api("/api/active", { name: m.slug }),
        (r) => (r.in_config ? `Codex now uses ${r.slug}.` : `Active model: ${r.slug} (run codex-shim enable to make it Codex's default).`)), `Use ${m.slug}`));
    }
    actions.append(button("Test", () => test(m, status), `Test ${m.slug}`));
    if (m.provider !== "chatgpt") actions.append(button("Edit", () => edit(m), `Edit ${m.slug}`));
    if (m.editable) {
      actions.append(button("Remove", () => {
        if (!confirm(`Remove ${m.slug} from ${m.source}? (The old file is backed up.)`)) return;
        act(api("/api/models/delete", { slug: m.slug }), () => `Removed ${m.slug}.`);
      }, `Remove ${m.slug}`));
    }
    td(tr, 5, "").append(actions);
    body.appendChild(tr);
  }
}

// ---- the form ----

const FIELDS = {
  original: "mf-original", provider: "mf-provider", model: "mf-model", display_name: "mf-display", slug: "mf-slug",
  base_url: "mf-base", key_name: "mf-key-name", key_value: "mf-key-value", max_context_limit: "mf-context", wire_api: "mf-wire",
};

function reset() {
  $("model-form").reset();
  $("mf-original").value = "";
  $("mf-suggestions").replaceChildren();
  $("model-form-h").textContent = "Add a model";
  $("mf-submit").textContent = "Add model";
  $("mf-cancel").hidden = true;
  $("mf-preset").disabled = false;
}

function edit(m) {
  reset();
  $("mf-original").value = m.slug;
  $("mf-provider").value = m.provider;
  $("mf-model").value = m.model;
  $("mf-display").value = m.display_name === m.model ? "" : m.display_name;
  $("mf-slug").value = m.slug;
  $("mf-base").value = m.base_url || "";
  $("mf-key-name").value = m.key_name || "";
  $("mf-context").value = m.max_context_limit || "";
  $("mf-wire").value = m.wire_api || "";
  $("mf-no-images").checked = !!m.no_image_support;
  $("mf-preset").disabled = true;
  const where = m.editable ? "" : ` (it comes from ${m.source}; saving adds an override to your models file)`;
  $("model-form-h").textContent = `Edit ${m.slug}${where}`;
  $("mf-submit").textContent = "Save changes";
  $("mf-cancel").hidden = false;
  $("model-form-box").open = true;
  $("mf-model").focus();
}

function applyPreset() {
  const p = PRESETS.find((x) => x.id === $("mf-preset").value);
  if (!p) return;
  $("mf-provider").value = p.provider;
  $("mf-base").value = p.base_url;
  $("mf-key-name").value = p.key_name;
  $("mf-wire").value = p.wire_api || "";
  $("mf-model").placeholder = p.example;
  $("mf-suggestions").replaceChildren();
  $("mf-fetch-result").textContent = "";
}

async function fetchModels() {
  const out = $("mf-fetch-result");
  out.textContent = "Asking the provider…";
  out.className = "";
  try {
    const r = await api("/api/models/suggest", {
      provider: $("mf-provider").value, base_url: $("mf-base").value,
      key_name: $("mf-key-name").value.trim(), key_value: $("mf-key-value").value,
    });
    const list = $("mf-suggestions");
    list.replaceChildren(...r.models.map((id) => Object.assign(el("option"), { value: id })));
    if (r.error) say("mf-fetch-result", r.error, false);
    else say("mf-fetch-result", `${r.models.length} models offered: pick one in "Model id".`, true);
  } catch (e) {
    say("mf-fetch-result", e.message, false);
  }
}

async function save(ev) {
  ev.preventDefault();
  const body = {};
  for (const [k, id] of Object.entries(FIELDS)) {
    const v = $(id).value.trim();
    if (v) body[k] = k === "max_context_limit" ? Number(v) : v;
  }
  body.no_image_support = $("mf-no-images").checked;
  try {
    const r = await api("/api/models/save", body);
    const key = r.key_name ? ` Its key is read from ${r.key_name}.` : "";
    say("model-form-result", `Saved ${r.slug} to ${r.file}.${key}`, true);
    reset();
  } catch (e) {
    say("model-form-result", e.message, false);
  }
  bus.dispatchEvent(new Event("changed"));
}

async function launch(target) {
  try {
    const r = await api("/api/launch", { target });
    say("launch-result", r.message, true);
  } catch (e) {
    say("launch-result", e.message, false);
  }
}

export function init() {
  const preset = $("mf-preset");
  preset.append(Object.assign(el("option", "Choose a provider…"), { value: "" }));
  for (const p of PRESETS) preset.append(Object.assign(el("option", p.label), { value: p.id }));
  preset.addEventListener("change", applyPreset);
  $("mf-fetch").addEventListener("click", fetchModels);
  $("model-form").addEventListener("submit", save);
  $("mf-cancel").addEventListener("click", reset);
  $("launch-desktop").addEventListener("click", () => launch("desktop"));
  $("launch-cli").addEventListener("click", () => launch("cli"));
  bus.addEventListener("changed", () => load().catch(() => {}));
  // A failed request shows on its model at once.
  bus.addEventListener("request", (ev) => {
    if (ev.detail.outcome !== "completed" && !$("models").hidden) load().catch(() => {});
  });
  load().catch(() => {});
}

export function shown() {
  load().catch(() => {});
}
