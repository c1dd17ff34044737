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
