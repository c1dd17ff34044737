// The review page's pure helpers and its store, run in Node.js on the real modules (no DOM).
// Usage: node pure_helpers.mjs UI_DIR (a copy of chartcoder/ui that Node reads as ES modules).
// Prints one line per failed check and exits 1 when any failed.

import assert from "node:assert/strict";
import { pathToFileURL } from "node:url";
import { join } from "node:path";

const dir = process.argv[2];
const load = (name) => import(pathToFileURL(join(dir, "js", name)).href);

const { utf16Mapper, evidenceSpans, segmentText } = await load("evidence.js");
const { buildRows, codeKey, nextAfterDecision } = await load("rows.js");
const { parseHash, worklistQuery, toSearchParams, worklistHash, worklistSearchBody } = await load("routes.js");
const {
  formatDetail, money, pct, personName, warningKind, reasonKey, reasonIndex, assertionLabel, sectionLabel, claimStatusLabel,
} = await load("format.js");
const { messageOf, ApiError } = await load("http.js");
const { may } = await load("roles.js");
const { claimPath, claimStatusText, groupFindings, pointerList } = await load("claim-view.js");
const { newEncounterBody } = await load("new-encounter.js");
const { feedbackQuery, chartModel, rateText, periodLabel } = await load("feedback.js");
const store = await load("store.js");

const checks = [];
const check = (name, fn) => checks.push([name, fn]);

check("code-point offsets map to UTF-16 offsets past an astral character", () => {
  const to16 = utf16Mapper("a\u{1F600}b");
  assert.deepEqual([0, 1, 2, 3].map(to16), [0, 1, 3, 4]);
  assert.ok(Number.isNaN(to16(9)));
  assert.equal(utf16Mapper("plain")(3), 3);
});

check("evidence spans: code points, UTF-16 offsets when only those match, invalid ones dropped", () => {
  const text = "a\u{1F600}b fever";
  const rows = [
    { code: "R50.9", evidence: [{ start: 4, end: 9, text: "fever" }] }, // code points
    { code: "R50.8", evidence: [{ start: 5, end: 10, text: "fever" }] }, // UTF-16 offsets
    { code: "X", evidence: [{ start: 7, end: 3 }, { start: 0, end: 99 }] },
  ];
  assert.deepEqual(evidenceSpans(text, rows), [
    { start: 5, end: 10, code: "R50.9" },
    { start: 5, end: 10, code: "R50.8" },
  ]);
});

check("overlapping spans become adjacent pieces listing every covering code", () => {
  const spans = [{ start: 0, end: 5, code: "A" }, { start: 3, end: 8, code: "B" }, { start: 3, end: 5, code: "A" }];
  assert.deepEqual(segmentText(10, spans), [
    { start: 0, end: 3, codes: ["A"] },
    { start: 3, end: 5, codes: ["A", "B"] },
    { start: 5, end: 8, codes: ["B"] },
    { start: 8, end: 10, codes: [] },
  ]);
});

check("code rows: suggestions in order with their state, the consider group, then added codes", () => {
  const enc = {
    suggestion_set: { suggestions: [
      { code: "E11.9", system: "ICD-10-CM", score: 0.9, evidence: [{ start: 0, end: 3 }] },
      { code: "I10", system: "ICD-10-CM", score: 0.2, group: "consider", warnings: ["uncertain"] },
      { code: "E11.9", system: "ICD-10-CM" },
    ] },
    codes: [
      { code: "I10", system: "ICD-10-CM", state: "rejected", reason: "no_support", decided_by: "coder1" },
      { code: "99213", system: "CPT", state: "added", decided_by: "coder1" },
    ],
  };
  const rows = buildRows(enc);
  assert.deepEqual(rows.map((r) => [r.key, r.state, r.group, r.suggested]), [
    ["ICD-10-CM E11.9", "pending", "suggested", true],
    ["ICD-10-CM I10", "rejected", "consider", true],
    ["CPT 99213", "added", "added", false],
  ]);
  assert.equal(rows[1].reason, "no_support");
  assert.deepEqual(rows[1].warnings, ["uncertain"]);
  assert.equal(rows[2].score, null);
  assert.equal(codeKey({ system: "CPT", code: "99213" }), "CPT 99213");
});

