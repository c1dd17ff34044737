// The code rows of an encounter: its suggestions in the model's order, then the codes a person added
// (pure: no DOM, no state).

export function codeKey(c) {
  return `${c.system} ${c.code}`;
}

/** Who decided a code, when and why: the same fields on every row. */
function decided(c) {
  return {
    reason: c.reason ?? null,
    note: c.note ?? null,
    replaces: c.replaces ?? null,
    decided_by: c.decided_by ?? null,
    decided_at: c.decided_at ?? null,
  };
}

function suggestedRow(s, c) {
  return {
    key: codeKey(s),
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
  };
}

function addedRow(c) {
  return {
    key: codeKey(c),
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
  };
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
  for (const s of suggestions) {
    const key = codeKey(s);
    if (seen.has(key)) continue;
    seen.add(key);
    rows.push(suggestedRow(s, current.get(key) || {}));
  }
  for (const c of codes) {
    const key = codeKey(c);
    if (seen.has(key)) continue;
    seen.add(key);
    rows.push(addedRow(c));
  }
  return rows;
}

/**
 * The row to select after deciding on the row `key`: the next pending row below it, else the first
 * pending row above it, else the row just below (or the last). The decided row counts as decided
 * even while its change is still being saved.
 */
export function nextAfterDecision(rows, key) {
  const i = rows.findIndex((r) => r.key === key);
  if (i < 0) return rows.length ? rows[0].key : null;
  const pending = (r) => r.state === "pending" && r.key !== key;
  const below = rows.slice(i + 1).find(pending);
  if (below) return below.key;
  const above = rows.slice(0, i).find(pending);
  if (above) return above.key;
  return rows[Math.min(i + 1, rows.length - 1)].key;
}
