"""CMS National Correct Coding Initiative files: procedure-to-procedure (PTP) pairs and medically
unlikely edits (MUE), read from the CMS quarterly layouts into lookup objects the scrubber uses.

PTP (practitioner file), seven columns in this order, tab-delimited text or CSV:
  Column 1 | Column 2 | "*" = in existence prior to 1996 | Effective Date | Deletion Date ("*" = none)
  | Modifier (0 not allowed, 1 allowed, 9 not applicable) | PTP Edit Rationale
MUE (practitioner file), four columns:
  HCPCS/CPT Code | Practitioner Services MUE Values | MUE Adjudication Indicator | MUE Rationale
The adjudication indicator is read from its leading digit ("2 Date of Service Edit: Policy" is 2).

The CMS files open with a copyright notice and header rows, sometimes spread over several lines;
any row whose first column is not a procedure code is skipped as such. Dates are YYYYMMDD (the
text files) or M/D/YYYY (the spreadsheet exports). Each file is read once; lookups are dicts.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from chartcoder.domain.errors import CodeFileError

# CPT (5 digits, or 4 + F/T/U), HCPCS Level II (letter + 4 digits).
_PROC = re.compile(r"^(?:\d{4}[0-9FTU]|[A-V]\d{4})$")
_YMD = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_MDY = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")
_ISO = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")

# NCCI PTP-associated modifiers (NCCI Policy Manual, chapter I): the only modifiers that let a
# pair with modifier indicator 1 through. Anatomic, global surgery, and the "other" group.
ANATOMIC_MODIFIERS: frozenset[str] = frozenset(
    {
        "E1", "E2", "E3", "E4", "FA", "F1", "F2", "F3", "F4", "F5", "F6", "F7", "F8", "F9",
        "TA", "T1", "T2", "T3", "T4", "T5", "T6", "T7", "T8", "T9",
        "LT", "RT", "LC", "LD", "RC", "LM", "RI",
    }
)  # fmt: skip
DISTINCT_MODIFIERS = frozenset({"59", "XE", "XS", "XP", "XU"})
ENCOUNTER_MODIFIERS = frozenset({"24", "27", "58", "78", "79"})
PTP_MODIFIERS: frozenset[str] = frozenset(
    {
        # anatomic
        "E1", "E2", "E3", "E4", "FA", "F1", "F2", "F3", "F4", "F5", "F6", "F7", "F8", "F9",
        "TA", "T1", "T2", "T3", "T4", "T5", "T6", "T7", "T8", "T9",
        "LT", "RT", "LC", "LD", "RC", "LM", "RI",
        # global surgery
        "24", "25", "57", "58", "78", "79",
        # other
        "27", "59", "91", "XE", "XS", "XP", "XU",
    }
)  # fmt: skip

MODIFIER_INDICATORS = {"0": "not allowed", "1": "allowed", "9": "not applicable"}
MUE_INDICATORS = {1: "line edit", 2: "date of service edit: policy", 3: "date of service edit: clinical"}


@dataclass(frozen=True)
class PTPEdit:
    column1: str
    column2: str
    effective: date
    deleted: date | None  # the last day the edit applies; None while it is in force
    modifier_indicator: str  # "0" | "1" | "9"
    rationale: str = ""
    prior_1996: bool = False

    def active_on(self, day: date) -> bool:
        return self.effective <= day and (self.deleted is None or day <= self.deleted)

    @property
    def modifier_allowed(self) -> bool:
        return self.modifier_indicator == "1"

    def bypassed_by(
        self, modifiers: Iterable[str], other: Iterable[str] | None = None, *, em_line: bool = False
    ) -> bool:
        """True when the pair may be billed with these modifiers. Indicator 9 edits never apply;
        indicator 0 edits are never bypassed; indicator 1 edits are bypassed, judged line by line
        (`modifiers` on the column 2 line, `other` on the column 1 line), by:
        - 59, XE, XS, XP or XU on either line (a distinct service);
        - anatomic modifiers that differ between the two lines (RT on one, LT on the other; the same
          side on both is the same site, not a separate one);
        - 25 or 57 only on an E/M line (`em_line`), 91 only on the column 2 line (a repeated test),
          24, 27, 58, 78 or 79 on either line (global surgery and separate-encounter modifiers).
        Called with one list only (the older form), that list is judged as both lines'."""
        if self.modifier_indicator == "9":
            return True
        if self.modifier_indicator != "1":
            return False
        mine = {m.upper() for m in modifiers}
        theirs = {m.upper() for m in other} if other is not None else mine
        both = mine | theirs
        if both & DISTINCT_MODIFIERS or both & ENCOUNTER_MODIFIERS:
            return True
        if "91" in mine:
            return True
        if em_line and both & {"25", "57"}:
            return True
        a, b = mine & ANATOMIC_MODIFIERS, theirs & ANATOMIC_MODIFIERS
        return bool(a and b and a != b) if other is not None else False


