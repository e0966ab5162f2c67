// Status: the server, Codex's config, the installed Codex apps; and the sidebar's status line
// with today's requests and cost.
import { $, api, bus, el, newest, usd } from "./lib.js";

const getStatus = newest(() => Promise.all([api("/api/status"), api("/api/usage?days=1").catch(() => [])]));

async function line() {
  const r = await getStatus();
  if (!r) return null;
  const [s, today] = r;
  const n = today.reduce((a, r) => a + r.requests, 0);
  const known = today.every((r) => r.cost_usd != null);
  const cost = today.reduce((a, r) => a + (r.cost_usd || 0), 0);
  const spent = n ? ` · today ${n} request${n === 1 ? "" : "s"}, ${known ? usd(cost) : `${usd(cost)} + unpriced`}` : " · no requests today";
  $("status-line").textContent = (s.settings_error ? `Port ${s.port}: the settings have an error` : `Serving on port ${s.port}`) + spent;
  return s;
}

async function load() {
  const s = await line();
  if (!s) return;
  const dl = $("status-list");
  dl.replaceChildren();
  const rows = [
    ["Version", s.version],
    ["Port", s.port],
    ["Codex config", `${s.enabled ? "uses codex-shim" : "not enabled"} (${s.config_path})`],
    ["Active model", s.active_model || "(none chosen)"],
    ["ChatGPT login", login(s.chatgpt)],
    ["Codex CLI", s.codex_cli || "not found (npm install -g @openai/codex)"],
    ["Codex Desktop", s.codex_desktop ? `${s.codex_desktop} (${s.codex_desktop_path})` : `not found at ${s.codex_desktop_path}`],
    ["Model picker patch", s.desktop_patch],
    ["Stored responses", s.stored_responses
      ? `${s.stored_responses.count} (${size(s.stored_responses.bytes)}; for clients that use previous_response_id; codex-shim store clear empties it)`
      : "off"],
    ["Settings files", s.settings_files.map((f) => `${f.path} (${f.models === null ? "not found" : f.models + " models"})`).join("; ")],
  ];
  if (s.settings_error) rows.push(["Settings error", s.settings_error]);
  for (const [k, v] of rows) dl.append(el("dt", k), el("dd", String(v)));
}

// Account, plan, when the token expires and when it was last refreshed (the shim refreshes it).
function login(c) {
  if (!c) return "none: run `codex login` to use gpt-5.5 on your ChatGPT subscription";
  const who = [c.account || "signed in", c.plan && `(${c.plan})`].filter(Boolean).join(" ");
  const parts = [`${who}: gpt-5.5 available`];
  if (c.expires_at) {
    const when = new Date(c.expires_at * 1000).toLocaleString();
    parts.push(c.expires_at * 1000 > Date.now() ? `token valid until ${when}` : `token expired ${when}, refreshed on the next request`);
  }
  if (c.last_refresh) parts.push(`last refreshed ${new Date(c.last_refresh).toLocaleString()}`);
  if (c.stored_in) parts.push(`kept in ${c.stored_in}`);
  return parts.join(" · ");
}

function size(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}

let pending;
export function init() {
  bus.addEventListener("changed", () => load().catch(() => {}));
  bus.addEventListener("request", () => {
    clearTimeout(pending);
    pending = setTimeout(() => line().catch(() => {}), 1500);
  });
  load().catch((e) => {
    $("status-line").textContent = `Cannot reach the API: ${e.message}`;
  });
}

export function shown() {
  load().catch(() => {});
}
