// A coder's decisions on the selected code (accept; reject with a reason from the picker; change it into
// another code) and on the encounter (finalize, reopen; a biller's send-back), each confirmed in a dialog
// where it needs one and queued in changes.js. After a, r or a change the selection moves on to the next
// code still pending, so each decision is one key.

import { decide, editGuard, enqueue } from "./changes.js";
import { openDialog } from "./dialogs.js";
import { $, announce, h } from "./dom.js";
import { reasonIndex, reasonKey } from "./format.js";
import { loadReasons } from "./reasons.js";
import { may } from "./roles.js";
import { nextAfterDecision } from "./rows.js";
import { select, selectedRow } from "./selection.js";
import { state } from "./store.js";

/** Moves the selection on from the row just decided (the next pending code). */
function advanceFrom(row) {
  const next = nextAfterDecision(state.rows, row.key);
  if (next && next !== row.key) select(next, { reveal: true });
}

export function acceptSelected() {
  const row = selectedRow();
  if (!row || !editGuard()) return;
  decide({ action: "accept", code: row.code, system: row.system }, `accept ${row.code}`);
  advanceFrom(row);
}

export function rejectSelected() {
  const row = selectedRow();
  if (!row || !editGuard()) return;
  openReasonPicker(row);
}

/** The reasons as radio buttons, each with its key (1–9, then q, w, e…: format.js). */
export function reasonOptions(reasons, checked) {
  return reasons.map((r, i) =>
    h("label", { class: "reason", "data-testid": "reason-option", "data-reason": r.code, "data-key": reasonKey(i) },
      h("input", { type: "radio", name: "reason", value: r.code, checked: r.code === checked }),
      h("span", { class: "reason-key", "aria-hidden": "true" }, reasonKey(i)),
      h("span", {}, r.label)));
}

export const REASON_KEYS_HELP = "keys 1–9, then q, w, e for the 10th–12th";

/** A reason key picks its reason (not while typing in a text field); Enter confirms. */
export function onReasonKey(e, form) {
  const radios = [...form.querySelectorAll("input[type=radio]")];
  const typing = e.target.matches("input[type=text], textarea");
  const i = typing || e.ctrlKey || e.metaKey || e.altKey ? -1 : reasonIndex(e.key, radios.length);
  if (i >= 0) {
    e.preventDefault();
    radios[i].checked = true;
    radios[i].focus();
  } else if (e.key === "Enter" && !e.target.closest("button, textarea")) {
    e.preventDefault();
    form.requestSubmit();
  }
}

function reasonForm(row, reasons, onCancel) {
  const error = h("p", { class: "form-error", role: "alert" });
  const noteInput = h("input", { id: "reject-note", type: "text", maxlength: "500", autocomplete: "off" });
  const options = reasonOptions(reasons, row.reason);
  const form = h("form", { class: "reason-form" },
    h("p", { class: "muted" }, `${row.code} — ${row.description}`),
    h("fieldset", {}, h("legend", {}, `Reason (${REASON_KEYS_HELP})`), options),
    h("div", { class: "field" }, h("label", { for: "reject-note" }, "Note (optional)"), noteInput),
    error,
    h("div", { class: "dialog-buttons" },
      h("button", { type: "button", class: "btn btn-quiet", onclick: onCancel }, "Cancel"),
      h("button", { type: "submit", class: "btn btn-primary", "data-testid": "reason-confirm" }, "Reject")));
  const radios = () => [...form.querySelectorAll("input[type=radio]")];
  return { form, error, noteInput, radios };
}

async function openReasonPicker(row) {
  let reasons;
  try {
    reasons = await loadReasons();
  } catch (err) {
    if (err.status !== 401) announce(`Could not load the reject reasons: ${err.message}.`, "error");
    return;
  }
  const f = reasonForm(row, reasons, () => dlg.close());
  const dlg = openDialog({ title: `Reject ${row.code}`, testid: "reason-picker", body: f.form, onKeydown: (e) => onReasonKey(e, f.form) });
  f.form.addEventListener("submit", (e) => {
    e.preventDefault();
    const picked = f.radios().find((r) => r.checked);
    if (!picked) {
      f.error.textContent = `Pick a reason (${REASON_KEYS_HELP}).`;
      (f.radios()[0] || f.noteInput).focus();
      return;
    }
    const decision = { action: "reject", code: row.code, system: row.system, reason: picked.value };
    const note = f.noteInput.value.trim();
    if (note) decision.note = note;
    dlg.close();
    decide(decision, `reject ${row.code}`);
    advanceFrom(row);
  });
  (f.radios().find((r) => r.checked) || f.radios()[0] || f.noteInput).focus();
}

