// The worklist (#/worklist?filters): encounters to code, filtered and paged, driven with j/k/Enter;
// "New encounter" (key n) for the people who may create one.

import { $, announce, h, mount } from "./dom.js";
import { CLAIM_STATUS_LABELS, claimStatusLabel, money, pct } from "./format.js";
import { openNewEncounter } from "./new-encounter.js";
import { may } from "./roles.js";
import { go, openEncounter, worklistHash, worklistQuery, worklistSearchBody } from "./routes.js";
import { api } from "./session.js";
import {
  els, moveWorklistSelection, nextWorklistRequest, resetElements, setView, setWorklistPage, setWorklistPatient, setWorklistQuery, state,
} from "./store.js";

const PAGE_SIZE = 50;

/** Billers work on finalized encounters: their worklist shows those unless they pick a status. */
function defaultWorklistStatus() {
  return state.user && state.user.role === "biller" ? "finalized" : "open";
}

export async function showWorklist(rawQuery) {
  // The patient filter is never read from (or put in) the address: it is kept in memory only.
  const q = worklistQuery({ ...rawQuery, patient: state.worklist.patient || "" }, defaultWorklistStatus());
  if (state.view !== "worklist" || !els.worklistForm) buildWorklist(q);
  setView("worklist");
  setWorklistQuery(q);
  setFilterValues(q);
  await loadWorklist(q);
}

function select(id, label, options, value) {
  return h(
    "div", { class: "field" },
    h("label", { for: id }, label),
    h("select", { id, name: id.replace(/^f-/, "") }, options.map(([v, text]) => h("option", { value: v, selected: v === value }, text))),
  );
}

function filterForm(q) {
  const form = h(
    "form",
    { class: "filters", "aria-label": "Worklist filters" },
    select("f-status", "Status", [["open", "Open"], ["finalized", "Finalized"], ["all", "All"]], q.status),
    h("div", { class: "field" }, h("label", { for: "f-date_from" }, "From (date of service)"),
      h("input", { id: "f-date_from", name: "date_from", type: "date" })),
    h("div", { class: "field" }, h("label", { for: "f-date_to" }, "To"), h("input", { id: "f-date_to", name: "date_to", type: "date" })),
    h("div", { class: "field" }, h("label", { for: "f-payer" }, "Payer (id or name)"),
      h("input", { id: "f-payer", name: "payer", type: "text", autocomplete: "off" })),
    h("div", { class: "field" }, h("label", { for: "f-patient" }, "Patient (name or MRN)"),
      h("input", { id: "f-patient", name: "patient", type: "search", autocomplete: "off", "data-testid": "filter-patient" })),
    select("f-claim_status", "Claim", [["", "Any"], ...Object.entries(CLAIM_STATUS_LABELS)], q.claim_status),
    select("f-order", "Order", [["confidence", "Lowest confidence first"], ["uncertainty", "Most uncertain first (model learns most)"], ["date", "Newest date of service"], ["created", "Created"]], q.order),
    h("div", { class: "field field-buttons" },
      h("button", { type: "submit", class: "btn" }, "Apply"),
      h("button", { type: "button", class: "btn btn-quiet", onclick: () => go("#/worklist") }, "Clear")),
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    applyFilters(0);
  });
  form.addEventListener("change", (e) => {
    if (e.target.tagName === "SELECT") applyFilters(0); // dates and payer apply on Enter or Apply
  });
  return form;
}

function worklistTable(tbody) {
  return h(
    "table", { class: "worklist", "aria-labelledby": "worklist-title", "aria-describedby": "worklist-count" },
    h("thead", {}, h("tr", {},
      ["Date of service", "External id", "Patient", "MRN", "Payer", "Setting"].map((t) => h("th", { scope: "col" }, t)),
      ["Confidence", "Pending", "Decided"].map((t) => h("th", { scope: "col", class: "num" }, t)),
      h("th", { scope: "col" }, "Status"), h("th", { scope: "col" }, "Claim"), h("th", { scope: "col", class: "num" }, "Amount"))),
    tbody,
  );
}

function newEncounterButton() {
  if (!may(state.user, "create")) return null;
  return h("button", {
    type: "button", class: "btn btn-primary new-encounter", "data-testid": "new-encounter",
    "aria-keyshortcuts": "n", "aria-haspopup": "dialog", onclick: newEncounter,
  }, "New encounter ", h("kbd", {}, "n"));
}

function buildWorklist(q) {
  const form = filterForm(q);
  const tbody = h("tbody");
  tbody.addEventListener("click", (e) => {
    const tr = e.target.closest("tr[data-encounter-id]");
    if (tr && !e.target.closest("a")) openEncounter(tr.dataset.encounterId);
  });
  const table = worklistTable(tbody);
  const pager = h("nav", { class: "pager", "aria-label": "Worklist pages" });
  mount(
    h("section", { class: "worklist-view" },
      h("div", { class: "view-head" }, h("h1", { id: "worklist-title" }, "Worklist"),
        h("p", { id: "worklist-count", class: "muted" }),
        newEncounterButton()),
      form,
      h("div", { class: "table-wrap" }, table),
      pager),
  );
  resetElements({ worklistForm: form, tbody, table, pager, count: $("#worklist-count") });
}

