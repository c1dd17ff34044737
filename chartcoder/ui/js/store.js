// The page's state: one object, read by every module and changed only by the functions below.
//
// Note text and typed drafts live here in memory only: never stored in the browser, never logged.
// `els` holds the elements of the view on screen (the worklist table, the encounter's panes…); mount()
// empties it and each view fills it. setEncounter() tells its subscribers (the encounter view), so the
// code that sends changes does not need to know how an encounter is drawn.

import { buildRows } from "./rows.js";

export const state = {
  user: null, // the signed-in person ({username, display_name, role}) or null
  view: null, // "login" | "worklist" | "encounter" | "feedback"
  afterLogin: "#/worklist", // where to go once signed in
  worklist: { items: [], total: 0, selected: 0, query: null, seq: 0, patient: "" }, // patient: never in the URL
  lastEncounterId: null,
  reasons: null, // [{code, label}], loaded once
  enc: null, // the Encounter on screen
  rows: [], // its code rows (buildRows)
  selectedKey: null,
  hoverCode: null,
  noteKey: null, // which note/suggestion set the note pane shows
  versions: new Map(), // encounter id -> latest version we know
  queue: [], // changes waiting to be sent, oldest first
  sending: false,
  search: { seq: 0, q: "", results: [], active: -1, timer: 0 },
  draft: null, // {owner, values}: the unsent New encounter form, in memory only (never stored, never logged)
  creating: false, // a POST /v1/encounters is on its way
  claim: null, // {encId, status: "loading"|"none"|"shown"|"failed", record, error, building, seq}: the claim panel
  claimSeq: 0, // the newest claim request; older answers are dropped
  lock: null, // {encId, mine, holder: {username, display_name, since} | null}: the chart lock of the encounter on screen
  feedback: { seq: 0, packs: new Set() }, // the newest feedback report request; pack versions seen
  statusTimer: 0, // clears the status line
};

export const els = {};

const listeners = { encounter: new Set() };

/** subscribe("encounter", fn): fn(enc) after each setEncounter(). */
export function subscribe(topic, fn) {
  listeners[topic].add(fn);
  return () => listeners[topic].delete(fn);
}

// -- the view on screen ---------------------------------------------------------------------------

export function resetElements(found = {}) {
  for (const k of Object.keys(els)) delete els[k];
  Object.assign(els, found);
}

export function setView(view) {
  state.view = view;
}

export function setStatusTimer(timer) {
  state.statusTimer = timer;
}

// -- the session ----------------------------------------------------------------------------------

export function setUser(user) {
  state.user = user;
}

export function setAfterLogin(hash) {
  state.afterLogin = hash;
}

/** Signing out forgets the person's work in memory: the encounter, its claim, the unsent draft. */
export function forgetSession() {
  state.user = null;
  state.enc = null;
  state.claim = null;
  state.draft = null;
  state.lock = null;
  state.afterLogin = "#/worklist";
}

export function setReasons(reasons) {
  state.reasons = reasons;
}

// -- the worklist ---------------------------------------------------------------------------------

export function setWorklistQuery(q) {
  state.worklist.query = q;
}

/** The worklist's patient filter, kept in memory only (never in the page's address). */
export function setWorklistPatient(patient) {
  state.worklist.patient = patient;
}

/** A new worklist request; answers to older ones are dropped. */
export function nextWorklistRequest() {
  return ++state.worklist.seq;
}

/** One page of the worklist; the encounter last opened stays selected when it is on it. */
export function setWorklistPage(items, total) {
  state.worklist.items = items;
  state.worklist.total = total;
  const back = items.findIndex((x) => x.id === state.lastEncounterId);
  state.worklist.selected = back >= 0 ? back : 0;
}

export function moveWorklistSelection(delta) {
  const n = state.worklist.items.length;
  state.worklist.selected = Math.min(n - 1, Math.max(0, state.worklist.selected + delta));
}

