"""chartcoder: ranked ICD-10-CM and CPT/HCPCS code suggestions with the evidence for each."""

__version__ = "0.1.0"
