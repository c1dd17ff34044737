// chartcoder review page: the "Model feedback" view (#/feedback), for data scientists and admins.
//
// How coders' final decisions judge the model: the acceptance rate over time per pack version (an
// inline SVG chart, with the same numbers in a table beside it), the codes most often rejected and
// most often added by hand (the model's blind spots), and the numbers per pack. One GET of
// /v1/analytics/feedback per filter change; the definitions are in docs/review-api.md.
// Nothing here touches note text. The pure helpers (query, chart geometry, formatting) are exported
// for tests.

import { announce, h, mount } from "./dom.js";
import { may } from "./roles.js";
import { go } from "./routes.js";
import { api } from "./session.js";
import { nextFeedbackRequest, rememberPacks, setView, state } from "./store.js";

const SVG_NS = "http://www.w3.org/2000/svg";
const CHART = { width: 720, height: 260, left: 48, right: 28, top: 14, bottom: 38 };
// Series colours, each at least 3:1 against white (WCAG non-text contrast); a marker shape per series
// as well, so no line is told apart by colour alone.
const COLOURS = ["#0b5cad", "#b35900", "#1a7f37", "#8250df", "#a40e26", "#57606a"];
const SHAPES = ["circle", "square", "triangle", "diamond"];
const MAX_X_LABELS = 8;

/** Filters from the hash query: only well-formed values survive. */
export function feedbackQuery(q) {
  const day = (v) => (/^\d{4}-\d{2}-\d{2}$/.test(v || "") ? v : "");
  return {
    since: day(q.since),
    until: day(q.until),
    pack: (q.pack || "").trim().slice(0, 200),
    bucket: q.bucket === "week" ? "week" : "day",
    include_open: q.include_open === "1" || q.include_open === "true" ? "true" : "",
  };
}

/** "0.7143" -> "71.4%"; null (nothing decided) -> "—". */
export function rateText(x) {
  return typeof x === "number" && Number.isFinite(x) ? `${(x * 100).toFixed(1)}%` : "—";
}

/** A short x-axis label: "11-16" for a day, "W47" for an ISO week. */
export function periodLabel(period) {
  const week = /^\d{4}-(W\d{2})$/.exec(period);
  if (week) return week[1];
  return /^\d{4}-\d{2}-\d{2}$/.test(period) ? period.slice(5) : period;
}

/**
 * Geometry of the over-time chart: x positions per period (evenly spaced, in order), y for a rate
 * (0 at the bottom, 1 at the top), one series per pack with its points, and which periods get an
 * x label (at most MAX_X_LABELS, evenly picked, always the first and the last).
 */
export function chartModel(overTime, size = CHART) {
  const periods = (overTime && overTime.periods) || [];
  const plotW = size.width - size.left - size.right;
  const plotH = size.height - size.top - size.bottom;
  const index = new Map(periods.map((p, i) => [p.period, i]));
  const x = (i) => size.left + (periods.length > 1 ? (plotW * i) / (periods.length - 1) : plotW / 2);
  const y = (rate) => size.top + plotH * (1 - rate);
  const step = Math.max(1, Math.ceil(periods.length / MAX_X_LABELS));
  const picked = periods.map((_, i) => i).filter((i) => i % step === 0);
  const last = periods.length - 1;
  if (last > 0 && picked[picked.length - 1] !== last) {
    if (last - picked[picked.length - 1] < step / 2) picked.pop(); // too close to the last one: it wins
    picked.push(last);
  }
  const labels = picked.map((i) => ({ i, period: periods[i].period, x: x(i) }));
  const series = ((overTime && overTime.series) || []).map((s, k) => ({
    pack: s.pack,
    colour: COLOURS[k % COLOURS.length],
    shape: SHAPES[k % SHAPES.length],
    points: s.points
      .filter((p) => typeof p.acceptance_rate === "number" && index.has(p.period))
      .map((p) => ({ ...p, x: x(index.get(p.period)), y: y(p.acceptance_rate) })),
  }));
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((r) => ({ rate: r, y: y(r) }));
  return { size, periods, labels, series, ticks };
}