class PTPEdits:
    """Column 1 / column 2 pairs, keyed by pair; a pair may carry several dated versions."""

    def __init__(self, edits: Iterable[PTPEdit] = (), source: str = "") -> None:
        self.source = source
        self._pairs: dict[tuple[str, str], list[PTPEdit]] = {}
        self._codes: set[str] = set()
        for e in edits:
            self._pairs.setdefault((e.column1, e.column2), []).append(e)
            self._codes.add(e.column1)
            self._codes.add(e.column2)

    def __len__(self) -> int:
        return sum(len(v) for v in self._pairs.values())

    def __contains__(self, code: object) -> bool:
        return code in self._codes

    def __iter__(self) -> Iterator[PTPEdit]:
        return (e for versions in self._pairs.values() for e in versions)

    def versions(self, column1: str, column2: str) -> list[PTPEdit]:
        return list(self._pairs.get((column1, column2), ()))

    def lookup(self, column1: str, column2: str, on: date) -> PTPEdit | None:
        """The edit for this ordered pair in force on the date of service, or None."""
        for e in self._pairs.get((column1, column2), ()):
            if e.active_on(on):
                return e
        return None


@dataclass(frozen=True)
class MUEEdit:
    code: str
    value: int  # the most units of service per line (indicator 1) or per day (2, 3)
    indicator: int  # MUE adjudication indicator: 1 line, 2 date of service (policy), 3 date of service (clinical)
    rationale: str = ""

    @property
    def per_day(self) -> bool:
        return self.indicator in (2, 3)


class MUETable:
    """MUE values by HCPCS/CPT code (one quarterly file: the values apply to that quarter's claims)."""

    def __init__(self, edits: Iterable[MUEEdit] = (), source: str = "") -> None:
        self.source = source
        self._edits = {e.code: e for e in edits}

    def __len__(self) -> int:
        return len(self._edits)

    def __contains__(self, code: object) -> bool:
        return code in self._edits

    def get(self, code: str) -> MUEEdit | None:
        return self._edits.get(code)


# -- reading --------------------------------------------------------------------------------


def _read_rows(path: str | Path) -> tuple[str, list[tuple[int, list[str]]]]:
    """(source, [(line number, cells)]) from a tab-delimited text or CSV file."""
    source = str(path)
    raw = Path(path).read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("cp1252", errors="replace")  # the CMS text files are Windows-1252
    delimiter = ","
    for ln in text.splitlines():  # the first row that starts with a code tells the delimiter
        if "\t" in ln and _PROC.match(ln.split("\t")[0].strip().strip('"').upper()):
            delimiter = "\t"
            break
        if "," in ln and _PROC.match(ln.split(",")[0].strip().strip('"').upper()):
            break
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    rows: list[tuple[int, list[str]]] = []
    line_after = 1
    for row in reader:
        lineno = line_after
        line_after = reader.line_num + 1
        cells = [c.strip() for c in row]
        if cells and any(cells):
            rows.append((lineno, cells))
    return source, rows


def _is_data_row(cells: list[str], codes: int) -> bool:
    return len(cells) >= codes and all(_PROC.match(c.upper()) for c in cells[:codes])


