"""What every claim edit shares: the `Finding` an edit reports, the `Edit` base class, and the
`ScrubContext` (the code sets, NCCI/MUE tables and rule tables an edit reads). Kept apart from the
edits so the edit modules (`scrubber`, `line_edits`) can each import it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any, ClassVar

from chartcoder.billing.claim import Claim
from chartcoder.billing.line_rules import (
    ModifierTable,
    SequencingRules,
    UnitRules,
    modifier_table,
    sequencing_rules,
    unit_rules,
    us_states,
)

if TYPE_CHECKING:
    from chartcoder.billing.ncci import MUETable, PTPEdits
    from chartcoder.billing.scrubber import CodeFacts
    from chartcoder.codes.procedures import ProcedureCodeSet

ERROR = "error"
WARNING = "warning"
SEVERITIES = (ERROR, WARNING)


@dataclass(frozen=True)
class Finding:
    """One problem on a claim. `diagnosis` and `line` are 1-based (diagnosis 1 is the principal)."""

    edit: str
    severity: str  # error | warning
    message: str
    fix: str = ""
    diagnosis: int | None = None
    line: int | None = None
    suggestions: tuple[str, ...] = ()  # codes the biller can pick from (billable children, ...)

    @property
    def where(self) -> str:
        parts = []
        if self.diagnosis is not None:
            parts.append(f"diagnosis {self.diagnosis}")
        if self.line is not None:
            parts.append(f"line {self.line}")
        return ", ".join(parts) or "claim"

    def to_dict(self) -> dict[str, Any]:
        return {
            "edit": self.edit,
            "severity": self.severity,
            "message": self.message,
            "fix": self.fix,
            "where": self.where,
            "diagnosis": self.diagnosis,
            "line": self.line,
            "suggestions": list(self.suggestions),
        }


@dataclass
class ScrubContext:
    today: date
    facts: CodeFacts
    cpt: ProcedureCodeSet
    hcpcs: ProcedureCodeSet
    ncci: PTPEdits | None = None
    mue: MUETable | None = None
    cpt_licensed: bool = False  # a licensed CPT file is loaded: an unknown CPT code is an error
    stale_after: timedelta = timedelta(days=365)
    modifiers: ModifierTable = field(default_factory=modifier_table)
    units: UnitRules = field(default_factory=unit_rules)
    states: frozenset[str] = field(default_factory=us_states)
    sequencing: SequencingRules = field(default_factory=sequencing_rules)


class Edit:
    id: ClassVar[str]
    severity: ClassVar[str] = ERROR
    title: ClassVar[str] = ""

    def check(self, claim: Claim, context: ScrubContext) -> list[Finding]:
        raise NotImplementedError

    def finding(self, message: str, fix: str = "", severity: str | None = None, **where: Any) -> Finding:
        return Finding(self.id, severity or self.severity, message, fix, **where)