// ---------------------------------------------------------------------------------------------
// The view
// ---------------------------------------------------------------------------------------------

/** Shows the view for `rawQuery` (the hash query); people who may not see it are told so. */
export async function showFeedback(rawQuery) {
  setView("feedback");
  const user = state.user;
  if (!may(user, "feedback")) {
    mount(h("section", { class: "notice", "data-testid": "feedback-denied" },
      h("h1", {}, "Model feedback"),
      h("p", {}, `Model feedback is for data scientists and admins; you are signed in as ${user ? user.role : "nobody"}.`),
      h("p", {}, h("a", { href: "#/worklist" }, "Back to the worklist"))));
    return;
  }
  const q = feedbackQuery(rawQuery || {});
  const view = buildView(q);
  const mySeq = nextFeedbackRequest();
  const current = () => mySeq === state.feedback.seq && view.root.isConnected;
  view.root.setAttribute("aria-busy", "true");
  view.error.textContent = "";
  try {
    const params = new URLSearchParams({ top: "10" });
    for (const [k, v] of Object.entries(q)) if (v) params.set(k, v);
    const report = await api("GET", `/analytics/feedback?${params}`);
    if (!current()) return;
    rememberPacks(report.by_pack.map((p) => p.pack));
    renderReport(view, report, q);
  } catch (err) {
    if (err.status === 401 || !current()) return;
    view.error.textContent = `Could not load the model feedback: ${err.message}.`;
    announce(`Could not load the model feedback: ${err.message}.`, "error");
  } finally {
    if (view.root.isConnected) view.root.removeAttribute("aria-busy");
  }
}

/** "m" anywhere opens the view (analysts only); "g" on it goes back to the worklist. */
export function feedbackKey(e) {
  const onFeedback = state.view === "feedback";
  if (e.key === "m" && may(state.user, "feedback") && !onFeedback) {
    go("#/feedback");
    return true;
  }
  if (e.key === "g" && onFeedback) {
    go("#/worklist");
    return true;
  }
  return false;
}

function buildView(q) {
  const field = (id, label, control) => h("div", { class: "field" }, h("label", { for: id }, label), control);
  const packs = [...new Set([...state.feedback.packs, ...(q.pack ? [q.pack] : [])])].sort();
  const form = h("form", { class: "filters", "aria-label": "Feedback filters" },
    field("fb-since", "From (UTC day)", h("input", { id: "fb-since", name: "since", type: "date", value: q.since })),
    field("fb-until", "To", h("input", { id: "fb-until", name: "until", type: "date", value: q.until })),
    field("fb-pack", "Pack version", h("select", { id: "fb-pack", name: "pack" },
      h("option", { value: "" }, "All packs"),
      packs.map((p) => h("option", { value: p, selected: p === q.pack }, p)))),
    field("fb-bucket", "Over time by", h("select", { id: "fb-bucket", name: "bucket" },
      h("option", { value: "day", selected: q.bucket === "day" }, "Day"),
      h("option", { value: "week", selected: q.bucket === "week" }, "ISO week"))),
    h("div", { class: "field field-check" },
      h("input", { id: "fb-open", name: "include_open", type: "checkbox", checked: Boolean(q.include_open) }),
      h("label", { for: "fb-open" }, "Include open encounters")),
    h("div", { class: "field field-buttons" },
      h("button", { type: "submit", class: "btn" }, "Apply"),
      h("button", { type: "button", class: "btn btn-quiet", onclick: () => go("#/feedback") }, "Clear")));
  const apply = () => {
    const f = form.elements;
    const next = feedbackQuery({
      since: f.namedItem("since").value, until: f.namedItem("until").value, pack: f.namedItem("pack").value,
      bucket: f.namedItem("bucket").value, include_open: f.namedItem("include_open").checked ? "1" : "",
    });
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(next)) if (v && !(k === "bucket" && v === "day")) params.set(k, k === "include_open" ? "1" : v);
    const qs = params.toString();
    go(qs ? `#/feedback?${qs}` : "#/feedback");
  };
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    apply();
  });
  form.addEventListener("change", (e) => {
    if (e.target.tagName === "SELECT" || e.target.type === "checkbox") apply(); // dates apply on Enter or Apply
  });

  const title = h("h1", { id: "feedback-title", tabindex: "-1" }, "Model feedback");
  const root = h("section", { class: "feedback-view", "data-testid": "feedback-view", "aria-labelledby": "feedback-title" },
    h("div", { class: "view-head" }, title,
      h("p", { class: "muted" }, "How coders' final decisions judge the model's suggestions. ",
        h("kbd", {}, "g"), " back to the worklist.")),
    form,
    h("p", { class: "form-error", role: "alert", "data-testid": "feedback-error" }),
    h("div", { class: "feedback-body" }, h("p", { class: "loading" }, "Loading the model feedback…")));
  const focusedBefore = document.activeElement;
  mount(root);
  if (!focusedBefore || !root.contains(focusedBefore)) title.focus({ preventScroll: true });
  return { root, form, error: root.querySelector("[data-testid=feedback-error]"), body: root.querySelector(".feedback-body") };
}

