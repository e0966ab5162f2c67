// Requests: the ledger's rows (they survive restarts), filterable by model, outcome and text;
// a new request shows at once from the live stream and is replaced by its ledger row; a click
// shows every field of a row, the upstream's error text included. Below, the server's own log.
import { $, api, bus, count, el, ms, when } from "./lib.js";

const LABELS = ["Time", "Model", "Route", "Outcome", "Tokens in/out", "First byte", "Duration"];
const LOG_KEPT = 500;

function matches(row) {
  const f = $("log-filter").value.trim().toLowerCase();
  return !f || row.textContent.toLowerCase().includes(f);
}

function row(r) {
  const tr = el("tr");
  tr.dataset.model = r.slug;
  if (r.id) {
    tr.dataset.id = String(r.id);
    tr.tabIndex = 0;
  }
  const outcome = r.is_test ? `${r.outcome} (test)` : r.outcome;
  const cells = [when(r.ts_ms), r.slug, r.route, outcome,
    `${count(r.input_tokens)} / ${count(r.output_tokens)}`, ms(r.ttfb_ms), ms(r.duration_ms)];
  cells.forEach((c, i) => {
    const td = el("td", c, i === 3 ? (r.outcome === "completed" ? "good" : "bad") : "");
    td.dataset.label = LABELS[i];
    tr.append(td);
  });
  if (r.error) tr.title = r.error;
  tr.hidden = !matches(tr);
  return tr;
}

async function load() {
  const q = new URLSearchParams({ limit: "200" });
  if ($("req-model").value) q.set("model", $("req-model").value);
  if ($("req-outcome").value) q.set("outcome", $("req-outcome").value);
  const list = await api(`/api/requests?${q}`);
  $("log-rows").replaceChildren(...list.map(row));
  const models = $("req-model");
  const known = new Set([...models.options].map((o) => o.value));
  for (const slug of new Set(list.map((r) => r.slug))) {
    if (!known.has(slug)) models.append(Object.assign(el("option", slug), { value: slug }));
  }
}

async function detail(id) {
  const r = await api(`/api/requests/${id}`);
  const dl = $("req-detail-list");
  dl.replaceChildren();
  const fields = [
    ["Time", new Date(r.ts_ms).toLocaleString()], ["Model", r.slug], ["Upstream model", r.upstream_model],
    ["Route", r.route], ["Endpoint", r.endpoint], ["Upstream HTTP status", r.http_status], ["Outcome", r.outcome],
    ["Input tokens", r.input_tokens], ["Cached input tokens", r.cached_tokens], ["Output tokens", r.output_tokens],
    ["Reasoning tokens", r.reasoning_tokens], ["First byte", r.ttfb_ms == null ? null : `${r.ttfb_ms} ms`],
    ["Duration", `${r.duration_ms} ms`], ["Output tokens/s", r.output_tokens_per_s == null ? null : r.output_tokens_per_s.toFixed(1)],
    ["Error class", r.error_class], ["Error", r.error], ["Test", r.is_test ? "yes (not counted in usage)" : "no"],
  ];
  for (const [k, v] of fields) {
    dl.append(el("dt", k), el("dd", v ?? "–", k === "Error" && v ? "bad" : ""));
  }
  $("req-detail-h").textContent = `Request ${r.id}`;
  $("req-detail").showModal();
}

function appendLog(line) {
  const pre = $("server-log");
  const atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
  const div = el("div", line);
  div.hidden = !matches(div);
  pre.append(div);
  while (pre.childElementCount > LOG_KEPT) pre.firstElementChild.remove();
  if (atEnd) pre.scrollTop = pre.scrollHeight;
}

let reload;
export function init() {
  for (const id of ["req-model", "req-outcome"]) $(id).addEventListener("change", () => load().catch(() => {}));
  $("log-filter").addEventListener("input", () => {
    for (const r of [...$("log-rows").children, ...$("server-log").children]) r.hidden = !matches(r);
  });
  const open = (ev) => {
    const tr = ev.target.closest("tr[data-id]");
    if (tr && (ev.type === "click" || ev.key === "Enter")) detail(tr.dataset.id).catch(() => {});
  };
  $("log-rows").addEventListener("click", open);
  $("log-rows").addEventListener("keydown", open);
  bus.addEventListener("request", (ev) => {
    const e = ev.detail;
    // Shown at once; its ledger row (with every field) replaces it moments later.
    $("log-rows").prepend(row({ ts_ms: e.time_ms, slug: e.model, route: e.route, outcome: e.outcome, is_test: e.test,
      input_tokens: e.input_tokens, output_tokens: e.output_tokens, ttfb_ms: e.ttfb_ms, duration_ms: e.duration_ms, error: e.error }));
    clearTimeout(reload);
    reload = setTimeout(() => load().catch(() => {}), 800);
  });
  bus.addEventListener("log", (ev) => appendLog(ev.detail));
  api("/api/log").then(({ lines }) => lines.forEach(appendLog)).catch(() => {});
  load().catch(() => {});
}

export function shown() {
  load().catch(() => {});
}
