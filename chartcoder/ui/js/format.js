// How numbers, people, dates and audit details read on the page (pure: no DOM, no state).

export function pct(x) {
  return typeof x === "number" && Number.isFinite(x) ? `${Math.round(x * 100)}%` : "—";
}

/** "1 error", "2 errors". */
export function plural(n, word) {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
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

const present = ([, v]) => v !== null && v !== undefined && v !== "";

function detailValue(v) {
  if (Array.isArray(v)) return v.map(detailValue).join(", ");
  if (v && typeof v === "object") {
    return Object.entries(v)
      .filter(present)
      .map(([k, x]) => `${k} ${detailValue(x)}`)
      .join(" ");
  }
  return String(v);
}

/** An audit event's detail object as one line: "reason: wrong_code; note: …". */
export function formatDetail(detail) {
  if (!detail || typeof detail !== "object") return detail == null ? "" : String(detail);
  return Object.entries(detail)
    .filter(present)
    .map(([k, v]) => `${k}: ${detailValue(v)}`)
    .join("; ");
}

/** "303.00" (the claim's decimal strings) -> "$303.00"; anything not a number is shown as it is. */
export function money(value) {
  const n = Number(value);
  if (value === null || value === undefined || value === "" || !Number.isFinite(n)) return value == null ? "—" : String(value);
  return n.toLocaleString("en-US", { style: "currency", currency: "USD" });
}

export function formatDateTime(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

/** How a piece of evidence's assertion reads (the NLP's ConText labels; "present" is the plain case). */
const ASSERTIONS = {
  present: "present",
  negated: "negated",
  family: "family history",
  historical: "history",
  hypothetical: "uncertain",
  uncertain: "uncertain",
  other_person: "someone else",
};

export function assertionLabel(assertion) {
  return ASSERTIONS[assertion] || (assertion ? String(assertion).replace(/_/g, " ") : "present");
}

/** A section name as the note wrote it ("assessment_and_plan" -> "assessment and plan"); none -> "no section". */
export function sectionLabel(section) {
  return section ? String(section).replace(/_/g, " ") : "no section";
}

// Keys of the reasons in the reason pickers: 1-9 for the first nine, then the letters of the keyboard's
// top row (q w e t y …), so the 10th, 11th and 12th reasons have one key each too (r is left out: it
// opened the picker).
const MORE_REASON_KEYS = "qwetyuiop";

/** The key of the i-th reason (0-based): "1"…"9", then "q", "w", "e", … ; "" past the last key. */
export function reasonKey(i) {
  if (i < 9) return String(i + 1);
  return MORE_REASON_KEYS[i - 9] || "";
}

/** The 0-based reason index a key picks among `n` reasons, or -1. */
export function reasonIndex(key, n) {
  const k = String(key).toLowerCase();
  const i = /^[1-9]$/.test(k) ? Number(k) - 1 : MORE_REASON_KEYS.includes(k) && k ? 9 + MORE_REASON_KEYS.indexOf(k) : -1;
  return i >= 0 && i < n ? i : -1;
}

/** A claim status of the worklist (ClaimSummary.status) as it reads. */
export const CLAIM_STATUS_LABELS = {
  not_built: "Not built",
  clean: "Clean",
  findings: "Has findings",
  outdated: "Outdated (recoded)",
  sent_back: "Sent back to coder",
};

export function claimStatusLabel(status) {
  return status ? CLAIM_STATUS_LABELS[status] || status : "Coding";
}