function setFilterValues(q) {
  for (const k of ["status", "order", "date_from", "date_to", "payer", "patient", "claim_status"]) {
    const el = $(`#f-${k}`);
    if (el && el !== document.activeElement) el.value = q[k];
  }
}

function applyFilters(offset) {
  const f = els.worklistForm.elements;
  const q = worklistQuery({
    status: f.namedItem("status").value, order: f.namedItem("order").value, date_from: f.namedItem("date_from").value,
    date_to: f.namedItem("date_to").value, payer: f.namedItem("payer").value, patient: f.namedItem("patient").value,
    claim_status: f.namedItem("claim_status").value, offset,
  });
  setWorklistPatient(q.patient);
  go(worklistHash(q));
}

async function loadWorklist(q) {
  const seq = nextWorklistRequest();
  els.table.setAttribute("aria-busy", "true");
  try {
    const res = await api("POST", "/encounters/search", worklistSearchBody(q, PAGE_SIZE));
    if (seq !== state.worklist.seq || state.view !== "worklist") return;
    const items = res.items || [];
    setWorklistPage(items, res.total ?? items.length);
    renderWorklistRows();
  } catch (err) {
    if (err.status === 401 || seq !== state.worklist.seq) return;
    els.tbody.replaceChildren(h("tr", {}, h("td", { colspan: 12, class: "empty" }, `Could not load the worklist: ${err.message}.`)));
    announce(`Could not load the worklist: ${err.message}.`, "error");
  } finally {
    if (els.table) els.table.removeAttribute("aria-busy");
  }
}

function renderWorklistRows() {
  const { items, total, query } = state.worklist;
  if (!items.length) {
    els.tbody.replaceChildren(h("tr", {}, h("td", { colspan: 12, class: "empty" }, "No encounters match these filters.")));
  } else {
    els.tbody.replaceChildren(...items.map(worklistRow));
  }
  const from = items.length ? query.offset + 1 : 0;
  const to = query.offset + items.length;
  els.count.textContent = `${from}–${to} of ${total} encounters`;
  els.pager.replaceChildren(
    h("button", { type: "button", class: "btn btn-quiet", disabled: query.offset === 0, onclick: () => applyFilters(Math.max(0, query.offset - PAGE_SIZE)) }, "Previous page"),
    h("button", { type: "button", class: "btn btn-quiet", disabled: to >= total, onclick: () => applyFilters(query.offset + PAGE_SIZE) }, "Next page"),
  );
  markWorklistSelection(false);
}

function worklistRow(e) {
  const payer = e.payer ? e.payer.name || e.payer.id : "";
  const patient = e.patient || {};
  const claim = e.claim || {};
  return h(
    "tr", { "data-testid": "worklist-row", "data-encounter-id": e.id, "data-claim-status": claim.status || "", class: "row" },
    h("td", {}, e.date_of_service || "—"),
    h("td", {}, h("a", { href: `#/encounter/${encodeURIComponent(e.id)}` }, e.external_id || e.id)),
    h("td", { "data-testid": "worklist-patient" }, patient.name || "—"),
    h("td", { "data-testid": "worklist-mrn" }, patient.id || "—"),
    h("td", {}, payer || "—"),
    h("td", {}, e.setting || "—"),
    h("td", { class: "num" }, pct(e.confidence)),
    h("td", { class: "num" }, e.n_pending ?? "—"),
    h("td", { class: "num" }, e.n_decided ?? "—"),
    h("td", {}, h("span", { class: `pill pill-${e.status}` }, e.status === "finalized" ? "Finalized" : "Open")),
    h("td", { "data-testid": "worklist-claim-status" }, claimStatusLabel(claim.status),
      e.sent_back && e.status === "open" ? h("div", { class: "muted" }, `“${e.sent_back.reason}”`) : null),
    h("td", { class: "num", "data-testid": "worklist-amount" }, claim.total_charge ? money(claim.total_charge) : "—"),
  );
}

function markWorklistSelection(focus) {
  const rows = els.tbody ? [...els.tbody.querySelectorAll("tr[data-encounter-id]")] : [];
  rows.forEach((tr, i) => {
    const on = i === state.worklist.selected;
    tr.classList.toggle("selected", on);
    if (on) tr.setAttribute("aria-current", "true");
    else tr.removeAttribute("aria-current");
  });
  const tr = rows[state.worklist.selected];
  if (tr && focus) {
    tr.querySelector("a").focus({ preventScroll: true });
    tr.scrollIntoView({ block: "nearest" });
  }
}

/** The New encounter dialog; an encounter created after it was closed refreshes this list. */
function newEncounter() {
  openNewEncounter({
    onCreatedInBackground() {
      if (state.view === "worklist" && els.tbody && state.worklist.query) loadWorklist(state.worklist.query);
    },
  });
}

/** The worklist's keys: n, j/k, Enter. Answers whether the key was used. */
export function worklistKey(e) {
  if (e.key === "n") {
    if (!may(state.user, "create")) return false;
    newEncounter();
    return true;
  }
  const n = state.worklist.items.length;
  if (!n) return false;
  if (e.key === "j" || e.key === "k") {
    moveWorklistSelection(e.key === "j" ? 1 : -1);
    markWorklistSelection(true);
    return true;
  }
  if (e.key === "Enter" && !e.target.closest("a, button, summary")) {
    openEncounter(state.worklist.items[state.worklist.selected].id);
    return true;
  }
  return false;
}
