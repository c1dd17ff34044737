// What each role may do on the page: one table, mirroring the API's checks (the API still decides).

export const PERMISSIONS = {
  edit: new Set(["coder", "admin"]), // decide codes, finalize, reopen
  create: new Set(["coder", "admin"]), // POST /v1/encounters (ehr is for API keys, not people)
  buildClaim: new Set(["biller", "admin"]), // POST /v1/encounters/{id}/claim
  readClaim: new Set(["biller", "admin", "coder"]), // GET /v1/encounters/{id}/claim
  feedback: new Set(["data_scientist", "admin"]), // GET /v1/analytics/feedback
  sendBack: new Set(["biller", "admin"]), // POST /v1/encounters/{id}/send-back
};

/** may(user, "edit"): whether the signed-in `user` ({role, …} or null) may do it. */
export function may(user, action) {
  return Boolean(user && PERMISSIONS[action] && PERMISSIONS[action].has(user.role));
}
