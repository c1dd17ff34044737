"""The one record type every dataset reader produces: a note, its encounter, and its gold codes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Decision = Literal["accepted", "rejected", "added"]


@dataclass(frozen=True)
class GoldCode:
    code: str  # upper case, with its dot for ICD-10-CM (E11.65); PCS and CPT as they are
    system: str  # ICD-10-CM | ICD-10-PCS | CPT | HCPCS
    decision: Decision = "accepted"

    @property
    def positive(self) -> bool:
        return self.decision in ("accepted", "added")


@dataclass
class Record:
    id: str
    text: str
    codes: list[GoldCode]
    encounter: dict[str, Any] = field(default_factory=dict)
    source: str = ""
    warnings: list[str] = field(default_factory=list)
    evidence: dict[str, list[str]] = field(default_factory=dict)  # code -> sentences a coder cited

    def positives(self, systems: set[str] | None = None) -> list[str]:
        """Codes a coder kept (accepted or added), in file order, without repeats."""
        out: list[str] = []
        for c in self.codes:
            if c.positive and (systems is None or c.system in systems) and c.code not in out:
                out.append(c.code)
        return out

    def negatives(self, systems: set[str] | None = None) -> list[str]:
        """Codes a coder rejected: suggested, looked at, and judged wrong."""
        return [c.code for c in self.codes if c.decision == "rejected" and (systems is None or c.system in systems)]
