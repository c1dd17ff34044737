// The selected code and the hovered one, and how the code list and the note follow each other: the
// selected code's evidence is lit and scrolled into view; a click on evidence selects its code.

import { applyHighlights, markCodes, nextCodeAt, revealEvidence } from "./note.js";
import { renderToolbar } from "./codes.js";
import { els, selectKey, setHoverCode, state } from "./store.js";

export const selectedRow = () => state.rows.find((r) => r.key === state.selectedKey) || null;

export function select(key, { reveal }) {
  selectKey(key);
  updateSelection({ reveal });
}

export function moveSelection(delta) {
  if (!state.rows.length) return;
  const i = state.rows.findIndex((r) => r.key === state.selectedKey);
  const next = Math.min(state.rows.length - 1, Math.max(0, (i < 0 ? 0 : i + delta)));
  select(state.rows[next].key, { reveal: true });
}

/** Marks the selected row (aria-selected, the listbox's active descendant), its toolbar and evidence. */
export function updateSelection({ reveal }) {
  let active = null;
  for (const li of els.codes.children) {
    const on = li.dataset.key === state.selectedKey;
    li.setAttribute("aria-selected", String(on));
    if (on) active = li;
  }
  if (active) {
    els.codes.setAttribute("aria-activedescendant", active.id);
    if (reveal) active.scrollIntoView({ block: "nearest" });
  } else {
    els.codes.removeAttribute("aria-activedescendant");
  }
  const row = selectedRow();
  renderToolbar(row);
  highlight();
  if (reveal && row) revealEvidence(els.note, row.code);
}

export function hoverCode(code) {
  setHoverCode(code);
  highlight();
  if (code) revealEvidence(els.note, code);
}

function highlight() {
  const sel = selectedRow();
  applyHighlights(els.note, sel ? sel.code : null, state.hoverCode);
}

/** A click on a highlight selects its code; clicking again cycles through the codes it covers. */
export function onNoteClick(e) {
  const mark = e.target.closest("mark[data-codes]");
  if (!mark) return;
  const sel = selectedRow();
  const code = nextCodeAt(mark, sel ? sel.code : null);
  const row = state.rows.find((r) => r.code === code);
  if (!row) return;
  selectKey(row.key);
  updateSelection({ reveal: false });
  const li = els.codes.querySelector(`li[data-key="${CSS.escape(row.key)}"]`);
  if (li) li.scrollIntoView({ block: "nearest" });
}

/** Hovering a highlight outlines the code rows it is evidence for. */
export function linkRowsToMark(mark) {
  const codes = mark ? markCodes(mark) : [];
  for (const li of els.codes.children) li.classList.toggle("linked", codes.includes(li.dataset.code));
}
