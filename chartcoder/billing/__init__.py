"""Billing: claim assembly from finalized encounters, scrubber edits, and the 837P, FHIR Claim and
CMS-1500 writers."""
