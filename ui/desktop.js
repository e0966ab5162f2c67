// The Codex Desktop wizard: check, preview (a dry run), patch, result; restore at any time.
import { $, api, el, say } from "./lib.js";

/** Shows step `n`; focuses its first button only when the user moved there (not at page load). */
function step(n, focus) {
  for (const e of document.querySelectorAll(".wizard-step")) e.hidden = e.dataset.step !== String(n);
  for (const li of document.querySelectorAll("ol.progress li")) {
    if (li.dataset.for === String(n)) li.setAttribute("aria-current", "step");
    else li.removeAttribute("aria-current");
  }
  if (focus) document.querySelector(`.wizard-step[data-step="${n}"] button`)?.focus();
}

async function check() {
  $("wz-status").textContent = "Checking…";
  try {
    const s = await api("/api/desktop");
    $("wz-status").textContent = `${s.status} (${s.app})`;
    const ul = $("wz-targets");
    ul.replaceChildren();
    for (const t of s.targets) ul.append(el("li", `${t.label}: ${t.refusal || t.found}`, t.refusal ? "bad" : ""));
    $("wz-preview").disabled = !["unpatched", "updated", "interrupted"].includes(s.state);
  } catch (e) {
    $("wz-status").textContent = e.message;
  }
}

async function preview() {
  const r = await api("/api/desktop/plan", {});
  if (!r.ok) {
    $("wz-status").textContent = r.steps.at(-1)?.detail || "The dry run failed.";
    return;
  }
  const box = $("wz-diff");
  box.replaceChildren();
  for (const c of r.changes) {
    const div = el("div", null, "diff");
    div.append(el("h3", `${c.label} (${c.file})`), el("pre", `- ${c.before}`, "before"), el("pre", `+ ${c.after}`, "after"));
    box.append(div);
  }
  step(2, true);
}

async function run(path, working) {
  step(4, true);
  $("wz-result").textContent = working;
  $("wz-result").className = "";
  $("wz-steps").replaceChildren();
  try {
    const r = await api(path, { quit: $("wz-quit").checked });
    for (const st of r.steps) $("wz-steps").append(el("li", `${st.ok ? "✓" : "✗"} ${st.step}: ${st.detail}`, st.ok ? "" : "bad"));
    say("wz-result", r.steps.at(-1)?.detail || "", r.ok);
  } catch (e) {
    say("wz-result", e.message, false);
  }
}

export function init() {
  $("wz-check").addEventListener("click", check);
  $("wz-preview").addEventListener("click", preview);
  $("wz-apply").addEventListener("click", () => run("/api/desktop/patch", "Patching…"));
  $("wz-restore").addEventListener("click", () => run("/api/desktop/restore", "Restoring…"));
  for (const b of document.querySelectorAll("#wizard [data-go]")) {
    b.addEventListener("click", () => {
      step(Number(b.dataset.go), true);
      if (b.dataset.go === "1") check();
    });
  }
  step(1, false);
}

// Opening the section (the tray's "Patch Codex Desktop…") checks the app at once.
export function shown() {
  if (!document.querySelector('.wizard-step[data-step="1"]').hidden) check();
}