def _parse_date(value: str, source: str, line: int, what: str) -> date:
    v = value.strip()
    for pattern, order in ((_YMD, "ymd"), (_ISO, "ymd"), (_MDY, "mdy")):
        m = pattern.match(v)
        if m:
            a, b, c = (int(x) for x in m.groups())
            y, mo, d = (a, b, c) if order == "ymd" else (c, a, b)
            try:
                return date(y, mo, d)
            except ValueError:
                break
    raise CodeFileError(source, line, f"{what} {value!r} is not a date (expected YYYYMMDD or M/D/YYYY)")


def parse_ptp_rows(rows: Iterable[tuple[int, list[str]]], source: str) -> PTPEdits:
    edits: list[PTPEdit] = []
    for lineno, cells in rows:
        if not _is_data_row(cells, 2):
            continue  # notice, title or header rows
        if len(cells) < 6:
            raise CodeFileError(
                source, lineno, f"a PTP row needs at least 6 columns (column 1, column 2, prior-1996 flag, "
                f"effective date, deletion date, modifier indicator), got {len(cells)}"
            )  # fmt: skip
        col1, col2, prior, eff, dele, mod = (c.upper() for c in cells[:6])
        if mod not in MODIFIER_INDICATORS:
            raise CodeFileError(source, lineno, f"modifier indicator {cells[5]!r} is not 0, 1 or 9")
        effective = _parse_date(eff, source, lineno, "effective date")
        deleted = None if dele in {"", "*"} else _parse_date(dele, source, lineno, "deletion date")
        if deleted is not None and deleted < effective:
            raise CodeFileError(source, lineno, f"deletion date {dele} is before effective date {eff}")
        rationale = cells[6] if len(cells) > 6 else ""
        edits.append(PTPEdit(col1, col2, effective, deleted, mod, rationale, prior == "*"))
    if not edits:
        raise CodeFileError(source, 1, "no PTP edit rows found (expected column 1 and column 2 codes)")
    return PTPEdits(edits, source)


def load_ptp(path: str | Path) -> PTPEdits:
    """A CMS NCCI PTP file (practitioner layout), tab-delimited text or CSV."""
    source, rows = _read_rows(path)
    return parse_ptp_rows(rows, source)


def load_ptp_files(paths: Iterable[str | Path]) -> PTPEdits:
    """CMS splits the practitioner PTP table over several files (by code range): read them all."""
    edits: list[PTPEdit] = []
    sources = []
    for p in paths:
        table = load_ptp(p)
        sources.append(table.source)
        edits.extend(table)
    return PTPEdits(edits, ", ".join(sources))


_LEADING_INT = re.compile(r"^\s*(\d+)")


def parse_mue_rows(rows: Iterable[tuple[int, list[str]]], source: str) -> MUETable:
    edits: list[MUEEdit] = []
    seen: dict[str, int] = {}
    for lineno, cells in rows:
        if not _is_data_row(cells, 1):
            continue
        if len(cells) < 3:
            raise CodeFileError(
                source, lineno, f"an MUE row needs at least 3 columns (code, MUE value, adjudication indicator), "
                f"got {len(cells)}"
            )  # fmt: skip
        code = cells[0].upper()
        if not cells[1].isdigit():
            raise CodeFileError(source, lineno, f"MUE value {cells[1]!r} for {code} is not a whole number")
        m = _LEADING_INT.match(cells[2])
        indicator = int(m.group(1)) if m else 0
        if indicator not in MUE_INDICATORS:
            raise CodeFileError(source, lineno, f"MUE adjudication indicator {cells[2]!r} is not 1, 2 or 3")
        if code in seen:
            raise CodeFileError(source, lineno, f"code {code} repeats line {seen[code]}")
        seen[code] = lineno
        edits.append(MUEEdit(code, int(cells[1]), indicator, cells[3] if len(cells) > 3 else ""))
    if not edits:
        raise CodeFileError(source, 1, "no MUE rows found (expected HCPCS/CPT code, MUE value, indicator)")
    return MUETable(edits, source)


def load_mue(path: str | Path) -> MUETable:
    """A CMS MUE file (practitioner services layout), CSV or tab-delimited text."""
    source, rows = _read_rows(path)
    return parse_mue_rows(rows, source)
