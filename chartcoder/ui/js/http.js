// The HTTP client of the review API (docs/review-api.md): JSON in and out, the session cookie, and the
// server's error bodies as ApiError. What a 401 means for the page is session.js's business.

export const API = "/v1";

/** One item of a validation `detail` list: the server's {field, message}, or FastAPI's {loc, msg}. */
function validationMessage(x) {
  if (!x || typeof x !== "object") return String(x);
  const text = x.message || x.msg || x.type || "invalid value";
  const field = x.field || (Array.isArray(x.loc) ? x.loc.filter((p) => p !== "body").join(".") : "");
  return field && field !== "body" ? `${field}: ${text}` : text;
}

/** The human message of an error body: `detail` (string or validation list), else `error`. */
export function messageOf(body, status) {
  const d = body && body.detail;
  if (typeof d === "string" && d) return d;
  if (Array.isArray(d) && d.length) return d.map(validationMessage).join("; ");
  if (body && typeof body.error === "string") return body.error.replace(/_/g, " ");
  return status ? `the server answered ${status}` : "no answer from the server";
}

export class ApiError extends Error {
  constructor(status, body) {
    super(messageOf(body, status));
    this.status = status;
    this.code = (body && body.error) || null;
    this.body = body;
  }
}

/** One request to /v1`path`; answers the JSON body, throws ApiError (status 0: no answer). */
export async function request(method, path, body) {
  const headers = { Accept: "application/json" };
  if (method !== "GET") {
    headers["X-Chartcoder-Client"] = "web"; // the CSRF rule for cookie sessions
    headers["Content-Type"] = "application/json";
  }
  let res;
  try {
    res = await fetch(API + path, {
      method,
      headers,
      credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, { error: "network", detail: "could not reach the server; check the connection" });
  }
  const data = res.status === 204 ? null : await res.json().catch(() => null);
  if (res.ok) return data;
  throw new ApiError(res.status, data);
}
