// The code list of the encounter (a listbox: suggestions, the "consider" group, added codes, each with
// its state and who decided it) and the toolbar of the selected code. Drawing only: encounter.js wires
// the clicks (the toolbar's buttons carry data-command).

import { h } from "./dom.js";
import { assertionLabel, formatDateTime, pct, personName, sectionLabel, warningKind } from "./format.js";
import { reasonLabel } from "./reasons.js";
import { may } from "./roles.js";
import { els, state } from "./store.js";

export const STATE_LABELS = { pending: "Pending", accepted: "Accepted", rejected: "Rejected", added: "Added" };

export function renderCodes() {
  els.codes.replaceChildren(...state.rows.map(codeRow));
  els.empty.hidden = state.rows.length > 0;
  els.codes.hidden = state.rows.length === 0;
}

function codeRow(r, i) {
  // The first "consider" row opens that group: a coder sees where the proposal ends.
  const opensConsider = r.group === "consider" && (i === 0 || state.rows[i - 1].group !== "consider");
  return h(
    "li",
    {
      id: `code-opt-${i}`, role: "option",
      class: `code-row state-${r.state} group-${r.group}${opensConsider ? " group-start" : ""}`, "aria-selected": "false",
      "data-testid": "code-row", "data-code": r.code, "data-system": r.system, "data-state": r.state, "data-key": r.key,
      "data-group": r.group,
    },
    opensConsider
      ? h("div", { class: "group-label", "data-testid": "consider-label" }, "Consider: weak or no supporting words in this note")
      : null,
    h("div", { class: "code-line" },
      h("span", { class: "code" }, r.code),
      h("span", { class: "system" }, r.system),
      h("span", { class: "score", title: "Model score" }, r.suggested && r.score !== null ? pct(r.score) : ""),
      r.group === "consider" ? h("span", { class: "chip chip-consider" }, "consider") : null,
      h("span", { class: `chip chip-${r.state}` }, STATE_LABELS[r.state] || r.state)),
    h("div", { class: "desc" }, r.description),
    r.warnings.length
      ? h("ul", { class: "badges", "aria-label": "Warnings" }, r.warnings.map((w) => h("li", { class: `badge ${warningKind(w)}` }, w)))
      : null,
    evidenceList(r),
    decisionLine(r),
  );
}

/** Each piece of evidence: its words, its assertion (negated, family history, history, uncertain…) and section. */
function evidenceList(r) {
  if (!r.evidence.length) return null;
  return h("ul", { class: "evidence-list", "aria-label": `Evidence for ${r.code}` }, r.evidence.map((ev) => {
    const assertion = ev.assertion || "present";
    const words = typeof ev.text === "string" ? ev.text : "";
    return h("li", {
      class: `evidence-item assert-${assertion}`, "data-testid": "evidence-item",
      "data-assertion": assertion, "data-section": ev.section || "",
    },
    h("q", {}, words.length > 80 ? `${words.slice(0, 79)}…` : words), " ",
    h("span", { class: `chip chip-assert chip-assert-${assertion === "present" ? "present" : "other"}` }, assertionLabel(assertion)), " ",
    h("span", { class: "section-name" }, sectionLabel(ev.section)));
  }));
}

function decisionLine(r) {
  if (r.state === "pending" || !r.decided_by) return null;
  const parts = [`${STATE_LABELS[r.state] || r.state} by ${personName(r.decided_by)}`];
  if (r.decided_at) parts.push(formatDateTime(r.decided_at));
  if (r.replaces) parts.push(`replaces ${r.replaces}`);
  if (r.reason) parts.push(`reason: ${reasonLabel(r.reason)}`);
  if (r.note) parts.push(`note: ${r.note}`);
  return h("div", { class: "decided" }, parts.join(" · "));
}

/** The selected code's toolbar: Accept (a), Reject… (r), Change… (e), and "Saving…" while changes are sent. */
export function renderToolbar(row) {
  const editable = may(state.user, "edit") && state.enc.status === "open";
  els.toolbar.replaceChildren(
    h("span", { class: "selected-label" }, row ? `Selected: ${row.code}` : "No code selected"),
    h("button", { type: "button", class: "btn", disabled: !row || !editable, "aria-keyshortcuts": "a", "data-command": "accept" },
      "Accept ", h("kbd", {}, "a")),
    h("button", { type: "button", class: "btn", disabled: !row || !editable, "aria-keyshortcuts": "r", "data-command": "reject" },
      "Reject… ", h("kbd", {}, "r")),
    h("button", { type: "button", class: "btn", disabled: !row || !editable, "aria-keyshortcuts": "e", "data-command": "change", "data-testid": "change" },
      "Change… ", h("kbd", {}, "e")),
    h("span", { class: "saving", hidden: !(state.sending || state.queue.length) }, "Saving…"),
  );
}