check("hash routes and worklist filters", () => {
  assert.deepEqual(parseHash("#/encounter/enc%201?x=1"), { name: "encounter", id: "enc 1", query: { x: "1" } });
  assert.deepEqual(parseHash(""), { name: "worklist", query: {} });
  assert.equal(parseHash("#/feedback?bucket=week").query.bucket, "week");
  assert.equal(parseHash("#/encounter/").name, "worklist");
  const q = worklistQuery({ status: "bogus", offset: "-5", date_from: "2024-01-02", date_to: "2024-1-2", payer: " Acme ", claim_status: "paid" }, "finalized");
  assert.deepEqual(q, { status: "finalized", order: "confidence", date_from: "2024-01-02", date_to: "", payer: "Acme", patient: "", claim_status: "", offset: 0 });
  assert.equal(toSearchParams(q).toString(), "status=finalized&order=confidence&date_from=2024-01-02&payer=Acme");
  const b = worklistQuery({ claim_status: "sent_back", patient: " mrn-42 " }, "finalized");
  assert.equal(toSearchParams(b).toString(), "status=finalized&order=confidence&patient=mrn-42&claim_status=sent_back");
  // The page's address never holds the patient filter (browser history, proxy logs); the search body does.
  assert.equal(worklistHash(b), "#/worklist?status=finalized&order=confidence&claim_status=sent_back");
  assert.equal(worklistHash(worklistQuery({ patient: "Zed Quill" })), "#/worklist?status=open&order=confidence");
  assert.deepEqual(worklistSearchBody(b, 50), { limit: 50, status: "finalized", order: "confidence", patient: "mrn-42", claim_status: "sent_back", offset: 0 });
});

check("the New encounter body leaves empty optional fields out", () => {
  assert.deepEqual(
    newEncounterBody({ text: "note", setting: "x", date_of_service: " 2024-01-02 ", external_id: "", payer: " Acme ", sex: "F", birth_date: "" }),
    { text: "note", setting: "outpatient", date_of_service: "2024-01-02", payer: { name: "Acme" }, patient: { sex: "F" } },
  );
  assert.deepEqual(newEncounterBody({ text: "n", setting: "inpatient", sex: "Z" }), { text: "n", setting: "inpatient" });
});

check("error bodies read as messages", () => {
  assert.equal(messageOf({ detail: [{ loc: ["body", "text"], msg: "field required" }, { field: "sex", message: "bad" }] }, 422),
    "text: field required; sex: bad");
  assert.equal(messageOf({ detail: "missing patient.address" }, 422), "missing patient.address");
  assert.equal(messageOf({ error: "version_conflict" }, 409), "version conflict");
  assert.equal(messageOf(null, 503), "the server answered 503");
  assert.equal(messageOf(null, 0), "no answer from the server");
  const err = new ApiError(409, { error: "encounter_finalized", detail: "finalized" });
  assert.deepEqual([err.status, err.code, err.message], [409, "encounter_finalized", "finalized"]);
});

check("formats", () => {
  assert.equal(pct(0.456), "46%");
  assert.equal(pct(null), "—");
  assert.equal(money("303.00"), "$303.00");
  assert.equal(money(null), "—");
  assert.equal(money("n/a"), "n/a");
  assert.equal(personName({ username: "coder1" }), "coder1");
  assert.equal(personName("coder2"), "coder2");
  assert.equal(warningKind("Header code: not billable"), "warn-header");
  assert.equal(warningKind("Excludes1 with I10"), "warn-excludes");
  assert.equal(formatDetail({ reason: "wrong_code", codes: ["A", "B"], empty: "", by: { user: "x", none: null } }),
    "reason: wrong_code; codes: A, B; by: user x");
});

check("one permission table for the page", () => {
  assert.equal(may({ role: "biller" }, "buildClaim"), true);
  assert.equal(may({ role: "coder" }, "buildClaim"), false);
  assert.equal(may({ role: "coder" }, "readClaim"), true);
  assert.equal(may({ role: "data_scientist" }, "feedback"), true);
  assert.equal(may({ role: "biller" }, "edit"), false);
  assert.equal(may(null, "edit"), false);
  assert.equal(may({ role: "admin" }, "no-such-action"), false);
});

check("claim helpers", () => {
  const record = { clean: false, findings: [{ severity: "error" }, { severity: "error" }, { severity: "warning" }] };
  assert.equal(claimStatusText(record), "Not clean: 2 errors, 1 warning. Errors block sending; fix them and build again.");
  assert.equal(claimStatusText({ clean: true, findings: [{ severity: "warning" }] }), "Clean: no errors, 1 warning to read before sending.");
  assert.equal(claimStatusText({ clean: true }), "Clean: the scrubber found nothing to fix.");
  assert.deepEqual(groupFindings([{ severity: "info" }, { severity: "warning" }, { severity: "error" }, {}]).map((g) => g.severity),
    ["error", "warning", "info", "other"]);
  assert.equal(pointerList({ pointers: [1, 2] }), "1,2");
  assert.equal(claimPath("enc/1", "fhir", true), "/encounters/enc%2F1/claim?format=fhir&draft=true");
  assert.equal(claimPath("e1"), "/encounters/e1/claim");
});

