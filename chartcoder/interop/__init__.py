"""How EHRs reach chartcoder: FHIR R4 resources in (fhir_in), CDS Hooks services (cds_hooks) and the
CDS clients' JWT authentication (cds_auth)."""
