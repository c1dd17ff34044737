// How a claim record reads in the Claim panel: clean or not, the scrubber's findings by severity, the
// parties, the diagnoses numbered as on the claim, the service lines and the format links. The pure
// helpers (status text, findings grouping, pointers, the claim's URL) are exported for tests.

import { h } from "./dom.js";
import { formatDateTime, money, plural } from "./format.js";
import { API } from "./http.js";

const SEVERITY_LABELS = { error: "Errors", warning: "Warnings" };

/** `draft`: render a claim with scrubber errors anyway, to look at (the API refuses it otherwise). */
export function claimPath(encId, format, draft = false) {
  const path = `/encounters/${encodeURIComponent(encId)}/claim`;
  if (!format) return path;
  return `${path}?format=${encodeURIComponent(format)}${draft ? "&draft=true" : ""}`;
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

const fact = (label, value) => h("div", {}, h("dt", {}, label), h("dd", {}, value || "—"));

function partiesView(claim, claimId) {
  const payer = claim.payer || {};
  const sub = claim.subscriber || {};
  const bp = claim.billing_provider || {};
  const provider = bp.name || [bp.last_name, bp.first_name].filter(Boolean).join(", ");
  return h("dl", { class: "facts claim-facts" },
    fact("Claim id", claimId),
    fact("Payer", [payer.name, payer.payer_id ? `(${payer.payer_id})` : ""].filter(Boolean).join(" ")),
    fact("Member id", sub.member_id),
    fact("Subscriber", [sub.last_name, sub.first_name].filter(Boolean).join(", ")),
    fact("Billing provider", [provider, bp.npi ? `NPI ${bp.npi}` : ""].filter(Boolean).join(" · ")));
}

function diagnosesView(diagnoses) {
  return [
    h("h3", { id: "claim-dx-title" }, `Diagnoses (${diagnoses.length})`),
    h("table", { class: "claim-table", "aria-labelledby": "claim-dx-title" },
      h("thead", {}, h("tr", {}, h("th", { scope: "col", class: "num" }, "#"), h("th", { scope: "col" }, "Code"), h("th", { scope: "col" }, "Description"))),
      h("tbody", {}, diagnoses.map((d, i) => h("tr", { "data-testid": "claim-diagnosis", "data-code": d.code },
        h("th", { scope: "row", class: "num" }, String(i + 1)),
        h("td", { class: "code" }, d.code),
        h("td", { class: "wrap" }, d.description || "—"))))),
  ];
}

function linesView(claim, diagnoses) {
  const lines = claim.lines || [];
  const pointerText = (line) => (line.pointers || []).join(", ") || "—";
  const pointerTitle = (line) => (line.pointers || []).map((p) => (diagnoses[p - 1] ? `${p}: ${diagnoses[p - 1].code}` : String(p))).join(", ");
  return [
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
  ];
}

/**
 * The format links. A claim with scrubber errors is never sent: its FHIR and CMS-1500 views open as
 * drafts; its 837P stays refused. `onDownload(event, filename, label)` fetches and saves a file.
 */
function formatsView(record, encId, claimId, onDownload) {
  const draft = !record.clean;
  const link = (format, testid, text, attrs, asDraft = false) =>
    h("a", { href: API + claimPath(encId, format, asDraft), "data-testid": testid, class: "btn", ...attrs }, asDraft ? `${text} · draft` : text);
  return h("div", { class: "claim-formats", role: "group", "aria-label": "Claim formats" },
    link("837p", "claim-download-837p", "Download 837P (X12)", {
      download: `${claimId}.x12`, onclick: (e) => onDownload(e, `${claimId}.x12`, "837P"),
    }),
    link("fhir", "claim-fhir", "FHIR Claim (JSON)", {
      download: `${claimId}.fhir.json`, onclick: (e) => onDownload(e, `${claimId}.fhir.json`, "FHIR Claim"),
    }, draft),
    link("cms1500-html", "claim-open-cms1500", "Printable CMS-1500 (opens in a new tab)", { target: "_blank", rel: "noopener" }, draft));
}

function findingView(f, severity) {
  return h("li", {
    class: `finding finding-${severity}`, "data-testid": "claim-finding", "data-edit": f.edit, "data-severity": f.severity,
  },
  h("div", { class: "finding-head" }, h("span", { class: "code" }, f.edit), " ", h("span", { class: "muted" }, `at ${f.where || "claim"}`)),
  h("div", {}, f.message),
  f.fix ? h("div", { class: "finding-fix" }, h("strong", {}, "Fix: "), f.fix) : null,
  f.suggestions && f.suggestions.length
    ? h("div", { class: "finding-suggestions" }, "Suggested codes:",
      h("ul", {}, f.suggestions.map((code) => h("li", { class: "code" }, code))))
    : null);
}

function findingsView(findings) {
  const groups = groupFindings(findings);
  if (!groups.length) return null;
  return h("div", { class: "claim-findings" }, groups.map((g) => {
    const titleId = `claim-findings-${g.severity.replace(/[^a-z0-9-]/gi, "")}`;
    return h("section", { class: `findings findings-${g.severity}`, "aria-labelledby": titleId },
      h("h3", { id: titleId }, `${SEVERITY_LABELS[g.severity] || g.severity} (${g.items.length})`),
      h("ul", { class: "finding-list" }, g.items.map((f) => findingView(f, g.severity))));
  }));
}

/**
 * The parts of the panel for `record` (a claim record from the API) of encounter `enc`; `canBuild`:
 * whether the reader may build it again; `onDownload` fetches a format (see formatsView).
 */
export function claimRecordView(record, enc, { canBuild, onDownload }) {
  const claim = record.claim || {};
  const diagnoses = claim.diagnoses || [];
  const stale = enc && typeof record.encounter_version === "number" && record.encounter_version !== enc.version;
  const claimId = claim.claim_id || String(record.id);
  return [
    h("p", { class: `claim-status ${record.clean ? "claim-clean" : "claim-dirty"}`, "data-testid": "claim-status", "data-clean": String(Boolean(record.clean)) },
      claimStatusText(record)),
    h("p", { class: "muted claim-meta" },
      `Claim ${claimId} · built ${formatDateTime(record.created_at)} from encounter version ${record.encounter_version ?? "—"}`),
    stale
      ? h("p", { class: "claim-stale" },
        `The encounter has changed since (it is at version ${enc.version}); ${canBuild ? "build the claim again" : "a biller must build it again"}.`)
      : null,
    findingsView(record.findings || []),
    partiesView(claim, claimId),
    diagnosesView(diagnoses),
    linesView(claim, diagnoses),
    formatsView(record, record.encounter_id || enc.id, claimId, onDownload),
  ];
}
