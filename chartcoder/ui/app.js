// chartcoder review page: ES modules (this one and feedback.js), no build step, no dependencies.
//
// Sign-in, the worklist, and the encounter review: the note with every evidence span highlighted,
// next to the suggested and added codes, driven from the keyboard (see the help panel, "?").
// Every decision is POSTed at once, one per request, with the encounter's current version; requests
// are sent one after another so each one carries the version the previous one answered with.
// Routes: #/login, #/worklist?filters, #/encounter/ID, #/feedback (feedback.js; data scientists and
// admins, key m). The HTTP contract is docs/review-api.md.
// A coder or admin can also create an encounter from the worklist ("New encounter", key n).
//
// Note text goes into the page only as text nodes (never innerHTML) and is never logged.
// The pure helpers (offsets, segmentation, code rows, routes, messages) are exported for tests.

import { canSeeFeedback, feedbackKey, showFeedback } from "./feedback.js";

const API = "/v1";
const PAGE_SIZE = 50;
const SEARCH_LIMIT = 10;
const SEARCH_DELAY_MS = 150;
const EDIT_ROLES = new Set(["coder", "admin"]);
const CREATE_ROLES = new Set(["coder", "admin"]); // people who may POST /v1/encounters (ehr is for API keys)
const BILL_ROLES = new Set(["biller", "admin"]); // POST /v1/encounters/{id}/claim
const CLAIM_READ_ROLES = new Set(["biller", "admin", "coder"]); // GET /v1/encounters/{id}/claim
const DRAFT_FIELDS = ["text", "setting", "date_of_service", "external_id", "payer", "sex", "birth_date"];

const STATE_LABELS = { pending: "Pending", accepted: "Accepted", rejected: "Rejected", added: "Added" };
const AUDIT_LABELS = {
  "encounter.created": "Encounter created",
  "suggestions.stored": "Suggestions stored",
  "decision.accept": "Accepted",
  "decision.reject": "Rejected",
  "decision.add": "Added",
  "decision.change": "Changed",
  "encounter.finalized": "Finalized",
  "encounter.reopened": "Reopened",
  "claim.built": "Claim built",
};
const SEVERITY_LABELS = { error: "Errors", warning: "Warnings" };

const state = {
  user: null,
  view: null, // "login" | "worklist" | "encounter"
  afterLogin: "#/worklist",
  worklist: { items: [], total: 0, selected: 0, query: null, seq: 0 },
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
};

let ui = {}; // elements of the current view
let statusTimer = 0;

// ---------------------------------------------------------------------------------------------
// Pure helpers (exported for tests)
// ---------------------------------------------------------------------------------------------

/** Maps code-point offsets (the API's, from Python) to UTF-16 offsets (JavaScript's). */
export function utf16Mapper(text) {
  if (!/[\uD800-\uDFFF]/.test(text)) return (i) => i;
  const map = [];
  let u = 0;
  for (const ch of text) {
    map.push(u);
    u += ch.length;
  }
  map.push(u);
  return (i) => (Number.isInteger(i) && i >= 0 && i < map.length ? map[i] : NaN);
}

/** Evidence spans of all rows as [{start, end, code}] in UTF-16 offsets, invalid ones left out. */
export function evidenceSpans(text, rows) {
  const toU16 = utf16Mapper(text);
  const spans = [];
  for (const row of rows) {
    for (const ev of row.evidence || []) {
      let start = toU16(ev.start);
      let end = toU16(ev.end);
      // Offsets are code points per the contract; accept UTF-16 offsets if only those match.
      if (typeof ev.text === "string" && text.slice(start, end) !== ev.text && text.slice(ev.start, ev.end) === ev.text) {
        start = ev.start;
        end = ev.end;
      }
      if (Number.isInteger(start) && Number.isInteger(end) && start >= 0 && start < end && end <= text.length) {
        spans.push({ start, end, code: row.code });
      }
    }
  }
  return spans;
}

/**
 * Splits [0, length) at every span boundary; each piece lists the codes whose spans cover it
 * (in span order, no duplicates), so overlapping spans become adjacent pieces, never nested marks.
 */
export function segmentText(length, spans) {
  const cuts = new Set([0, length]);
  for (const s of spans) {
    cuts.add(s.start);
    cuts.add(s.end);
  }
  const points = [...cuts].sort((a, b) => a - b);
  const pieces = [];
  for (let i = 0; i < points.length - 1; i++) {
    const start = points[i];
    const end = points[i + 1];
    const codes = [];
    for (const s of spans) {
      if (s.start <= start && s.end >= end && !codes.includes(s.code)) codes.push(s.code);
    }
    pieces.push({ start, end, codes });
  }
  return pieces;
}

export function codeKey(c) {
  return `${c.system} ${c.code}`;
}

/**
 * One row per code on the encounter: the suggestions in the model's order with their current
 * state from `codes`, then the codes a person added (or that are otherwise not suggested).
 */
export function buildRows(enc) {
  const codes = enc.codes || [];
  const suggestions = (enc.suggestion_set && enc.suggestion_set.suggestions) || [];
  const current = new Map(codes.map((c) => [codeKey(c), c]));
  const rows = [];
  const seen = new Set();
  const decided = (c) => ({
    reason: c.reason ?? null,
    note: c.note ?? null,
    replaces: c.replaces ?? null,
    decided_by: c.decided_by ?? null,
    decided_at: c.decided_at ?? null,
  });
  for (const s of suggestions) {
    const key = codeKey(s);
    if (seen.has(key)) continue;
    seen.add(key);
    const c = current.get(key) || {};
    rows.push({
      key,
      code: s.code,
      system: s.system,
      description: s.description || c.description || "",
      score: typeof s.score === "number" ? s.score : typeof c.score === "number" ? c.score : null,
      state: c.state || "pending",
      suggested: true,
      // "consider": ranked below the proposal (weak or no supporting words); shown as its own group.
      group: s.group === "consider" ? "consider" : "suggested",
      warnings: s.warnings || [],
      evidence: s.evidence || [],
      ...decided(c),
    });
  }
  for (const c of codes) {
    const key = codeKey(c);
    if (seen.has(key)) continue;
    seen.add(key);
    rows.push({
      key,
      code: c.code,
      system: c.system,
      description: c.description || "",
      score: typeof c.score === "number" ? c.score : null,
      state: c.state || "added",
      suggested: Boolean(c.suggested),
      group: "added",
      warnings: [],
      evidence: [],
      ...decided(c),
    });
  }
  return rows;
}

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

/** Worklist filters from a hash query; `defaultStatus` when none is given (billers: "finalized"). */
export function worklistQuery(q, defaultStatus = "open") {
  const out = {
    status: ["open", "finalized", "all"].includes(q.status) ? q.status : defaultStatus,
    order: ["confidence", "uncertainty", "date", "created"].includes(q.order) ? q.order : "confidence",
    date_from: /^\d{4}-\d{2}-\d{2}$/.test(q.date_from || "") ? q.date_from : "",
    date_to: /^\d{4}-\d{2}-\d{2}$/.test(q.date_to || "") ? q.date_to : "",
    payer: (q.payer || "").trim(),
    offset: Math.max(0, parseInt(q.offset, 10) || 0),
  };
  return out;
}

export function toSearchParams(q) {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) if (v !== "" && v !== 0 && v != null) p.set(k, String(v));
  return p;
}

/** One item of a validation `detail` list: the server's {field, message}, or FastAPI's {loc, msg}. */
function validationMessage(x) {
  if (!x || typeof x !== "object") return String(x);
  const text = x.message || x.msg || x.type || "invalid value";
  const field = x.field || (Array.isArray(x.loc) ? x.loc.filter((p) => p !== "body").join(".") : "");
  return field && field !== "body" ? `${field}: ${text}` : text;
}

/** The human message of an error body: `detail` (string or validation list), else `error`. */
export function messageOf(body, status) {
  const d = body && body.detail;
  if (typeof d === "string" && d) return d;
  if (Array.isArray(d) && d.length) return d.map(validationMessage).join("; ");
  if (body && typeof body.error === "string") return body.error.replace(/_/g, " ");
  return status ? `the server answered ${status}` : "no answer from the server";
}

/** The body of POST /v1/encounters from the New encounter form's values; empty optional fields are left out. */
export function newEncounterBody(v) {
  const clean = (x) => (typeof x === "string" ? x.trim() : "");
  const body = { text: v.text, setting: v.setting === "inpatient" ? "inpatient" : "outpatient" };
  if (clean(v.date_of_service)) body.date_of_service = clean(v.date_of_service);
  if (clean(v.external_id)) body.external_id = clean(v.external_id);
  if (clean(v.payer)) body.payer = { name: clean(v.payer) };
  const patient = {};
  if (["F", "M", "U"].includes(v.sex)) patient.sex = v.sex;
  if (clean(v.birth_date)) patient.birth_date = clean(v.birth_date);
  if (Object.keys(patient).length) body.patient = patient;
  return body;
}

export function pct(x) {
  return typeof x === "number" && Number.isFinite(x) ? `${Math.round(x * 100)}%` : "—";
}

/** A CSS class for a warning string (the text itself is always shown). */
export function warningKind(w) {
  const s = w.toLowerCase();
  if (s.includes("header code") || s.includes("not billable")) return "warn-header";
  if (s.includes("excludes1")) return "warn-excludes";
  if (s.includes("uncertain")) return "warn-uncertain";
  return "warn-other";
}

/** `decided_by` / `finalized_by`: a username per the contract; a user object is shown by its name. */
export function personName(p) {
  if (!p) return "";
  return typeof p === "object" ? p.display_name || p.username || String(p.id ?? "") : String(p);
}