export function openFinalize() {
  if (!editGuard()) return;
  const enc = state.enc;
  const coded = state.rows.filter((r) => r.state === "accepted" || r.state === "added");
  const pending = state.rows.filter((r) => r.state === "pending");
  const body = h("div", {},
    coded.length
      ? h("p", {}, `Lock ${enc.external_id || enc.id} with ${coded.length} code${coded.length === 1 ? "" : "s"}: ${coded.map((r) => r.code).join(", ")}.`)
      : h("p", { class: "form-error" }, "No code is accepted or added yet; accept or add at least one first."),
    pending.length ? h("p", {}, `${pending.length} suggestion${pending.length === 1 ? " is" : "s are"} still pending and will not be coded.`) : null,
    state.queue.length ? h("p", {}, "Your last decisions are still being saved; finalizing waits for them.") : null,
    h("div", { class: "dialog-buttons" },
      h("button", { type: "button", class: "btn btn-quiet", onclick: () => dlg.close() }, "Cancel"),
      h("button", {
        type: "button", class: "btn btn-primary", "data-testid": "finalize-confirm", disabled: !coded.length,
        onclick: () => {
          dlg.close();
          enqueue("finalize", {}, "finalize");
        },
      }, "Finalize")));
  const dlg = openDialog({ title: "Finalize this encounter?", testid: "finalize-dialog", body });
  const confirm = $("[data-testid=finalize-confirm]", dlg.dlg);
  (confirm.disabled ? $("button", dlg.dlg) : confirm).focus();
}

export function openReopen() {
  if (!state.enc || !may(state.user, "edit")) return;
  if (state.enc.status !== "finalized") {
    announce("This encounter is open already.", "info");
    return;
  }
  textDialog({
    title: "Reopen this encounter?", testid: "reopen", label: "Why reopen it? (required, kept in the audit trail)",
    button: "Reopen", empty: "Give a reason to reopen.",
    onSubmit: (text) => enqueue("reopen", { reason: text }, "reopen"),
  });
}

/** Key e: change the selected code into another one (the API's "change"), with a reason. */
export async function changeSelected() {
  const row = selectedRow();
  if (!row || !editGuard()) return;
  let reasons;
  try {
    reasons = await loadReasons();
  } catch (err) {
    if (err.status !== 401) announce(`Could not load the reasons: ${err.message}.`, "error");
    return;
  }
  const error = h("p", { class: "form-error", role: "alert" });
  const codeInput = h("input", {
    id: "change-code", type: "text", maxlength: "16", autocomplete: "off", spellcheck: "false", required: true,
    "data-testid": "change-code", placeholder: row.system === "ICD-10-CM" ? "e.g. E11.9" : "",
  });
  const noteInput = h("input", { id: "change-note", type: "text", maxlength: "500", autocomplete: "off" });
  const form = h("form", { class: "reason-form", novalidate: true },
    h("p", { class: "muted" }, `${row.code} — ${row.description}`),
    h("div", { class: "field" }, h("label", { for: "change-code" }, `New ${row.system} code`), codeInput),
    h("fieldset", {}, h("legend", {}, `Reason (${REASON_KEYS_HELP})`), reasonOptions(reasons, "more_specific_code")),
    h("div", { class: "field" }, h("label", { for: "change-note" }, "Note (optional)"), noteInput),
    error,
    h("div", { class: "dialog-buttons" },
      h("button", { type: "button", class: "btn btn-quiet", onclick: () => dlg.close() }, "Cancel"),
      h("button", { type: "submit", class: "btn btn-primary", "data-testid": "change-confirm" }, "Change")));
  const dlg = openDialog({ title: `Change ${row.code} into…`, testid: "change-dialog", body: form, onKeydown: (e) => onReasonKey(e, form) });
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const code = codeInput.value.trim().toUpperCase();
    const picked = [...form.querySelectorAll("input[type=radio]")].find((r) => r.checked);
    if (!code || code === row.code) {
      error.textContent = code ? "That is the same code; type the code it should be." : "Type the code it should be.";
      codeInput.focus();
      return;
    }
    const decision = { action: "change", code, system: row.system, replaces: row.code, reason: picked.value };
    if (noteInput.value.trim()) decision.note = noteInput.value.trim();
    dlg.close();
    decide(decision, `change ${row.code} to ${code}`);
    advanceFrom(row);
  });
  codeInput.focus();
}

/** Key b (billers, admins): send a finalized encounter back to the coder with a reason. */
export function openSendBack() {
  const enc = state.enc;
  if (!enc || !may(state.user, "sendBack")) return;
  if (enc.status !== "finalized") {
    announce("Only a finalized encounter can be sent back to the coder.", "error");
    return;
  }
  textDialog({
    title: "Send this encounter back to the coder?", testid: "send-back", label: "What should the coder fix? (required; shown to them and kept in the audit trail)",
    button: "Send back", empty: "Say what the coder should fix.",
    onSubmit: (text) => enqueue("send-back", { reason: text }, "send back to the coder"),
  });
}

/** A dialog with one required text (reopen, send back): `${testid}-dialog`, `-reason`, `-confirm`. */
function textDialog({ title, testid, label, button, empty, onSubmit }) {
  const error = h("p", { class: "form-error", role: "alert" });
  const reason = h("textarea", { id: `${testid}-reason`, rows: "3", maxlength: "500", required: true, "data-testid": `${testid}-reason` });
  const form = h("form", { novalidate: true },
    h("div", { class: "field" }, h("label", { for: `${testid}-reason` }, label), reason),
    error,
    h("div", { class: "dialog-buttons" },
      h("button", { type: "button", class: "btn btn-quiet", onclick: () => dlg.close() }, "Cancel"),
      h("button", { type: "submit", class: "btn btn-primary", "data-testid": `${testid}-confirm` }, button)));
  const dlg = openDialog({ title, testid: `${testid}-dialog`, body: form });
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const text = reason.value.trim();
    if (!text) {
      error.textContent = empty;
      reason.focus();
      return;
    }
    dlg.close();
    onSubmit(text);
  });
  reason.focus();
}
