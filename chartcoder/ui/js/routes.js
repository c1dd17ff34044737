// Hash routes (#/login, #/worklist?filters, #/encounter/ID, #/feedback?filters) and moving between them.

import { setLastEncounter } from "./store.js";

/** "#/encounter/enc_1" -> {name: "encounter", id: "enc_1", query: {}} */
export function parseHash(hash) {
  const raw = (hash || "").replace(/^#/, "") || "/worklist";
  const [path, qs = ""] = raw.split("?");
  const parts = path.split("/").filter(Boolean);
  const query = Object.fromEntries(new URLSearchParams(qs));
  if (parts[0] === "login") return { name: "login", query };
  if (parts[0] === "feedback") return { name: "feedback", query };
  if (parts[0] === "encounter" && parts[1]) return { name: "encounter", id: decodeURIComponent(parts[1]), query };
  return { name: "worklist", query };
}

/** The claim statuses the worklist filters on (ClaimSummary.status in docs/review-api.md). */
export const CLAIM_STATUSES = ["not_built", "clean", "findings", "outdated", "sent_back"];

/** Worklist filters from a hash query; `defaultStatus` when none is given (billers: "finalized"). */
export function worklistQuery(q, defaultStatus = "open") {
  return {
    status: ["open", "finalized", "all"].includes(q.status) ? q.status : defaultStatus,
    order: ["confidence", "uncertainty", "date", "created"].includes(q.order) ? q.order : "confidence",
    date_from: /^\d{4}-\d{2}-\d{2}$/.test(q.date_from || "") ? q.date_from : "",
    date_to: /^\d{4}-\d{2}-\d{2}$/.test(q.date_to || "") ? q.date_to : "",
    payer: (q.payer || "").trim(),
    patient: (q.patient || "").trim().slice(0, 200),
    claim_status: CLAIM_STATUSES.includes(q.claim_status) ? q.claim_status : "",
    offset: Math.max(0, parseInt(q.offset, 10) || 0),
  };
}

export function toSearchParams(q) {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) if (v !== "" && v !== 0 && v != null) p.set(k, String(v));
  return p;
}

/**
 * The worklist's page address for filters `q`, without the patient filter: a patient's name or MRN
 * must not be in a URL (browser history, proxy logs); the page keeps that filter in memory.
 */
export function worklistHash(q) {
  const { patient: _patient, ...rest } = q;
  const qs = toSearchParams(rest).toString();
  return qs ? `#/worklist?${qs}` : "#/worklist";
}

/** The body of POST /v1/encounters/search for filters `q` (the patient filter travels only here). */
export function worklistSearchBody(q, limit) {
  const body = { limit };
  for (const [k, v] of Object.entries(q)) if (v !== "" && v != null) body[k] = v;
  return body;
}

/**
 * Goes to `hash`. Going to the hash already shown draws it again: the router (app.js) listens to
 * hashchange, which the browser does not fire for the same hash, so it is fired here.
 */
export function go(hash) {
  if (location.hash === hash) window.dispatchEvent(new HashChangeEvent("hashchange"));
  else location.hash = hash;
}

export function openEncounter(id) {
  setLastEncounter(id);
  go(`#/encounter/${encodeURIComponent(id)}`);
}
