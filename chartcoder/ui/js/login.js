// The sign-in form (#/login).

import { announce, h, mount } from "./dom.js";
import { go } from "./routes.js";
import { api, showUser } from "./session.js";
import { setUser, setView, state } from "./store.js";

function loginForm() {
  const username = h("input", {
    id: "login-username", name: "username", autocomplete: "username", autocapitalize: "none",
    spellcheck: "false", required: true, "data-testid": "login-username",
  });
  const password = h("input", {
    id: "login-password", name: "password", type: "password", autocomplete: "current-password",
    required: true, "data-testid": "login-password",
  });
  const error = h("p", { id: "login-error", class: "form-error", role: "alert" });
  const submit = h("button", { type: "submit", class: "btn btn-primary", "data-testid": "login-submit" }, "Sign in");
  const form = h(
    "form",
    { class: "login", "aria-labelledby": "login-title", novalidate: true },
    h("h1", { id: "login-title" }, "Sign in to chartcoder"),
    h("div", { class: "field" }, h("label", { for: "login-username" }, "Username"), username),
    h("div", { class: "field" }, h("label", { for: "login-password" }, "Password"), password),
    error,
    submit,
  );
  return { form, username, password, error, submit };
}

async function signIn(f) {
  const { username, password, error, submit } = f;
  if (!username.value.trim() || !password.value) {
    error.textContent = "Enter your username and password.";
    (username.value.trim() ? password : username).focus();
    return;
  }
  submit.disabled = true;
  error.textContent = "";
  try {
    const res = await api("POST", "/auth/login", { username: username.value.trim(), password: password.value });
    setUser(res.user);
    password.value = "";
    showUser();
    announce(`Signed in as ${res.user.display_name || res.user.username}.`, "ok");
    go(state.afterLogin && !state.afterLogin.startsWith("#/login") ? state.afterLogin : "#/worklist");
  } catch (err) {
    error.textContent = err.status === 401 ? "Wrong username or password." : `Could not sign in: ${err.message}.`;
    password.select();
    password.focus();
  } finally {
    submit.disabled = false;
  }
}

export function renderLogin() {
  setView("login");
  const f = loginForm();
  f.form.addEventListener("submit", (e) => {
    e.preventDefault();
    signIn(f);
  });
  mount(f.form);
  f.username.focus();
}
