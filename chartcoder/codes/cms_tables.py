"""The CMS ICD-10-CM index files chartcoder reads at run time: the External Cause Index, the Neoplasm
Table and the Table of Drugs and Chemicals, in the XML CMS publishes (`icd10cm_eindex_YYYY.xml`,
`icd10cm_neoplasm_YYYY.xml`, `icd10cm_drug_YYYY.xml`).

The files are never copied into this repository: the folder comes from the `cms_dir` setting
(`CHARTCODER_CMS_DIR`; by default `../shared/data/cms` beside the checkout when it is there), where
the files may sit directly or in a release folder such as `cm_2023/` (the newest year wins). Each file
is parsed once per process, on first use. The releases can be older than the tabular chartcoder codes
from (FY2023 files against the FY2026 tabular), so every code a file gives is checked against the
FY2026 tabular as it is read: codes that are no longer valid are dropped and counted, and a table's
"C50.9-" (more characters needed) is kept as the valid header `C50.9`. When the folder or a file is
missing or unreadable the features built on it are off, with one log line, and nothing fails.
"""

from __future__ import annotations

import logging
import re
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from chartcoder.codes.icd10cm import ICD10CM, icd10cm, normalize_code

if TYPE_CHECKING:
    from chartcoder.config import Settings

log = logging.getLogger("chartcoder.codes")

KINDS = ("eindex", "neoplasm", "drug")
TITLES = {
    "eindex": "External Cause Index",
    "neoplasm": "Neoplasm Table",
    "drug": "Table of Drugs and Chemicals",
}
NEOPLASM_COLUMNS = ("primary", "secondary", "in_situ", "benign", "uncertain", "unspecified")
DRUG_COLUMNS = ("accidental", "self_harm", "assault", "undetermined", "adverse", "underdosing")
# The files name their columns in <indexHeading>; we read the names rather than trust positions.
_HEADINGS = {
    "malignant primary": "primary",
    "malignant secondary": "secondary",
    "ca in situ": "in_situ",
    "benign": "benign",
    "uncertain behavior": "uncertain",
    "unspecified behavior": "unspecified",
    "poisoning accidental (unintentional)": "accidental",
    "poisoning intentional self-harm": "self_harm",
    "poisoning assault": "assault",
    "poisoning undetermined": "undetermined",
    "adverse effect": "adverse",
    "underdosing": "underdosing",
}
_FILE = re.compile(r"^icd10cm_(eindex|neoplasm|drug)_(\d{4})\.xml$", re.I)
_CODE = re.compile(r"^[A-Z][0-9A-Z]{2}(?:\.[0-9A-Z]{1,4})?$")
_SPACES = re.compile(r"\s+")


def _clean(text: str) -> str:
    return _SPACES.sub(" ", text).strip()


@dataclass(eq=False)
class Entry:
    """One main term or subterm of an index or table, with the FY2026-valid codes it gives."""

    title: str  # the essential words ("Fall, falling"); nonessential modifiers are in `nemod`
    nemod: str = ""
    level: int = 0  # 0 for a main term
    parent: Entry | None = field(default=None, repr=False)
    code: str | None = None  # External Cause Index: the code the entry gives
    cells: dict[str, str] = field(default_factory=dict)  # tables: column -> code (empty cells left out)
    see: str | None = None
    see_also: str | None = None
    children: list[Entry] = field(default_factory=list, repr=False)

    @property
    def path(self) -> tuple[str, ...]:
        out: list[str] = []
        node: Entry | None = self
        while node is not None:
            out.append(node.title)
            node = node.parent
        return tuple(reversed(out))

    @cached_property
    def alternatives(self) -> tuple[str, ...]:
        """The comma-separated forms of the title, lower case ("Fall, falling" -> fall, falling)."""
        return tuple(a.strip().lower() for a in self.title.split(",") if a.strip())

    def walk(self) -> Iterator[Entry]:
        yield self
        for child in self.children:
            yield from child.walk()

    def named(self, name: str) -> int:
        """2 when `name` is the title, 1 when it is one of the title's forms, else 0."""
        key = _clean(name).lower()
        return 2 if key == self.title.lower() else 1 if key in self.alternatives else 0

    def __str__(self) -> str:
        return " > ".join(self.path)