export function formatDetail(detail) {
  if (!detail || typeof detail !== "object") return detail == null ? "" : String(detail);
  const value = (v) => {
    if (Array.isArray(v)) return v.map(value).join(", ");
    if (v && typeof v === "object") {
      return Object.entries(v)
        .filter(([, x]) => x !== null && x !== undefined && x !== "")
        .map(([k, x]) => `${k} ${value(x)}`)
        .join(" ");
    }
    return String(v);
  };
  return Object.entries(detail)
    .filter(([, v]) => v !== null && v !== undefined && v !== "")
    .map(([k, v]) => `${k}: ${value(v)}`)
    .join("; ");
}

/** "303.00" (the claim's decimal strings) -> "$303.00"; anything not a number is shown as it is. */
export function money(value) {
  const n = Number(value);
  if (value === null || value === undefined || value === "" || !Number.isFinite(n)) return value == null ? "—" : String(value);
  return n.toLocaleString("en-US", { style: "currency", currency: "USD" });
}

/** Scrubber findings grouped by severity: errors first, then warnings, then any other severity. */
export function groupFindings(findings) {
  const order = ["error", "warning"];
  const groups = new Map();
  for (const f of findings || []) {
    const sev = f && typeof f.severity === "string" ? f.severity : "other";
    if (!groups.has(sev)) groups.set(sev, []);
    groups.get(sev).push(f);
  }
  const rank = (s) => (order.includes(s) ? order.indexOf(s) : order.length);
  return [...groups.entries()].sort((a, b) => rank(a[0]) - rank(b[0])).map(([severity, items]) => ({ severity, items }));
}

/** The one-line status of a claim record: "Clean: …" or "Not clean: 2 errors, 1 warning …". */
export function claimStatusText(record) {
  const findings = record.findings || [];
  const count = (sev) => findings.filter((f) => f.severity === sev).length;
  const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;
  const errors = count("error");
  const warnings = count("warning");
  if (record.clean) {
    return warnings ? `Clean: no errors, ${plural(warnings, "warning")} to read before sending.` : "Clean: the scrubber found nothing to fix.";
  }
  const parts = [plural(errors, "error")];
  if (warnings) parts.push(plural(warnings, "warning"));
  return `Not clean: ${parts.join(", ")}. Errors block sending; fix them and build again.`;
}

/** A service line's diagnosis pointers as "1,2" (for data-pointers) — numbers into the claim's diagnoses. */
export function pointerList(line) {
  return (line.pointers || []).map((p) => String(p)).join(",");
}

// ---------------------------------------------------------------------------------------------
// HTTP
// ---------------------------------------------------------------------------------------------

export class ApiError extends Error {
  constructor(status, body) {
    super(messageOf(body, status));
    this.status = status;
    this.code = (body && body.error) || null;
    this.body = body;
  }
}

async function api(method, path, body) {
  const headers = { Accept: "application/json" };
  if (method !== "GET") {
    headers["X-Chartcoder-Client"] = "web"; // the CSRF rule for cookie sessions
    headers["Content-Type"] = "application/json";
  }
  let res;
  try {
    res = await fetch(API + path, {
      method,
      headers,
      credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, { error: "network", detail: "could not reach the server; check the connection" });
  }
  const data = res.status === 204 ? null : await res.json().catch(() => null);
  if (res.ok) return data;
  if (res.status === 401 && state.user && path !== "/auth/login") sessionEnded();
  throw new ApiError(res.status, data);
}

function sessionEnded() {
  state.user = null;
  showUser();
  const here = location.hash;
  if (!here.startsWith("#/login")) state.afterLogin = here || "#/worklist";
  announce("Your session has ended; please sign in again.", "error");
  go("#/login");
}

async function loadReasons() {
  if (!state.reasons) state.reasons = await api("GET", "/review/reasons");
  return state.reasons;
}

function reasonLabel(code) {
  const r = (state.reasons || []).find((x) => x.code === code);
  return r ? r.label : code;
}

// ---------------------------------------------------------------------------------------------
// DOM helpers
// ---------------------------------------------------------------------------------------------

/** h("button", {type: "button", onclick: f}, "Text", child) — text children become text nodes. */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  appendChildren(el, children);
  return el;
}

