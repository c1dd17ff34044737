// chartcoder review page: the entry module (index.html loads it as <script type="module">). ES modules
// in js/, no build step, no dependencies; the HTTP contract is docs/review-api.md.
//
// Sign-in, the worklist, and the encounter review: the note with every evidence span highlighted,
// next to the suggested and added codes, driven from the keyboard (see the help panel, "?").
// Routes: #/login, #/worklist?filters, #/encounter/ID, #/feedback (data scientists and admins, key m).
// This module routes, wires the page chrome and starts the page; the state is in js/store.js.
//
// Note text goes into the page only as text nodes (never innerHTML) and is never logged.

import { $ } from "./js/dom.js";
import { showEncounter } from "./js/encounter.js";
import { showFeedback } from "./js/feedback.js";
import { onKeyDown, toggleHelp } from "./js/keyboard.js";
import { releaseLock } from "./js/lock.js";
import { renderLogin } from "./js/login.js";
import { go, parseHash } from "./js/routes.js";
import { loadSession, signOut } from "./js/session.js";
import { setAfterLogin, setSearchTimer, state } from "./js/store.js";
import { showWorklist } from "./js/worklist.js";

/** Draws the view of the current hash; signed-out people go to the sign-in form first. */
async function route() {
  const r = parseHash(location.hash);
  if (!state.user && r.name !== "login") {
    setAfterLogin(location.hash || "#/worklist");
    go("#/login");
    return;
  }
  if (state.user && r.name === "login") {
    go("#/worklist");
    return;
  }
  setSearchTimer(0); // a search typed on the view we leave is not run
  if (state.lock && !(r.name === "encounter" && r.id === state.lock.encId)) releaseLock(); // left the chart
  if (r.name === "login") renderLogin();
  else if (r.name === "encounter") await showEncounter(r.id);
  else if (r.name === "feedback") await showFeedback(r.query);
  else await showWorklist(r.query);
}

function wireChrome() {
  $("#sign-out").addEventListener("click", signOut);
  $("#help-toggle").addEventListener("click", () => toggleHelp());
  $("#help-close").addEventListener("click", () => {
    toggleHelp(false);
    $("#help-toggle").focus();
  });
  document.addEventListener("keydown", onKeyDown);
  window.addEventListener("hashchange", route);
  window.addEventListener("pagehide", () => releaseLock()); // the tab closes: the chart is free again
  window.addEventListener("beforeunload", (e) => {
    if (state.queue.length || state.sending) {
      e.preventDefault();
      e.returnValue = "";
    }
  });
}

async function boot() {
  wireChrome();
  await loadSession();
  await route();
}

if (typeof document !== "undefined" && typeof window !== "undefined") boot();