function renderReport(view, report, q) {
  const t = report.totals;
  if (!t.encounters) {
    view.body.replaceChildren(h("p", { class: "empty", "data-testid": "feedback-empty" },
      q.include_open
        ? "No encounter with a decision matches these filters."
        : "No finalized encounter matches these filters. (Tick “Include open encounters” to count work in progress.)"));
    return;
  }
  const decided = t.accepted + t.rejected;
  const fact = (label, value, testid, hint) =>
    h("div", { "data-testid": testid }, h("dt", {}, label), h("dd", { title: hint || null }, value));
  view.body.replaceChildren(
    h("dl", { class: "facts feedback-totals", "data-testid": "feedback-totals" },
      fact("Encounters", t.encounters.toLocaleString("en-US"), "feedback-encounters"),
      fact("Acceptance rate", `${rateText(t.acceptance_rate)} (${t.accepted} of ${decided} decided)`, "feedback-rate",
        "accepted / (accepted + rejected), each code's final decision"),
      fact("Precision", rateText(t.precision), "feedback-precision", "accepted / all suggestions (undecided count as not coded)"),
      fact("Recall", rateText(t.recall), "feedback-recall", "accepted / (accepted + added by hand)"),
      fact("Added by hand", String(t.added), "feedback-added"),
      fact("Left undecided", String(t.pending), "feedback-pending")),
    chartSection(report),
    h("div", { class: "feedback-lists" }, rejectedSection(report), addedSection(report)),
    packSection(report),
  );
}

function chartSection(report) {
  const over = report.over_time;
  const model = chartModel(over);
  const unit = over.bucket === "week" ? "ISO week" : "day";
  const summary = model.series
    .map((s) => `${s.pack}: ${s.points.map((p) => `${p.period} ${rateText(p.acceptance_rate)}`).join(", ")}`)
    .join("; ");
  const rows = [];
  for (const s of over.series) for (const p of s.points) rows.push({ pack: s.pack, ...p });
  rows.sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : a.pack < b.pack ? -1 : 1));
  return h("section", { class: "feedback-chart", "aria-labelledby": "fb-chart-title" },
    h("h2", { id: "fb-chart-title" }, `Acceptance rate by ${unit}, per pack version`),
    h("figure", { class: "chart-figure" },
      drawChart(model, `Acceptance rate by ${unit}, per pack version`, summary || "No decided suggestions in this range."),
      h("figcaption", {},
        h("ul", { class: "chart-legend", "aria-label": "Pack versions" }, model.series.map((s) =>
          h("li", { "data-testid": "chart-legend-item", "data-pack": s.pack },
            legendMark(s), " ", s.pack))))),
    h("details", { class: "chart-data" },
      h("summary", {}, "The chart's numbers as a table"),
      h("table", { class: "feedback-table", "data-testid": "feedback-period-table", "aria-labelledby": "fb-chart-title" },
        h("thead", {}, h("tr", {},
          h("th", { scope: "col" }, unit === "day" ? "Day" : "Week"), h("th", { scope: "col" }, "Pack version"),
          ["Accepted", "Rejected", "Added", "Acceptance rate"].map((c) => h("th", { scope: "col", class: "num" }, c)))),
        h("tbody", {}, rows.map((r) => h("tr", { "data-testid": "feedback-period-row", "data-period": r.period, "data-pack": r.pack },
          h("th", { scope: "row" }, over.bucket === "week" ? `${r.period} (from ${r.start})` : r.period),
          h("td", {}, r.pack),
          h("td", { class: "num" }, String(r.accepted)),
          h("td", { class: "num" }, String(r.rejected)),
          h("td", { class: "num" }, String(r.added)),
          h("td", { class: "num" }, rateText(r.acceptance_rate))))))));
}