function appendChildren(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

const $ = (sel, root = document) => root.querySelector(sel);

function mount(...nodes) {
  ui = {};
  const main = $("#main");
  main.replaceChildren(...nodes);
  return main;
}

function isTyping(target) {
  return Boolean(
    target && target.closest && target.closest("input, textarea, select, [contenteditable=''], [contenteditable='true']"),
  );
}

function formatDateTime(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

/** Scrolls `pane` so that `el` is visible, only if it is not already. */
function revealInPane(el, pane) {
  if (!el || !pane) return;
  const er = el.getBoundingClientRect();
  const pr = pane.getBoundingClientRect();
  if (er.top >= pr.top && er.bottom <= pr.bottom) return;
  pane.scrollTop += er.top - pr.top - pane.clientHeight / 3;
}

/** A message in the aria-live status region; errors stay until the next message. */
function announce(message, kind = "info") {
  const el = $("#status");
  clearTimeout(statusTimer);
  el.className = `status status-${kind}`;
  el.textContent = message;
  if (kind !== "error") statusTimer = setTimeout(() => (el.textContent = ""), 8000);
}

// ---------------------------------------------------------------------------------------------
// Dialogs (native <dialog> shown modal; Tab is kept inside; focus returns where it was)
// ---------------------------------------------------------------------------------------------

function openDialog({ title, testid, body, onKeydown, className }) {
  const opener = document.activeElement;
  const titleId = `dlg-title-${Date.now()}`;
  const dlg = h(
    "dialog",
    { class: className ? `dialog ${className}` : "dialog", role: "dialog", "aria-modal": "true", "aria-labelledby": titleId, "data-testid": testid },
    h("h2", { id: titleId }, title),
    body,
  );
  const close = () => {
    if (!dlg.isConnected) return;
    dlg.close();
    dlg.remove();
    const back = opener && opener.isConnected && opener !== document.body ? opener : ui.codes || $("#main");
    if (back) back.focus();
  };
  dlg.addEventListener("cancel", (e) => {
    e.preventDefault(); // Escape: close our way so focus returns
    close();
  });
  dlg.addEventListener("keydown", (e) => {
    if (e.key === "Tab") trapTab(e, dlg);
    else if (onKeydown) onKeydown(e);
  });
  document.body.append(dlg);
  dlg.showModal();
  return { dlg, close };
}

function trapTab(e, root) {
  const items = [...root.querySelectorAll("button, input, textarea, select, a[href], [tabindex]:not([tabindex='-1'])")].filter(
    (el) => !el.disabled && el.offsetParent !== null,
  );
  if (!items.length) return;
  const first = items[0];
  const last = items[items.length - 1];
  if (e.shiftKey && document.activeElement === first) {
    e.preventDefault();
    last.focus();
  } else if (!e.shiftKey && document.activeElement === last) {
    e.preventDefault();
    first.focus();
  }
}

const dialogOpen = () => Boolean(document.querySelector("dialog[open]"));

// ---------------------------------------------------------------------------------------------
// Routing and the page chrome
// ---------------------------------------------------------------------------------------------

function go(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

async function route() {
  const r = parseHash(location.hash);
  if (!state.user && r.name !== "login") {
    state.afterLogin = location.hash || "#/worklist";
    go("#/login");
    return;
  }
  if (state.user && r.name === "login") {
    go("#/worklist");
    return;
  }
  clearTimeout(state.search.timer);
  if (r.name === "login") renderLogin();
  else if (r.name === "encounter") await showEncounter(r.id);
  else if (r.name === "feedback") {
    state.view = "feedback";
    await showFeedback(feedbackContext(), r.query);
  } else await showWorklist(r.query);
}

/** What the Model feedback view (feedback.js) uses of this module. */
function feedbackContext() {
  return { h, api, mount, announce, go, user: state.user };
}

function showUser() {
  const u = state.user;
  $("#who").textContent = u ? `${u.display_name || u.username} · ${u.role}` : "";
  $("#sign-out").hidden = !u;
  $("#nav").hidden = !u;
  $("#nav-feedback").hidden = !canSeeFeedback(u);
}

async function signOut() {
  try {
    await api("POST", "/auth/logout");
  } catch (err) {
    if (err.status !== 401) announce(`Sign-out failed: ${err.message}.`, "error");
  }
  state.user = null;
  state.enc = null;
  state.claim = null;
  state.draft = null;
  state.afterLogin = "#/worklist";
  showUser();
  announce("Signed out.");
  go("#/login");
}

function toggleHelp(show) {
  const help = $("#help");
  const open = show === undefined ? help.hidden : show;
  help.hidden = !open;
  $("#help-toggle").setAttribute("aria-expanded", String(open));
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
  window.addEventListener("beforeunload", (e) => {
    if (state.queue.length || state.sending) {
      e.preventDefault();
      e.returnValue = "";
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Sign-in
// ---------------------------------------------------------------------------------------------

function renderLogin() {
  state.view = "login";
  const error = h("p", { id: "login-error", class: "form-error", role: "alert" });
  const username = h("input", {
    id: "login-username", name: "username", autocomplete: "username", autocapitalize: "none",
    spellcheck: "false", required: true, "data-testid": "login-username",
  });
  const password = h("input", {
    id: "login-password", name: "password", type: "password", autocomplete: "current-password",
    required: true, "data-testid": "login-password",
  });
  const submit = h("button", { type: "submit", class: "btn btn-primary", "data-testid": "login-submit" }, "Sign in");
  const form = h(
    "form",
    { class: "login", "aria-labelledby": "login-title", novalidate: true },
    h("h1", { id: "login-title" }, "Sign in to chartcoder"),
    h("div", { class: "field" }, h("label", { for: "login-username" }, "Username"), username),
    h("div", { class: "field" }, h("label", { for: "login-password" }, "Password"), password),
    error,
    submit,
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (!username.value.trim() || !password.value) {
      error.textContent = "Enter your username and password.";
      (username.value.trim() ? password : username).focus();
      return;
    }
    submit.disabled = true;
    error.textContent = "";
    try {
      const res = await api("POST", "/auth/login", { username: username.value.trim(), password: password.value });
      state.user = res.user;
      password.value = "";
      showUser();
      announce(`Signed in as ${res.user.display_name || res.user.username}.`, "ok");
      go(state.afterLogin && !state.afterLogin.startsWith("#/login") ? state.afterLogin : "#/worklist");
    } catch (err) {
      error.textContent = err.status === 401 ? "Wrong username or password." : `Could not sign in: ${err.message}.`;
      password.select();
      password.focus();
    } finally {
      submit.disabled = false;
    }
  });
  mount(form);
  username.focus();
}

// ---------------------------------------------------------------------------------------------
// Worklist
// ---------------------------------------------------------------------------------------------

/** Billers work on finalized encounters: their worklist shows those unless they pick a status. */
function defaultWorklistStatus() {
  return state.user && state.user.role === "biller" ? "finalized" : "open";
}

async function showWorklist(rawQuery) {
  const q = worklistQuery(rawQuery, defaultWorklistStatus());
  if (state.view !== "worklist" || !ui.worklistForm) buildWorklist(q);
  state.view = "worklist";
  state.worklist.query = q;
  setFilterValues(q);
  await loadWorklist(q);
}

function select(id, label, options, value) {
  return h(
    "div", { class: "field" },
    h("label", { for: id }, label),
    h("select", { id, name: id.replace(/^f-/, "") }, options.map(([v, text]) => h("option", { value: v, selected: v === value }, text))),
  );
}

function buildWorklist(q) {
  const form = h(
    "form",
    { class: "filters", "aria-label": "Worklist filters" },
    select("f-status", "Status", [["open", "Open"], ["finalized", "Finalized"], ["all", "All"]], q.status),
    h("div", { class: "field" }, h("label", { for: "f-date_from" }, "From (date of service)"),
      h("input", { id: "f-date_from", name: "date_from", type: "date" })),
    h("div", { class: "field" }, h("label", { for: "f-date_to" }, "To"), h("input", { id: "f-date_to", name: "date_to", type: "date" })),
    h("div", { class: "field" }, h("label", { for: "f-payer" }, "Payer (id or name)"),
      h("input", { id: "f-payer", name: "payer", type: "text", autocomplete: "off" })),
    select("f-order", "Order", [["confidence", "Lowest confidence first"], ["uncertainty", "Most uncertain first (model learns most)"], ["date", "Newest date of service"], ["created", "Created"]], q.order),
    h("div", { class: "field field-buttons" },
      h("button", { type: "submit", class: "btn" }, "Apply"),
      h("button", { type: "button", class: "btn btn-quiet", onclick: () => go("#/worklist") }, "Clear")),
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    applyFilters(0);
  });
  form.addEventListener("change", (e) => {
    if (e.target.tagName === "SELECT") applyFilters(0); // dates and payer apply on Enter or Apply
  });
  const tbody = h("tbody");
  tbody.addEventListener("click", (e) => {
    const tr = e.target.closest("tr[data-encounter-id]");
    if (tr && !e.target.closest("a")) openEncounter(tr.dataset.encounterId);
  });
  const table = h(
    "table", { class: "worklist", "aria-labelledby": "worklist-title", "aria-describedby": "worklist-count" },
    h("thead", {}, h("tr", {},
      ["Date of service", "External id", "Payer", "Setting"].map((t) => h("th", { scope: "col" }, t)),
      ["Confidence", "Pending", "Decided"].map((t) => h("th", { scope: "col", class: "num" }, t)),
      h("th", { scope: "col" }, "Status"))),
    tbody,
  );
  const pager = h("nav", { class: "pager", "aria-label": "Worklist pages" });
  mount(
    h("section", { class: "worklist-view" },
      h("div", { class: "view-head" }, h("h1", { id: "worklist-title" }, "Worklist"),
        h("p", { id: "worklist-count", class: "muted" }),
        canCreate()
          ? h("button", {
            type: "button", class: "btn btn-primary new-encounter", "data-testid": "new-encounter",
            "aria-keyshortcuts": "n", "aria-haspopup": "dialog", onclick: openNewEncounter,
          }, "New encounter ", h("kbd", {}, "n"))
          : null),
      form,
      h("div", { class: "table-wrap" }, table),
      pager),
  );
  ui = { worklistForm: form, tbody, table, pager, count: $("#worklist-count") };
}

function setFilterValues(q) {
  for (const k of ["status", "order", "date_from", "date_to", "payer"]) {
    const el = $(`#f-${k}`);
    if (el && el !== document.activeElement) el.value = q[k];
  }
}

function applyFilters(offset) {
  const f = ui.worklistForm.elements;
  const q = worklistQuery({
    status: f.namedItem("status").value, order: f.namedItem("order").value, date_from: f.namedItem("date_from").value,
    date_to: f.namedItem("date_to").value, payer: f.namedItem("payer").value, offset,
  });
  const qs = toSearchParams(q).toString();
  go(qs ? `#/worklist?${qs}` : "#/worklist");
}

async function loadWorklist(q) {
  const seq = ++state.worklist.seq;
  const params = toSearchParams({ ...q, limit: PAGE_SIZE });
  ui.table.setAttribute("aria-busy", "true");
  try {
    const res = await api("GET", `/encounters?${params}`);
    if (seq !== state.worklist.seq || state.view !== "worklist") return;
    state.worklist.items = res.items || [];
    state.worklist.total = res.total ?? state.worklist.items.length;
    const back = state.worklist.items.findIndex((x) => x.id === state.lastEncounterId);
    state.worklist.selected = back >= 0 ? back : 0;
    renderWorklistRows();
  } catch (err) {
    if (err.status === 401 || seq !== state.worklist.seq) return;
    ui.tbody.replaceChildren(h("tr", {}, h("td", { colspan: 8, class: "empty" }, `Could not load the worklist: ${err.message}.`)));
    announce(`Could not load the worklist: ${err.message}.`, "error");
  } finally {
    if (ui.table) ui.table.removeAttribute("aria-busy");
  }
}

function renderWorklistRows() {
  const { items, total, query } = { ...state.worklist };
  if (!items.length) {
    ui.tbody.replaceChildren(h("tr", {}, h("td", { colspan: 8, class: "empty" }, "No encounters match these filters.")));
  } else {
    ui.tbody.replaceChildren(...items.map(worklistRow));
  }
  const from = items.length ? query.offset + 1 : 0;
  const to = query.offset + items.length;
  ui.count.textContent = `${from}–${to} of ${total} encounters`;
  ui.pager.replaceChildren(
    h("button", { type: "button", class: "btn btn-quiet", disabled: query.offset === 0, onclick: () => applyFilters(Math.max(0, query.offset - PAGE_SIZE)) }, "Previous page"),
    h("button", { type: "button", class: "btn btn-quiet", disabled: to >= total, onclick: () => applyFilters(query.offset + PAGE_SIZE) }, "Next page"),
  );
  markWorklistSelection(false);
}

function worklistRow(e) {
  const payer = e.payer ? e.payer.name || e.payer.id : "";
  return h(
    "tr", { "data-testid": "worklist-row", "data-encounter-id": e.id, class: "row" },
    h("td", {}, e.date_of_service || "—"),
    h("td", {}, h("a", { href: `#/encounter/${encodeURIComponent(e.id)}` }, e.external_id || e.id)),
    h("td", {}, payer || "—"),
    h("td", {}, e.setting || "—"),
    h("td", { class: "num" }, pct(e.confidence)),
    h("td", { class: "num" }, e.n_pending ?? "—"),
    h("td", { class: "num" }, e.n_decided ?? "—"),
    h("td", {}, h("span", { class: `pill pill-${e.status}` }, e.status === "finalized" ? "Finalized" : "Open")),
  );
}

function markWorklistSelection(focus) {
  const rows = ui.tbody ? [...ui.tbody.querySelectorAll("tr[data-encounter-id]")] : [];
  rows.forEach((tr, i) => {
    const on = i === state.worklist.selected;
    tr.classList.toggle("selected", on);
    if (on) tr.setAttribute("aria-current", "true");
    else tr.removeAttribute("aria-current");
  });
  const tr = rows[state.worklist.selected];
  if (tr && focus) {
    tr.querySelector("a").focus({ preventScroll: true });
    tr.scrollIntoView({ block: "nearest" });
  }
}

function openEncounter(id) {
  state.lastEncounterId = id;
  go(`#/encounter/${encodeURIComponent(id)}`);
}

function worklistKey(e) {
  if (e.key === "n") {
    if (!canCreate()) return false;
    openNewEncounter();
    return true;
  }
  const n = state.worklist.items.length;
  if (!n) return false;
  if (e.key === "j" || e.key === "k") {
    state.worklist.selected = Math.min(n - 1, Math.max(0, state.worklist.selected + (e.key === "j" ? 1 : -1)));
    markWorklistSelection(true);
    return true;
  }
  if (e.key === "Enter" && !e.target.closest("a, button, summary")) {
    openEncounter(state.worklist.items[state.worklist.selected].id);
    return true;
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// Worklist: new encounter (POST /v1/encounters; its suggestions are computed before it answers)
// ---------------------------------------------------------------------------------------------

function canCreate() {
  return Boolean(state.user && CREATE_ROLES.has(state.user.role));
}

/** The unsent New encounter form of the signed-in person, if any (never shown to someone else). */
function myDraft() {
  const d = state.draft;
  return d && state.user && d.owner === state.user.username ? d.values : null;
}

function formField(id, label, control) {
  return h("div", { class: "field" }, h("label", { for: id }, label), control);
}

function formSelect(id, name, options) {
  return h("select", { id, name }, options.map(([v, text]) => h("option", { value: v }, text)));
}

function openNewEncounter() {
  if (!canCreate() || dialogOpen()) return;
  if (state.creating) {
    announce("The last encounter is still being created; wait for it, then press n again.");
    return;
  }
  // Opened with the key: focus goes back to the button when the dialog closes.
  const button = $("[data-testid=new-encounter]");
  if (button && (document.activeElement === document.body || document.activeElement === $("#main"))) {
    button.focus({ preventScroll: true });
  }

  const text = h("textarea", {
    id: "ne-text", name: "text", rows: "12", required: true, spellcheck: "false", autocomplete: "off",
    "aria-describedby": "ne-text-hint", "data-testid": "new-encounter-text",
  });
  const setting = formSelect("ne-setting", "setting", [["outpatient", "Outpatient"], ["inpatient", "Inpatient"]]);
  setting.setAttribute("data-testid", "new-encounter-setting");
  const date = h("input", { id: "ne-date", name: "date_of_service", type: "date", "data-testid": "new-encounter-date" });
  const external = h("input", { id: "ne-external", name: "external_id", type: "text", autocomplete: "off", spellcheck: "false" });
  const payer = h("input", { id: "ne-payer", name: "payer", type: "text", autocomplete: "off" });
  const sex = formSelect("ne-sex", "sex", [["", "Not given"], ["F", "Female (F)"], ["M", "Male (M)"], ["U", "Unknown (U)"]]);
  const birth = h("input", { id: "ne-birth", name: "birth_date", type: "date" });
  const controls = { text, setting, date_of_service: date, external_id: external, payer, sex, birth_date: birth };
  const values = () => Object.fromEntries(DRAFT_FIELDS.map((k) => [k, controls[k].value]));

  const draft = myDraft();
  if (draft) for (const k of DRAFT_FIELDS) if (typeof draft[k] === "string") controls[k].value = draft[k];
  const saveDraft = () => {
    if (state.user) state.draft = { owner: state.user.username, values: values() };
  };

  const error = h("p", { class: "form-error", role: "alert", "data-testid": "new-encounter-error" });
  const progress = h("p", { class: "progress", role: "status" });
  const cancel = h("button", { type: "button", class: "btn btn-quiet", onclick: () => dlg.close() }, "Cancel");
  const submit = h("button", {
    type: "submit", class: "btn btn-primary", "data-testid": "new-encounter-submit", "aria-keyshortcuts": "Control+Enter",
  }, "Create and code ", h("kbd", {}, "Ctrl+Enter"));
  const form = h("form", { class: "new-encounter-form", novalidate: true },
    draft && draft.text ? h("p", { class: "muted" }, "Your unsent note is restored.") : null,
    h("div", { class: "field" },
      h("label", { for: "ne-text" }, "Note text (required)"),
      text,
      h("p", { id: "ne-text-hint", class: "hint muted" }, "Paste the clinical note as plain text. Suggested codes are computed when you create the encounter.")),
    h("div", { class: "form-grid" },
      formField("ne-setting", "Setting", setting),
      formField("ne-date", "Date of service", date),
      formField("ne-external", "External id", external),
      formField("ne-payer", "Payer name", payer),
      formField("ne-sex", "Patient sex", sex),
      formField("ne-birth", "Patient birth date", birth)),
    error,
    progress,
    h("div", { class: "dialog-buttons" }, cancel, submit));
  form.addEventListener("input", saveDraft);
  form.addEventListener("change", saveDraft);

  const dlg = openDialog({
    title: "New encounter",
    testid: "new-encounter-dialog",
    body: form,
    className: "dialog-wide",
    onKeydown(e) {
      if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
        e.preventDefault();
        form.requestSubmit();
      } else if (e.key === "Enter" && e.target.matches("input")) {
        e.preventDefault(); // a stray Enter in a short field does not create the encounter
      }
    },
  });

  const setBusy = (on) => {
    state.creating = on;
    if (on) form.setAttribute("aria-busy", "true");
    else form.removeAttribute("aria-busy");
    submit.disabled = on;
    for (const el of [text, date, external, payer, birth]) el.readOnly = on;
    for (const el of [setting, sex]) el.disabled = on;
    progress.textContent = on ? "Creating the encounter and computing its suggested codes…" : "";
    if (!on && dlg.dlg.isConnected && !dlg.dlg.contains(document.activeElement)) text.focus();
  };

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (state.creating) return;
    const v = values();
    if (!v.text.trim()) {
      error.textContent = "Paste or type the note text; it is required.";
      text.focus();
      return;
    }
    saveDraft(); // kept until the encounter exists, whatever happens to this dialog
    error.textContent = "";
    setBusy(true);
    try {
      const enc = await api("POST", "/encounters", newEncounterBody(v));
      state.draft = null;
      createdEncounter(enc, dlg.dlg.isConnected);
      dlg.close();
    } catch (err) {
      createFailed(err, dlg, error, controls);
    } finally {
      setBusy(false);
    }
  });
  text.focus();
}

/** After 201: opens the new encounter, unless the dialog was closed while it was being created. */
function createdEncounter(enc, stillOpen) {
  const n = ((enc.suggestion_set && enc.suggestion_set.suggestions) || []).length;
  announce(`Created ${enc.external_id || enc.id} with ${n} suggested code${n === 1 ? "" : "s"}.`, "ok");
  if (stillOpen) openEncounter(enc.id);
  else if (state.view === "worklist" && ui.tbody && state.worklist.query) loadWorklist(state.worklist.query);
}

/** A refused or failed create: the message goes in the dialog, next to the form as it was typed. */
function createFailed(err, dlg, error, controls) {
  const stillOpen = dlg.dlg.isConnected;
  if (err.status === 401) {
    // api() has sent the page to the sign-in form; the draft stays in memory for this person.
    dlg.close();
    const username = $("#login-username");
    if (username) username.focus();
    announce("Your session ended before the encounter was created. Sign in again and press n: your note is kept.", "error");
    return;
  }
  if (!stillOpen) {
    announce(`The encounter was not created: ${err.message}. Press n to try again; your note is kept.`, "error");
    return;
  }
  error.textContent = err.status === 403 ? `You may not create encounters: ${err.message}` : `Not created: ${err.message}`;
  const m = err.message;
  const at = ["external_id", "payer", "birth_date", "date_of_service", "sex", "setting"].find((k) => m.includes(k));
  (at ? controls[at] : controls.text).focus();
}

// ---------------------------------------------------------------------------------------------
// Encounter: loading and the view's skeleton
// ---------------------------------------------------------------------------------------------

async function showEncounter(id) {
  state.view = "encounter";
  state.lastEncounterId = id;
  state.claim = null; // the newest claim is read again each time the encounter is opened
  if (!state.enc || state.enc.id !== id) {
    state.selectedKey = null;
    state.hoverCode = null;
  }
  mount(h("p", { class: "loading" }, "Loading encounter…"));
  loadReasons().catch(() => {}); // needed by the reason picker and the decision lines; retried there
  try {
    const enc = await api("GET", `/encounters/${encodeURIComponent(id)}`);
    if (state.view !== "encounter" || parseHash(location.hash).id !== id) return;
    setEncounter(enc);
    ui.codes.focus({ preventScroll: true });
  } catch (err) {
    if (err.status === 401) return;
    const what = err.status === 404 ? "There is no encounter with this id." : `Could not load the encounter: ${err.message}.`;
    mount(h("section", { class: "notice" }, h("h1", {}, "Encounter not shown"), h("p", {}, what),
      h("p", {}, h("a", { href: "#/worklist" }, "Back to the worklist"))));
  }
}

async function reloadEncounter() {
  if (!state.enc) return;
  const id = state.enc.id;
  try {
    const enc = await api("GET", `/encounters/${encodeURIComponent(id)}`);
    if (state.view === "encounter" && state.enc && state.enc.id === id) setEncounter(enc);
  } catch (err) {
    if (err.status !== 401) announce(`Could not reload the encounter: ${err.message}.`, "error");
  }
}

/** Shows `enc` (an Encounter from the API), keeping the selected code when it is still there. */
function setEncounter(enc) {
  state.enc = enc;
  state.versions.set(enc.id, enc.version);
  state.rows = buildRows(enc);
  if (!ui.encRoot || ui.encRoot.dataset.id !== enc.id) buildEncounterView(enc);
  ensureSelection();
  renderHead();
  const noteKey = `${enc.id}/${enc.suggestion_set ? enc.suggestion_set.id : ""}`;
  if (state.noteKey !== noteKey || !ui.note.hasChildNodes()) {
    renderNote(ui.note, enc.text || "", state.rows);
    state.noteKey = noteKey;
  }
  renderCodes();
  updateSelection({ reveal: false });
  syncClaim(enc);
  if (document.activeElement === document.body) ui.codes.focus({ preventScroll: true });
  if (ui.audit.open) loadAudit();
}

/** Keeps the selected code if it is still listed, else selects the first pending (or first) one. */
function ensureSelection() {
  if (state.rows.some((r) => r.key === state.selectedKey)) return;
  const firstPending = state.rows.find((r) => r.state === "pending");
  state.selectedKey = (firstPending || state.rows[0] || {}).key || null;
}

function buildEncounterView(enc) {
  const note = h("div", { class: "note", "data-testid": "note-text", tabindex: "0", role: "region", "aria-labelledby": "note-title" });
  note.addEventListener("click", onNoteClick);
  note.addEventListener("mouseover", (e) => linkRowsToMark(e.target.closest("mark")));
  note.addEventListener("mouseleave", () => linkRowsToMark(null));

  const codes = h("ul", { id: "codes", class: "codes", role: "listbox", tabindex: "0", "aria-labelledby": "codes-title" });
  codes.addEventListener("click", (e) => {
    const li = e.target.closest("li[data-code]");
    if (li) selectKey(li.dataset.key, { reveal: true });
  });
  codes.addEventListener("mouseover", (e) => {
    const li = e.target.closest("li[data-code]");
    if (li && li.dataset.code !== state.hoverCode) hoverCode(li.dataset.code);
  });
  codes.addEventListener("mouseleave", () => hoverCode(null));
  codes.addEventListener("keydown", (e) => {
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      e.preventDefault();
      moveSelection(e.key === "ArrowDown" ? 1 : -1);
    }
  });

  const audit = h("details", { class: "audit", "data-testid": "audit-panel" },
    h("summary", {}, "Audit trail"), h("div", { class: "audit-body" }));
  audit.addEventListener("toggle", () => audit.open && loadAudit());

  const root = h("div", { class: "encounter", "data-id": enc.id },
    h("div", { class: "enc-head" }),
    h("div", { class: "banner", hidden: true, "data-testid": "finalized-banner" }),
    h("div", { class: "panes" },
      h("section", { class: "pane pane-note", "aria-labelledby": "note-title" },
        h("h2", { id: "note-title", class: "pane-title" }, "Note"), note),
      h("section", { class: "pane pane-codes", "aria-labelledby": "codes-title" },
        buildSearch(),
        h("div", { class: "codes-head" }, h("h2", { id: "codes-title", class: "pane-title" }, "Codes"),
          h("div", { class: "toolbar", role: "toolbar", "aria-label": "Selected code" })),
        codes,
        h("p", { class: "empty", hidden: true }, "No suggested or added codes yet. Press / to search for a code to add."),
        buildClaimPanel(),
        audit)));
  mount(root);
  ui = {
    encRoot: root, head: $(".enc-head", root), banner: $(".banner", root), note, codes, audit,
    auditBody: $(".audit-body", root), toolbar: $(".toolbar", root), empty: $(".pane-codes > .empty", root),
    search: $("#code-search", root), results: $("#search-results", root),
    claim: $("[data-testid=claim-panel]", root), claimBody: $(".claim-body", root),
    claimError: $("[data-testid=claim-error]", root), claimProgress: $(".claim-progress", root),
    claimActions: $(".claim-actions", root),
  };
  state.noteKey = null;
}

// ---------------------------------------------------------------------------------------------
// Encounter: header, banner, note, code list
// ---------------------------------------------------------------------------------------------

function canEdit() {
  return Boolean(state.user && EDIT_ROLES.has(state.user.role));
}

function renderHead() {
  const enc = state.enc;
  const finalized = enc.status === "finalized";
  const p = enc.patient || {};
  const fact = (label, value) => h("div", {}, h("dt", {}, label), h("dd", {}, value || "—"));
  const patient = [p.name, p.sex, p.birth_date ? `born ${p.birth_date}` : ""].filter(Boolean).join(", ");
  const set = enc.suggestion_set || {};
  ui.head.replaceChildren(
    h("div", { class: "enc-title" },
      h("a", { href: "#/worklist", class: "back" }, "← Worklist"),
      h("h1", {}, enc.external_id || enc.id),
      h("span", { class: `pill pill-${enc.status}`, "data-testid": "encounter-status", "data-status": enc.status },
        finalized ? "Finalized" : "Open"),
      finalized // reopen is offered in the banner
        ? null
        : h("span", { class: "actions" },
          h("button", { type: "button", class: "btn btn-primary", disabled: !canEdit(), onclick: openFinalize, "aria-keyshortcuts": "f" },
            "Finalize… ", h("kbd", {}, "f")))),
    h("dl", { class: "facts" },
      fact("Date of service", enc.date_of_service),
      fact("Setting", enc.setting),
      fact("Patient", patient),
      fact("Provider", enc.provider && (enc.provider.name || enc.provider.npi)),
      fact("Payer", enc.payer && (enc.payer.name || enc.payer.id)),
      fact("Model", set.model),
      fact("Code set", set.code_set_release),
      fact("Version", String(enc.version))),
  );
  ui.banner.hidden = !finalized;
  ui.banner.replaceChildren(
    ...(finalized
      ? [h("strong", {}, "Finalized"),
        ` by ${personName(enc.finalized_by) || "—"} on ${formatDateTime(enc.finalized_at)}. Codes are locked; reopen to change them. `,
        h("button", { type: "button", class: "btn", disabled: !canEdit(), onclick: openReopen }, "Reopen…")]
      : []),
  );
  ui.encRoot.classList.toggle("is-finalized", finalized);
}

/** The note as text nodes, evidence pieces wrapped in <mark data-codes="A B">. */
function renderNote(container, text, rows) {
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

function renderCodes() {
  ui.codes.replaceChildren(...state.rows.map(codeRow));
  ui.empty.hidden = state.rows.length > 0;
  ui.codes.hidden = state.rows.length === 0;
}

function codeRow(r, i) {
  // The first "consider" row opens that group: a coder sees where the proposal ends.
  const opensConsider = r.group === "consider" && (i === 0 || state.rows[i - 1].group !== "consider");
  return h(
    "li",
    {
      id: `code-opt-${i}`, role: "option",
      class: `code-row state-${r.state} group-${r.group}${opensConsider ? " group-start" : ""}`, "aria-selected": "false",
      "data-testid": "code-row", "data-code": r.code, "data-system": r.system, "data-state": r.state, "data-key": r.key,
      "data-group": r.group,
    },
    opensConsider
      ? h("div", { class: "group-label", "data-testid": "consider-label" }, "Consider: weak or no supporting words in this note")
      : null,
    h("div", { class: "code-line" },
      h("span", { class: "code" }, r.code),
      h("span", { class: "system" }, r.system),
      h("span", { class: "score", title: "Model score" }, r.suggested && r.score !== null ? pct(r.score) : ""),
      r.group === "consider" ? h("span", { class: "chip chip-consider" }, "consider") : null,
      h("span", { class: `chip chip-${r.state}` }, STATE_LABELS[r.state] || r.state)),
    h("div", { class: "desc" }, r.description),
    r.warnings.length
      ? h("ul", { class: "badges", "aria-label": "Warnings" }, r.warnings.map((w) => h("li", { class: `badge ${warningKind(w)}` }, w)))
      : null,
    decisionLine(r),
  );
}

function decisionLine(r) {
  if (r.state === "pending" || !r.decided_by) return null;
  const parts = [`${STATE_LABELS[r.state] || r.state} by ${personName(r.decided_by)}`];
  if (r.decided_at) parts.push(formatDateTime(r.decided_at));
  if (r.replaces) parts.push(`replaces ${r.replaces}`);
  if (r.reason) parts.push(`reason: ${reasonLabel(r.reason)}`);
  if (r.note) parts.push(`note: ${r.note}`);
  return h("div", { class: "decided" }, parts.join(" · "));
}

function renderToolbar(row) {
  const editable = canEdit() && state.enc.status === "open";
  ui.toolbar.replaceChildren(
    h("span", { class: "selected-label" }, row ? `Selected: ${row.code}` : "No code selected"),
    h("button", { type: "button", class: "btn", disabled: !row || !editable, "aria-keyshortcuts": "a", onclick: acceptSelected },
      "Accept ", h("kbd", {}, "a")),
    h("button", { type: "button", class: "btn", disabled: !row || !editable, "aria-keyshortcuts": "r", onclick: rejectSelected },
      "Reject… ", h("kbd", {}, "r")),
    h("span", { class: "saving", hidden: !(state.sending || state.queue.length) }, "Saving…"),
  );
}

// ---------------------------------------------------------------------------------------------
// Encounter: selection and highlights
// ---------------------------------------------------------------------------------------------

const selectedRow = () => state.rows.find((r) => r.key === state.selectedKey) || null;

function selectKey(key, { reveal }) {
  state.selectedKey = key;
  updateSelection({ reveal });
}

function moveSelection(delta) {
  if (!state.rows.length) return;
  const i = state.rows.findIndex((r) => r.key === state.selectedKey);
  const next = Math.min(state.rows.length - 1, Math.max(0, (i < 0 ? 0 : i + delta)));
  selectKey(state.rows[next].key, { reveal: true });
}

function updateSelection({ reveal }) {
  let active = null;
  for (const li of ui.codes.children) {
    const on = li.dataset.key === state.selectedKey;
    li.setAttribute("aria-selected", String(on));
    if (on) active = li;
  }
  if (active) {
    ui.codes.setAttribute("aria-activedescendant", active.id);
    if (reveal) active.scrollIntoView({ block: "nearest" });
  } else {
    ui.codes.removeAttribute("aria-activedescendant");
  }
  const row = selectedRow();
  renderToolbar(row);
  applyHighlights();
  if (reveal && row) revealEvidence(row.code);
}

function hoverCode(code) {
  state.hoverCode = code;
  applyHighlights();
  if (code) revealEvidence(code);
}

function applyHighlights() {
  const sel = selectedRow();
  const selected = sel ? sel.code : null;
  for (const mark of ui.note.querySelectorAll("mark[data-codes]")) {
    const codes = mark.dataset.codes.split(" ");
    mark.classList.toggle("active", selected !== null && codes.includes(selected));
    mark.classList.toggle("hover", state.hoverCode !== null && codes.includes(state.hoverCode));
  }
}

function revealEvidence(code) {
  const first = [...ui.note.querySelectorAll("mark[data-codes]")].find((m) => m.dataset.codes.split(" ").includes(code));
  revealInPane(first, ui.note);
}

/** A click on a highlight selects its code; clicking again cycles through the codes it covers. */
function onNoteClick(e) {
  const mark = e.target.closest("mark[data-codes]");
  if (!mark) return;
  const codes = mark.dataset.codes.split(" ");
  const sel = selectedRow();
  const at = sel ? codes.indexOf(sel.code) : -1;
  const code = codes[(at + 1) % codes.length];
  const row = state.rows.find((r) => r.code === code);
  if (!row) return;
  state.selectedKey = row.key;
  updateSelection({ reveal: false });
  const li = ui.codes.querySelector(`li[data-key="${CSS.escape(row.key)}"]`);
  if (li) li.scrollIntoView({ block: "nearest" });
}

function linkRowsToMark(mark) {
  const codes = mark ? mark.dataset.codes.split(" ") : [];
  for (const li of ui.codes.children) li.classList.toggle("linked", codes.includes(li.dataset.code));
}

// ---------------------------------------------------------------------------------------------
// Encounter: changes (decisions, finalize, reopen), sent one at a time
// ---------------------------------------------------------------------------------------------

function editGuard() {
  if (!state.enc) return false;
  if (!canEdit()) {
    announce(`Your role (${state.user.role}) can view this encounter but not change its codes.`, "error");
    return false;
  }
  if (state.enc.status !== "open") {
    announce("This encounter is finalized; reopen it to change its codes.", "error");
    return false;
  }
  return true;
}

/** Queues a POST of `body` + the encounter's version; `label` names it in messages. */
function enqueue(path, body, label) {
  state.queue.push({ encId: state.enc.id, path, body, label });
  if (state.view === "encounter") renderToolbar(selectedRow());
  pump();
}

function decide(decision, label) {
  enqueue("decisions", { decisions: [decision] }, label);
}

async function pump() {
  if (state.sending) return;
  state.sending = true;
  try {
    while (state.queue.length) {
      const item = state.queue[0];
      const version = state.versions.get(item.encId);
      try {
        const res = await api("POST", `/encounters/${encodeURIComponent(item.encId)}/${item.path}`, { ...item.body, version });
        state.queue.shift();
        await takeAnswer(res, item.encId);
        announce(`Saved: ${item.label}.`, "ok");
      } catch (err) {
        const unsent = state.queue.splice(0).slice(1);
        await changeFailed(err, item, unsent);
      }
    }
  } finally {
    state.sending = false;
    if (state.view === "encounter" && ui.encRoot) {
      ensureSelection(); // e.g. after a failed add of a code that is not listed
      updateSelection({ reveal: false });
    }
  }
}

/** The answer of a change: the new Encounter; anything else (not in the contract) means reload. */
async function takeAnswer(res, encId) {
  const onScreen = state.view === "encounter" && state.enc && state.enc.id === encId;
  if (res && res.id === encId && typeof res.version === "number") state.versions.set(encId, res.version);
  if (!onScreen) return;
  if (res && res.id === encId && typeof res.text === "string" && Array.isArray(res.codes)) setEncounter(res);
  else await reloadEncounter();
}

async function changeFailed(err, item, unsent) {
  const others = unsent.length ? ` Also not saved: ${unsent.map((u) => u.label).join(", ")}.` : "";
  const onScreen = state.view === "encounter" && state.enc && state.enc.id === item.encId;
  let message;
  if (err.status === 401) {
    message = `Not saved: ${item.label} — you are signed out; sign in and decide again.${others}`;
  } else if (err.status === 409 && err.code === "version_conflict") {
    message = `Someone else changed this encounter; reloaded — please check and decide again. Not saved: ${item.label}.${others}`;
  } else if (err.status === 409 && err.code === "encounter_finalized") {
    message = `This encounter is finalized, so it was not changed. Not saved: ${item.label}. Reopen it to change codes.${others}`;
  } else {
    message = `Not saved: ${item.label} — ${err.message}.${others}`;
  }
  announce(message, "error");
  if (onScreen && err.status === 409) await reloadEncounter();
  if (err.status === 401) announce(message, "error"); // after the sign-in notice, keep this one visible
}

function acceptSelected() {
  const row = selectedRow();
  if (!row || !editGuard()) return;
  decide({ action: "accept", code: row.code, system: row.system }, `accept ${row.code}`);
}

function rejectSelected() {
  const row = selectedRow();
  if (!row || !editGuard()) return;
  openReasonPicker(row);
}

async function openReasonPicker(row) {
  let reasons;
  try {
    reasons = await loadReasons();
  } catch (err) {
    if (err.status !== 401) announce(`Could not load the reject reasons: ${err.message}.`, "error");
    return;
  }
  const error = h("p", { class: "form-error", role: "alert" });
  const noteInput = h("input", { id: "reject-note", type: "text", maxlength: "500", autocomplete: "off" });
  const options = reasons.map((r, i) =>
    h("label", { class: "reason", "data-testid": "reason-option", "data-reason": r.code },
      h("input", { type: "radio", name: "reason", value: r.code, checked: r.code === row.reason }),
      h("span", { class: "reason-key", "aria-hidden": "true" }, i < 9 ? String(i + 1) : ""),
      h("span", {}, r.label)));
  const form = h("form", { class: "reason-form" },
    h("p", { class: "muted" }, `${row.code} — ${row.description}`),
    h("fieldset", {}, h("legend", {}, "Reason (keys 1–9)"), options),
    h("div", { class: "field" }, h("label", { for: "reject-note" }, "Note (optional)"), noteInput),
    error,
    h("div", { class: "dialog-buttons" },
      h("button", { type: "button", class: "btn btn-quiet", onclick: () => dlg.close() }, "Cancel"),
      h("button", { type: "submit", class: "btn btn-primary", "data-testid": "reason-confirm" }, "Reject")));
  const radios = () => [...form.querySelectorAll("input[type=radio]")];
  const dlg = openDialog({
    title: `Reject ${row.code}`,
    testid: "reason-picker",
    body: form,
    onKeydown(e) {
      if (/^[1-9]$/.test(e.key) && e.target !== noteInput && radios()[Number(e.key) - 1]) {
        e.preventDefault();
        const radio = radios()[Number(e.key) - 1];
        radio.checked = true;
        radio.focus();
      } else if (e.key === "Enter" && !e.target.closest("button, textarea")) {
        e.preventDefault();
        form.requestSubmit();
      }
    },
  });
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const picked = radios().find((r) => r.checked);
    if (!picked) {
      error.textContent = "Pick a reason (keys 1–9).";
      (radios()[0] || noteInput).focus();
      return;
    }
    const decision = { action: "reject", code: row.code, system: row.system, reason: picked.value };
    const note = noteInput.value.trim();
    if (note) decision.note = note;
    dlg.close();
    decide(decision, `reject ${row.code}`);
  });
  (radios().find((r) => r.checked) || radios()[0] || noteInput).focus();
}

function openFinalize() {
  if (!editGuard()) return;
  const enc = state.enc;
  const coded = state.rows.filter((r) => r.state === "accepted" || r.state === "added");
  const pending = state.rows.filter((r) => r.state === "pending");
  const body = h("div", {},
    coded.length
      ? h("p", {}, `Lock ${enc.external_id || enc.id} with ${coded.length} code${coded.length === 1 ? "" : "s"}: ${coded.map((r) => r.code).join(", ")}.`)
      : h("p", { class: "form-error" }, "No code is accepted or added yet; accept or add at least one first."),
    pending.length ? h("p", {}, `${pending.length} suggestion${pending.length === 1 ? " is" : "s are"} still pending and will not be coded.`) : null,
    state.queue.length ? h("p", {}, "Your last decisions are still being saved; finalizing waits for them.") : null,
    h("div", { class: "dialog-buttons" },
      h("button", { type: "button", class: "btn btn-quiet", onclick: () => dlg.close() }, "Cancel"),
      h("button", {
        type: "button", class: "btn btn-primary", "data-testid": "finalize-confirm", disabled: !coded.length,
        onclick: () => {
          dlg.close();
          enqueue("finalize", {}, "finalize");
        },
      }, "Finalize")));
  const dlg = openDialog({ title: "Finalize this encounter?", testid: "finalize-dialog", body });
  const confirm = $("[data-testid=finalize-confirm]", dlg.dlg);
  (confirm.disabled ? $("button", dlg.dlg) : confirm).focus();
}

function openReopen() {
  if (!state.enc || !canEdit()) return;
  const error = h("p", { class: "form-error", role: "alert" });
  const reason = h("textarea", { id: "reopen-reason", rows: "3", maxlength: "1000", required: true });
  const form = h("form", { novalidate: true },
    h("div", { class: "field" }, h("label", { for: "reopen-reason" }, "Why reopen it? (required, kept in the audit trail)"), reason),
    error,
    h("div", { class: "dialog-buttons" },
      h("button", { type: "button", class: "btn btn-quiet", onclick: () => dlg.close() }, "Cancel"),
      h("button", { type: "submit", class: "btn btn-primary", "data-testid": "reopen-confirm" }, "Reopen")));
  const dlg = openDialog({ title: "Reopen this encounter?", testid: "reopen-dialog", body: form });
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const text = reason.value.trim();
    if (!text) {
      error.textContent = "Give a reason to reopen.";
      reason.focus();
      return;
    }
    dlg.close();
    enqueue("reopen", { reason: text }, "reopen");
  });
  reason.focus();
}

