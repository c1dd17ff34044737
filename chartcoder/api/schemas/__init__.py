"""The request and response schemas of the HTTP API, one module per family: common (the error
answer, health, the strict base), suggestions (and code lookup), encounters, decisions, accounts,
claims, registry, analytics and cds_hooks. Bounds are declared here, not checked by hand; every
field says what it holds."""
