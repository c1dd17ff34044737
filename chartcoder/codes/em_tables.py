"""The office/outpatient E/M visit table (2021+ rules), the one source the E/M predictor, the claim
scrubber and assembler, and the synthetic-note generator read: for each code, the patient status it
is for, the medical decision making (MDM) level that selects it, and its total-time range on the date
of the encounter. Codes and numbers only: no CPT descriptors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Status = Literal["new", "established"]


@dataclass(frozen=True)
class OfficeVisit:
    code: str
    status: Status
    mdm: int | None  # 0 straightforward, 1 low, 2 moderate, 3 high; None: not chosen by MDM (99211)
    minutes: tuple[int, int] | None  # total time, first and last minute; None: not chosen by time (99211)


OFFICE_VISITS: tuple[OfficeVisit, ...] = (
    OfficeVisit("99202", "new", 0, (15, 29)),
    OfficeVisit("99203", "new", 1, (30, 44)),
    OfficeVisit("99204", "new", 2, (45, 59)),
    OfficeVisit("99205", "new", 3, (60, 74)),
    OfficeVisit("99211", "established", None, None),  # may need no physician: never chosen by MDM or time
    OfficeVisit("99212", "established", 0, (10, 19)),
    OfficeVisit("99213", "established", 1, (20, 29)),
    OfficeVisit("99214", "established", 2, (30, 39)),
    OfficeVisit("99215", "established", 3, (40, 54)),
)

OFFICE_CODES: frozenset[str] = frozenset(v.code for v in OFFICE_VISITS)


def time_ranges(status: Status) -> tuple[tuple[int, int, str], ...]:
    """(first minute, last minute, code), shortest first."""
    return tuple((v.minutes[0], v.minutes[1], v.code) for v in OFFICE_VISITS if v.status == status and v.minutes)


def time_thresholds(status: Status) -> list[tuple[int, str]]:
    """(minimum minutes, code), longest first: the first row met or exceeded is the code."""
    return [(lo, code) for lo, _hi, code in reversed(time_ranges(status))]


def mdm_codes(status: Status) -> tuple[str, ...]:
    """The code for each MDM level, straightforward (0) to high (3)."""
    rows = sorted((v.mdm, v.code) for v in OFFICE_VISITS if v.status == status and v.mdm is not None)
    return tuple(code for _level, code in rows)
