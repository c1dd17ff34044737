"""Coder review: encounters and their suggestion sets, decisions, finalization, the audit trail, the
retraining export and the feedback analytics (people, keys and sessions are in `chartcoder.accounts`)."""
