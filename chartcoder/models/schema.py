"""The suggestion path's data out: ranked suggestions with evidence (the encounter context in is
`chartcoder.domain.encounter.Encounter`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal


@dataclass(frozen=True)
class Evidence:
    start: int
    end: int
    text: str
    assertion: str
    section: str | None


Group = Literal["suggested", "consider"]
# The warning that marks the diagnosis the engine lists first (OCG IV.G): the served order keeps it first
# among the shown codes (chartcoder.models.service.order_suggestions).
FIRST_LISTED = "first-listed: "


@dataclass
class Suggestion:
    """One code. `group` says how the coder should meet it: "suggested" codes are shown as the
    proposal (above the shown threshold, with evidence in the note); "consider" codes are ranked
    below them as a separate group a coder may look through, never as the proposal."""

    code: str
    system: str
    description: str
    score: float
    evidence: list[Evidence] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    group: Group = "suggested"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class SuggestionSet:
    model: str
    suggestions: list[Suggestion]

    def to_dict(self, note_id: str | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if note_id is not None:
            out["id"] = note_id
        out["model"] = self.model
        out["suggestions"] = [s.to_dict() for s in self.suggestions]
        return out
