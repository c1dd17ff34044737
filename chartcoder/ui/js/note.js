// The note pane: the note as text nodes with every evidence piece wrapped in <mark data-codes="A B">,
// and which marks are lit for the selected and the hovered code. Knows nothing of the store.

import { revealInPane } from "./dom.js";
import { evidenceSpans, segmentText } from "./evidence.js";

/** The codes a mark is evidence for. */
export const markCodes = (mark) => mark.dataset.codes.split(" ");

/** The note as text nodes, evidence pieces wrapped in <mark data-codes="A B">. */
export function renderNote(container, text, rows) {
  const frag = document.createDocumentFragment();
  for (const piece of segmentText(text.length, evidenceSpans(text, rows))) {
    const node = document.createTextNode(text.slice(piece.start, piece.end));
    if (!piece.codes.length) {
      frag.append(node);
      continue;
    }
    const mark = document.createElement("mark");
    mark.setAttribute("data-testid", "evidence");
    mark.setAttribute("data-codes", piece.codes.join(" "));
    mark.title = `Evidence for ${piece.codes.join(", ")}`;
    if (piece.codes.length > 1) mark.classList.add("multi");
    mark.append(node);
    frag.append(mark);
  }
  container.replaceChildren(frag);
}

/** Lights the marks of the `selected` code (class active) and of the `hovered` one (class hover). */
export function applyHighlights(note, selected, hovered) {
  for (const mark of note.querySelectorAll("mark[data-codes]")) {
    const codes = markCodes(mark);
    mark.classList.toggle("active", selected !== null && codes.includes(selected));
    mark.classList.toggle("hover", hovered !== null && codes.includes(hovered));
  }
}

/** Scrolls the note to the first evidence of `code`, if it is not in view. */
export function revealEvidence(note, code) {
  const first = [...note.querySelectorAll("mark[data-codes]")].find((m) => markCodes(m).includes(code));
  revealInPane(first, note);
}

/** A click on a mark picks its first code; clicking again cycles through the codes it covers. */
export function nextCodeAt(mark, selectedCode) {
  const codes = markCodes(mark);
  const at = selectedCode ? codes.indexOf(selectedCode) : -1;
  return codes[(at + 1) % codes.length];
}
