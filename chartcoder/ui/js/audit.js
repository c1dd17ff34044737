// The encounter's audit trail (a <details> panel, loaded when opened and after each change).

import { $, h } from "./dom.js";
import { formatDateTime, formatDetail } from "./format.js";
import { api } from "./session.js";
import { els, state } from "./store.js";

const AUDIT_LABELS = {
  "encounter.created": "Encounter created",
  "suggestions.stored": "Suggestions stored",
  "decision.accept": "Accepted",
  "decision.reject": "Rejected",
  "decision.add": "Added",
  "decision.change": "Changed",
  "encounter.finalized": "Finalized",
  "encounter.reopened": "Reopened",
  "claim.built": "Claim built",
};

export function buildAuditPanel() {
  const audit = h("details", { class: "audit", "data-testid": "audit-panel" },
    h("summary", {}, "Audit trail"), h("div", { class: "audit-body" }));
  audit.addEventListener("toggle", () => audit.open && loadAudit());
  return audit;
}

export async function loadAudit() {
  const id = state.enc.id;
  try {
    const res = await api("GET", `/encounters/${encodeURIComponent(id)}/audit`);
    if (!state.enc || state.enc.id !== id || !els.audit) return;
    renderAudit(res.events || []);
  } catch (err) {
    if (err.status !== 401 && els.auditBody) els.auditBody.replaceChildren(h("p", { class: "form-error" }, `Could not load the audit trail: ${err.message}.`));
  }
}

function renderAudit(events) {
  $("summary", els.audit).textContent = `Audit trail (${events.length})`;
  if (!events.length) {
    els.auditBody.replaceChildren(h("p", { class: "muted" }, "No events."));
    return;
  }
  els.auditBody.replaceChildren(
    h("table", { class: "audit-table" },
      h("thead", {}, h("tr", {}, ["When", "Who", "Action", "Details"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, events.map((ev) => h("tr", { "data-action": ev.action },
        h("td", {}, formatDateTime(ev.at)),
        h("td", {}, ev.actor ? `${ev.actor.username} (${ev.actor.role})` : "system"),
        h("td", {}, AUDIT_LABELS[ev.action] || ev.action),
        h("td", { class: "detail" }, formatDetail(ev.detail)))))));
}