// ---------------------------------------------------------------------------------------------
// Encounter: code search (combobox) to add codes
// ---------------------------------------------------------------------------------------------

function buildSearch() {
  const input = h("input", {
    id: "code-search", type: "search", role: "combobox", "aria-autocomplete": "list", "aria-expanded": "false",
    "aria-controls": "search-results", autocomplete: "off", spellcheck: "false", placeholder: "Code or words",
    "data-testid": "code-search", "aria-keyshortcuts": "/",
  });
  const results = h("ul", { id: "search-results", class: "search-results", role: "listbox", "aria-label": "Matching codes", hidden: true });
  input.addEventListener("input", () => {
    clearTimeout(state.search.timer);
    state.search.timer = setTimeout(runSearch, SEARCH_DELAY_MS);
  });
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
    h("label", { for: "code-search" }, "Add a code ", h("kbd", {}, "/")), input, results);
}

async function runSearch() {
  clearTimeout(state.search.timer);
  const q = ui.search.value.trim();
  const seq = ++state.search.seq;
  if (!q) {
    state.search.results = [];
    state.search.q = "";
    renderResults();
    return;
  }
  try {
    const found = await api("GET", `/codes/search?${new URLSearchParams({ q: q.slice(0, 100), limit: String(SEARCH_LIMIT) })}`);
    if (seq !== state.search.seq || !ui.search) return;
    state.search.results = found || [];
    state.search.q = q;
    state.search.active = state.search.results.length ? 0 : -1;
    renderResults();
  } catch (err) {
    if (seq !== state.search.seq || err.status === 401) return;
    state.search.results = [];
    state.search.q = q;
    renderResults(`Search failed: ${err.message}.`);
  }
}

