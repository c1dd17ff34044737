// New encounter (worklist, key n; coders and admins): paste a note, POST /v1/encounters (its suggested
// codes are computed before it answers) and open it. What was typed and not yet created is kept in
// memory for the same person (store.js: draft) until the encounter exists or they sign out.

import { openDialog, dialogOpen } from "./dialogs.js";
import { $, announce, h } from "./dom.js";
import { may } from "./roles.js";
import { openEncounter } from "./routes.js";
import { api } from "./session.js";
import { clearDraft, myDraft, saveDraft, setCreating, state } from "./store.js";

const DRAFT_FIELDS = ["text", "setting", "date_of_service", "external_id", "payer", "sex", "birth_date"];

/** The body of POST /v1/encounters from the New encounter form's values; empty optional fields are left out. */
export function newEncounterBody(v) {
  const clean = (x) => (typeof x === "string" ? x.trim() : "");
  const body = { text: v.text, setting: v.setting === "inpatient" ? "inpatient" : "outpatient" };
  if (clean(v.date_of_service)) body.date_of_service = clean(v.date_of_service);
  if (clean(v.external_id)) body.external_id = clean(v.external_id);
  if (clean(v.payer)) body.payer = { name: clean(v.payer) };
  const patient = {};
  if (["F", "M", "U"].includes(v.sex)) patient.sex = v.sex;
  if (clean(v.birth_date)) patient.birth_date = clean(v.birth_date);
  if (Object.keys(patient).length) body.patient = patient;
  return body;
}

function formField(id, label, control) {
  return h("div", { class: "field" }, h("label", { for: id }, label), control);
}

function formSelect(id, name, options) {
  return h("select", { id, name }, options.map(([v, text]) => h("option", { value: v }, text)));
}

/** The form's controls by field name, filled from the person's draft if there is one. */
function formControls(draft) {
  const text = h("textarea", {
    id: "ne-text", name: "text", rows: "12", required: true, spellcheck: "false", autocomplete: "off",
    "aria-describedby": "ne-text-hint", "data-testid": "new-encounter-text",
  });
  const setting = formSelect("ne-setting", "setting", [["outpatient", "Outpatient"], ["inpatient", "Inpatient"]]);
  setting.setAttribute("data-testid", "new-encounter-setting");
  const controls = {
    text,
    setting,
    date_of_service: h("input", { id: "ne-date", name: "date_of_service", type: "date", "data-testid": "new-encounter-date" }),
    external_id: h("input", { id: "ne-external", name: "external_id", type: "text", autocomplete: "off", spellcheck: "false" }),
    payer: h("input", { id: "ne-payer", name: "payer", type: "text", autocomplete: "off" }),
    sex: formSelect("ne-sex", "sex", [["", "Not given"], ["F", "Female (F)"], ["M", "Male (M)"], ["U", "Unknown (U)"]]),
    birth_date: h("input", { id: "ne-birth", name: "birth_date", type: "date" }),
  };
  if (draft) for (const k of DRAFT_FIELDS) if (typeof draft[k] === "string") controls[k].value = draft[k];
  return controls;
}

/** The form and its parts: {form, controls, values(), error, progress, submit}. */
function encounterForm(draft, onCancel) {
  const c = formControls(draft);
  const error = h("p", { class: "form-error", role: "alert", "data-testid": "new-encounter-error" });
  const progress = h("p", { class: "progress", role: "status" });
  const submit = h("button", {
    type: "submit", class: "btn btn-primary", "data-testid": "new-encounter-submit", "aria-keyshortcuts": "Control+Enter",
  }, "Create and code ", h("kbd", {}, "Ctrl+Enter"));
  const form = h("form", { class: "new-encounter-form", novalidate: true },
    draft && draft.text ? h("p", { class: "muted" }, "Your unsent note is restored.") : null,
    h("div", { class: "field" },
      h("label", { for: "ne-text" }, "Note text (required)"),
      c.text,
      h("p", { id: "ne-text-hint", class: "hint muted" }, "Paste the clinical note as plain text. Suggested codes are computed when you create the encounter.")),
    h("div", { class: "form-grid" },
      formField("ne-setting", "Setting", c.setting),
      formField("ne-date", "Date of service", c.date_of_service),
      formField("ne-external", "External id", c.external_id),
      formField("ne-payer", "Payer name", c.payer),
      formField("ne-sex", "Patient sex", c.sex),
      formField("ne-birth", "Patient birth date", c.birth_date)),
    error,
    progress,
    h("div", { class: "dialog-buttons" },
      h("button", { type: "button", class: "btn btn-quiet", onclick: onCancel }, "Cancel"),
      submit));
  const values = () => Object.fromEntries(DRAFT_FIELDS.map((k) => [k, c[k].value]));
  return { form, controls: c, values, error, progress, submit };
}

