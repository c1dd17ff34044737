"""Persistence: the engine, sessions and migrations (`database`), the declarative base (`base`) and one
table module per domain (`accounts`, `audit`, `review`, `claims`, `registry`, `cds`). Nothing here knows about
HTTP, roles or coding rules; the packages above read and write these tables."""
