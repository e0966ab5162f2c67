// Shared by the views: the API client (every call carries the per-launch token from the URL
// fragment), a few DOM helpers (values are always set with textContent, never as HTML), and the
// event bus the live request stream is published on.
export const params = new URLSearchParams(location.hash.slice(1));
export const token = params.get("token") || "";
export const $ = (id) => document.getElementById(id);

/** GET `path`, or POST `body` as JSON; the parsed answer, or an Error with the server's reason. */
export async function api(path, body) {
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

export function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}

export function cell(row, text, cls) {
  const td = el("td", text ?? "", cls);
  row.appendChild(td);
  return td;
}

/** A button showing `label`; `name` (when given) is its accessible name, e.g. "Use beta". */
export function button(label, onClick, name) {
  const b = el("button", label);
  b.type = "button";
  if (name) b.setAttribute("aria-label", name);
  b.addEventListener("click", onClick);
  return b;
}

export function say(id, text, ok) {
  const p = $(id);
  p.textContent = text;
  p.className = ok ? "good" : "bad";
}

/** `n` as 1,234 / 12.3k / 4.5M. */
export function count(n) {
  if (n == null) return "–";
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)}M`;
  if (n >= 1e4) return `${(n / 1e3).toFixed(1)}k`;
  return n.toLocaleString("en-US");
}

/** A cost in USD: "—" when unknown (never guessed). */
export function usd(c) {
  if (c == null) return "—";
  if (c === 0) return "$0";
  return c >= 0.01 ? `$${c.toFixed(2)}` : `$${c.toFixed(4)}`;
}

/** "3 requests", "1 request". */
export function plural(n, word) {
  return `${count(n)} ${word}${n === 1 ? "" : "s"}`;
}

/** A time: the clock alone today, else the date too. */
export function when(ms) {
  const d = new Date(ms);
  const today = new Date().toDateString() === d.toDateString();
  return today
    ? d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" })
    : d.toLocaleString([], { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
}

/** A duration: milliseconds below a second, else seconds. */
export function ms(v) {
  if (v == null) return "–";
  return v < 1000 ? `${v} ms` : `${(v / 1000).toFixed(1)} s`;
}

/** Live request summaries (`detail` is one summary), from the one event stream. */
export const bus = new EventTarget();

// Of overlapping calls of `fetch`, only the newest gets its answer; older ones get null. A view
// reloads on every change, and a slow answer from before a save must not overwrite the list
// that came after it.
export function newest(fetch) {
  let seq = 0;
  return async (...args) => {
    const mine = ++seq;
    const r = await fetch(...args);
    return mine === seq ? r : null;
  };
}
