// The reject reasons ({code, label}), loaded once: the reason picker and the decision lines use them.

import { api } from "./session.js";
import { setReasons, state } from "./store.js";

export async function loadReasons() {
  if (!state.reasons) setReasons(await api("GET", "/review/reasons"));
  return state.reasons;
}

export function reasonLabel(code) {
  const r = (state.reasons || []).find((x) => x.code === code);
  return r ? r.label : code;
}
