// Code search (a combobox, key /) to add a code: ↑ ↓ move, Enter adds (a suggested code is accepted
// instead), Esc leaves the search for the code list. A header (not billable) is never added: Enter on it
// says so and lists its billable codes instead. Results are dropped when newer text was typed since
// they were asked for.

import { decide, editGuard } from "./changes.js";
import { STATE_LABELS } from "./codes.js";
import { announce, h } from "./dom.js";
import { codeKey } from "./rows.js";
import { updateSelection } from "./selection.js";
import { api } from "./session.js";
import {
  els, moveSearchActive, nextSearchRequest, resetSearch, selectKey, setSearchResults, setSearchTimer, state,
} from "./store.js";

const SEARCH_LIMIT = 10;
const SEARCH_DELAY_MS = 150;

export function buildSearch() {
  const input = h("input", {
    id: "code-search", type: "search", role: "combobox", "aria-autocomplete": "list", "aria-expanded": "false",
    "aria-controls": "search-results", autocomplete: "off", spellcheck: "false", placeholder: "Code or words",
    "data-testid": "code-search", "aria-keyshortcuts": "/",
  });
  const results = h("ul", { id: "search-results", class: "search-results", role: "listbox", "aria-label": "Matching codes", hidden: true });
  input.addEventListener("input", () => setSearchTimer(setTimeout(runSearch, SEARCH_DELAY_MS)));
  input.addEventListener("keydown", onSearchKey);
  input.addEventListener("blur", () => setTimeout(() => {
    if (document.activeElement !== input) showResults(false);
  }, 150));
  results.addEventListener("mousedown", (e) => e.preventDefault()); // keep focus in the input
  results.addEventListener("click", (e) => {
    const li = e.target.closest("li[data-code]");
    if (!li) return;
    // By code, not position: the list may have been redrawn for newer text since it was shown.
    const { code, system } = li.dataset;
    addFromSearch(state.search.results.find((c) => c.code === code && c.system === system) || { code, system });
  });
  return h("div", { class: "search", role: "search" },
    h("label", { for: "code-search" }, "Add a code ", h("kbd", {}, "/")), input,
    h("p", { class: "search-note", "data-testid": "search-note", "aria-live": "polite", hidden: true }), results);
}

/** Key /: focus the search with its text selected. */
export function focusSearch() {
  els.search.focus();
  els.search.select();
}

function searchNote(text) {
  const note = els.search && els.search.parentElement.querySelector(".search-note");
  if (!note) return;
  note.textContent = text || "";
  note.hidden = !text;
}

async function runSearch() {
  const q = els.search.value.trim();
  searchNote("");
  const seq = nextSearchRequest();
  if (!q) {
    setSearchResults("", []);
    renderResults();
    return;
  }
  try {
    const found = await api("GET", `/codes/search?${new URLSearchParams({ q: q.slice(0, 100), limit: String(SEARCH_LIMIT) })}`);
    if (seq !== state.search.seq || !els.search) return;
    setSearchResults(q, found || []);
    renderResults();
  } catch (err) {
    if (seq !== state.search.seq || err.status === 401) return;
    setSearchResults(q, []);
    renderResults(`Search failed: ${err.message}.`);
  }
}

function resultItem(c, i, active) {
  return h("li", {
    id: `search-opt-${i}`, role: "option", class: "search-result", "aria-selected": String(i === active),
    "data-testid": "search-result", "data-code": c.code, "data-system": c.system, "data-index": i,
  },
  h("span", { class: "code" }, c.code), " ", h("span", { class: "system" }, c.system), " ",
  h("span", { class: "desc" }, c.description),
  c.billable === false ? h("span", { class: "badge warn-header" }, "not billable") : null);
}

function renderResults(message) {
  const { results, active } = state.search;
  const items = results.map((c, i) => resultItem(c, i, active));
  if (!items.length && state.search.q) items.push(h("li", { class: "search-empty", "aria-disabled": "true" }, message || "No matching code."));
  els.results.replaceChildren(...items);
  showResults(items.length > 0);
  if (active >= 0) {
    els.search.setAttribute("aria-activedescendant", `search-opt-${active}`);
    els.results.children[active].scrollIntoView({ block: "nearest" });
  } else {
    els.search.removeAttribute("aria-activedescendant");
  }
}

function showResults(show) {
  if (!els.results) return;
  els.results.hidden = !show;
  els.search.setAttribute("aria-expanded", String(show));
}

function onSearchKey(e) {
  const s = state.search;
  if (e.key === "ArrowDown" || e.key === "ArrowUp") {
    e.preventDefault();
    if (!s.results.length) return;
    moveSearchActive(e.key === "ArrowDown" ? 1 : -1);
    renderResults();
  } else if (e.key === "Enter") {
    e.preventDefault();
    if (s.q !== els.search.value.trim()) runSearch(); // results are for older text: search first
    else if (s.active >= 0) addFromSearch(s.results[s.active]);
  } else if (e.key === "Escape") {
    e.preventDefault();
    e.stopPropagation();
    showResults(false);
    searchNote("");
    els.codes.focus(); // one key: out of the search, back to the codes (j/k, a, r work at once)
  }
}

function clearSearch() {
  resetSearch();
  els.search.value = "";
  searchNote("");
  renderResults();
}

/** A header code is not billable: say why it is not added and list its billable codes to pick from. */
async function offerBillableChildren(c) {
  const seq = nextSearchRequest();
  const message = `${c.code} is a header (a category, not billable), so it was not added. Pick one of its billable codes below.`;
  announce(message, "error");
  searchNote(message);
  try {
    const params = new URLSearchParams({ q: c.code, system: c.system, billable_only: "true", limit: "20" });
    const found = ((await api("GET", `/codes/search?${params}`)) || []).filter((x) => x.code !== c.code && x.code.startsWith(c.code));
    if (seq !== state.search.seq || !els.search) return;
    els.search.value = c.code;
    setSearchResults(c.code, found);
    renderResults(`${c.code} has no billable code under it.`);
    els.search.focus();
  } catch (err) {
    if (err.status !== 401) searchNote(`${message} (Could not list them: ${err.message}.)`);
  }
}

function addFromSearch(c) {
  if (!c || !editGuard()) return;
  if (c.billable === false) {
    offerBillableChildren(c);
    return;
  }
  const key = codeKey(c);
  const row = state.rows.find((r) => r.key === key);
  clearSearch();
  selectKey(key);
  if (row) updateSelection({ reveal: true });
  els.codes.focus({ preventScroll: true });
  if (row && (row.state === "accepted" || row.state === "added")) {
    announce(`${c.code} is already on this encounter (${STATE_LABELS[row.state].toLowerCase()}).`);
  } else if (row && row.suggested) {
    decide({ action: "accept", code: c.code, system: c.system }, `accept ${c.code}`); // a suggested code is accepted, not added
  } else {
    decide({ action: "add", code: c.code, system: c.system }, `add ${c.code}`);
  }
}
