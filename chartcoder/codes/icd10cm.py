"""ICD-10-CM FY2026 terminology: lookup, hierarchy, tabular notes and coder search, over simple-icd-10-cm."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from types import ModuleType
from typing import Any

from chartcoder.domain.errors import UnknownCodeError

RELEASE = "ICD-10-CM FY2026 (April 1 2026 tabular, simple-icd-10-cm 1.5.0)"

# Codes cited inside tabular notes look like "(E08.-)", "(N18.1-N18.6)" or "(A81.0-)".
# The look-arounds keep acronyms such as "H1N1" or "G6PD" from reading as codes.
_CITED_CODE = re.compile(r"(?<![A-Za-z0-9/])([A-Z][0-9A-Z][0-9A-Z](?:\.[0-9A-Z]{1,4})?)(?:\.?-)?(?![A-Za-z0-9])")
# Letter, then two alphanumerics (FY2026 added QA0), then up to four more after the dot.
_CODE_SHAPE = re.compile(r"^[A-Za-z][0-9A-Za-z][0-9A-Za-z](\.?[0-9A-Za-z]{1,4})?$")
# "in diseases classified elsewhere", "in conditions classified elsewhere", but not
# "as the cause of diseases classified elsewhere" (B95-B97 are not manifestations).
_MANIFESTATION = re.compile(r"\bin (?:[a-z]+ )*(?:diseases|conditions) classified elsewhere", re.I)
_WORD = re.compile(r"[a-z0-9]+")


def _lib() -> ModuleType:
    import simple_icd_10_cm as cm  # imported lazily: ~2 s and ~190 MB, once per process

    return cm


def normalize_code(code: str) -> str:
    """Upper-case and put the dot after the category (`e1165` -> `E11.65`)."""
    c = code.strip().upper().replace(" ", "")
    if "." not in c and len(c) > 3 and c[0].isalpha():
        c = c[:3] + "." + c[3:]
    return c


def codes_cited(note: str) -> list[str]:
    """Codes referenced in a free-text tabular note, in order, without duplicates."""
    out: list[str] = []
    for m in _CITED_CODE.finditer(note):
        c = m.group(1)
        if c not in out:
            out.append(c)
    return out


@dataclass(frozen=True)
class ICDCode:
    """One ICD-10-CM tabular item with what a coder needs to see about it."""

    code: str
    description: str
    billable: bool
    kind: str  # chapter | block | category | subcategory
    parent: str | None
    children: list[str] = field(default_factory=list)
    inclusion_terms: list[str] = field(default_factory=list)
    includes: list[str] = field(default_factory=list)
    excludes1: list[str] = field(default_factory=list)
    excludes2: list[str] = field(default_factory=list)
    code_first: list[str] = field(default_factory=list)
    use_additional_code: list[str] = field(default_factory=list)
    code_also: list[str] = field(default_factory=list)
    seventh_characters: dict[str, str] = field(default_factory=dict)
    manifestation: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "system": "ICD-10-CM",
            "description": self.description,
            "billable": self.billable,
            "kind": self.kind,
            "parent": self.parent,
            "children": self.children,
            "inclusion_terms": self.inclusion_terms,
            "includes": self.includes,
            "excludes1": self.excludes1,
            "excludes2": self.excludes2,
            "code_first": self.code_first,
            "use_additional_code": self.use_additional_code,
            "code_also": self.code_also,
            "seventh_characters": self.seventh_characters,
            "manifestation": self.manifestation,
        }


def _as_list(value: Any) -> list[str]:
    if not value:
        return []
    if isinstance(value, str):
        return [line.strip() for line in value.split("\n") if line.strip()]
    return [str(v).strip() for v in value if str(v).strip()]


class ICD10CM:
    """The ICD-10-CM code set. Construct once per process (`icd10cm()`); every method is read-only."""

    release = RELEASE
    system = "ICD-10-CM"

    def __init__(self) -> None:
        self._cm = _lib()
        self._valid: dict[str, bool] = {}  # the suggestion path asks about the same codes again and again
        self._descriptions: dict[str, str] = {}

    # -- validity -----------------------------------------------------------------
    def is_valid(self, code: str) -> bool:
        hit = self._valid.get(code)
        if hit is None:
            c = normalize_code(code)
            # Some categories share their code with a one-category block (C50): ask for the category.
            hit = bool(_CODE_SHAPE.match(c)) and bool(self._cm.is_category_or_subcategory(c))
            if len(self._valid) < 500_000:  # bounded by the code set plus what callers send
                self._valid[code] = hit
        return hit

    def _is_block(self, code: str) -> bool:
        return bool(self._cm.is_chapter_or_block(code)) and not self._cm.is_category_or_subcategory(code)

    def is_billable(self, code: str) -> bool:
        c = normalize_code(code)
        return self.is_valid(c) and bool(self._cm.is_leaf(c))

    def require(self, code: str) -> str:
        """Return the normalized code, or raise UnknownCodeError with the nearest valid ancestor as a hint."""
        c = normalize_code(code)
        if self.is_valid(c):
            return c
        hint = None
        for cut in range(len(c) - 1, 2, -1):
            prefix = c[:cut].rstrip(".")
            if self.is_valid(prefix):
                hint = f"Nearest valid code: {prefix} ({self.description(prefix)})."
                break
        raise UnknownCodeError(code, self.system, hint)

    # -- hierarchy ----------------------------------------------------------------
    def description(self, code: str) -> str:
        hit = self._descriptions.get(code)
        if hit is None:
            hit = str(self._cm.get_description(self.require(code)))
            self._descriptions[code] = hit  # only valid codes get here (require raises otherwise)
        return hit

    def parent(self, code: str) -> str | None:
        p = self._cm.get_parent(self.require(code))
        return None if not p or self._is_block(p) else str(p)

    def children(self, code: str) -> list[str]:
        return [str(c) for c in self._cm.get_children(self.require(code))]

    def ancestors(self, code: str) -> list[str]:
        """Category-level ancestors, nearest first (chapters and blocks left out)."""
        return [str(a) for a in self._cm.get_ancestors(self.require(code)) if not self._is_block(a)]

    def category(self, code: str) -> str:
        return self.require(code)[:3]

    def billable_descendants(self, code: str) -> list[str]:
        c = self.require(code)
        if self._cm.is_leaf(c):
            return [c]
        return [str(d) for d in self._cm.get_descendants(c) if self._cm.is_leaf(d)]

    def kind(self, code: str) -> str:
        c = self.require(code)
        if self._cm.is_category(c):
            return "category"
        if self._cm.is_extended_subcategory(c):
            return "extended subcategory"
        return "subcategory"

    # -- tabular notes --------------------------------------------------------------
    def excludes1(self, code: str) -> list[str]:
        """Excludes1 notes of the code and of its ancestors (they apply to every descendant)."""
        c = self.require(code)
        notes: list[str] = []
        for item in [c, *self.ancestors(c)]:
            notes.extend(_as_list(self._cm.get_excludes1(item)))
        return notes

    def excludes2(self, code: str) -> list[str]:
        c = self.require(code)
        notes: list[str] = []
        for item in [c, *self.ancestors(c)]:
            notes.extend(_as_list(self._cm.get_excludes2(item)))
        return notes

    def excludes1_codes(self, code: str) -> list[str]:
        """Codes cited by the Excludes1 notes that apply to `code` (only real ICD-10-CM items)."""
        return [x for note in self.excludes1(code) for x in codes_cited(note) if self.is_valid(x)]

    def code_first(self, code: str) -> list[str]:
        return _as_list(self._cm.get_code_first(self.require(code), search_in_ancestors=True))

    def use_additional_code(self, code: str) -> list[str]:
        return _as_list(self._cm.get_use_additional_code(self.require(code), search_in_ancestors=True))

    def code_also(self, code: str) -> list[str]:
        return _as_list(self._cm.get_code_also(self.require(code), search_in_ancestors=True))

    def inclusion_terms(self, code: str) -> list[str]:
        return _as_list(self._cm.get_inclusion_term(self.require(code)))

    def includes(self, code: str) -> list[str]:
        return _as_list(self._cm.get_includes(self.require(code)))

    def seventh_characters(self, code: str) -> dict[str, str]:
        """The 7th-character choices that apply to this code (empty when none do)."""
        c = self.require(code)
        d = self._cm.get_seven_chr_def(c, search_in_ancestors=True)
        return {str(k): str(v) for k, v in (d or {}).items()}

    def is_manifestation(self, code: str) -> bool:
        """Manifestation codes ("in diseases classified elsewhere") carry a code-first note; never first-listed."""
        c = self.require(code)
        return any(_MANIFESTATION.search(str(self._cm.get_description(x))) for x in [c, *self.ancestors(c)])

    def with_seventh_character(self, code: str, character: str) -> str | None:
        """Add placeholder X's and the 7th character (`T81.40`, `A` -> `T81.40XA`) if the result is valid."""
        c = self.require(code)
        base = c.replace(".", "")
        if len(base) > 6:
            return None
        full = normalize_code(base.ljust(6, "X") + character.upper())
        return full if self.is_billable(full) else None

    def successor(self, code: str) -> str | None:
        """The billable FY2026 code an older code now is, where that is unambiguous: the code itself
        when billable; an expanded code's one "unspecified" child (R05 -> R05.9, M54.5 -> M54.50);
        an injury code's initial-encounter form when the 7th character was left off (T14.90 ->
        T14.90XA, W19.XXX -> W19.XXXA: an assumption, that the chart is of the initial encounter,
        which holds for the case reports and admissions we read). None when no single successor
        exists."""
        c = normalize_code(code)
        if self.is_billable(c):
            return c
        if not self.is_valid(c):
            base = c.replace(".", "")
            if len(base) == 6 and base.endswith("X"):
                trimmed = base.rstrip("X")
                if len(trimmed) >= 3 and self.is_valid(normalize_code(trimmed)):
                    return self.with_seventh_character(normalize_code(trimmed), "A")
            return None
        if self.seventh_characters(c):
            return self.with_seventh_character(c, "A")
        # Only the child that is the parent "..., unspecified" (Cough -> Cough, unspecified); never one
        # "with unspecified complications" (E11 is not E11.8).
        parent = self.description(c).lower().rstrip(".")
        unspecified = [
            k
            for k in self.children(c)
            if self.is_billable(k)
            and self.description(k).lower().endswith(", unspecified")
            and "with unspecified" not in self.description(k).lower()
            and self.description(k).lower().startswith(parent.split(",")[0])
        ]
        return unspecified[0] if len(unspecified) == 1 else None

    def lookup(self, code: str) -> ICDCode:
        c = self.require(code)
        return ICDCode(
            code=c,
            description=self.description(c),
            billable=self.is_billable(c),
            kind=self.kind(c),
            parent=self.parent(c),
            children=self.children(c),
            inclusion_terms=self.inclusion_terms(c),
            includes=self.includes(c),
            excludes1=self.excludes1(c),
            excludes2=self.excludes2(c),
            code_first=self.code_first(c),
            use_additional_code=self.use_additional_code(c),
            code_also=self.code_also(c),
            seventh_characters=self.seventh_characters(c),
            manifestation=self.is_manifestation(c),
        )

    # -- enumeration and search ---------------------------------------------------------
    @cached_property
    def all_codes(self) -> list[str]:
        """Every category, subcategory and code (no chapters or blocks), deduplicated, tabular order."""
        seen: set[str] = set()
        out: list[str] = []
        for c in self._cm.get_all_codes(with_dots=True):
            if c in seen or self._is_block(c):
                continue
            seen.add(c)
            out.append(str(c))
        return out

    @cached_property
    def _search_index(self) -> list[tuple[str, str, frozenset[str]]]:
        rows = []
        for c in self.all_codes:
            text = " ".join([self._cm.get_description(c), *_as_list(self._cm.get_inclusion_term(c))])
            rows.append((c, self._cm.get_description(c), frozenset(_WORD.findall(text.lower()))))
        return rows

    def search(self, query: str, limit: int = 20, billable_only: bool = False) -> list[tuple[str, str]]:
        """Codes whose description or inclusion terms contain every word of the query (prefix match),
        or whose code starts with the query; billable codes first, then initial-encounter 7th characters
        before subsequent before sequela (`encounter_rank`), then shorter descriptions."""
        q = query.strip()
        if not q:
            return []
        qc = normalize_code(q)
        hits: list[tuple[tuple[int, int, int, int], str, str]] = []
        words = _WORD.findall(q.lower())
        for code, desc, vocab in self._search_index:
            billable = bool(self._cm.is_leaf(code))
            if billable_only and not billable:
                continue
            if code.startswith(qc):
                hits.append(((0, len(code), encounter_rank(code), 0), code, desc))
            elif words and all(any(v.startswith(w) for v in vocab) for w in words):
                hits.append(((1, 0 if billable else 1, encounter_rank(code), len(desc)), code, desc))
        hits.sort(key=lambda h: h[0])
        return [(c, d) for _, c, d in hits[:limit]]


# The 7th character of injury, poisoning and other chapter-19-like codes (OCG I.C.19.a): A/B/C initial
# encounter (active treatment), D-R subsequent encounter (healing, routine care), S sequela. Coders code
# the initial encounter most often, so search offers A before D before S, whatever the descriptions' length.
_SEVENTH_RANK = {"A": 0, "B": 0, "C": 0, "S": 2}


def encounter_rank(code: str) -> int:
    """0 initial encounter (or no 7th character), 1 subsequent, 2 sequela, from a 7-character code's last letter."""
    plain = code.replace(".", "")
    if len(plain) != 7 or not plain[-1].isalpha():
        return 0
    return _SEVENTH_RANK.get(plain[-1], 1)


@lru_cache(maxsize=1)
def icd10cm() -> ICD10CM:
    """The process-wide ICD-10-CM code set."""
    return ICD10CM()
