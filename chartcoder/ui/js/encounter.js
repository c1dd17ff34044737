// The encounter view (#/encounter/ID): the note with its evidence highlighted next to the codes, the
// code search, the claim panel and the audit trail; its header and the finalized banner; its keys.
// It draws whatever setEncounter() (store.js) puts on screen, whoever loaded it.

import { buildAuditPanel, loadAudit } from "./audit.js";
import { buildClaim, buildClaimPanel, claimElements, syncClaim } from "./claim.js";
import { openAcceptAll, openRejectRest } from "./batch.js";
import { renderCodes } from "./codes.js";
import {
  acceptSelected, changeSelected, openFinalize, openReopen, openSendBack, rejectSelected,
} from "./decisions.js";
import { $, h, mount } from "./dom.js";
import { formatDateTime, personName } from "./format.js";
import { lockedByOther, renderLockBanner, takeLock } from "./lock.js";
import { renderNote } from "./note.js";
import { loadReasons } from "./reasons.js";
import { may } from "./roles.js";
import { go, parseHash } from "./routes.js";
import { buildSearch, focusSearch } from "./search.js";
import { hoverCode, linkRowsToMark, moveSelection, onNoteClick, select, updateSelection } from "./selection.js";
import { api } from "./session.js";
import {
  els, ensureSelection, openingEncounter, resetElements, setEncounter, setNoteKey, state, subscribe,
} from "./store.js";

export async function showEncounter(id) {
  openingEncounter(id);
  mount(h("p", { class: "loading" }, "Loading encounter…"));
  loadReasons().catch(() => {}); // needed by the reason picker and the decision lines; retried there
  try {
    const enc = await api("GET", `/encounters/${encodeURIComponent(id)}`);
    if (state.view !== "encounter" || parseHash(location.hash).id !== id) return;
    setEncounter(enc);
    els.codes.focus({ preventScroll: true });
    await takeLock(); // an open encounter: who has it open (a second coder sees who)
  } catch (err) {
    if (err.status === 401) return;
    const what = err.status === 404 ? "There is no encounter with this id." : `Could not load the encounter: ${err.message}.`;
    mount(h("section", { class: "notice" }, h("h1", {}, "Encounter not shown"), h("p", {}, what),
      h("p", {}, h("a", { href: "#/worklist" }, "Back to the worklist"))));
  }
}

/** Draws `enc` (just put in the store), keeping the selected code when it is still there. */
function renderEncounter(enc) {
  if (!els.encRoot || els.encRoot.dataset.id !== enc.id) buildEncounterView(enc);
  ensureSelection();
  renderHead();
  const noteKey = `${enc.id}/${enc.suggestion_set ? enc.suggestion_set.id : ""}`;
  if (state.noteKey !== noteKey || !els.note.hasChildNodes()) {
    renderNote(els.note, enc.text || "", state.rows);
    setNoteKey(noteKey);
  }
  renderCodes();
  updateSelection({ reveal: false });
  renderLockBanner();
  syncClaim(enc);
  if (document.activeElement === document.body) els.codes.focus({ preventScroll: true });
  if (els.audit.open) loadAudit();
}

subscribe("encounter", renderEncounter);

function notePane() {
  const note = h("div", { class: "note", "data-testid": "note-text", tabindex: "0", role: "region", "aria-labelledby": "note-title" });
  note.addEventListener("click", onNoteClick);
  note.addEventListener("mouseover", (e) => linkRowsToMark(e.target.closest("mark")));
  note.addEventListener("mouseleave", () => linkRowsToMark(null));
  return note;
}

function codeList() {
  const codes = h("ul", { id: "codes", class: "codes", role: "listbox", tabindex: "0", "aria-labelledby": "codes-title" });
  codes.addEventListener("click", (e) => {
    const li = e.target.closest("li[data-code]");
    if (li) select(li.dataset.key, { reveal: true });
  });
  codes.addEventListener("mouseover", (e) => {
    const li = e.target.closest("li[data-code]");
    if (li && li.dataset.code !== state.hoverCode) hoverCode(li.dataset.code);
  });
  codes.addEventListener("mouseleave", () => hoverCode(null));
  codes.addEventListener("keydown", (e) => {
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      e.preventDefault();
      moveSelection(e.key === "ArrowDown" ? 1 : -1);
    }
  });
  return codes;
}

/** The selected code's toolbar (codes.js draws it): its buttons say what they do in data-command. */
function toolbar() {
  const bar = h("div", { class: "toolbar", role: "toolbar", "aria-label": "Selected code" });
  bar.addEventListener("click", (e) => {
    const button = e.target.closest("button[data-command]");
    if (!button || button.disabled) return;
    if (button.dataset.command === "accept") acceptSelected();
    else if (button.dataset.command === "reject") rejectSelected();
    else if (button.dataset.command === "change") changeSelected();
  });
  return bar;
}

