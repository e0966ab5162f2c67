// The codex-shim UI. Every call carries the per-launch token from the URL fragment; values are
// always rendered with textContent, never as HTML.
const token = new URLSearchParams(location.hash.slice(1)).get("token") || "";
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

async function loadModels() {
  const { models } = await api("/api/models");
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
    const td = cell(tr, "");
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

function matchesFilter(tr) {
  const f = $("log-filter").value.trim().toLowerCase();
  return !f || tr.textContent.toLowerCase().includes(f);
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
    for (const tr of $("log-rows").children) tr.hidden = !matchesFilter(tr);
  });
}

if (!token) {
  $("token-missing").hidden = false;
  $("status-line").textContent = "No UI token";
} else {
  wire();
  followLogs();
  refresh();
}
