"""What the E/M reader returns: time statements, MDM elements, the MDM result and the suggestion."""

from __future__ import annotations

from dataclasses import dataclass, field

from chartcoder.models.em._patterns import Span
from chartcoder.models.em.tables import DATA_NAMES, MDM_NAMES, PROBLEM_NAMES, RISK_NAMES


# --------------------------------------------------------------------------------------------------
# Results
@dataclass(frozen=True)
class EMLevel:
    """An office visit level chosen by time (kept for callers of em_level_from_time)."""

    code: str
    minutes: int
    status: str  # new | established
    status_documented: bool
    start: int
    end: int


@dataclass(frozen=True)
class TimeStatement:
    minutes: int  # as written (the lower bound of a range)
    start: int
    end: int
    more_than: bool = False  # "more than 30 minutes", "> 30 min"
    less_than: bool = False  # "less than 30 minutes"

    @property
    def at_least(self) -> int:
        """Minutes the statement guarantees were spent ("less than 15" guarantees 14 at most)."""
        return self.minutes - 1 if self.less_than else self.minutes


@dataclass(frozen=True)
class Element:
    """One MDM element: its level (0-3), why, and where the note says so."""

    level: int
    reason: str
    spans: tuple[Span, ...] = ()


@dataclass(frozen=True)
class MDM:
    problems: Element
    data: Element
    risk: Element

    @property
    def level(self) -> int:
        """The level two of the three elements meet or exceed (the middle one)."""
        return sorted((self.problems.level, self.data.level, self.risk.level))[1]

    @property
    def name(self) -> str:
        return MDM_NAMES[self.level]

    def explain(self) -> str:
        def part(label: str, names: tuple[str, ...], e: Element) -> str:
            return f"{label} {names[e.level]}" + (f" ({e.reason})" if e.reason else "")

        return ", ".join(
            (
                part("problems", PROBLEM_NAMES, self.problems),
                part("data", DATA_NAMES, self.data),
                part("risk", RISK_NAMES, self.risk),
            )
        )

    @property
    def spans(self) -> tuple[Span, ...]:
        return self.problems.spans + self.data.spans + self.risk.spans


@dataclass(frozen=True)
class EMSuggestion:
    """The E/M code the documentation supports best, with the reasoning as warnings and spans."""

    code: str
    family: str
    basis: str  # time | mdm | discharge
    status: str | None  # new | established (office only)
    status_documented: bool
    minutes: int | None
    mdm: MDM | None
    spans: tuple[Span, ...]
    warnings: tuple[str, ...] = field(default=())
