"""Coder review: encounters, suggestion sets, decisions, finalization, the audit trail, and the
users, keys and sessions that say who did what."""
