// The page's keys (see the help panel, "?"): one keydown listener for the whole page, which hands the
// key to the view on screen. Keys do nothing while a dialog is open or while typing in a field.

import { dialogOpen } from "./dialogs.js";
import { $, isTyping } from "./dom.js";
import { encounterKey } from "./encounter.js";
import { feedbackKey } from "./feedback.js";
import { els, state } from "./store.js";
import { worklistKey } from "./worklist.js";

/** Shows (true), hides (false) or toggles (no argument) the keyboard help. */
export function toggleHelp(show) {
  const help = $("#help");
  const open = show === undefined ? help.hidden : show;
  help.hidden = !open;
  $("#help-toggle").setAttribute("aria-expanded", String(open));
}

function viewKey(e) {
  if (feedbackKey(e)) return true;
  if (state.view === "worklist") return worklistKey(e);
  if (state.view === "encounter" && els.encRoot) return encounterKey(e);
  return false;
}

export function onKeyDown(e) {
  if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey || dialogOpen()) return;
  if (e.key === "Escape") {
    if (!$("#help").hidden) toggleHelp(false);
    return;
  }
  if (isTyping(e.target)) return;
  if (e.key === "?") {
    e.preventDefault();
    toggleHelp();
    return;
  }
  if (viewKey(e)) e.preventDefault();
}
