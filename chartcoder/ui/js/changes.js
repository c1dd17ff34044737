// Changes to the encounter (decisions, finalize, reopen) are POSTed one at a time, each with the
// version the previous answer gave, so none is based on a stale encounter. A failed change drops the
// ones queued after it and says which were not saved.

import { announce } from "./dom.js";
import { renderToolbar } from "./codes.js";
import { holderText, lockConflict, lockedByOther, takeLock } from "./lock.js";
import { may } from "./roles.js";
import { selectedRow, updateSelection } from "./selection.js";
import { api } from "./session.js";
import {
  changeSaved, dropChanges, els, ensureSelection, pushChange, setEncounter, setLock, setSending, setVersion, state,
} from "./store.js";

/** Whether the signed-in person may change the encounter on screen now; says why not. */
export function editGuard() {
  if (!state.enc) return false;
  if (!may(state.user, "edit")) {
    announce(`Your role (${state.user.role}) can view this encounter but not change its codes.`, "error");
    return false;
  }
  if (state.enc.status !== "open") {
    announce("This encounter is finalized; reopen it to change its codes.", "error");
    return false;
  }
  const other = lockedByOther();
  if (other) {
    announce(`${holderText(other.holder)}; take the chart over (t) to code it.`, "error");
    return false;
  }
  return true;
}

/** Queues a POST of `body` + the encounter's version; `label` names it in messages. */
export function enqueue(path, body, label) {
  pushChange({ encId: state.enc.id, path, body, label });
  if (state.view === "encounter") renderToolbar(selectedRow());
  pump();
}

export function decide(decision, label) {
  enqueue("decisions", { decisions: [decision] }, label);
}

async function pump() {
  if (state.sending) return;
  setSending(true);
  try {
    while (state.queue.length) {
      const item = state.queue[0];
      const version = state.versions.get(item.encId);
      try {
        const res = await api("POST", `/encounters/${encodeURIComponent(item.encId)}/${item.path}`, { ...item.body, version });
        changeSaved();
        await takeAnswer(res, item.encId);
        announce(`Saved: ${item.label}.`, "ok");
      } catch (err) {
        const unsent = dropChanges().slice(1);
        await changeFailed(err, item, unsent);
      }
    }
  } finally {
    setSending(false);
    if (state.view === "encounter" && els.encRoot) {
      ensureSelection(); // e.g. after a failed add of a code that is not listed
      updateSelection({ reveal: false });
    }
  }
}

const onScreen = (encId) => state.view === "encounter" && state.enc && state.enc.id === encId;

/** The answer of a change: the new Encounter; anything else (not in the contract) means reload. */
async function takeAnswer(res, encId) {
  if (res && res.id === encId && typeof res.version === "number") setVersion(encId, res.version);
  if (!onScreen(encId)) return;
  if (res && res.id === encId && typeof res.text === "string" && Array.isArray(res.codes)) setEncounter(res);
  else await reloadEncounter();
  // Finalizing ends the chart lock; an encounter opened again (reopen) is taken by the coder who opened it.
  if (state.enc.status === "finalized") setLock(null);
  else if (!state.lock || state.lock.encId !== encId) await takeLock();
}

function failureMessage(err, item, others) {
  if (err.status === 401) {
    return `Not saved: ${item.label} — you are signed out; sign in and decide again.${others}`;
  }
  if (err.status === 409 && err.code === "version_conflict") {
    const who = err.body && err.body.changed_by ? `${err.body.changed_by} changed this encounter` : "Someone else changed this encounter";
    return `${who}; reloaded — please check and decide again. Not saved: ${item.label}.${others}`;
  }
  if (err.status === 409 && err.code === "chart_locked") {
    return `Not saved: ${item.label} — ${err.message}.${others}`;
  }
  if (err.status === 409 && err.code === "encounter_finalized") {
    return `This encounter is finalized, so it was not changed. Not saved: ${item.label}. Reopen it to change codes.${others}`;
  }
  return `Not saved: ${item.label} — ${err.message}.${others}`;
}

async function changeFailed(err, item, unsent) {
  const others = unsent.length ? ` Also not saved: ${unsent.map((u) => u.label).join(", ")}.` : "";
  const shown = onScreen(item.encId);
  const message = failureMessage(err, item, others);
  announce(message, "error");
  if (shown && err.code === "chart_locked") lockConflict(err);
  if (shown && err.status === 409) await reloadEncounter();
  if (err.status === 401) announce(message, "error"); // after the sign-in notice, keep this one visible
}

/** GETs the encounter on screen again (after a conflict, or an answer that is not an Encounter). */
export async function reloadEncounter() {
  if (!state.enc) return;
  const id = state.enc.id;
  try {
    const enc = await api("GET", `/encounters/${encodeURIComponent(id)}`);
    if (state.view === "encounter" && state.enc && state.enc.id === id) setEncounter(enc);
  } catch (err) {
    if (err.status !== 401) announce(`Could not reload the encounter: ${err.message}.`, "error");
  }
}
