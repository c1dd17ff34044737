"""CPT and HCPCS Level II code sets: built-in demo sets in our own words, and loaders for licensed/CMS files.

CPT descriptors are AMA copyright: the built-in set carries code numbers with chartcoder's own short
wording. A practice that holds a CPT licence loads its file with `load_cpt_csv`, which replaces our
wording with theirs for the codes it contains.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from chartcoder.domain.errors import CodeFileError, UnknownCodeError

if TYPE_CHECKING:
    from chartcoder.config import Settings

CPT_CODE = re.compile(r"^(\d{4}[0-9FTU])$")
HCPCS_CODE = re.compile(r"^([A-V][0-9]{4})$")
_WORD = re.compile(r"[a-z0-9]+")


@dataclass(frozen=True)
class ProcedureCode:
    code: str
    system: str  # "CPT" | "HCPCS"
    description: str
    category: str = ""
    source: str = "built-in"

    def to_dict(self) -> dict[str, str | bool]:
        return {
            "code": self.code,
            "system": self.system,
            "description": self.description,
            "category": self.category,
            "source": self.source,
            "billable": True,
        }


class ProcedureCodeSet:
    """A set of CPT or HCPCS codes keyed by code."""

    def __init__(self, system: str, pattern: re.Pattern[str], codes: Iterable[ProcedureCode] = ()) -> None:
        self.system = system
        self.pattern = pattern
        self._codes: dict[str, ProcedureCode] = {}
        for c in codes:
            self._codes[c.code] = c

    def __len__(self) -> int:
        return len(self._codes)

    def __contains__(self, code: object) -> bool:
        return isinstance(code, str) and code.strip().upper() in self._codes

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._codes.values())

    def get(self, code: str) -> ProcedureCode | None:
        return self._codes.get(code.strip().upper())

    def lookup(self, code: str) -> ProcedureCode:
        c = self.get(code)
        if c is None:
            shape = "5 digits (or 4 digits + F/T/U)" if self.system == "CPT" else "a letter A-V and 4 digits"
            hint = "" if self.pattern.match(code.strip().upper()) else f"A {self.system} code is {shape}."
            raise UnknownCodeError(code, self.system, hint or "Not in the loaded code set.")
        return c

    def update(self, codes: Iterable[ProcedureCode]) -> int:
        n = 0
        for c in codes:
            self._codes[c.code] = c
            n += 1
        return n

    def search(self, query: str, limit: int = 20) -> list[ProcedureCode]:
        q = query.strip().upper()
        if not q:
            return []
        words = _WORD.findall(query.lower())
        hits = []
        for c in self._codes.values():
            if c.code.startswith(q):
                hits.append((0, c.code, c))
            elif words:
                vocab = _WORD.findall(f"{c.description} {c.category}".lower())
                if all(any(v.startswith(w) for v in vocab) for w in words):
                    hits.append((1, c.code, c))
        hits.sort(key=lambda h: (h[0], h[1]))
        return [h[2] for h in hits[:limit]]


def _read_text(path: str | Path) -> str:
    raw = Path(path).read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise CodeFileError(str(path), line, "not UTF-8 text (expected a CSV of code,description)") from exc


def parse_code_csv(text: str, source: str, system: str, pattern: re.Pattern[str]) -> list[ProcedureCode]:
    """Rows of `code,description[,category]`; a header row naming `code` is allowed. Every row is checked,
    and errors name the physical line of the file (quoted descriptions may span lines)."""
    reader = csv.reader(io.StringIO(text))
    out: list[ProcedureCode] = []
    seen: dict[str, int] = {}
    first_row = True
    line_after = 1  # physical line where the next record starts
    for row in reader:
        lineno = line_after
        line_after = reader.line_num + 1
        if not row or all(not cell.strip() for cell in row):
            continue
        if first_row:
            first_row = False
            if row[0].strip().lower() in {"code", "cpt", "cpt code", "hcpcs", "hcpc"}:
                continue
        if len(row) < 2:
            raise CodeFileError(source, lineno, f"expected 'code,description', got {len(row)} column(s)")
        code = row[0].strip().upper()
        desc = row[1].strip()
        if not pattern.match(code):
            raise CodeFileError(source, lineno, f"{code!r} is not a {system} code")
        if not desc:
            raise CodeFileError(source, lineno, f"code {code} has an empty description")
        if code in seen:
            raise CodeFileError(source, lineno, f"code {code} repeats line {seen[code]}")
        seen[code] = lineno
        category = row[2].strip() if len(row) > 2 else ""
        out.append(ProcedureCode(code, system, " ".join(desc.split()), category, source))
    if not out:
        raise CodeFileError(source, 1, f"no {system} codes found (expected rows of code,description)")
    return out


def load_cpt_csv(path: str | Path) -> list[ProcedureCode]:
    """A licensed CPT file: CSV rows `code,description` (a header row is allowed)."""
    return parse_code_csv(_read_text(path), str(path), "CPT", CPT_CODE)


# CMS HCPCS annual file, fixed-width record layout (HCPC20xx_..._ANWEB.txt):
#   1-5 HCPC code, 6-10 sequence number, 11 record id (3 = procedure, 4 = its continuation,
#   7 = modifier, 8 = its continuation), 12-91 long description, 92-119 short description.
_HCPCS_RECORD_IDS = {"3", "4", "7", "8"}


def parse_hcpcs_fixed_width(text: str, source: str) -> list[ProcedureCode]:
    long_desc: dict[str, list[str]] = {}
    short: dict[str, str] = {}
    order: list[str] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        if len(line) < 92:
            raise CodeFileError(
                source, lineno, f"record is {len(line)} characters; the CMS HCPCS layout needs at least 92"
            )
        code, seq, rid = line[0:5].strip().upper(), line[5:10].strip(), line[10]
        if rid not in _HCPCS_RECORD_IDS:
            raise CodeFileError(source, lineno, f"record identification code {rid!r} is not 3, 4, 7 or 8")
        if rid in {"7", "8"}:
            continue  # modifiers, not codes
        if not HCPCS_CODE.match(code):
            raise CodeFileError(source, lineno, f"{code!r} is not a HCPCS Level II code")
        if not seq.isdigit():
            raise CodeFileError(source, lineno, f"sequence number {seq!r} is not a number")
        if rid == "3" and code not in long_desc:
            order.append(code)
            long_desc[code] = []
            short[code] = line[91:119].strip()
        elif code not in long_desc:
            raise CodeFileError(source, lineno, f"continuation line for {code} before its first line")
        long_desc[code].append(line[11:91].strip())
    if not order:
        raise CodeFileError(source, 1, "no HCPCS procedure records (record id 3) found")
    return [ProcedureCode(c, "HCPCS", " ".join(p for p in long_desc[c] if p) or short[c], "", source) for c in order]


def load_hcpcs_file(path: str | Path) -> list[ProcedureCode]:
    """The CMS HCPCS file: the fixed-width ANWEB text, or its CSV export (`HCPC`, `LONG DESCRIPTION`, ...)."""
    text = _read_text(path)
    first = text.lstrip().splitlines()[0] if text.strip() else ""
    if "," in first and first.upper().startswith(("HCPC", '"HCPC')):
        return _parse_hcpcs_csv(text, str(path))
    return parse_hcpcs_fixed_width(text, str(path))


def _parse_hcpcs_csv(text: str, source: str) -> list[ProcedureCode]:
    """The CSV export of the CMS file: columns named HCPC, RIC (record id), LONG DESCRIPTION, ...;
    continuation rows (record id 4) extend the long description of the code above them."""
    reader = csv.reader(io.StringIO(text.lstrip("\n")))
    header: list[str] | None = None
    descriptions: dict[str, list[str]] = {}
    order: list[str] = []
    line_after = 1 + (len(text) - len(text.lstrip("\n")))
    for row in reader:
        lineno = line_after
        line_after = reader.line_num + 1 + (len(text) - len(text.lstrip("\n")))
        if not row or all(not cell.strip() for cell in row):
            continue
        if header is None:
            header = [h.strip().upper() for h in row]
            if "HCPC" not in header:
                raise CodeFileError(source, lineno, "expected a header row naming the HCPC column")
            continue
        rec = dict(zip(header, (c.strip() for c in row), strict=False))
        code = rec.get("HCPC", "").upper()
        rid = rec.get("RIC") or rec.get("REC_ID") or rec.get("RECID") or "3"
        if rid in {"7", "8"}:
            continue  # modifiers, not codes
        if not HCPCS_CODE.match(code):
            raise CodeFileError(source, lineno, f"{code!r} is not a HCPCS Level II code")
        desc = rec.get("LONG DESCRIPTION") or rec.get("SHORT DESCRIPTION", "")
        if rid == "4":
            if code not in descriptions:
                raise CodeFileError(source, lineno, f"continuation line for {code} before its first line")
            descriptions[code].append(desc)
            continue
        if not desc:
            raise CodeFileError(source, lineno, f"code {code} has no description")
        if code not in descriptions:
            order.append(code)
            descriptions[code] = []
        descriptions[code].append(desc)
    if not order:
        raise CodeFileError(source, 1, "no HCPCS codes found")
    return [ProcedureCode(c, "HCPCS", " ".join(d for d in descriptions[c] if d), "", source) for c in order]


def _builtin(name: str, system: str, pattern: re.Pattern[str]) -> list[ProcedureCode]:
    text = resources.files("chartcoder.codes").joinpath("data", name).read_text("utf-8")
    return parse_code_csv(text, f"chartcoder/codes/data/{name}", system, pattern)


def _overlaid(system: str, demo_name: str, pattern: re.Pattern[str], overlay: list[ProcedureCode]) -> ProcedureCodeSet:
    codes = ProcedureCodeSet(system, pattern, _builtin(demo_name, system, pattern))
    demo = {c.code: c.category for c in codes}
    codes.update(
        ProcedureCode(c.code, c.system, c.description, demo.get(c.code, c.category), c.source) for c in overlay
    )
    return codes


@lru_cache(maxsize=8)
def _cpt_from(path: str | None) -> ProcedureCodeSet:
    return _overlaid("CPT", "cpt_demo.csv", CPT_CODE, load_cpt_csv(path) if path else [])


@lru_cache(maxsize=8)
def _hcpcs_from(path: str | None) -> ProcedureCodeSet:
    return _overlaid("HCPCS", "hcpcs_demo.csv", HCPCS_CODE, load_hcpcs_file(path) if path else [])


def _key(path: str | Path | None) -> str | None:
    return str(Path(path).resolve()) if path else None


def cpt(settings: Settings | None = None) -> ProcedureCodeSet:
    """The CPT set of `settings` (default: the process's settings): our demo wording, overlaid by the
    licensed file of its `cpt_file`. Built once per file path, so two Settings naming different files
    each get their own set in one process."""
    if settings is None:
        from chartcoder.config import get_settings

        settings = get_settings()
    return _cpt_from(_key(settings.cpt_file))


def hcpcs(settings: Settings | None = None) -> ProcedureCodeSet:
    """The HCPCS set of `settings` (default: the process's settings): our demo set, overlaid by the CMS
    file of its `hcpcs_file`. Built once per file path."""
    if settings is None:
        from chartcoder.config import get_settings

        settings = get_settings()
    return _hcpcs_from(_key(settings.hcpcs_file))


def clear_caches() -> None:
    """Forget the built sets (a test that rewrites a code file in place)."""
    _cpt_from.cache_clear()
    _hcpcs_from.cache_clear()
