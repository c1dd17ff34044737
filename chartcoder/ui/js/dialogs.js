// Dialogs: native <dialog> shown modal; Tab is kept inside; Escape closes; focus returns where it was.

import { $, h } from "./dom.js";
import { els } from "./store.js";

/** Opens a modal dialog; answers {dlg, close}. `onKeydown` gets every key but Tab. */
export function openDialog({ title, testid, body, onKeydown, className }) {
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
    const back = opener && opener.isConnected && opener !== document.body ? opener : els.codes || $("#main");
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

export const dialogOpen = () => Boolean(document.querySelector("dialog[open]"));
