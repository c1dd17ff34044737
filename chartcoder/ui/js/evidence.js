// Evidence offsets and the note's text split into highlightable pieces (pure: no DOM, no state).

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