@dataclass
class Book:
    """One parsed file: its main terms, the columns of a table, and what validation dropped."""

    kind: str
    release: str
    path: Path
    main_terms: list[Entry]
    columns: tuple[str, ...] = ()
    codes: int = 0  # codes read that are valid in FY2026
    dropped: list[str] = field(default_factory=list)  # codes given by the file that FY2026 does not have
    seconds: float = 0.0
    _indexes: dict[int, dict[str, list[tuple[int, Entry]]]] = field(default_factory=dict, repr=False)

    def entries(self) -> Iterator[Entry]:
        for term in self.main_terms:
            yield from term.walk()

    def _named(self, level: list[Entry], name: str) -> list[Entry]:
        """Entries of a level that `name` is the title of, then those it is a form of (index per level)."""
        index = self._indexes.get(id(level))
        if index is None:
            index = {}
            for entry in level:
                for key, how in [(entry.title.lower(), 2), *((a, 1) for a in entry.alternatives)]:
                    index.setdefault(key, []).append((how, entry))
            for hits in index.values():
                hits.sort(key=lambda h: -h[0])  # stable: the file's order among equals
            self._indexes[id(level)] = index
        return [e for _, e in index.get(_clean(name).lower(), ())]

    def find(self, reference: str) -> Entry | None:
        """The entry a reference names: "Fall, falling > from, off, out of > ladder" (our paths), or a
        see-reference as the files write it ("Accident, transport, car occupant"), read greedily
        level by level: at each level the longest run of comma-separated words that is a title or one
        of its forms. None when any part does not match."""
        if ">" in reference:
            parts = [p.strip() for p in reference.split(">")]
            level: list[Entry] = self.main_terms
            node: Entry | None = None
            for part in parts:
                named = self._named(level, part)
                if not named:
                    return None
                node = named[0]
                level = node.children
            return node
        pieces = [p.strip() for p in reference.split(",") if p.strip()]
        return self._greedy(self.main_terms, pieces)

    def _greedy(self, level: list[Entry], pieces: list[str]) -> Entry | None:
        if not pieces:
            return None
        for n in range(len(pieces), 0, -1):
            name = ", ".join(pieces[:n])
            for entry in self._named(level, name):
                if n == len(pieces):
                    return entry
                found = self._greedy(entry.children, pieces[n:])
                if found is not None:
                    return found
        # A reference may run two levels together in one piece: "Neoplasm, lymph gland" is lymph > gland.
        words = pieces[0].split()
        for k in range(len(words) - 1, 0, -1):
            for entry in self._named(level, " ".join(words[:k])):
                found = self._greedy(entry.children, [" ".join(words[k:]), *pieces[1:]])
                if found is not None:
                    return found
        return None


class _Validator:
    """FY2023 codes against the FY2026 tabular, each distinct code checked once."""

    def __init__(self, icd: ICD10CM) -> None:
        self.icd = icd
        self.memo: dict[str, str | None] = {}

    def __call__(self, raw: str | None) -> str | None:
        if raw in self.memo:  # the same cell text recurs thousands of times ("T39.1X1")
            return self.memo[raw]
        code = self._check(raw)
        if raw is not None:
            self.memo[raw] = code
        return code

    def _check(self, raw: str | None) -> str | None:
        text = (raw or "").strip().upper()
        if not text or text.strip("-") == "":
            return None
        stem = text.rstrip("-").rstrip(".")  # "C50.9-" and "C56.-": more characters needed
        if not _CODE.match(stem):
            return None
        code = normalize_code(stem)
        return code if self.icd.is_valid(code) else None


def _title(el: ET.Element) -> tuple[str, str]:
    t = el.find("title")
    if t is None:
        return "", ""
    essential = [t.text or ""]
    nemod = []
    for child in t:
        if child.tag == "nemod":
            nemod.append("".join(child.itertext()))
        else:
            essential.append("".join(child.itertext()))
        essential.append(child.tail or "")
    return _clean(" ".join(essential)), _clean(" ".join(nemod))


def _text(el: ET.Element, tag: str) -> str | None:
    found = el.find(tag)
    return _clean("".join(found.itertext())) if found is not None else None


