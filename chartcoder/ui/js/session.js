// The session: every API call of the page goes through api(), which notices a session that ended
// (401) and sends the page to the sign-in form, remembering where it was. Also the header's user line
// and signing out.

import { $, announce } from "./dom.js";
import { request } from "./http.js";
import { may } from "./roles.js";
import { go } from "./routes.js";
import { forgetSession, setAfterLogin, setUser, state } from "./store.js";

/** request() for the signed-in page: a 401 (but a refused sign-in) ends the session here too. */
export async function api(method, path, body) {
  try {
    return await request(method, path, body);
  } catch (err) {
    if (err.status === 401 && state.user && path !== "/auth/login") sessionEnded();
    throw err;
  }
}

export function sessionEnded() {
  setUser(null);
  showUser();
  const here = location.hash;
  if (!here.startsWith("#/login")) setAfterLogin(here || "#/worklist");
  announce("Your session has ended; please sign in again.", "error");
  go("#/login");
}

/** Whoever the cookie belongs to, if anyone (the page's first request). */
export async function loadSession() {
  try {
    setUser(await request("GET", "/auth/me"));
  } catch (err) {
    setUser(null);
    if (err.status !== 401) announce(`Could not check the session: ${err.message}.`, "error");
  }
  showUser();
}

export function showUser() {
  const u = state.user;
  $("#who").textContent = u ? `${u.display_name || u.username} · ${u.role}` : "";
  $("#sign-out").hidden = !u;
  $("#nav").hidden = !u;
  $("#nav-feedback").hidden = !may(u, "feedback");
}

export async function signOut() {
  try {
    await api("POST", "/auth/logout");
  } catch (err) {
    if (err.status !== 401) announce(`Sign-out failed: ${err.message}.`, "error");
  }
  forgetSession();
  showUser();
  announce("Signed out.");
  go("#/login");
}
