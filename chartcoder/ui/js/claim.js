// The Claim panel of a finalized encounter: billers and admins build the claim (key c; POST builds and
// scrubs it), coders read it. On opening the encounter the newest claim is read once (404: none yet);
// a refused build shows the server's detail in the panel.

import { claimPath, claimRecordView, claimStatusText } from "./claim-view.js";
import { $, announce, appendChildren, h } from "./dom.js";
import { messageOf } from "./http.js";
import { may } from "./roles.js";
import { api, sessionEnded } from "./session.js";
import { els, nextClaimRequest, setClaim, state, updateClaim } from "./store.js";

/** The panel's fixed parts; renderClaim() fills them. Shown for finalized encounters only. */
export function buildClaimPanel() {
  const build = may(state.user, "buildClaim")
    ? h("button", {
      type: "button", class: "btn btn-primary", "data-testid": "build-claim", "aria-keyshortcuts": "c",
      "aria-describedby": "claim-title", onclick: buildClaim,
    }, "Build claim ", h("kbd", {}, "c"))
    : null;
  return h("section", { class: "claim", "data-testid": "claim-panel", "aria-labelledby": "claim-title", hidden: true },
    h("div", { class: "claim-head" },
      h("h2", { id: "claim-title", class: "pane-title" }, "Claim"),
      h("div", { class: "claim-actions" }, build)),
    h("p", { class: "form-error claim-error", role: "alert", "data-testid": "claim-error" }),
    h("p", { class: "progress claim-progress", role: "status" }),
    h("div", { class: "claim-body" }));
}

/** The panel's elements, for els (found in the encounter view's `root`). */
export function claimElements(root) {
  return {
    claim: $("[data-testid=claim-panel]", root), claimBody: $(".claim-body", root),
    claimError: $("[data-testid=claim-error]", root), claimProgress: $(".claim-progress", root),
    claimActions: $(".claim-actions", root),
  };
}

/** After the encounter is (re)drawn: show the panel for a finalized encounter, read its newest claim once. */
export function syncClaim(enc) {
  if (!els.claim) return;
  if (enc.status !== "finalized" || !may(state.user, "readClaim")) {
    if (state.claim && state.claim.encId === enc.id) setClaim(null); // reopened: read again once finalized
    els.claim.hidden = true;
    return;
  }
  els.claim.hidden = false;
  if (!state.claim || state.claim.encId !== enc.id) loadClaim(enc.id);
  else renderClaim();
}

function claimCurrent(encId, seq) {
  return Boolean(state.claim && state.claim.encId === encId && state.claim.seq === seq && state.view === "encounter" && els.claim);
}

/** GET the newest claim as JSON; 404 means none is built yet. */
async function loadClaim(encId) {
  const seq = nextClaimRequest();
  setClaim({ encId, status: "loading", record: null, error: "", building: false, seq });
  renderClaim();
  try {
    const record = await api("GET", claimPath(encId, "json"));
    if (!claimCurrent(encId, seq)) return;
    updateClaim({ record, status: "shown" });
  } catch (err) {
    if (err.status === 401 || !claimCurrent(encId, seq)) return;
    if (err.status === 404) updateClaim({ status: "none" });
    else updateClaim({ status: "failed", error: `Could not load the claim: ${err.message}` });
  }
  renderClaim();
}

/** Whether a build may start now; says why not. */
function mayBuild(enc) {
  if (!may(state.user, "buildClaim")) {
    announce(`Only billers and admins build claims; you are signed in as ${state.user.role}.`, "error");
    return false;
  }
  if (enc.status !== "finalized") {
    announce("Finalize the encounter before building its claim.", "error");
    return false;
  }
  return !(state.claim && state.claim.encId === enc.id && state.claim.building);
}