def _parse(kind: str, path: Path, icd: ICD10CM) -> Book:
    started = time.perf_counter()
    root = ET.parse(path).getroot()
    validate = _Validator(icd)
    columns: dict[str, str] = {}
    heading = root.find("indexHeading")
    if heading is not None:
        for head in heading.findall("head"):
            name = _HEADINGS.get(_clean("".join(head.itertext())).lower())
            if name is not None:
                columns[str(head.get("col"))] = name
    expected = {"neoplasm": NEOPLASM_COLUMNS, "drug": DRUG_COLUMNS}.get(kind, ())
    if expected and set(columns.values()) != set(expected):
        raise ValueError(f"{path.name}: unexpected column headings {sorted(columns.values())}")
    book = Book(kind, _clean(root.findtext("version") or ""), path, [], tuple(expected))

    def take(raw: str | None) -> str | None:
        if raw is None or not raw.strip().strip("-"):
            return None
        code = validate(raw)
        if code is None:
            book.dropped.append(raw.strip())
        else:
            book.codes += 1
        return code

    def build(el: ET.Element, level: int, parent: Entry | None) -> Entry:
        title, nemod = _title(el)
        entry = Entry(title, nemod, level, parent, see=_text(el, "see"), see_also=_text(el, "seeAlso"))
        for tag in ("code", "subcat", "seecat"):
            found = el.find(tag)
            if found is not None and entry.code is None:
                entry.code = take(found.text)
        for cell in el.findall("cell"):
            col = columns.get(str(cell.get("col")))
            code = take(cell.text) if col else None
            if col and code:
                entry.cells[col] = code
        entry.children = [build(t, level + 1, entry) for t in el.findall("term")]
        return entry

    for letter in root.findall("letter"):
        book.main_terms.extend(build(m, 0, None) for m in letter.findall("mainTerm"))
    book.seconds = time.perf_counter() - started
    return book


def find_files(directory: Path) -> dict[str, Path]:
    """kind -> file, in `directory` or one folder below it; the newest release of each kind wins."""
    best: dict[str, tuple[int, Path]] = {}
    if not directory.is_dir():
        return {}
    candidates = list(directory.glob("*.xml")) + list(directory.glob("*/*.xml"))
    for path in candidates:
        m = _FILE.match(path.name)
        if m is None:
            continue
        kind, year = m.group(1).lower(), int(m.group(2))
        if kind not in best or year > best[kind][0]:
            best[kind] = (year, path)
    return {k: p for k, (_, p) in best.items()}


class CmsTables:
    """The three files of one folder, each parsed on first use (thread-safe), None when unavailable."""

    def __init__(self, directory: Path | None, icd: ICD10CM | None = None) -> None:
        self.directory = directory
        self.files = find_files(directory) if directory is not None else {}
        self._icd = icd
        self._books: dict[str, Book | None] = {}
        self._lock = threading.Lock()
        self._warned = False
        if not self.files:
            where = str(directory) if directory is not None else "no folder configured"
            self._off(f"CMS index files not found ({where}; set CHARTCODER_CMS_DIR)")

    def _off(self, why: str) -> None:
        if not self._warned:
            self._warned = True
            log.warning(
                "%s: external cause, neoplasm table and drug table suggestions are off where a file is missing", why
            )

    @property
    def available(self) -> bool:
        return bool(self.files)

    def book(self, kind: str) -> Book | None:
        if kind not in KINDS:
            raise ValueError(f"unknown CMS file kind {kind!r}; one of {', '.join(KINDS)}")
        if kind in self._books:
            return self._books[kind]
        with self._lock:
            if kind not in self._books:
                self._books[kind] = self._load(kind)
        return self._books[kind]

    def _load(self, kind: str) -> Book | None:
        path = self.files.get(kind)
        if path is None:
            if self.files:
                self._off(f"{TITLES[kind]} file (icd10cm_{kind}_YYYY.xml) not found in {self.directory}")
            return None
        try:
            book = _parse(kind, path, self._icd or icd10cm())
        except (OSError, ET.ParseError, ValueError) as exc:
            log.warning("%s %s could not be read (%s): its suggestions are off", TITLES[kind], path, exc)
            return None
        log.info(
            "%s %s read: %d entries, %d codes valid in FY2026, %d dropped, %.2f s",
            TITLES[kind],
            book.release,
            sum(1 for _ in book.entries()),
            book.codes,
            len(book.dropped),
            book.seconds,
        )
        return book

    @property
    def external_cause_index(self) -> Book | None:
        return self.book("eindex")

    @property
    def neoplasm_table(self) -> Book | None:
        return self.book("neoplasm")

    @property
    def drug_table(self) -> Book | None:
        return self.book("drug")


_TABLES: dict[str, CmsTables] = {}
_TABLES_LOCK = threading.Lock()


def cms_tables(directory: Path | None = None, settings: Settings | None = None) -> CmsTables:
    """The CmsTables of `directory` (default: the `cms_dir` of `settings`, else of the process's settings),
    one per folder in the process."""
    if directory is None:
        from chartcoder.config import get_settings

        directory = (settings or get_settings()).cms_dir
    key = str(directory)
    with _TABLES_LOCK:
        if key not in _TABLES:
            _TABLES[key] = CmsTables(directory)
        return _TABLES[key]