export function setLastEncounter(id) {
  state.lastEncounterId = id;
}

// -- the New encounter draft ----------------------------------------------------------------------

/** The unsent New encounter form of the signed-in person, if any (never shown to someone else). */
export function myDraft() {
  const d = state.draft;
  return d && state.user && d.owner === state.user.username ? d.values : null;
}

export function saveDraft(values) {
  if (state.user) state.draft = { owner: state.user.username, values };
}

export function clearDraft() {
  state.draft = null;
}

export function setCreating(on) {
  state.creating = on;
}

// -- the encounter on screen ----------------------------------------------------------------------

/** Opening encounter `id`: the claim is read again; the selection is kept only for the same encounter. */
export function openingEncounter(id) {
  state.view = "encounter";
  state.lastEncounterId = id;
  state.claim = null;
  if (!state.enc || state.enc.id !== id) {
    state.selectedKey = null;
    state.hoverCode = null;
  }
}

/** `enc` (an Encounter from the API) is now the one on screen; subscribers draw it. */
export function setEncounter(enc) {
  state.enc = enc;
  state.versions.set(enc.id, enc.version);
  state.rows = buildRows(enc);
  for (const fn of listeners.encounter) fn(enc);
}

export function setVersion(encId, version) {
  state.versions.set(encId, version);
}

export function setNoteKey(key) {
  state.noteKey = key;
}

export function selectKey(key) {
  state.selectedKey = key;
}

/** Keeps the selected code if it is still listed, else selects the first pending (or first) one. */
export function ensureSelection() {
  if (state.rows.some((r) => r.key === state.selectedKey)) return;
  const firstPending = state.rows.find((r) => r.state === "pending");
  state.selectedKey = (firstPending || state.rows[0] || {}).key || null;
}

/** The chart lock of encounter `encId`: held by me (`mine`), by `holder`, or by nobody (null). */
export function setLock(lock) {
  state.lock = lock;
}

export function setHoverCode(code) {
  state.hoverCode = code;
}

// -- changes waiting to be sent -------------------------------------------------------------------

export function pushChange(item) {
  state.queue.push(item);
}

/** The oldest change was saved. */
export function changeSaved() {
  state.queue.shift();
}

/** Empties the queue (a change failed: the later ones were based on it); answers what was in it. */
export function dropChanges() {
  return state.queue.splice(0);
}

export function setSending(on) {
  state.sending = on;
}

// -- code search ----------------------------------------------------------------------------------

export function setSearchTimer(timer) {
  clearTimeout(state.search.timer);
  state.search.timer = timer;
}

/** A new search request; answers to older ones are dropped. */
export function nextSearchRequest() {
  clearTimeout(state.search.timer);
  return ++state.search.seq;
}

export function setSearchResults(q, results, active = results.length ? 0 : -1) {
  Object.assign(state.search, { q, results, active });
}

export function moveSearchActive(delta) {
  const n = state.search.results.length;
  if (n) state.search.active = (state.search.active + delta + n) % n;
}

export function resetSearch() {
  clearTimeout(state.search.timer);
  state.search = { seq: state.search.seq + 1, q: "", results: [], active: -1, timer: 0 };
}

// -- the claim panel ------------------------------------------------------------------------------

/** A new claim request; answers to older ones are dropped. */
export function nextClaimRequest() {
  return ++state.claimSeq;
}

export function setClaim(claim) {
  state.claim = claim;
}

export function updateClaim(changes) {
  if (state.claim) Object.assign(state.claim, changes);
}

// -- the Model feedback view ----------------------------------------------------------------------

/** A new feedback report request; answers to older ones are dropped. */
export function nextFeedbackRequest() {
  return ++state.feedback.seq;
}

/** Pack versions seen in any report, offered in the Pack filter. */
export function rememberPacks(packs) {
  for (const p of packs) state.feedback.packs.add(p);
}
