// The codex-shim UI. Every call carries the per-launch token from the URL fragment; values are
// always rendered with textContent, never as HTML.
const params = new URLSearchParams(location.hash.slice(1));
const token = params.get("token") || "";
const $ = (id) => document.getElementById(id);

async function api(path, body) {
  const init = { headers: { "x-codex-shim-token": token } };
  if (body !== undefined) {
    init.method = "POST";
    init.headers["content-type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const r = await fetch(path, init);
  const data = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(data.error || `HTTP ${r.status}`);
  return data;
}

function cell(row, text, cls) {
  const td = document.createElement("td");
  td.textContent = text ?? "";
  if (cls) td.className = cls;
  row.appendChild(td);
  return td;
}

function button(label, onClick) {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = label;
  b.addEventListener("click", onClick);
  return b;
}

function say(id, text, ok) {
  const p = $(id);
  p.textContent = text;
  p.className = ok ? "good" : "bad";
}

// The model form: empty to add, filled from a row to edit it.
const form = {
  original: "mf-original", provider: "mf-provider", model: "mf-model", display_name: "mf-display", slug: "mf-slug",
  base_url: "mf-base", key_name: "mf-key-name", key_value: "mf-key-value", max_context_limit: "mf-context", wire_api: "mf-wire",
};

function resetModelForm() {
  $("model-form").reset();
  $("mf-original").value = "";
  $("model-form-h").textContent = "Add a model";
  $("mf-submit").textContent = "Add model";
  $("mf-cancel").hidden = true;
}

function editModel(m) {
  resetModelForm();
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
  const where = m.editable ? "" : ` (it comes from ${m.source}; saving adds an override to your models file)`;
  $("model-form-h").textContent = `Edit ${m.slug}${where}`;
  $("mf-submit").textContent = "Save changes";
  $("mf-cancel").hidden = false;
  $("mf-model").focus();
}

async function saveModel(ev) {
  ev.preventDefault();
  const body = {};
  for (const [field, id] of Object.entries(form)) {
    const v = $(id).value.trim();
    if (v) body[field] = field === "max_context_limit" ? Number(v) : v;
  }
  body.no_image_support = $("mf-no-images").checked;
  try {
    const r = await api("/api/models/save", body);
    const key = r.key_name ? ` Its key is read from ${r.key_name}.` : "";
    say("model-form-result", `Saved ${r.slug} to ${r.file}.${key}`, true);
    resetModelForm();
  } catch (e) {
    say("model-form-result", e.message, false);
  }
  await refresh();
}

async function loadModels() {
  const { models, file } = await api("/api/models");
  $("model-file").textContent = file || "your models file";
  const body = $("model-rows");
  body.replaceChildren();
  for (const m of models) {
    const tr = document.createElement("tr");
    tr.dataset.slug = m.slug;
    if (m.active) tr.className = "active";
    cell(tr, m.active ? "●" : "").setAttribute("aria-label", m.active ? "active" : "");
    cell(tr, m.slug);
    cell(tr, m.display_name);
    cell(tr, m.provider);
    cell(tr, m.route);
    cell(tr, m.context_window ? `${Math.round(m.context_window / 1000)}k` : "");
    cell(tr, m.key, m.key === "MISSING" ? "bad" : "");
    cell(tr, m.last_error ? `${new Date(m.last_error.time_ms).toLocaleTimeString()}: ${m.last_error.error}` : "", "bad");
    const td = cell(tr, "");
    if (m.provider !== "chatgpt") {
      td.appendChild(button(`Edit ${m.slug}`, () => editModel(m)));
    }
    if (m.editable) {
      td.appendChild(button(`Remove ${m.slug}`, async () => {
        if (!confirm(`Remove ${m.slug} from ${m.source}? (The old file is backed up.)`)) return;
        try {
          await api("/api/models/delete", { slug: m.slug });
          say("model-result", `Removed ${m.slug}.`, true);
        } catch (e) {
          say("model-result", e.message, false);
        }
        await refresh();
      }));
    }
    if (!m.active) {
      td.appendChild(button(`Use ${m.slug}`, async () => {
        try {
          const r = await api("/api/active", { name: m.slug });
          say("model-result", r.in_config ? `Codex now uses ${r.slug}.` : `Active model: ${r.slug} (run codex-shim enable to make it Codex's default).`, true);
        } catch (e) {
          say("model-result", e.message, false);
        }
        await refresh();
      }));
    }
    body.appendChild(tr);
  }
}

async function loadKeys() {
  const { keys } = await api("/api/keys");
  const body = $("key-rows");
  body.replaceChildren();
  for (const k of keys) {
    const tr = document.createElement("tr");
    tr.dataset.name = k.name;
    cell(tr, k.name);
    cell(tr, k.found, k.found === "MISSING" ? "bad" : "");
    cell(tr, k.used_by.join(", "));
    cell(tr, "").appendChild(button(`Delete ${k.name}`, async () => {
      try {
        const r = await api("/api/keys/delete", { name: k.name });
        say("key-result", r.deleted ? `Deleted ${k.name}.` : `There was no ${k.name} in the keychain.`, true);
      } catch (e) {
        say("key-result", e.message, false);
      }
      await refresh();
    }));
    body.appendChild(tr);
  }
}

async function loadStatus() {
  const s = await api("/api/status");
  $("status-line").textContent = s.settings_error ? `Serving on port ${s.port}, but the settings have an error` : `Serving on port ${s.port}`;
  const dl = $("status-list");
  dl.replaceChildren();
  const rows = [
    ["Version", s.version],
    ["Port", s.port],
    ["Codex config", `${s.enabled ? "uses codex-shim" : "not enabled"} (${s.config_path})`],
    ["Active model", s.active_model || "(none chosen)"],
    ["ChatGPT login", s.chatgpt_login ? "yes: gpt-5.5 available" : "no"],
    ["Codex CLI", s.codex_cli || "not found (npm install -g @openai/codex)"],
    ["Codex Desktop", s.codex_desktop ? `${s.codex_desktop} (${s.codex_desktop_path})` : `not found at ${s.codex_desktop_path}`],
    ["Model picker patch", s.desktop_patch],
    ["Settings files", s.settings_files.map((f) => `${f.path} (${f.models === null ? "not found" : f.models + " models"})`).join("; ")],
  ];
  if (s.settings_error) rows.push(["Settings error", s.settings_error]);
  for (const [k, v] of rows) {
    const dt = document.createElement("dt");
    dt.textContent = k;
    const dd = document.createElement("dd");
    dd.textContent = String(v);
    dl.append(dt, dd);
  }
}

function matchesFilter(row) {
  const f = $("log-filter").value.trim().toLowerCase();
  return !f || row.textContent.toLowerCase().includes(f);
}

function followLogs() {
  const es = new EventSource(`/api/events?token=${encodeURIComponent(token)}`);
  es.onmessage = (ev) => {
    const e = JSON.parse(ev.data);
    const tr = document.createElement("tr");
    tr.dataset.model = e.model;
    cell(tr, new Date(e.time_ms).toLocaleTimeString());
    cell(tr, e.model);
    cell(tr, e.route);
    cell(tr, e.status ?? "-");
    cell(tr, e.outcome, e.outcome === "completed" ? "good" : "bad");
    cell(tr, `${e.input_tokens} / ${e.output_tokens}`);
    cell(tr, e.ttfb_ms == null ? "-" : `${e.ttfb_ms} ms`);
    cell(tr, `${e.duration_ms} ms`);
    tr.hidden = !matchesFilter(tr);
    $("log-rows").prepend(tr);
  };
  es.addEventListener("log", (ev) => appendLog(JSON.parse(ev.data)));
}

// The server log: what was there when the page opened, then each new line.
const LOG_KEPT = 500;
function appendLog(line) {
  const pre = $("server-log");
  const atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
  const div = document.createElement("div");
  div.textContent = line;
  div.hidden = !matchesFilter(div);
  pre.appendChild(div);
  while (pre.childElementCount > LOG_KEPT) pre.firstElementChild.remove();
  if (atEnd) pre.scrollTop = pre.scrollHeight;
}

async function loadServerLog() {
  const { lines } = await api("/api/log");
  $("server-log").replaceChildren();
  lines.forEach(appendLog);
}

// The Codex Desktop wizard: one step per screen.
function wizardStep(n) {
  for (const el of document.querySelectorAll(".wizard-step")) el.hidden = el.dataset.step !== String(n);
  for (const li of document.querySelectorAll("ol.progress li")) {
    if (li.dataset.for === String(n)) li.setAttribute("aria-current", "step");
    else li.removeAttribute("aria-current");
  }
  document.querySelector(`.wizard-step[data-step="${n}"] button`)?.focus();
}

async function wizardCheck() {
  $("wz-status").textContent = "Checking…";
  try {
    const s = await api("/api/desktop");
    $("wz-status").textContent = `${s.status} (${s.app})`;
    const ul = $("wz-targets");
    ul.replaceChildren();
    for (const t of s.targets) {
      const li = document.createElement("li");
      li.textContent = `${t.label}: ${t.refusal || t.found}`;
      if (t.refusal) li.className = "bad";
      ul.appendChild(li);
    }
    $("wz-preview").disabled = !["unpatched", "updated", "interrupted"].includes(s.state);
  } catch (e) {
    $("wz-status").textContent = e.message;
  }
}

async function wizardPreview() {
  const r = await api("/api/desktop/plan", {});
  if (!r.ok) {
    $("wz-status").textContent = r.steps.at(-1)?.detail || "The dry run failed.";
    return;
  }
  const box = $("wz-diff");
  box.replaceChildren();
  for (const c of r.changes) {
    const div = document.createElement("div");
    div.className = "diff";
    const h = document.createElement("h3");
    h.textContent = `${c.label} (${c.file})`;
    const before = document.createElement("pre");
    before.className = "before";
    before.textContent = `- ${c.before}`;
    const after = document.createElement("pre");
    after.className = "after";
    after.textContent = `+ ${c.after}`;
    div.append(h, before, after);
    box.appendChild(div);
  }
  wizardStep(2);
}

async function wizardRun(path, working) {
  wizardStep(4);
  $("wz-result").textContent = working;
  $("wz-result").className = "";
  $("wz-steps").replaceChildren();
  try {
    const r = await api(path, { quit: $("wz-quit").checked });
    for (const st of r.steps) {
      const li = document.createElement("li");
      li.textContent = `${st.ok ? "✓" : "✗"} ${st.step}: ${st.detail}`;
      li.className = st.ok ? "" : "bad";
      $("wz-steps").appendChild(li);
    }
    say("wz-result", r.steps.at(-1)?.detail || "", r.ok);
  } catch (e) {
    say("wz-result", e.message, false);
  }
}

function wireWizard() {
  $("wz-check").addEventListener("click", wizardCheck);
  $("wz-preview").addEventListener("click", wizardPreview);
  $("wz-apply").addEventListener("click", () => wizardRun("/api/desktop/patch", "Patching…"));
  $("wz-restore").addEventListener("click", () => wizardRun("/api/desktop/restore", "Restoring…"));
  for (const b of document.querySelectorAll("#wizard [data-go]")) {
    b.addEventListener("click", () => {
      wizardStep(Number(b.dataset.go));
      if (b.dataset.go === "1") wizardCheck();
    });
  }
  wizardStep(1);
}

function showSection(id) {
  const el = document.getElementById(id);
  if (!el || el.tagName !== "SECTION") return;
  el.scrollIntoView();
  el.querySelector("h2")?.setAttribute("tabindex", "-1");
  el.querySelector("h2")?.focus();
}

async function refresh() {
  try {
    await Promise.all([loadModels(), loadKeys(), loadStatus()]);
  } catch (e) {
    $("status-line").textContent = `Cannot reach the API: ${e.message}`;
  }
}

function wire() {
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
    await refresh();
  });
  for (const target of ["desktop", "cli"]) {
    $(`launch-${target}`).addEventListener("click", async () => {
      try {
        const r = await api("/api/launch", { target });
        say("launch-result", r.message, true);
      } catch (e) {
        say("launch-result", e.message, false);
      }
    });
  }
  $("log-filter").addEventListener("input", () => {
    for (const row of [...$("log-rows").children, ...$("server-log").children]) row.hidden = !matchesFilter(row);
  });
  // Section links scroll instead of replacing the fragment, which holds the token.
  for (const a of document.querySelectorAll("nav a")) {
    a.addEventListener("click", (ev) => {
      ev.preventDefault();
      showSection(a.getAttribute("href").slice(1));
    });
  }
  $("model-form").addEventListener("submit", saveModel);
  wireWizard();
  $("mf-cancel").addEventListener("click", resetModelForm);
}

if (!token) {
  $("token-missing").hidden = false;
  $("status-line").textContent = "No UI token";
} else {
  wire();
  followLogs();
  refresh();
  loadServerLog().catch(() => {});
  // The tray's "Logs…" and "Patch Codex Desktop…" open the page at their section (also when its
  // window is already open: then only the fragment changes).
  if (params.get("section")) showSection(params.get("section"));
  if (params.get("section") === "wizard") wizardCheck();
  addEventListener("hashchange", () => {
    const section = new URLSearchParams(location.hash.slice(1)).get("section");
    if (section) showSection(section);
  });
}