function buildEncounterView(enc) {
  const note = notePane();
  const codes = codeList();
  const audit = buildAuditPanel();
  const root = h("div", { class: "encounter", "data-id": enc.id },
    h("div", { class: "enc-head" }),
    h("div", { class: "banner", hidden: true, "data-testid": "finalized-banner" }),
    h("div", { class: "banner banner-warn", hidden: true, role: "alert", "data-testid": "lock-banner" }),
    h("div", { class: "banner banner-warn", hidden: true, "data-testid": "sent-back-banner" }),
    h("div", { class: "panes" },
      h("section", { class: "pane pane-note", "aria-labelledby": "note-title" },
        h("h2", { id: "note-title", class: "pane-title" }, "Note"), note),
      h("section", { class: "pane pane-codes", "aria-labelledby": "codes-title" },
        buildSearch(),
        h("div", { class: "codes-head" }, h("h2", { id: "codes-title", class: "pane-title" }, "Codes"), toolbar()),
        codes,
        h("p", { class: "empty", hidden: true }, "No suggested or added codes yet. Press / to search for a code to add."),
        buildClaimPanel(),
        audit)));
  mount(root);
  resetElements({
    encRoot: root, head: $(".enc-head", root), banner: $("[data-testid=finalized-banner]", root), note, codes, audit,
    lockBanner: $("[data-testid=lock-banner]", root), sentBackBanner: $("[data-testid=sent-back-banner]", root),
    auditBody: $(".audit-body", root), toolbar: $(".toolbar", root), empty: $(".pane-codes > .empty", root),
    search: $("#code-search", root), results: $("#search-results", root),
    ...claimElements(root),
  });
  setNoteKey(null);
}

function facts(enc) {
  const p = enc.patient || {};
  const fact = (label, value) => h("div", {}, h("dt", {}, label), h("dd", {}, value || "—"));
  const patient = [p.name, p.sex, p.birth_date ? `born ${p.birth_date}` : ""].filter(Boolean).join(", ");
  const set = enc.suggestion_set || {};
  return h("dl", { class: "facts" },
    fact("Date of service", enc.date_of_service),
    fact("Setting", enc.setting),
    fact("Patient", patient),
    fact("Provider", enc.provider && (enc.provider.name || enc.provider.npi)),
    fact("Payer", enc.payer && (enc.payer.name || enc.payer.id)),
    fact("Model", set.model),
    fact("Code set", set.code_set_release),
    fact("Version", String(enc.version)));
}

function headActions(enc, canEdit) {
  if (enc.status === "finalized") return null; // reopen and send-back are offered in the banner
  const button = (label, key, onclick, testid, primary = false) =>
    h("button", { type: "button", class: primary ? "btn btn-primary" : "btn", disabled: !canEdit, onclick, "aria-keyshortcuts": key, "data-testid": testid },
      `${label} `, h("kbd", {}, key === "Shift+A" ? "A" : key === "Shift+R" ? "R" : key));
  return h("span", { class: "actions" },
    button("Accept all…", "Shift+A", openAcceptAll, "accept-all"),
    button("Reject the rest…", "Shift+R", openRejectRest, "reject-rest"),
    button("Finalize…", "f", openFinalize, "finalize", true));
}

function finalizedBanner(enc, canEdit) {
  if (enc.status !== "finalized") return [];
  return [h("strong", {}, "Finalized"),
    ` by ${personName(enc.finalized_by) || "—"} on ${formatDateTime(enc.finalized_at)}. Codes are locked; reopen to change them. `,
    h("button", { type: "button", class: "btn", disabled: !canEdit, onclick: openReopen, "aria-keyshortcuts": "o", "data-testid": "reopen" },
      "Reopen… ", h("kbd", {}, "o")),
    may(state.user, "sendBack")
      ? h("button", { type: "button", class: "btn", onclick: openSendBack, "aria-keyshortcuts": "b", "data-testid": "send-back" },
        "Send back to coder… ", h("kbd", {}, "b"))
      : null];
}

function renderHead() {
  const enc = state.enc;
  const finalized = enc.status === "finalized";
  const canEdit = may(state.user, "edit");
  els.head.replaceChildren(
    h("div", { class: "enc-title" },
      h("a", { href: "#/worklist", class: "back" }, "← Worklist"),
      h("h1", {}, enc.external_id || enc.id),
      h("span", { class: `pill pill-${enc.status}`, "data-testid": "encounter-status", "data-status": enc.status },
        finalized ? "Finalized" : "Open"),
      headActions(enc, canEdit)),
    facts(enc),
  );
  els.banner.hidden = !finalized;
  els.banner.replaceChildren(...finalizedBanner(enc, canEdit));
  const back = enc.sent_back;
  els.sentBackBanner.hidden = !back || finalized;
  els.sentBackBanner.replaceChildren(
    ...(back && !finalized
      ? [h("strong", {}, "Sent back by the biller. "),
        `${personName(back.by) || "A biller"} on ${formatDateTime(back.at)}: `,
        h("q", { "data-testid": "sent-back-reason" }, back.reason)]
      : []),
  );
  els.encRoot.classList.toggle("is-finalized", finalized);
}

const ENCOUNTER_KEYS = {
  j: () => moveSelection(1),
  k: () => moveSelection(-1),
  a: acceptSelected,
  r: rejectSelected,
  A: openAcceptAll,
  R: openRejectRest,
  e: changeSelected,
  "/": focusSearch,
  f: openFinalize,
  o: openReopen,
  b: openSendBack,
  t: () => {
    if (lockedByOther()) takeLock(true);
  },
  c: buildClaim,
  g: () => go("#/worklist"),
};

/** The encounter's keys (see the help panel). Answers whether the key was used. */
export function encounterKey(e) {
  const action = Object.hasOwn(ENCOUNTER_KEYS, e.key) ? ENCOUNTER_KEYS[e.key] : null;
  if (!action) return false;
  action();
  return true;
}
