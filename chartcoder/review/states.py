"""A reviewed encounter's codes: the closed sets a decision is checked against (actions, systems, reasons
for turning a code down), the code as the code set writes it, and each code's current state computed
from the stored suggestions and the decisions made on them."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from chartcoder.config import Settings
from chartcoder.domain.code_systems import PROCEDURE_SYSTEMS, CodeSystem
from chartcoder.domain.errors import InvalidInputError, UnknownCodeError
from chartcoder.store.review import Decision, SuggestionSet

# Why a suggested code was turned down. Kept short and stable: the retraining export and the
# feedback analytics group by these codes.
REASONS: tuple[tuple[str, str], ...] = (
    ("not_documented", "Not documented in the note"),
    ("negated", "Negated or ruled out"),
    ("history_only", "History only, not current"),
    ("uncertain_outpatient", "Uncertain diagnosis (outpatient: code the sign or symptom)"),
    ("more_specific_code", "A more specific code applies"),
    ("wrong_laterality", "Wrong side or site"),
    ("header_not_billable", "Header code, not billable"),
    ("excludes1_conflict", "Excludes1 conflict with another code"),
    ("duplicate", "Duplicate of another code"),
    ("not_billable_for_encounter", "Not reportable for this encounter"),
    # OCG I.B.5: signs and symptoms routinely associated with a confirmed disease are not coded separately.
    ("integral_symptom", "Sign or symptom integral to a confirmed diagnosis"),
    ("other", "Other (see note)"),
)
REASON_CODES = frozenset(code for code, _ in REASONS)
ACTIONS = ("accept", "reject", "add", "change")
SYSTEMS = tuple(CodeSystem)
# What a coder sets on a CPT/HCPCS line (stored with the decision that codes it; docs/review-api.md).
LINE_FIELDS = ("modifiers", "units", "service_date", "pointers", "ndc", "dose")


def canonical(code: str, system: str, where: str, must_exist: bool, settings: Settings | None = None) -> str:
    """The code as the code set writes it (E1122 -> E11.22); unknown codes are refused for add and
    change, and kept as written otherwise (they were suggested or added before)."""
    from chartcoder.codes.lookup import show

    raw = (code or "").strip().upper()
    if not raw or len(raw) > 16:
        raise InvalidInputError(f"{where}.code must be a code of 1-16 characters.")
    if system == CodeSystem.ICD10PCS:
        if must_exist:  # no PCS table is loaded to check a new code against
            raise InvalidInputError(
                f"{where}: ICD-10-PCS codes can be accepted or rejected as suggested, not added by hand."
            )
        return raw
    try:
        return str(show(raw, system, settings)["code"])
    except UnknownCodeError as exc:
        if must_exist:
            raise InvalidInputError(f"{where}.code: {exc}") from None
        return raw


def code_states(
    sset: SuggestionSet | None,
    decisions: Sequence[Decision],
    users: dict[int, str] | None = None,
    *,
    settings: Settings | None = None,
) -> list[dict[str, Any]]:
    """The current state of every suggested or added code, suggestions first in their rank order."""
    from chartcoder.models.service import describe

    states: dict[tuple[str, str], dict[str, Any]] = {}
    for sug in sset.suggestions if sset else []:
        states.setdefault(
            (sug["system"], sug["code"]),
            {
                "code": sug["code"],
                "system": sug["system"],
                "description": sug["description"],
                "state": "pending",
                "score": sug["score"],
                "suggested": True,
                "reason": None,
                "note": None,
                "replaces": None,
                "decided_by": None,
                "decided_at": None,
                **_line(sug["system"], None),
            },
        )

    def entry(system: str, code: str) -> dict[str, Any]:
        if (system, code) not in states:
            states[(system, code)] = {
                "code": code,
                "system": system,
                "description": _describe(describe, code, system, settings),
                "state": "pending",
                "score": None,
                "suggested": False,
                "reason": None,
                "note": None,
                "replaces": None,
                "decided_by": None,
                "decided_at": None,
                **_line(system, None),
            }
        return states[(system, code)]

    for d in decisions:
        who = (users or {}).get(d.user_id)
        stamp = {"decided_by": who, "decided_at": d.created_at.isoformat()}
        if d.action == "change" and d.replaces:
            old = entry(d.system, d.replaces)
            old.update(state="rejected", reason=d.reason, note=d.note, **stamp, **_line(old["system"], None))
        e = entry(d.system, d.code)
        # The latest decision states the line in full: what it leaves out is not set (a reject clears it).
        line = _line(d.system, d.line if d.action != "reject" else None)
        if d.action == "accept":  # a code a person added stays "added" when accepted again
            e.update(state="accepted" if e["suggested"] else "added", reason=None, note=None, **stamp, **line)
        elif d.action == "reject":
            e.update(state="rejected", reason=d.reason, note=d.note, **stamp, **line)
        else:  # add, or the new code of a change: a suggested code added by hand counts as accepted
            e.update(
                state="accepted" if e["suggested"] else "added",
                reason=d.reason if d.action == "change" else None,
                note=d.note,
                replaces=d.replaces,
                **stamp,
                **line,
            )
    return list(states.values())


def _line(system: str, line: dict[str, Any] | None) -> dict[str, Any]:
    """A code entry's line fields: every one (None when not set) on a CPT/HCPCS code, none on a diagnosis."""
    if system not in PROCEDURE_SYSTEMS:
        return {}
    return {f: (line or {}).get(f) for f in LINE_FIELDS}


def _describe(
    describe: Callable[[str, str, Settings | None], str], code: str, system: str, settings: Settings | None
) -> str:
    try:
        return describe(code, system, settings)
    except Exception:  # an unknown or PCS code still shows, without a description
        return ""