function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== null && v !== undefined) el.setAttribute(k, String(v));
  for (const c of children.flat(Infinity)) if (c !== null && c !== undefined) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

function marker(shape, x, y, colour, r = 4.5) {
  const common = { fill: colour, stroke: "#ffffff", "stroke-width": 1.5 };
  if (shape === "square") return svg("rect", { ...common, x: x - r, y: y - r, width: 2 * r, height: 2 * r });
  if (shape === "triangle") return svg("polygon", { ...common, points: `${x},${y - r - 1} ${x + r + 1},${y + r} ${x - r - 1},${y + r}` });
  if (shape === "diamond") return svg("polygon", { ...common, points: `${x},${y - r - 1} ${x + r + 1},${y} ${x},${y + r + 1} ${x - r - 1},${y}` });
  return svg("circle", { ...common, cx: x, cy: y, r });
}

function legendMark(s) {
  return svg("svg", { class: "legend-mark", width: 28, height: 12, viewBox: "0 0 28 12", "aria-hidden": "true", focusable: "false" },
    svg("line", { x1: 1, y1: 6, x2: 27, y2: 6, stroke: s.colour, "stroke-width": 2 }),
    marker(s.shape, 14, 6, s.colour, 4));
}

function drawChart(model, title, description) {
  const { size } = model;
  const id = `fb-chart-${Date.now()}`;
  const right = size.width - size.right;
  const bottom = size.height - size.bottom;
  return svg("svg", {
    class: "chart", viewBox: `0 0 ${size.width} ${size.height}`, role: "img", "data-testid": "feedback-chart",
    "aria-labelledby": `${id}-title ${id}-desc`, preserveAspectRatio: "xMidYMid meet",
  },
  svg("title", { id: `${id}-title` }, title),
  svg("desc", { id: `${id}-desc` }, description),
  // y grid and labels: 0-100 %
  model.ticks.map((t) => [
    svg("line", { class: "chart-grid", x1: size.left, x2: right, y1: t.y, y2: t.y }),
    svg("text", { class: "chart-axis", x: size.left - 6, y: t.y + 4, "text-anchor": "end" }, `${Math.round(t.rate * 100)}%`),
  ]),
  svg("line", { class: "chart-axis-line", x1: size.left, x2: right, y1: bottom, y2: bottom }),
  model.labels.map((l) => [
    svg("line", { class: "chart-axis-line", x1: l.x, x2: l.x, y1: bottom, y2: bottom + 4 }),
    svg("text", { class: "chart-axis", x: l.x, y: bottom + 18, "text-anchor": "middle" }, periodLabel(l.period)),
  ]),
  model.series.map((s) =>
    svg("g", { class: "chart-series", "data-testid": "chart-series", "data-pack": s.pack },
      s.points.length > 1
        ? svg("polyline", { fill: "none", stroke: s.colour, "stroke-width": 2, points: s.points.map((p) => `${p.x},${p.y}`).join(" ") })
        : null,
      s.points.map((p) =>
        svg("g", {
          "data-testid": "chart-point", "data-pack": s.pack, "data-period": p.period, "data-rate": p.acceptance_rate,
          "data-accepted": p.accepted, "data-rejected": p.rejected,
        },
        svg("title", {}, `${s.pack}, ${p.period}: ${rateText(p.acceptance_rate)} accepted (${p.accepted} of ${p.accepted + p.rejected})`),
        marker(s.shape, p.x, p.y, s.colour))))));
}