check("feedback filters and chart geometry", () => {
  assert.deepEqual(feedbackQuery({ since: "2024-01-01", until: "bad", bucket: "week", include_open: "1", pack: " p1 " }),
    { since: "2024-01-01", until: "", pack: "p1", bucket: "week", include_open: "true" });
  const over = {
    periods: [{ period: "2024-01-01" }, { period: "2024-01-02" }],
    series: [{ pack: "p1", points: [{ period: "2024-01-01", acceptance_rate: 1 }, { period: "2024-01-02", acceptance_rate: 0 }, { period: "2024-01-02", acceptance_rate: null }] }],
  };
  const model = chartModel(over);
  assert.deepEqual(model.series[0].points.map((p) => [p.x, p.y]), [[48, 14], [692, 222]]);
  assert.deepEqual(model.labels.map((l) => l.period), ["2024-01-01", "2024-01-02"]);
  assert.equal(rateText(0.7143), "71.4%");
  assert.equal(periodLabel("2024-W07"), "W07");
  assert.equal(periodLabel("2024-11-16"), "11-16");
});

check("the store: worklist page, selection, encounter subscribers, changes queue", () => {
  const { state } = store;
  store.setLastEncounter("e2");
  store.setWorklistPage([{ id: "e1" }, { id: "e2" }, { id: "e3" }], 3);
  assert.equal(state.worklist.selected, 1); // the encounter last opened stays selected
  store.moveWorklistSelection(5);
  assert.equal(state.worklist.selected, 2);
  store.moveWorklistSelection(-9);
  assert.equal(state.worklist.selected, 0);

  const seen = [];
  const stop = store.subscribe("encounter", (enc) => seen.push([enc.id, state.rows.length, state.versions.get(enc.id)]));
  const enc = { id: "e9", version: 4, codes: [{ code: "A", system: "S", state: "accepted" }, { code: "B", system: "S", state: "pending" }] };
  store.setEncounter(enc);
  stop();
  store.setEncounter({ ...enc, version: 5 });
  assert.deepEqual(seen, [["e9", 2, 4]]);
  store.ensureSelection();
  assert.equal(state.selectedKey, "S B"); // the first pending code

  store.pushChange({ label: "one" });
  store.pushChange({ label: "two" });
  store.changeSaved();
  assert.deepEqual(store.dropChanges().map((c) => c.label), ["two"]);
  assert.equal(state.queue.length, 0);

  store.setUser({ username: "coder1", role: "coder" });
  store.saveDraft({ text: "typed" });
  assert.deepEqual(store.myDraft(), { text: "typed" });
  store.setUser({ username: "coder2", role: "coder" });
  assert.equal(store.myDraft(), null); // never shown to someone else
  store.forgetSession();
  assert.deepEqual([state.user, state.draft, state.enc, state.afterLogin], [null, null, null, "#/worklist"]);

  store.setSearchResults("dia", [{ code: "E11.9" }, { code: "E10.9" }]);
  store.moveSearchActive(-1);
  assert.equal(state.search.active, 1); // wraps
  store.setSearchResults("", []);
  assert.equal(state.search.active, -1);
});

check("every reason has one key: 1-9, then q w e for the 10th-12th, and a key picks only a listed reason", () => {
  assert.deepEqual([...Array(12).keys()].map(reasonKey), ["1", "2", "3", "4", "5", "6", "7", "8", "9", "q", "w", "e"]);
  assert.deepEqual(["1", "9", "q", "W", "e", "t", "0", "r", "a"].map((k) => reasonIndex(k, 12)), [0, 8, 9, 10, 11, -1, -1, -1, -1]);
  assert.equal(reasonIndex("e", 11), -1); // only 11 reasons: no 12th
  for (let i = 0; i < 12; i++) assert.equal(reasonIndex(reasonKey(i), 12), i);
});

check("the selection after a decision: the next pending code below, else above, else the next row", () => {
  const rows = ["A", "B", "C", "D"].map((code, i) => ({ key: code, state: ["accepted", "pending", "rejected", "pending"][i] }));
  assert.equal(nextAfterDecision(rows, "B"), "D");
  assert.equal(nextAfterDecision(rows, "D"), "B"); // nothing pending below: the first pending above
  const done = rows.map((r) => ({ ...r, state: "accepted" }));
  assert.equal(nextAfterDecision(done, "B"), "C");
  assert.equal(nextAfterDecision(done, "D"), "D");
  assert.equal(nextAfterDecision([], "X"), null);
});

check("evidence assertions, sections and claim statuses read as words", () => {
  assert.deepEqual(["negated", "family", "historical", "hypothetical", "present", undefined, "other_person"].map(assertionLabel),
    ["negated", "family history", "history", "uncertain", "present", "present", "someone else"]);
  assert.equal(sectionLabel("assessment_and_plan"), "assessment and plan");
  assert.equal(sectionLabel(null), "no section");
  assert.deepEqual(["not_built", "sent_back", null].map(claimStatusLabel), ["Not built", "Sent back to coder", "Coding"]);
});

let failed = 0;
for (const [name, fn] of checks) {
  try {
    fn();
  } catch (err) {
    failed += 1;
    console.log(`FAILED: ${name}\n${err.message}`);
  }
}
console.log(`${checks.length - failed} of ${checks.length} checks passed`);
process.exit(failed ? 1 : 0);