function buildFailed(err) {
  updateClaim({ building: false });
  if (err.status === 401) {
    updateClaim({ error: "The claim was not built: you are signed out; sign in and build it again." });
  } else if (err.status === 403) {
    updateClaim({ error: `The claim was not built: ${err.message}` });
  } else {
    updateClaim({ error: `The claim was not built — ${err.message}` });
    announce("The claim was not built; the Claim panel says why.", "error");
  }
}

/** POST the claim (build and scrub); a refusal (422: what the encounter lacks) shows in the panel. */
export async function buildClaim() {
  const enc = state.enc;
  if (!enc || !els.claim || !mayBuild(enc)) return;
  const seq = nextClaimRequest();
  const prev = state.claim && state.claim.encId === enc.id ? state.claim : null;
  const record = prev ? prev.record : null;
  setClaim({ encId: enc.id, status: record ? "shown" : "none", record, error: "", building: true, seq });
  renderClaim();
  try {
    const built = await api("POST", claimPath(enc.id));
    if (!claimCurrent(enc.id, seq)) return;
    updateClaim({ record: built, status: "shown", building: false });
    const id = (built.claim && built.claim.claim_id) || built.id;
    announce(`Claim ${id} built — ${claimStatusText(built)}`, built.clean ? "ok" : "info");
  } catch (err) {
    if (!claimCurrent(enc.id, seq)) return;
    buildFailed(err);
  }
  renderClaim();
  if (els.claim) els.claim.scrollIntoView({ block: "nearest" });
}

function renderClaim() {
  if (!els.claim) return;
  const c = state.claim && state.enc && state.claim.encId === state.enc.id ? state.claim : null;
  const building = Boolean(c && c.building);
  const loading = Boolean(c && c.status === "loading");
  if (building || loading) els.claim.setAttribute("aria-busy", "true");
  else els.claim.removeAttribute("aria-busy");
  const button = $("[data-testid=build-claim]", els.claim);
  if (button) button.setAttribute("aria-disabled", String(building)); // stays focusable while it works
  els.claimProgress.textContent = building
    ? "Building the claim and running the scrubber's edits…"
    : loading ? "Loading the claim…" : "";
  els.claimError.textContent = c && c.error ? c.error : "";
  if (!c || loading || c.status === "failed") {
    els.claimBody.replaceChildren();
  } else if (!c.record) {
    els.claimBody.replaceChildren(h("p", { class: "muted" }, may(state.user, "buildClaim")
      ? "No claim built yet. Press c or Build claim to build it and run the scrubber's edits."
      : "No claim built yet; a biller builds it."));
  } else {
    els.claimBody.replaceChildren();
    const view = claimRecordView(c.record, state.enc, { canBuild: may(state.user, "buildClaim"), onDownload: downloadClaim });
    appendChildren(els.claimBody, view); // skips the parts that are null
  }
}

/** A format link: fetched with the session cookie and saved as a file, so a refusal shows here. */
async function downloadClaim(e, filename, label) {
  e.preventDefault();
  const url = e.currentTarget.href;
  const encId = state.enc && state.enc.id;
  const fail = (message) => {
    if (!state.claim || state.claim.encId !== encId || !els.claim) return;
    updateClaim({ error: `Could not download the ${label}: ${message}` });
    renderClaim();
  };
  let res;
  try {
    res = await fetch(url, { credentials: "same-origin" });
  } catch {
    fail("could not reach the server; check the connection.");
    return;
  }
  if (!res.ok) {
    const body = await res.json().catch(() => null);
    if (res.status === 401 && state.user) sessionEnded();
    else fail(messageOf(body, res.status));
    return;
  }
  saveFile(await res.blob(), filename);
  if (state.claim && state.claim.encId === encId && state.claim.error.startsWith("Could not download")) {
    updateClaim({ error: "" });
    renderClaim();
  }
  announce(`Downloaded ${filename}.`, "ok");
}

function saveFile(blob, filename) {
  const blobUrl = URL.createObjectURL(blob);
  const a = h("a", { href: blobUrl, download: filename, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(blobUrl), 60_000);
}
