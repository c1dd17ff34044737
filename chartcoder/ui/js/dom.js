// Building and placing elements (text only ever as text nodes), and the aria-live status line.

import { resetElements, setStatusTimer, state } from "./store.js";

/** h("button", {type: "button", onclick: f}, "Text", child) — text children become text nodes. */
export function h(tag, attrs = {}, ...children) {
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

/** Appends children (nested arrays flattened); null, undefined and false are left out. */
export function appendChildren(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

export const $ = (sel, root = document) => root.querySelector(sel);

/** Replaces what <main> shows; the previous view's elements are forgotten. */
export function mount(...nodes) {
  resetElements();
  const main = $("#main");
  main.replaceChildren(...nodes);
  return main;
}

export function isTyping(target) {
  return Boolean(
    target && target.closest && target.closest("input, textarea, select, [contenteditable=''], [contenteditable='true']"),
  );
}

/** Scrolls `pane` so that `el` is visible, only if it is not already. */
export function revealInPane(el, pane) {
  if (!el || !pane) return;
  const er = el.getBoundingClientRect();
  const pr = pane.getBoundingClientRect();
  if (er.top >= pr.top && er.bottom <= pr.bottom) return;
  pane.scrollTop += er.top - pr.top - pane.clientHeight / 3;
}

/** A message in the aria-live status region; errors stay until the next message. */
export function announce(message, kind = "info") {
  const el = $("#status");
  clearTimeout(state.statusTimer);
  el.className = `status status-${kind}`;
  el.textContent = message;
  if (kind !== "error") setStatusTimer(setTimeout(() => (el.textContent = ""), 8000));
}