function countBar(n, max) {
  const width = max ? Math.max(2, Math.round((100 * n) / max)) : 0;
  return h("span", { class: "count-bar", "aria-hidden": "true" }, h("span", { style: `width: ${width}%` }));
}

function codeCell(c) {
  return h("td", {}, h("span", { class: "code" }, c.code), c.system === "ICD-10-CM" ? null : h("span", { class: "system" }, ` ${c.system}`));
}

function rejectedSection(report) {
  const rows = report.top_rejected;
  const max = Math.max(0, ...rows.map((r) => r.rejected));
  return h("section", { class: "feedback-list", "aria-labelledby": "fb-rejected-title" },
    h("h2", { id: "fb-rejected-title" }, "Most often rejected"),
    rows.length
      ? h("table", { class: "feedback-table", "data-testid": "top-rejected", "aria-labelledby": "fb-rejected-title" },
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Code"), h("th", { scope: "col" }, "Description"),
          h("th", { scope: "col", class: "num" }, "Rejected"), h("th", { scope: "col", class: "num" }, "Rate"),
          h("th", { scope: "col" }, "Top reason"))),
        h("tbody", {}, rows.map((r) => h("tr", { "data-testid": "top-rejected-row", "data-code": r.code, "data-count": r.rejected },
          codeCell(r),
          h("td", { class: "wrap" }, r.description || "—"),
          h("td", { class: "num" }, countBar(r.rejected, max), ` ${r.rejected} of ${r.decided}`),
          h("td", { class: "num" }, rateText(r.rejection_rate)),
          h("td", { class: "wrap" }, r.reasons.length ? `${r.reasons[0].label} (${r.reasons[0].count})` : "—")))))
      : h("p", { class: "muted" }, "No suggestion was rejected."));
}

function addedSection(report) {
  const rows = report.top_added;
  const max = Math.max(0, ...rows.map((r) => r.added));
  return h("section", { class: "feedback-list", "aria-labelledby": "fb-added-title" },
    h("h2", { id: "fb-added-title" }, "Most often added by hand (blind spots)"),
    rows.length
      ? h("table", { class: "feedback-table", "data-testid": "top-added", "aria-labelledby": "fb-added-title" },
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Code"), h("th", { scope: "col" }, "Description"),
          h("th", { scope: "col", class: "num" }, "Added"), h("th", { scope: "col", class: "num" }, "Suggested elsewhere"))),
        h("tbody", {}, rows.map((r) => h("tr", { "data-testid": "top-added-row", "data-code": r.code, "data-count": r.added },
          codeCell(r),
          h("td", { class: "wrap" }, r.description || "—"),
          h("td", { class: "num" }, countBar(r.added, max), ` ${r.added}`),
          h("td", { class: "num" }, String(r.suggested))))))
      : h("p", { class: "muted" }, "No code was added by hand."));
}

function packSection(report) {
  return h("section", { class: "feedback-list", "aria-labelledby": "fb-packs-title" },
    h("h2", { id: "fb-packs-title" }, "By pack version"),
    h("table", { class: "feedback-table", "data-testid": "feedback-packs", "aria-labelledby": "fb-packs-title" },
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Pack version"),
        ["Encounters", "Accepted", "Rejected", "Undecided", "Added", "Acceptance rate", "Precision", "Recall"].map((c) =>
          h("th", { scope: "col", class: "num" }, c)),
        h("th", { scope: "col" }, "Dates"))),
      h("tbody", {}, report.by_pack.map((p) => h("tr", { "data-testid": "feedback-pack-row", "data-pack": p.pack },
        h("th", { scope: "row" }, p.pack),
        [p.encounters, p.accepted, p.rejected, p.pending, p.added].map((n) => h("td", { class: "num" }, String(n))),
        [p.acceptance_rate, p.precision, p.recall].map((x) => h("td", { class: "num" }, rateText(x))),
        h("td", {}, p.first === p.last ? p.first : `${p.first} to ${p.last}`))))));
}
