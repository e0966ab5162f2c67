// The codex-shim window: a sidebar and one section at a time. The URL fragment carries the UI
// token and the section (`#token=…&section=usage`), so the tray can open any section and a
// reload stays where it was. Each view is its own module with `init()` and, optionally,
// `shown()` (called when it is opened).
import { $, api, bus, params, token } from "./lib.js";
import * as models from "./models.js";
import * as usage from "./usage.js";
import * as requests from "./requests.js";
import * as keys from "./keys.js";
import * as desktop from "./desktop.js";
import * as status from "./status.js";

const views = { models, usage, requests, keys, wizard: desktop, status };
// Older section names (the tray's "Logs…" opened `logs`).
const aliases = { logs: "requests", launch: "models", desktop: "wizard" };

function show(wanted, focus) {
  let id = aliases[wanted] || wanted;
  if (!views[id]) id = "models";
  for (const s of document.querySelectorAll("main > section")) s.hidden = s.id !== id;
  for (const a of document.querySelectorAll(".sidebar nav a")) {
    if (a.dataset.section === id) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  const p = new URLSearchParams(location.hash.slice(1));
  if (p.get("section") !== id) {
    p.set("section", id);
    history.replaceState(null, "", `#${p}`);
  }
  scrollTo(0, 0);
  if (focus) {
    const h = $(id).querySelector("h2");
    h.setAttribute("tabindex", "-1");
    h.focus({ preventScroll: true });
  }
  views[id].shown?.();
}

function follow() {
  const es = new EventSource(`/api/events?token=${encodeURIComponent(token)}`);
  es.onmessage = (ev) => bus.dispatchEvent(new CustomEvent("request", { detail: JSON.parse(ev.data) }));
  es.addEventListener("log", (ev) => bus.dispatchEvent(new CustomEvent("log", { detail: JSON.parse(ev.data) })));
}

if (!token) {
  $("token-missing").hidden = false;
  $("status-line").textContent = "No UI token";
} else {
  for (const v of Object.values(views)) v.init?.();
  for (const a of document.querySelectorAll(".sidebar nav a")) {
    a.addEventListener("click", (ev) => {
      // The fragment holds the token: switch sections without losing it.
      ev.preventDefault();
      show(a.dataset.section, true);
    });
  }
  follow();
  show(params.get("section") || "models", false);
  // The tray opens a section of a window that is already open by changing only the fragment.
  addEventListener("hashchange", () => {
    const section = new URLSearchParams(location.hash.slice(1)).get("section");
    if (section) show(section, false);
  });
  api("/api/status").catch((e) => {
    $("status-line").textContent = `Cannot reach the API: ${e.message}`;
  });
}
