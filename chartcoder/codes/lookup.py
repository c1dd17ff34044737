"""One lookup and search over every loaded code set, for coders, the CLI and the API."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from chartcoder.codes.icd10cm import icd10cm
from chartcoder.codes.procedures import CPT_CODE, HCPCS_CODE, cpt, hcpcs
from chartcoder.domain.code_systems import CodeSystem
from chartcoder.domain.errors import UnknownCodeError

if TYPE_CHECKING:
    from chartcoder.config import Settings

SYSTEMS = (CodeSystem.ICD10CM, CodeSystem.CPT, CodeSystem.HCPCS)


@dataclass(frozen=True)
class CodeHit:
    code: str
    system: str
    description: str
    billable: bool


def guess_system(code: str, settings: Settings | None = None) -> str:
    c = code.strip().upper()
    if CPT_CODE.match(c):
        return CodeSystem.CPT
    if HCPCS_CODE.match(c) and hcpcs(settings).get(c) is not None:
        return CodeSystem.HCPCS
    return CodeSystem.ICD10CM


def show(code: str, system: str | None = None, settings: Settings | None = None) -> dict[str, Any]:
    """Everything known about a code in the code sets of `settings` (default: the process's); raises
    UnknownCodeError with a hint when it is not known."""
    system = system or guess_system(code, settings)
    if system == CodeSystem.ICD10CM:
        return icd10cm().lookup(code).to_dict()
    if system == CodeSystem.CPT:
        return cpt(settings).lookup(code).to_dict()
    if system == CodeSystem.HCPCS:
        return hcpcs(settings).lookup(code).to_dict()
    raise UnknownCodeError(code, system, f"Known systems: {', '.join(SYSTEMS)}.")


def search(
    query: str, system: str = "all", limit: int = 20, billable_only: bool = False, settings: Settings | None = None
) -> list[CodeHit]:
    hits: list[CodeHit] = []
    if system in ("all", CodeSystem.CPT):
        hits += [CodeHit(c.code, CodeSystem.CPT, c.description, True) for c in cpt(settings).search(query, limit)]
    if system in ("all", CodeSystem.HCPCS):
        hits += [CodeHit(c.code, CodeSystem.HCPCS, c.description, True) for c in hcpcs(settings).search(query, limit)]
    if system in ("all", CodeSystem.ICD10CM):
        icd = icd10cm()
        hits += [
            CodeHit(code, CodeSystem.ICD10CM, desc, icd.is_billable(code))
            for code, desc in icd.search(query, limit, billable_only)
        ]
    return hits[:limit] if system != "all" else _interleave(hits, limit)


def _interleave(hits: list[CodeHit], limit: int) -> list[CodeHit]:
    """ICD first when the query reads like a diagnosis; keep each system's own order."""
    icd = [h for h in hits if h.system == CodeSystem.ICD10CM]
    proc = [h for h in hits if h.system != CodeSystem.ICD10CM]
    return (icd[: max(limit - len(proc[: limit // 2]), 0)] + proc[: limit // 2])[:limit] if icd else proc[:limit]