/** Ctrl+Enter creates; a stray Enter in a short field does not. */
function onFormKey(e, form) {
  if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
    e.preventDefault();
    form.requestSubmit();
  } else if (e.key === "Enter" && e.target.matches("input")) {
    e.preventDefault();
  }
}

/** While the encounter is created: the form is read-only and says so. */
function setBusy(f, dlg, on) {
  const c = f.controls;
  setCreating(on);
  if (on) f.form.setAttribute("aria-busy", "true");
  else f.form.removeAttribute("aria-busy");
  f.submit.disabled = on;
  for (const el of [c.text, c.date_of_service, c.external_id, c.payer, c.birth_date]) el.readOnly = on;
  for (const el of [c.setting, c.sex]) el.disabled = on;
  f.progress.textContent = on ? "Creating the encounter and computing its suggested codes…" : "";
  if (!on && dlg.dlg.isConnected && !dlg.dlg.contains(document.activeElement)) c.text.focus();
}

/**
 * Opens the dialog (coders and admins; one creation at a time). `onCreatedInBackground` runs when an
 * encounter is created after its dialog was closed (the worklist then shows it).
 */
export function openNewEncounter({ onCreatedInBackground } = {}) {
  if (!may(state.user, "create") || dialogOpen()) return;
  if (state.creating) {
    announce("The last encounter is still being created; wait for it, then press n again.");
    return;
  }
  // Opened with the key: focus goes back to the button when the dialog closes.
  const button = $("[data-testid=new-encounter]");
  if (button && (document.activeElement === document.body || document.activeElement === $("#main"))) {
    button.focus({ preventScroll: true });
  }
  const f = encounterForm(myDraft(), () => dlg.close());
  const keep = () => saveDraft(f.values());
  f.form.addEventListener("input", keep);
  f.form.addEventListener("change", keep);
  const dlg = openDialog({
    title: "New encounter",
    testid: "new-encounter-dialog",
    body: f.form,
    className: "dialog-wide",
    onKeydown: (e) => onFormKey(e, f.form),
  });
  f.form.addEventListener("submit", (e) => {
    e.preventDefault();
    create(f, dlg, onCreatedInBackground);
  });
  f.controls.text.focus();
}

async function create(f, dlg, onCreatedInBackground) {
  if (state.creating) return;
  const v = f.values();
  if (!v.text.trim()) {
    f.error.textContent = "Paste or type the note text; it is required.";
    f.controls.text.focus();
    return;
  }
  saveDraft(v); // kept until the encounter exists, whatever happens to this dialog
  f.error.textContent = "";
  setBusy(f, dlg, true);
  try {
    const enc = await api("POST", "/encounters", newEncounterBody(v));
    clearDraft();
    createdEncounter(enc, dlg.dlg.isConnected, onCreatedInBackground);
    dlg.close();
  } catch (err) {
    createFailed(err, dlg, f.error, f.controls);
  } finally {
    setBusy(f, dlg, false);
  }
}

/** After 201: opens the new encounter, unless the dialog was closed while it was being created. */
function createdEncounter(enc, stillOpen, onCreatedInBackground) {
  const n = ((enc.suggestion_set && enc.suggestion_set.suggestions) || []).length;
  announce(`Created ${enc.external_id || enc.id} with ${n} suggested code${n === 1 ? "" : "s"}.`, "ok");
  if (stillOpen) openEncounter(enc.id);
  else if (onCreatedInBackground) onCreatedInBackground();
}

/** A refused or failed create: the message goes in the dialog, next to the form as it was typed. */
function createFailed(err, dlg, error, controls) {
  const stillOpen = dlg.dlg.isConnected;
  if (err.status === 401) {
    // api() has sent the page to the sign-in form; the draft stays in memory for this person.
    dlg.close();
    const username = $("#login-username");
    if (username) username.focus();
    announce("Your session ended before the encounter was created. Sign in again and press n: your note is kept.", "error");
    return;
  }
  if (!stillOpen) {
    announce(`The encounter was not created: ${err.message}. Press n to try again; your note is kept.`, "error");
    return;
  }
  error.textContent = err.status === 403 ? `You may not create encounters: ${err.message}` : `Not created: ${err.message}`;
  const m = err.message;
  const at = ["external_id", "payer", "birth_date", "date_of_service", "sex", "setting"].find((k) => m.includes(k));
  (at ? controls[at] : controls.text).focus();
}