function renderResults(message) {
  const { results, active } = state.search;
  const items = results.map((c, i) =>
    h("li", {
      id: `search-opt-${i}`, role: "option", class: "search-result", "aria-selected": String(i === active),
      "data-testid": "search-result", "data-code": c.code, "data-system": c.system, "data-index": i,
    },
    h("span", { class: "code" }, c.code), " ", h("span", { class: "system" }, c.system), " ",
    h("span", { class: "desc" }, c.description),
    c.billable === false ? h("span", { class: "badge warn-header" }, "not billable") : null));
  if (!items.length && state.search.q) items.push(h("li", { class: "search-empty", "aria-disabled": "true" }, message || "No matching code."));
  ui.results.replaceChildren(...items);
  showResults(items.length > 0);
  if (active >= 0) {
    ui.search.setAttribute("aria-activedescendant", `search-opt-${active}`);
    ui.results.children[active].scrollIntoView({ block: "nearest" });
  } else {
    ui.search.removeAttribute("aria-activedescendant");
  }
}

function showResults(show) {
  if (!ui.results) return;
  ui.results.hidden = !show;
  ui.search.setAttribute("aria-expanded", String(show));
}

function onSearchKey(e) {
  const s = state.search;
  if (e.key === "ArrowDown" || e.key === "ArrowUp") {
    e.preventDefault();
    if (!s.results.length) return;
    s.active = (s.active + (e.key === "ArrowDown" ? 1 : -1) + s.results.length) % s.results.length;
    renderResults();
  } else if (e.key === "Enter") {
    e.preventDefault();
    if (s.q !== ui.search.value.trim()) runSearch(); // results are for older text: search first
    else if (s.active >= 0) addFromSearch(s.results[s.active]);
  } else if (e.key === "Escape") {
    e.preventDefault();
    if (!ui.results.hidden) showResults(false);
    else ui.codes.focus();
  }
}

