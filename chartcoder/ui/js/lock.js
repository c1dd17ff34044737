// The chart lock (docs/review-api.md, "Chart lock"): a coder who opens an open encounter takes its
// lock; if another coder holds it, a banner says who and since when and offers "Take over" (explicit,
// audited). Leaving the encounter releases the lock. Knows nothing of how changes are sent.

import { announce, h } from "./dom.js";
import { formatDateTime } from "./format.js";
import { may } from "./roles.js";
import { api } from "./session.js";
import { els, setLock, state } from "./store.js";

const lockPath = (encId) => `/encounters/${encodeURIComponent(encId)}/lock`;

/** "Ada Coder (coder1) has had this chart open since 8 Dec 2026, 00:41" */
export function holderText(holder) {
  if (!holder) return "Another coder has this chart open";
  const who = holder.display_name && holder.display_name !== holder.username
    ? `${holder.display_name} (${holder.username})`
    : holder.username;
  return `${who} has had this chart open since ${formatDateTime(holder.since)}`;
}

/** The lock of the encounter on screen when someone else holds it, else null. */
export function lockedByOther() {
  const l = state.lock;
  return l && state.enc && l.encId === state.enc.id && !l.mine ? l : null;
}

/** Takes the lock of the open encounter on screen (coders, admins); `takeOver` takes it from its holder. */
export async function takeLock(takeOver = false) {
  const enc = state.enc;
  if (!enc || enc.status !== "open" || !may(state.user, "edit")) return;
  try {
    const res = await api("POST", lockPath(enc.id), { take_over: takeOver });
    setLock({ encId: enc.id, mine: true, holder: res.lock });
    if (res.taken_over_from) announce(`You took this chart over from ${res.taken_over_from}; you can code it now.`, "ok");
  } catch (err) {
    if (err.status === 409 && err.code === "chart_locked") lockConflict(err);
    else if (err.status !== 401) announce(`Could not open the chart for coding: ${err.message}.`, "error");
  }
  renderLockBanner();
}

/** A 409 chart_locked (on opening or on a change): someone else holds the lock now. */
export function lockConflict(err) {
  if (!state.enc) return;
  setLock({ encId: state.enc.id, mine: false, holder: (err.body && err.body.lock) || null });
  renderLockBanner();
}

/** Releases my lock (leaving the encounter, closing the tab); the answer is not waited for. */
export function releaseLock() {
  const l = state.lock;
  setLock(null);
  if (!l || !l.mine) return;
  fetch(`/v1${lockPath(l.encId)}`, {
    method: "DELETE", keepalive: true, credentials: "same-origin", headers: { "X-Chartcoder-Client": "web" },
  }).catch(() => {});
}

/** The banner over the codes while another coder holds the lock, with "Take over". */
export function renderLockBanner() {
  if (!els.lockBanner) return;
  const other = lockedByOther();
  els.lockBanner.hidden = !other;
  els.lockBanner.replaceChildren(
    ...(other
      ? [h("strong", {}, "Chart in use. "),
        h("span", { "data-testid": "lock-holder" }, `${holderText(other.holder)}.`),
        " Your changes are refused while they hold it. ",
        h("button", {
          type: "button", class: "btn", "data-testid": "lock-take-over", "aria-keyshortcuts": "t",
          onclick: () => takeLock(true),
        }, "Take over ", h("kbd", {}, "t"))]
      : []),
  );
}
