"""Accounts: people, API keys (stored and static), sign-in sessions, passwords and the principal a
request acts as. Persistence and rules only; HTTP (cookies, sign-in throttling) stays in `api/`."""
