// A coder's decisions on the selected code (accept; reject with a reason from the picker) and on the
// encounter (finalize, reopen), each confirmed in a dialog where it needs one and queued in changes.js.

import { decide, editGuard, enqueue } from "./changes.js";
import { openDialog } from "./dialogs.js";
import { $, announce, h } from "./dom.js";
import { loadReasons } from "./reasons.js";
import { may } from "./roles.js";
import { selectedRow } from "./selection.js";
import { state } from "./store.js";

export function acceptSelected() {
  const row = selectedRow();
  if (!row || !editGuard()) return;
  decide({ action: "accept", code: row.code, system: row.system }, `accept ${row.code}`);
}

export function rejectSelected() {
  const row = selectedRow();
  if (!row || !editGuard()) return;
  openReasonPicker(row);
}

function reasonForm(row, reasons, onCancel) {
  const error = h("p", { class: "form-error", role: "alert" });
  const noteInput = h("input", { id: "reject-note", type: "text", maxlength: "500", autocomplete: "off" });
  const options = reasons.map((r, i) =>
    h("label", { class: "reason", "data-testid": "reason-option", "data-reason": r.code },
      h("input", { type: "radio", name: "reason", value: r.code, checked: r.code === row.reason }),
      h("span", { class: "reason-key", "aria-hidden": "true" }, i < 9 ? String(i + 1) : ""),
      h("span", {}, r.label)));
  const form = h("form", { class: "reason-form" },
    h("p", { class: "muted" }, `${row.code} — ${row.description}`),
    h("fieldset", {}, h("legend", {}, "Reason (keys 1–9)"), options),
    h("div", { class: "field" }, h("label", { for: "reject-note" }, "Note (optional)"), noteInput),
    error,
    h("div", { class: "dialog-buttons" },
      h("button", { type: "button", class: "btn btn-quiet", onclick: onCancel }, "Cancel"),
      h("button", { type: "submit", class: "btn btn-primary", "data-testid": "reason-confirm" }, "Reject")));
  const radios = () => [...form.querySelectorAll("input[type=radio]")];
  return { form, error, noteInput, radios };
}

/** 1–9 pick a reason (not while typing the note); Enter confirms. */
function onReasonKey(e, f) {
  const radio = f.radios()[Number(e.key) - 1];
  if (/^[1-9]$/.test(e.key) && e.target !== f.noteInput && radio) {
    e.preventDefault();
    radio.checked = true;
    radio.focus();
  } else if (e.key === "Enter" && !e.target.closest("button, textarea")) {
    e.preventDefault();
    f.form.requestSubmit();
  }
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
  const dlg = openDialog({ title: `Reject ${row.code}`, testid: "reason-picker", body: f.form, onKeydown: (e) => onReasonKey(e, f) });
  f.form.addEventListener("submit", (e) => {
    e.preventDefault();
    const picked = f.radios().find((r) => r.checked);
    if (!picked) {
      f.error.textContent = "Pick a reason (keys 1–9).";
      (f.radios()[0] || f.noteInput).focus();
      return;
    }
    const decision = { action: "reject", code: row.code, system: row.system, reason: picked.value };
    const note = f.noteInput.value.trim();
    if (note) decision.note = note;
    dlg.close();
    decide(decision, `reject ${row.code}`);
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
  const error = h("p", { class: "form-error", role: "alert" });
  const reason = h("textarea", { id: "reopen-reason", rows: "3", maxlength: "1000", required: true });
  const form = h("form", { novalidate: true },
    h("div", { class: "field" }, h("label", { for: "reopen-reason" }, "Why reopen it? (required, kept in the audit trail)"), reason),
    error,
    h("div", { class: "dialog-buttons" },
      h("button", { type: "button", class: "btn btn-quiet", onclick: () => dlg.close() }, "Cancel"),
      h("button", { type: "submit", class: "btn btn-primary", "data-testid": "reopen-confirm" }, "Reopen")));
  const dlg = openDialog({ title: "Reopen this encounter?", testid: "reopen-dialog", body: form });
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const text = reason.value.trim();
    if (!text) {
      error.textContent = "Give a reason to reopen.";
      reason.focus();
      return;
    }
    dlg.close();
    enqueue("reopen", { reason: text }, "reopen");
  });
  reason.focus();
}
