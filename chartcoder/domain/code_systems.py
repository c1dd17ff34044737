"""The code systems chartcoder codes in. A `StrEnum`: each member is its name as written everywhere
(JSON, the database, the CLI), so `CodeSystem.ICD10CM == "ICD-10-CM"` and stored strings compare as
they are. Values that end up in pickled model packs stay plain `str` (the pack loader admits no
chartcoder class but the rankers' own)."""

from __future__ import annotations

from enum import StrEnum


class CodeSystem(StrEnum):
    ICD10CM = "ICD-10-CM"  # diagnoses
    CPT = "CPT"  # procedures and services (AMA); short descriptors only when licensed
    HCPCS = "HCPCS"  # Level II: supplies, drugs, services CPT lacks
    ICD10PCS = "ICD-10-PCS"  # inpatient procedures


PROCEDURE_SYSTEMS = (CodeSystem.CPT, CodeSystem.HCPCS)  # the systems a claim line is billed in
