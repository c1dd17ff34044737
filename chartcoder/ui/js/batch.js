// Decisions on many codes at once, each confirmed in a dialog and sent as one batch (stored whole or
// not at all): accept all (A: every pending code of the proposal) and reject the rest (R: every code
// still pending, with one reason).

import { editGuard, enqueue } from "./changes.js";
import { REASON_KEYS_HELP, onReasonKey, reasonOptions } from "./decisions.js";
import { openDialog } from "./dialogs.js";
import { $, announce, h } from "./dom.js";
import { plural } from "./format.js";
import { loadReasons } from "./reasons.js";
import { state } from "./store.js";

const pendingRows = (group) => state.rows.filter((r) => r.state === "pending" && (!group || r.group === group));

function codeList(rows) {
  return h("ul", { class: "batch-codes" }, rows.map((r) =>
    h("li", { "data-testid": "batch-code", "data-code": r.code }, h("span", { class: "code" }, r.code), " ", r.description)));
}

/** Key A: accept every pending code of the proposal ("suggested" group; the consider group is left). */
export function openAcceptAll() {
  if (!editGuard()) return;
  const rows = pendingRows("suggested");
  if (!rows.length) {
    announce("No suggested code is pending; nothing to accept.", "info");
    return;
  }
  const body = h("div", {},
    h("p", {}, `Accept ${plural(rows.length, "suggested code")} still pending:`),
    codeList(rows),
    h("p", { class: "muted" }, "Codes in the Consider group are left pending."),
    h("div", { class: "dialog-buttons" },
      h("button", { type: "button", class: "btn btn-quiet", onclick: () => dlg.close() }, "Cancel"),
      h("button", {
        type: "button", class: "btn btn-primary", "data-testid": "accept-all-confirm",
        onclick: () => {
          dlg.close();
          const decisions = rows.map((r) => ({ action: "accept", code: r.code, system: r.system }));
          enqueue("decisions", { decisions }, `accept ${plural(rows.length, "code")}`);
        },
      }, `Accept ${rows.length}`)));
  const dlg = openDialog({ title: "Accept all suggested codes?", testid: "accept-all-dialog", body });
  $("[data-testid=accept-all-confirm]", dlg.dlg).focus();
}

/** Key R: reject every code still pending, with one reason (and an optional note). */
export async function openRejectRest() {
  if (!editGuard()) return;
  const rows = pendingRows(null);
  if (!rows.length) {
    announce("No code is pending; nothing to reject.", "info");
    return;
  }
  let reasons;
  try {
    reasons = await loadReasons();
  } catch (err) {
    if (err.status !== 401) announce(`Could not load the reject reasons: ${err.message}.`, "error");
    return;
  }
  const error = h("p", { class: "form-error", role: "alert" });
  const note = h("input", { id: "reject-rest-note", type: "text", maxlength: "500", autocomplete: "off" });
  const form = h("form", { class: "reason-form" },
    h("p", {}, `Reject the ${plural(rows.length, "code")} still pending:`),
    codeList(rows),
    h("fieldset", {}, h("legend", {}, `Reason for all of them (${REASON_KEYS_HELP})`), reasonOptions(reasons, null)),
    h("div", { class: "field" }, h("label", { for: "reject-rest-note" }, "Note (optional)"), note),
    error,
    h("div", { class: "dialog-buttons" },
      h("button", { type: "button", class: "btn btn-quiet", onclick: () => dlg.close() }, "Cancel"),
      h("button", { type: "submit", class: "btn btn-primary", "data-testid": "reject-rest-confirm" }, `Reject ${rows.length}`)));
  const dlg = openDialog({ title: "Reject the rest?", testid: "reject-rest-dialog", body: form, onKeydown: (e) => onReasonKey(e, form) });
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const picked = [...form.querySelectorAll("input[type=radio]")].find((r) => r.checked);
    if (!picked) {
      error.textContent = `Pick a reason (${REASON_KEYS_HELP}).`;
      form.querySelector("input[type=radio]").focus();
      return;
    }
    const extra = note.value.trim() ? { note: note.value.trim() } : {};
    const decisions = rows.map((r) => ({ action: "reject", code: r.code, system: r.system, reason: picked.value, ...extra }));
    dlg.close();
    enqueue("decisions", { decisions }, `reject ${plural(rows.length, "code")}`);
  });
  form.querySelector("input[type=radio]").focus();
}