function resetSearch() {
  clearTimeout(state.search.timer);
  state.search = { seq: state.search.seq + 1, q: "", results: [], active: -1, timer: 0 };
  ui.search.value = "";
  renderResults();
}

function addFromSearch(c) {
  if (!c || !editGuard()) return;
  const key = codeKey(c);
  const row = state.rows.find((r) => r.key === key);
  resetSearch();
  state.selectedKey = key;
  if (row) updateSelection({ reveal: true });
  ui.codes.focus({ preventScroll: true });
  if (row && (row.state === "accepted" || row.state === "added")) {
    announce(`${c.code} is already on this encounter (${STATE_LABELS[row.state].toLowerCase()}).`);
  } else if (row && row.suggested) {
    decide({ action: "accept", code: c.code, system: c.system }, `accept ${c.code}`); // a suggested code is accepted, not added
  } else {
    decide({ action: "add", code: c.code, system: c.system }, `add ${c.code}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Encounter: the claim (finalized encounters; billers and admins build it, coders read it)
// ---------------------------------------------------------------------------------------------

let claimSeq = 0; // the newest claim request; older answers are dropped

function canBuildClaim() {
  return Boolean(state.user && BILL_ROLES.has(state.user.role));
}

function canReadClaim() {
  return Boolean(state.user && CLAIM_READ_ROLES.has(state.user.role));
}

/** `draft`: render a claim with scrubber errors anyway, to look at (the API refuses it otherwise). */
function claimPath(encId, format, draft = false) {
  const path = `/encounters/${encodeURIComponent(encId)}/claim`;
  if (!format) return path;
  return `${path}?format=${encodeURIComponent(format)}${draft ? "&draft=true" : ""}`;
}

/** The panel's fixed parts; renderClaim() fills them. Shown for finalized encounters only. */
function buildClaimPanel() {
  const build = canBuildClaim()
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

/** After the encounter is (re)drawn: show the panel for a finalized encounter, read its newest claim once. */
function syncClaim(enc) {
  if (!ui.claim) return;
  if (enc.status !== "finalized" || !canReadClaim()) {
    if (state.claim && state.claim.encId === enc.id) state.claim = null; // reopened: read again once finalized
    ui.claim.hidden = true;
    return;
  }
  ui.claim.hidden = false;
  if (!state.claim || state.claim.encId !== enc.id) loadClaim(enc.id);
  else renderClaim();
}

function claimCurrent(encId, seq) {
  return Boolean(state.claim && state.claim.encId === encId && state.claim.seq === seq && state.view === "encounter" && ui.claim);
}

/** GET the newest claim as JSON; 404 means none is built yet. */
async function loadClaim(encId) {
  const seq = ++claimSeq;
  state.claim = { encId, status: "loading", record: null, error: "", building: false, seq };
  renderClaim();
  try {
    const record = await api("GET", claimPath(encId, "json"));
    if (!claimCurrent(encId, seq)) return;
    state.claim.record = record;
    state.claim.status = "shown";
  } catch (err) {
    if (err.status === 401 || !claimCurrent(encId, seq)) return;
    if (err.status === 404) {
      state.claim.status = "none";
    } else {
      state.claim.status = "failed";
      state.claim.error = `Could not load the claim: ${err.message}`;
    }
  }
  renderClaim();
}

/** POST the claim (build and scrub); a refusal (422: what the encounter lacks) shows in the panel. */
async function buildClaim() {
  const enc = state.enc;
  if (!enc || !ui.claim) return;
  if (!canBuildClaim()) {
    announce(`Only billers and admins build claims; you are signed in as ${state.user.role}.`, "error");
    return;
  }
  if (enc.status !== "finalized") {
    announce("Finalize the encounter before building its claim.", "error");
    return;
  }
  if (state.claim && state.claim.encId === enc.id && state.claim.building) return;
  const seq = ++claimSeq;
  const prev = state.claim && state.claim.encId === enc.id ? state.claim : null;
  const record = prev ? prev.record : null;
  state.claim = { encId: enc.id, status: record ? "shown" : "none", record, error: "", building: true, seq };
  renderClaim();
  try {
    const built = await api("POST", claimPath(enc.id));
    if (!claimCurrent(enc.id, seq)) return;
    state.claim = { ...state.claim, record: built, status: "shown", building: false };
    const id = (built.claim && built.claim.claim_id) || built.id;
    announce(`Claim ${id} built — ${claimStatusText(built)}`, built.clean ? "ok" : "info");
  } catch (err) {
    if (!claimCurrent(enc.id, seq)) return;
    state.claim.building = false;
    if (err.status === 401) {
      state.claim.error = "The claim was not built: you are signed out; sign in and build it again.";
    } else if (err.status === 403) {
      state.claim.error = `The claim was not built: ${err.message}`;
    } else {
      state.claim.error = `The claim was not built — ${err.message}`;
      announce("The claim was not built; the Claim panel says why.", "error");
    }
  }
  renderClaim();
  if (ui.claim) ui.claim.scrollIntoView({ block: "nearest" });
}

function renderClaim() {
  if (!ui.claim) return;
  const c = state.claim && state.enc && state.claim.encId === state.enc.id ? state.claim : null;
  const building = Boolean(c && c.building);
  const loading = Boolean(c && c.status === "loading");
  if (building || loading) ui.claim.setAttribute("aria-busy", "true");
  else ui.claim.removeAttribute("aria-busy");
  const button = $("[data-testid=build-claim]", ui.claim);
  if (button) button.setAttribute("aria-disabled", String(building)); // stays focusable while it works
  ui.claimProgress.textContent = building
    ? "Building the claim and running the scrubber's edits…"
    : loading ? "Loading the claim…" : "";
  ui.claimError.textContent = c && c.error ? c.error : "";
  if (!c || loading || c.status === "failed") {
    ui.claimBody.replaceChildren();
  } else if (!c.record) {
    ui.claimBody.replaceChildren(h("p", { class: "muted" }, canBuildClaim()
      ? "No claim built yet. Press c or Build claim to build it and run the scrubber's edits."
      : "No claim built yet; a biller builds it."));
  } else {
    ui.claimBody.replaceChildren();
    appendChildren(ui.claimBody, claimRecordView(c.record)); // skips the parts that are null
  }
}

function claimRecordView(record) {
  const claim = record.claim || {};
  const diagnoses = claim.diagnoses || [];
  const lines = claim.lines || [];
  const payer = claim.payer || {};
  const sub = claim.subscriber || {};
  const bp = claim.billing_provider || {};
  const enc = state.enc;
  const stale = enc && typeof record.encounter_version === "number" && record.encounter_version !== enc.version;
  const fact = (label, value) => h("div", {}, h("dt", {}, label), h("dd", {}, value || "—"));
  const pointerText = (line) => (line.pointers || []).join(", ") || "—";
  const pointerTitle = (line) => (line.pointers || []).map((p) => (diagnoses[p - 1] ? `${p}: ${diagnoses[p - 1].code}` : String(p))).join(", ");
  // A claim with scrubber errors is never sent: its FHIR and CMS-1500 views open as drafts; its 837P stays refused.
  const draft = !record.clean;
  const link = (format, testid, text, attrs, asDraft = false) =>
    h("a", { href: API + claimPath(record.encounter_id || enc.id, format, asDraft), "data-testid": testid, class: "btn", ...attrs }, asDraft ? `${text} · draft` : text);
  const claimId = claim.claim_id || String(record.id);

  return [
    h("p", { class: `claim-status ${record.clean ? "claim-clean" : "claim-dirty"}`, "data-testid": "claim-status", "data-clean": String(Boolean(record.clean)) },
      claimStatusText(record)),
    h("p", { class: "muted claim-meta" },
      `Claim ${claimId} · built ${formatDateTime(record.created_at)} from encounter version ${record.encounter_version ?? "—"}`),
    stale
      ? h("p", { class: "claim-stale" },
        `The encounter has changed since (it is at version ${enc.version}); ${canBuildClaim() ? "build the claim again" : "a biller must build it again"}.`)
      : null,
    claimFindingsView(record.findings || []),
    h("dl", { class: "facts claim-facts" },
      fact("Claim id", claimId),
      fact("Payer", [payer.name, payer.payer_id ? `(${payer.payer_id})` : ""].filter(Boolean).join(" ")),
      fact("Member id", sub.member_id),
      fact("Subscriber", [sub.last_name, sub.first_name].filter(Boolean).join(", ")),
      fact("Billing provider", [bp.name || [bp.last_name, bp.first_name].filter(Boolean).join(", "), bp.npi ? `NPI ${bp.npi}` : ""].filter(Boolean).join(" · "))),
    h("h3", { id: "claim-dx-title" }, `Diagnoses (${diagnoses.length})`),
    h("table", { class: "claim-table", "aria-labelledby": "claim-dx-title" },
      h("thead", {}, h("tr", {}, h("th", { scope: "col", class: "num" }, "#"), h("th", { scope: "col" }, "Code"), h("th", { scope: "col" }, "Description"))),
      h("tbody", {}, diagnoses.map((d, i) => h("tr", { "data-testid": "claim-diagnosis", "data-code": d.code },
        h("th", { scope: "row", class: "num" }, String(i + 1)),
        h("td", { class: "code" }, d.code),
        h("td", { class: "wrap" }, d.description || "—"))))),
    h("h3", { id: "claim-lines-title" }, `Service lines (${lines.length})`),
    h("table", { class: "claim-table", "aria-labelledby": "claim-lines-title" },
      h("thead", {}, h("tr", {},
        h("th", { scope: "col", class: "num" }, "Line"), h("th", { scope: "col" }, "Code"), h("th", { scope: "col" }, "Modifiers"),
        h("th", { scope: "col", class: "num" }, "Units"), h("th", { scope: "col", class: "num" }, "Charge"),
        h("th", { scope: "col" }, "Diagnoses"), h("th", { scope: "col" }, "Date"))),
      h("tbody", {}, lines.map((l, i) => h("tr", { "data-testid": "claim-line", "data-code": l.code, "data-pointers": pointerList(l) },
        h("th", { scope: "row", class: "num" }, String(i + 1)),
        h("td", {}, h("span", { class: "code" }, l.code), l.system ? h("span", { class: "system" }, ` ${l.system}`) : null),
        h("td", {}, (l.modifiers || []).join(", ") || "—"),
        h("td", { class: "num" }, l.units ?? "—"),
        h("td", { class: "num" }, money(l.charge)),
        h("td", { title: pointerTitle(l) }, pointerText(l)),
        h("td", {}, l.service_date || "—")))),
      h("tfoot", {}, h("tr", {},
        h("th", { scope: "row", colspan: "4" }, "Total charge"),
        h("td", { class: "num", "data-testid": "claim-total" }, money(claim.total_charge)),
        h("td", { colspan: "2" })))),
    h("div", { class: "claim-formats", role: "group", "aria-label": "Claim formats" },
      link("837p", "claim-download-837p", "Download 837P (X12)", {
        download: `${claimId}.x12`, onclick: (e) => downloadClaim(e, `${claimId}.x12`, "837P"),
      }),
      link("fhir", "claim-fhir", "FHIR Claim (JSON)", {
        download: `${claimId}.fhir.json`, onclick: (e) => downloadClaim(e, `${claimId}.fhir.json`, "FHIR Claim"),
      }, draft),
      link("cms1500-html", "claim-open-cms1500", "Printable CMS-1500 (opens in a new tab)", { target: "_blank", rel: "noopener" }, draft)),
  ];
}

function claimFindingsView(findings) {
  const groups = groupFindings(findings);
  if (!groups.length) return null;
  return h("div", { class: "claim-findings" }, groups.map((g) => {
    const titleId = `claim-findings-${g.severity.replace(/[^a-z0-9-]/gi, "")}`;
    return h("section", { class: `findings findings-${g.severity}`, "aria-labelledby": titleId },
      h("h3", { id: titleId }, `${SEVERITY_LABELS[g.severity] || g.severity} (${g.items.length})`),
      h("ul", { class: "finding-list" }, g.items.map((f) => h("li", {
        class: `finding finding-${g.severity}`, "data-testid": "claim-finding", "data-edit": f.edit, "data-severity": f.severity,
      },
      h("div", { class: "finding-head" }, h("span", { class: "code" }, f.edit), " ", h("span", { class: "muted" }, `at ${f.where || "claim"}`)),
      h("div", {}, f.message),
      f.fix ? h("div", { class: "finding-fix" }, h("strong", {}, "Fix: "), f.fix) : null,
      f.suggestions && f.suggestions.length
        ? h("div", { class: "finding-suggestions" }, "Suggested codes:",
          h("ul", {}, f.suggestions.map((code) => h("li", { class: "code" }, code))))
        : null))));
  }));
}

/** A format link: fetched with the session cookie and saved as a file, so a refusal shows here. */
async function downloadClaim(e, filename, label) {
  e.preventDefault();
  const url = e.currentTarget.href;
  const encId = state.enc && state.enc.id;
  const fail = (message) => {
    if (!state.claim || state.claim.encId !== encId || !ui.claim) return;
    state.claim.error = `Could not download the ${label}: ${message}`;
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
  const blobUrl = URL.createObjectURL(await res.blob());
  const a = h("a", { href: blobUrl, download: filename, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(blobUrl), 60_000);
  if (state.claim && state.claim.encId === encId && state.claim.error.startsWith("Could not download")) {
    state.claim.error = "";
    renderClaim();
  }
  announce(`Downloaded ${filename}.`, "ok");
}

// ---------------------------------------------------------------------------------------------
// Encounter: audit trail
// ---------------------------------------------------------------------------------------------

async function loadAudit() {
  const id = state.enc.id;
  try {
    const res = await api("GET", `/encounters/${encodeURIComponent(id)}/audit`);
    if (!state.enc || state.enc.id !== id || !ui.audit) return;
    renderAudit(res.events || []);
  } catch (err) {
    if (err.status !== 401 && ui.auditBody) ui.auditBody.replaceChildren(h("p", { class: "form-error" }, `Could not load the audit trail: ${err.message}.`));
  }
}

function renderAudit(events) {
  $("summary", ui.audit).textContent = `Audit trail (${events.length})`;
  if (!events.length) {
    ui.auditBody.replaceChildren(h("p", { class: "muted" }, "No events."));
    return;
  }
  ui.auditBody.replaceChildren(
    h("table", { class: "audit-table" },
      h("thead", {}, h("tr", {}, ["When", "Who", "Action", "Details"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, events.map((ev) => h("tr", { "data-action": ev.action },
        h("td", {}, formatDateTime(ev.at)),
        h("td", {}, ev.actor ? `${ev.actor.username} (${ev.actor.role})` : "system"),
        h("td", {}, AUDIT_LABELS[ev.action] || ev.action),
        h("td", { class: "detail" }, formatDetail(ev.detail)))))));
}

// ---------------------------------------------------------------------------------------------
// Keyboard
// ---------------------------------------------------------------------------------------------

function onKeyDown(e) {
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
  const handled =
    feedbackKey(e, feedbackContext(), state.view === "feedback") ||
    (state.view === "worklist" ? worklistKey(e) : state.view === "encounter" && ui.encRoot ? encounterKey(e) : false);
  if (handled) e.preventDefault();
}

function encounterKey(e) {
  switch (e.key) {
    case "j":
      moveSelection(1);
      return true;
    case "k":
      moveSelection(-1);
      return true;
    case "a":
      acceptSelected();
      return true;
    case "r":
      rejectSelected();
      return true;
    case "/":
      ui.search.focus();
      ui.search.select();
      return true;
    case "f":
      openFinalize();
      return true;
    case "c":
      buildClaim();
      return true;
    case "g":
      go("#/worklist");
      return true;
    default:
      return false;
  }
}

// ---------------------------------------------------------------------------------------------
// Start
// ---------------------------------------------------------------------------------------------

async function boot() {
  wireChrome();
  try {
    state.user = await api("GET", "/auth/me");
  } catch (err) {
    state.user = null;
    if (err.status !== 401) announce(`Could not check the session: ${err.message}.`, "error");
  }
  showUser();
  await route();
}

if (typeof document !== "undefined" && typeof window !== "undefined") boot();
