// Usage: today / 7 / 30 days totals, a per-day chart by model (inline SVG), the per-model table
// for the chosen period, and a CSV export of the same rows `codex-shim usage --json` gives.
import { $, api, bus, count, el, plural, usd } from "./lib.js";

const COLORS = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#9c755f"];
const SVG = "http://www.w3.org/2000/svg";
let rows = [];

/** YYYY-MM-DD of the local day `ago` days before today. */
function day(ago) {
  const d = new Date();
  d.setDate(d.getDate() - ago);
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
}

/** Sums of `list`; the cost is known only when every row's is. */
function sum(list) {
  const t = { requests: 0, input_tokens: 0, cached_tokens: 0, output_tokens: 0, reasoning_tokens: 0, cost_usd: 0, unpriced: false };
  for (const r of list) {
    for (const k of ["requests", "input_tokens", "cached_tokens", "output_tokens", "reasoning_tokens"]) t[k] += r[k];
    if (r.cost_usd == null) t.unpriced = true;
    else t.cost_usd += r.cost_usd;
  }
  return t;
}

function since(days) {
  const first = day(days - 1);
  return rows.filter((r) => r.day >= first);
}

function totals() {
  const box = $("usage-totals");
  box.replaceChildren();
  for (const [label, days] of [["Today", 1], ["7 days", 7], ["30 days", 30]]) {
    const t = sum(since(days));
    const card = el("div", null, "total");
    card.dataset.period = String(days);
    const cost = t.requests === 0 ? "$0" : t.unpriced && t.cost_usd === 0 ? "—" : usd(t.cost_usd) + (t.unpriced ? " +" : "");
    card.append(el("div", label, "label"), el("div", cost, "cost"),
      el("div", `${plural(t.requests, "request")} · ${count(t.input_tokens)} in · ${count(t.output_tokens)} out`, "hint"));
    box.append(card);
  }
}

function svg(tag, attrs) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  return e;
}

function chart(days, list) {
  const slugs = [...new Set(list.map((r) => r.slug))].sort();
  const byCost = list.some((r) => r.cost_usd != null);
  const value = (r) => (byCost ? r.cost_usd || 0 : r.input_tokens + r.output_tokens);
  const dates = Array.from({ length: days }, (_, i) => day(days - 1 - i));
  const stacks = dates.map((d) => slugs.map((s) => list.filter((r) => r.day === d && r.slug === s).reduce((a, r) => a + value(r), 0)));
  const max = Math.max(...stacks.map((st) => st.reduce((a, b) => a + b, 0)), byCost ? 0.01 : 1);
  const [W, H, left, bottom] = [720, 220, 56, 22];
  const plotH = H - bottom - 8;
  const step = (W - left - 8) / days;
  const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": `${byCost ? "Cost" : "Tokens"} per day by model, last ${days} days` });
  for (let i = 0; i <= 4; i++) {
    const y = 8 + plotH - (plotH * i) / 4;
    root.append(svg("line", { x1: left, x2: W - 8, y1: y, y2: y, class: "grid" }));
    const t = svg("text", { x: left - 6, y: y + 4, "text-anchor": "end" });
    t.textContent = byCost ? usd((max * i) / 4) : count(Math.round((max * i) / 4));
    root.append(t);
  }
  stacks.forEach((st, i) => {
    let y = 8 + plotH;
    const x = left + i * step + step * 0.15;
    st.forEach((v, j) => {
      if (!v) return;
      const h = (plotH * v) / max;
      y -= h;
      const r = svg("rect", { x, y, width: Math.max(step * 0.7, 1), height: h, fill: COLORS[j % COLORS.length] });
      const tip = svg("title", {});
      tip.textContent = `${dates[i]} · ${slugs[j]}: ${byCost ? usd(v) : count(v) + " tokens"}`;
      r.append(tip);
      root.append(r);
    });
    const every = days <= 7 ? 1 : days <= 30 ? 5 : 15;
    if ((days - 1 - i) % every === 0) {
      const t = svg("text", { x: x + step * 0.35, y: H - 6, "text-anchor": "middle" });
      t.textContent = dates[i].slice(5);
      root.append(t);
    }
  });
  $("usage-chart").replaceChildren(root);
  const legend = $("usage-legend");
  legend.replaceChildren();
  slugs.forEach((s, j) => {
    const li = el("li");
    const sw = el("span", null, "swatch");
    sw.style.background = COLORS[j % COLORS.length];
    const unpriced = byCost && list.some((r) => r.slug === s && r.cost_usd == null);
    li.append(sw, `${s}${unpriced ? " (no price)" : ""}`);
    legend.append(li);
  });
  if (!slugs.length) legend.append(el("li", "No requests recorded in this period.", "hint"));
}

function table(list) {
  const body = $("usage-rows");
  body.replaceChildren();
  const labels = ["Model", "Requests", "Input", "Cached", "Output", "Reasoning", "Cost"];
  for (const slug of [...new Set(list.map((r) => r.slug))].sort()) {
    const t = sum(list.filter((r) => r.slug === slug));
    const tr = el("tr");
    tr.dataset.slug = slug;
    const cells = [slug, count(t.requests), count(t.input_tokens), count(t.cached_tokens), count(t.output_tokens), count(t.reasoning_tokens),
      t.unpriced ? (t.cost_usd ? `${usd(t.cost_usd)} +` : "—") : usd(t.cost_usd)];
    cells.forEach((c, i) => {
      const td = el("td", c, i ? "num" : "");
      td.dataset.label = labels[i];
      tr.append(td);
    });
    body.append(tr);
  }
}

function render() {
  const days = Number($("usage-days").value);
  const list = since(days);
  totals();
  chart(days, list);
  table(list);
}

async function load() {
  rows = await api("/api/usage?days=90");
  render();
}

function csv() {
  const days = Number($("usage-days").value);
  const keys = ["day", "slug", "requests", "input_tokens", "cached_tokens", "output_tokens", "reasoning_tokens", "cost_usd"];
  const quote = (v) => (v == null ? "" : /[",\n]/.test(String(v)) ? `"${String(v).replaceAll('"', '""')}"` : String(v));
  const text = [keys.join(","), ...since(days).map((r) => keys.map((k) => quote(r[k])).join(","))].join("\n") + "\n";
  const a = el("a");
  a.href = URL.createObjectURL(new Blob([text], { type: "text/csv" }));
  a.download = `codex-shim-usage-${day(0)}-${days}d.csv`;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10000);
}

let pending;
export function init() {
  $("usage-days").addEventListener("change", render);
  $("usage-csv").addEventListener("click", csv);
  // New requests update the numbers (at most every 2 s while the section is open).
  bus.addEventListener("request", () => {
    if ($("usage").hidden || pending) return;
    pending = setTimeout(() => {
      pending = null;
      load().catch(() => {});
    }, 2000);
  });
}

export function shown() {
  load().catch((e) => {
    $("usage-totals").replaceChildren(el("p", e.message, "bad"));
  });
}
