"""A seeded synthetic corpus of US clinical notes with gold ICD-10-CM, CPT and HCPCS codes.

How a note is made: the generator first decides what is true about one patient and one encounter -- a
`Plan` of `Problem`s (conditions present, ruled out, in the family, in the past, uncertain, statuses,
procedures done) -- derives the gold codes from those decisions by the official coding guidelines, and only
then writes the note, keeping for every code the sentences that carry it (`Record.evidence`). Nothing here
reads chartcoder's engine (`chartcoder.nlp`, `chartcoder.models`): the corpus trains and tests that engine,
so it must not be circular. The wording lives in `resources/synthetic/*.yaml`.

Guideline choices (see docs/DOMAIN.md and the ICD-10-CM Official Guidelines):
* negated findings and ruled-out conditions are not coded;
* family history is a Z80-Z84 code, never the disease; personal history is Z85-Z87 (old MI stays I25.2);
* uncertain diagnoses ("likely", "probable", "r/o", "concern for") are coded as their sign or symptom in
  outpatient notes and as if established in an inpatient discharge summary (Section II.H); the symptoms
  integral to a definitive diagnosis are not coded;
* combination codes: diabetes with CKD/neuropathy/retinopathy (presumed linked), hypertension with CKD
  (I12), with heart failure (I11.0 + I50.x), with both (I13), plus the CKD stage; BMI (Z68) only with an
  associated weight diagnosis, adult Z68.1-Z68.45 from age 20, pediatric percentiles below;
* injuries carry the 7th character A in the ED, urgent care and procedure notes, D at office follow-up;
* office and urgent-care E/M levels come only from a stated total time (2021 AMA ranges); without a time
  statement no E/M code is emitted (the demo CPT set has no ED E/M codes, so ED notes carry none);
* pregnancy: Z34/O09.5 supervision or the O-code complication, plus Z3A weeks; pre-existing hypertension in
  pregnancy is O10.x (never I10); no Z79.4 with O24.4-; smokers are not drawn for pregnant patients;
* a note never holds two codes of an Excludes1 pair (resources/synthetic/excludes1.yaml, from the tabular);
* allergy lists, occasional substance use without a disorder, and BMI without a weight diagnosis are written
  but not coded.

U.S. documents, coded as docs/coding-policy.md says (resources/synthetic/operations.yaml, radiology.yaml):
* operative and endoscopy reports code the postoperative diagnosis first; "Same" means the preoperative list; a
  postoperative diagnosis that refines or replaces a preoperative sign or working diagnosis withholds the
  preoperative code; blood loss, anesthesia, "complications: none", drains, specimens, a Foley catheter, wound
  closure and the risks named at consent are written and never coded; a tumour being operated on is current;
* consults and H&Ps (admission or preoperative) follow the outpatient rules; conditions named only in their past
  history (and in an operative report's indications) are written and not coded (a coder's optional codes);
* imaging reports code a definitive impression, else the sign of the indication (OCG IV.K);
* discharge summaries may name the admitting diagnosis (a working diagnosis, never coded) and a surgical stay;
* about 30% of notes are written in the transcription form of U.S. dictation: capital headings inline followed by
  ":," and sections joined by commas on one line, numbered lists inline (`Plan.layout`).

Randomness: each record draws from its own `random.Random` seeded by (seed, index), so `generate(n, s)` is a
prefix of `generate(m, s)` for n < m and byte-identical across runs; nothing reads the clock or iterates a set.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache
from importlib import resources
from typing import Any, TypeVar

import yaml

from chartcoder.codes.em_tables import time_ranges
from chartcoder.training.records import GoldCode, Record

ICD = "ICD-10-CM"
CPT = "CPT"
HCPCS = "HCPCS"
KINDS = ("office", "urgent", "ed", "discharge", "procedure", "operative", "consult", "hp", "radiology")
KIND_NAMES = {
    "office": "office_progress_note",
    "urgent": "urgent_care_note",
    "ed": "emergency_department_note",
    "discharge": "discharge_summary",
    "procedure": "procedure_note",
    "operative": "operative_report",
    "consult": "consultation_note",
    "hp": "history_and_physical",
    "radiology": "radiology_report",
}
# The coding policy codes every document from the professional claim's side (outpatient rules: an uncertain
# diagnosis is coded as its sign) except the discharge summary, which is the facility's inpatient record.
SETTING = {kind: "outpatient" for kind in KINDS}
SETTING["discharge"] = "inpatient"
# The `where` lists of conditions_*.yaml a kind draws from (a consult sees what an office sees, an admission
# H&P what a discharge summary and an ED see).
WHERE_ALIAS = {"consult": ("consult", "office"), "hp": ("hp", "discharge", "ed")}
MAX_ICD = 7

# 2021+ AMA office E/M time ranges (total time on the date of the encounter).
EM_NEW = time_ranges("new")
EM_EST = time_ranges("established")
PREVENTIVE_AGES = ((0, 0), (1, 4), (5, 11), (12, 17), (18, 39), (40, 64), (65, 200))

SIDE_WORDS = {
    "right": ("right", "right", "right", "right", "R", "rt"),
    "left": ("left", "left", "left", "left", "L", "lt"),
    "bilateral": ("bilateral", "bilateral", "bilateral", "B/L"),
}
SIDE_WEIGHTS = {"right": 44.0, "left": 44.0, "bilateral": 12.0, "unspecified": 6.0}
# Categories where one note may hold several codes (statuses, histories, long-term drugs).
MULTI_OK = frozenset(("Z79", "Z80", "Z81", "Z82", "Z83", "Z84", "Z85", "Z86", "Z87"))
MULTI_OK |= frozenset(("Z89", "Z90", "Z91", "Z92", "Z94", "Z95", "Z96", "Z98", "Z99"))
# Words a typo never touches: negation, history, family, uncertainty and laterality cues, time statements.
CRITICAL_WORDS = frozenset(
    (
        *("no", "not", "denies", "denied", "deny", "negative", "without", "never", "ruled"),
        *("history", "family", "mother", "father", "sister", "brother", "former", "quit", "prior", "remote"),
        *("likely", "probable", "possible", "suspected", "suspect", "concern", "questionable", "presumed"),
        *("right", "left", "bilateral", "resolved", "status", "minutes", "total", "spent"),
    )
)

T = TypeVar("T")


# ----------------------------------------------------------------------------------------------- data model
@dataclass(frozen=True)
class Unc:
    """The sign or symptom coded instead of a condition when an outpatient note leaves it uncertain."""

    codes: dict[str, tuple[str, ...]]  # side ("" if not lateral) -> codes
    terms: tuple[str, ...]


@dataclass(frozen=True)
class Drug:
    code: str | None  # Z79.x, or None when the drug class has no long-term-use code
    med: str
    plan: str


@dataclass(frozen=True, eq=False)
class Cond:
    id: str
    type: str  # chronic | acute | injury | inpatient | secondary | finding | proc | encounter
    codes: dict[str, tuple[str, ...]]  # side ("" if not lateral) -> codes (injury codes without the 7th char)
    terms: tuple[str, ...]
    bilateral_terms: tuple[str, ...]
    unspecified_terms: tuple[str, ...]
    where: tuple[str, ...]
    age: tuple[int, int]
    sex: str | None
    weight: float
    plan: tuple[str, ...]
    plan_d: tuple[str, ...]
    hpi: tuple[str, ...]
    sx: tuple[str, ...]
    exam: dict[str, str]
    drugs: tuple[Drug, ...]
    drug_p: float
    med: tuple[str, ...]
    unc: Unc | None
    unc_in: bool
    negs: tuple[str, ...]
    poc: tuple[str, ...]
    procs: tuple[str, ...]
    xray: tuple[str, str] | None
    dme: tuple[str, ...]
    course: tuple[str, ...]
    status: tuple[str, ...]
    clash: tuple[str, ...]
    seventh: tuple[str, ...]
    needs7: bool = False  # some code takes a 7th character (injury, poisoning, pathological fracture)
    also: tuple[str, ...] = ()  # conditions that often come with this one as the principal diagnosis
    also_opposite: bool = False  # ...on the opposite side (a left MCA stroke weakens the right side)

    @property
    def lateral(self) -> bool:
        return "" not in self.codes


@dataclass
class Line:
    """One sentence or list item of the note, the section it goes to, and the codes it supports."""

    section: str
    text: str
    codes: tuple[str, ...] = ()
    protected: bool = True


@dataclass
class Problem:
    """One decision about the patient, with the gold codes it yields and the codes it must not yield."""

    key: str
    role: str  # present | uncertain | negated | family | history | status | social | encounter | procedure
    codes: list[str]
    withheld: list[str] = field(default_factory=list)
    phrase: str = ""
    side: str = ""
    lines: list[Line] = field(default_factory=list)
    rank: int = 5
    clash: tuple[str, ...] = ()
    procedures: list[tuple[str, str]] = field(default_factory=list)  # (code, system)
    setting: str = ""
    new_finding: bool = False  # found today (preventive visit): not in the past history


@dataclass
class Plan:
    """What the generator decided for one note; exposed so tests can check the gold against the decisions."""

    index: int
    kind: str
    setting: str
    sex: str
    age: int
    date: str
    patient_status: str | None
    problems: list[Problem]
    minutes: int | None = None
    em_code: str | None = None
    subtype: str = ""
    typos: int = 0  # typos put into words that carry no code
    all_caps: bool = False
    layout: str = "lines"  # lines | csv (transcription: "HEADER:,  text.,HEADER:, ...") | flat (one line, no commas)
    sections: list[tuple[str, str]] = field(default_factory=list)  # (section, heading) as written, in order


# ----------------------------------------------------------------------------------------------- loading
def _tuple(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, (list, tuple)):
        return tuple(str(v) for v in value)
    return (str(value),)


def _codes(entry: dict[str, Any]) -> dict[str, tuple[str, ...]]:
    if "sides" in entry:
        return {str(k): _tuple(v) for k, v in entry["sides"].items()}
    return {"": _tuple(entry["code"])}


DEFAULT_WHERE = {
    "chronic": ("office", "urgent", "ed", "discharge"),
    "acute": ("office", "urgent", "ed"),
    "injury": ("urgent", "ed", "office"),
    "inpatient": ("discharge",),
    "secondary": ("discharge",),
    "finding": ("office", "urgent", "ed"),
    "proc": ("procedure",),
    "encounter": ("office", "urgent"),
    "surgical": ("operative", "consult", "hp"),
}
DEFAULT_AGE = {
    "chronic": (18, 95),
    "acute": (2, 95),
    "injury": (2, 95),
    "inpatient": (18, 95),
    "secondary": (18, 95),
    "finding": (2, 95),
    "proc": (2, 95),
    "encounter": (2, 95),
    "surgical": (18, 90),
}


def _cond(entry: dict[str, Any]) -> Cond:
    ctype = str(entry.get("type", "chronic"))
    if ctype not in DEFAULT_WHERE:
        raise ValueError(f"condition {entry.get('id')}: unknown type {ctype!r}")
    unc = entry.get("unc")
    drugs = tuple(
        Drug(d.get("code"), str(d["med"]), str(d.get("plan", f"Continue {d['med']}."))) for d in entry.get("drugs", [])
    )
    xray = entry.get("xray")
    age = entry.get("age") or DEFAULT_AGE[ctype]
    return Cond(
        id=str(entry["id"]),
        type=ctype,
        codes=_codes(entry),
        terms=_tuple(entry["terms"]),
        bilateral_terms=_tuple(entry.get("bilateral_terms")),
        unspecified_terms=_tuple(entry.get("unspecified_terms")),
        where=_tuple(entry.get("where")) or DEFAULT_WHERE[ctype],
        age=(int(age[0]), int(age[1])),
        sex=entry.get("sex"),
        weight=float(entry.get("w", 1)),
        plan=_tuple(entry.get("plan")),
        plan_d=_tuple(entry.get("plan_d")),
        hpi=_tuple(entry.get("hpi")),
        sx=_tuple(entry.get("sx")),
        exam={str(k): str(v) for k, v in (entry.get("exam") or {}).items()},
        drugs=drugs,
        drug_p=float(entry.get("drug_p", 0.7)),
        med=_tuple(entry.get("med")),
        unc=Unc(_codes(unc), _tuple(unc["terms"])) if unc else None,
        unc_in=bool(entry.get("unc_in", False)),
        negs=_tuple(entry.get("negs")),
        poc=_tuple(entry.get("poc")),
        procs=_tuple(entry.get("procs")),
        xray=(str(xray["code"]), str(xray["text"])) if xray else None,
        dme=_tuple(entry.get("dme")),
        course=_tuple(entry.get("course")),
        status=_tuple(entry.get("status")),
        clash=_tuple(entry.get("clash")),
        seventh=_tuple(entry.get("seventh")) or ("A", "D"),
        needs7=any(_needs_seventh(c) for cs in _codes(entry).values() for c in cs),
        also=_tuple(entry.get("also")),
        also_opposite=bool(entry.get("also_opposite", False)),
    )


_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the C loader when PyYAML has libyaml: ~10x faster


@dataclass(frozen=True)
class _Data:
    conds: dict[str, Cond]
    phr: dict[str, Any]
    kinds: dict[str, Any]
    procs: dict[str, Any]
    hist: dict[str, Any]
    combos: dict[str, Any]
    excludes1: dict[str, frozenset[str]]  # code -> codes it is never coded with (both directions)
    ops: dict[str, Any]  # operations.yaml
    rad: dict[str, Any]  # radiology.yaml


@lru_cache(maxsize=1)
def _data() -> _Data:
    base = resources.files("chartcoder.training.resources").joinpath("synthetic")
    docs: dict[str, Any] = {}
    conds: dict[str, Cond] = {}
    for entry in sorted(base.iterdir(), key=lambda p: p.name):
        if not entry.name.endswith(".yaml"):
            continue
        doc = yaml.load(entry.read_text("utf-8"), Loader=_LOADER)
        if entry.name.startswith("conditions"):
            for raw in doc:
                c = _cond(raw)
                if c.id in conds:
                    raise ValueError(f"condition id {c.id!r} repeats in {entry.name}")
                conds[c.id] = c
        else:
            docs[entry.name[: -len(".yaml")]] = doc
    pairs: dict[str, set[str]] = {}
    for a, others in (docs["excludes1"]["excludes1"] or {}).items():
        for b in others:
            pairs.setdefault(str(a), set()).add(str(b))
            pairs.setdefault(str(b), set()).add(str(a))
    ex1 = {k: frozenset(v) for k, v in pairs.items()}
    data = _Data(
        conds,
        docs["phrasing"],
        docs["note_kinds"],
        docs["procedures"],
        docs["history"],
        docs["combos"],
        ex1,
        docs["operations"],
        docs["radiology"],
    )
    _check_references(data)
    return data


def _check_references(d: _Data) -> None:
    """Every condition an operation or an imaging study names exists (a typo fails at load, not mid-corpus)."""
    names: list[tuple[str, str]] = []
    for op in d.ops["operations"]:
        for key in ("dx",):
            names += [(op["id"], str(c)) for c in op[key]]
        for key in ("dx2", "add"):
            names += [(op["id"], str(e["cond"])) for e in op.get(key, [])]
        for r in op.get("refine", []):
            names.append((op["id"], str(r["post"])))
            if isinstance(r["pre"], str) and r["pre"] != "unc":
                names.append((op["id"], str(r["pre"])))
        names += [(op["id"], str(c)) for c in op.get("findings_by", {})]
    for ex in d.rad["exams"]:
        names += [(ex["id"], str(e["cond"])) for e in ex["dx"] + ex["incidental"]]
        names += [(ex["id"], str(i)) for i in ex["indications"] if isinstance(i, str) and i not in d.phr["symptoms"]]
    missing = sorted({f"{owner}: {cid}" for owner, cid in names if cid not in d.conds})
    if missing:
        raise ValueError(f"unknown condition ids: {missing}")


@lru_cache(maxsize=1)
def _by_type() -> dict[str, tuple[Cond, ...]]:
    out: dict[str, list[Cond]] = {}
    for c in _data().conds.values():
        out.setdefault(c.type, []).append(c)
    return {k: tuple(v) for k, v in out.items()}


# ----------------------------------------------------------------------------------------------- text helpers
def _pick(rng: random.Random, seq: Sequence[T]) -> T:
    return seq[rng.randrange(len(seq))]


def _wpick(rng: random.Random, items: Sequence[T], weights: Sequence[float]) -> T:
    return rng.choices(list(items), weights=list(weights))[0]


def _cap(s: str) -> str:
    return s[:1].upper() + s[1:] if s[:1].islower() else s


def _low(s: str) -> str:
    """Lower the first letter unless the first word is an abbreviation (HTN, T2DM, COPD...)."""
    word = s.split(" ", 1)[0]
    if len(word) > 1 and (word[1:2].isupper() or any(ch.isdigit() for ch in word)):
        return s
    return s[:1].lower() + s[1:]


def _sentence(s: str) -> str:
    s = s.strip()
    return s if s.endswith((".", "!", "?")) else s + "."


def _side_text(rng: random.Random, template: str, side: str) -> str:
    """Write a laterality template: {side} is the side word, {s} a plural for bilateral."""
    if side in ("", "unspecified"):
        if "{side}" not in template:
            return template.replace("{s}", "")
        t = template.replace("{side}-sided ", "").replace("the {side} ", "the ").replace("{side} ", "")
        t = t.replace(" {side}", "").replace("{side}", "").replace("{s}", "")
        t = re.sub(r"\s+", " ", t).replace(" ,", ",").replace(", ,", ",").replace(",;", ";").replace(",.", ".")
        return re.sub(r"[,;\s]+$", "", t).strip()
    word = _pick(rng, SIDE_WORDS[side])
    if side == "bilateral":
        t = template.replace("{side}-sided", "{side}").replace("the {side}", "{side}")
        return t.replace("{side}", word).replace("{s}", "s")
    return template.replace("{side}", word).replace("{s}", "")


def _fill(rng: random.Random, template: str, **values: Any) -> str:
    """Fill {name} slots; list values are sampled. Unknown slots stay as written."""

    def one(m: re.Match[str]) -> str:
        v = values.get(m.group(1))
        if v is None:
            return m.group(0)
        if isinstance(v, (list, tuple)):
            return str(_pick(rng, v))
        return str(v)

    return re.sub(r"\{(\w+)\}", one, template)


def _join_words(items: Sequence[str], conj: str = "or") -> str:
    if len(items) <= 1:
        return "".join(items)
    if len(items) == 2:
        return f"{items[0]} {conj} {items[1]}"
    return ", ".join(items[:-1]) + f", {conj} {items[-1]}"


def _typo(rng: random.Random, word: str) -> str:
    i = rng.randrange(1, len(word) - 2)
    how = rng.randrange(3)
    if how == 0:
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if how == 1:
        return word[:i] + word[i + 1 :]
    return word[:i] + word[i] + word[i:]


def _em_for_minutes(minutes: int, new: bool) -> str | None:
    for lo, hi, code in EM_NEW if new else EM_EST:
        if lo <= minutes <= hi:
            return code
    return None


def _trimester(weeks: int) -> int:
    return 1 if weeks < 14 else 2 if weeks < 28 else 3


def _z68_adult(bmi: float) -> str:
    if bmi < 20:
        return "Z68.1"
    if bmi < 40:
        return f"Z68.{int(bmi)}"
    for hi, code in ((45, "Z68.41"), (50, "Z68.42"), (60, "Z68.43"), (70, "Z68.44")):
        if bmi < hi:
            return code
    return "Z68.45"


def _z3a(weeks: int) -> str:
    return "Z3A.01" if weeks < 8 else f"Z3A.{weeks:02d}"


def _needs_seventh(code: str) -> bool:
    bare = code.replace(".", "")
    return len(bare) == 6 and (code[0] in "ST" or code[:3] in ("M80", "M84"))


# ----------------------------------------------------------------------------------------------- context
class Ctx:
    """The decisions for one note while they are being made."""

    def __init__(self, rng: random.Random, kind: str, age: int, sex: str, when: date) -> None:
        self.rng = rng
        self.kind = kind
        self.setting = SETTING[kind]
        self.age = age
        self.sex = sex
        self.when = when
        self.d = _data()
        self.problems: list[Problem] = []
        self.extra: list[Line] = []  # lines tied to no decision (distractors, headers)
        self.exam_override: dict[str, str] = {}
        self.sx_used: list[str] = []
        self.bmi: float | None = None
        self.bmi_pct: int | None = None
        self.bmi_codes: tuple[str, ...] = ()
        self.pregnant_weeks: int | None = None
        self.febrile = False
        self.cc: list[str] = []
        self.reason = ""
        self.new_patient = False
        self.medicare = age >= 65
        self.ckd_term = ""
        self.bp: tuple[int, int] | None = None
        self.headings: dict[str, Sequence[str]] = {}  # heading choices of this note over the kind's
        self.title_low = ""  # the operation a surgical note names, in lower case
        self.letter = False  # a consultation written as a letter to the referring doctor
        self.name = ""  # "Mr. Smith" (consult letters)
        self.ref = ""  # the referring doctor

    # -- people words
    @property
    def she(self) -> str:
        return "she" if self.sex == "F" else "he"

    @property
    def her(self) -> str:
        return "her" if self.sex == "F" else "his"

    # -- bookkeeping
    def icd_codes(self) -> list[str]:
        out: list[str] = []
        for p in self.problems:
            for c in p.codes:
                if c not in out:
                    out.append(c)
        return out

    def withheld_codes(self) -> list[str]:
        return [c for p in self.problems for c in p.withheld]

    def fits(self, cond: Cond, where: str | None = None) -> bool:
        places = (where,) if where else WHERE_ALIAS.get(self.kind, (self.kind,))
        if not any(place in cond.where for place in places):
            return False
        if not cond.age[0] <= self.age <= cond.age[1]:
            return False
        if cond.sex and cond.sex != self.sex:
            return False
        if cond.needs7:
            return self.seventh() in cond.seventh
        return True

    def seventh(self) -> str:
        return "D" if self.kind == "office" else "A"

    def conflicts(self, new: Sequence[Problem]) -> bool:
        new_codes = [c for p in new for c in p.codes + p.withheld]
        new_clash = [pre for p in new for pre in p.clash]
        excluded = [x for p in new for c in p.codes for x in self.d.excludes1.get(c, ())]
        if excluded and any(x in q.codes for q in self.problems for x in excluded):
            return True
        for q in self.problems:
            old = q.codes + q.withheld
            for a in new_codes:
                for b in old:
                    if a == b or (a[:3] == b[:3] and a[:3] not in MULTI_OK):
                        return True
                if any(a.startswith(pre) for pre in q.clash):
                    return True
            if any(b.startswith(pre) for pre in new_clash for b in old):
                return True
        return False

    def add(self, *problems: Problem, force: bool = False) -> bool:
        if not problems:
            return False
        if not force and self.conflicts(problems):
            return False
        have = self.icd_codes()
        more = [c for p in problems for c in p.codes if c not in have]
        if len(set(have) | set(more)) > MAX_ICD:
            return False
        for p in problems:
            p.setting = self.setting
            self.problems.append(p)
        return True

    def candidates(self, types: Sequence[str], where: str | None = None) -> list[Cond]:
        by_type = _by_type()
        return [c for t in types for c in by_type.get(t, ()) if self.fits(c, where)]

    def used(self, cond_id: str) -> bool:
        return any(p.key == cond_id for p in self.problems)


# ----------------------------------------------------------------------------------------------- problems
def _side(rng: random.Random, cond: Cond, allowed: Sequence[str] | None = None) -> str:
    if not cond.lateral:
        return ""
    sides = [s for s in cond.codes if allowed is None or s in allowed]
    return _wpick(rng, sides, [SIDE_WEIGHTS.get(s, 1.0) for s in sides])


def _term(rng: random.Random, cond: Cond, side: str) -> str:
    if side == "bilateral" and cond.bilateral_terms:
        return _side_text(rng, _pick(rng, cond.bilateral_terms), side)
    if side == "unspecified" and cond.unspecified_terms:
        return _pick(rng, cond.unspecified_terms)
    return _side_text(rng, _pick(rng, cond.terms), side)


def _cond_codes(ctx: Ctx, cond: Cond, side: str) -> list[str]:
    return [c + ctx.seventh() if _needs_seventh(c) else c for c in cond.codes[side]]


def _unc_codes(cond: Cond, side: str) -> tuple[str, ...]:
    assert cond.unc is not None
    if side in cond.unc.codes:
        return cond.unc.codes[side]
    return cond.unc.codes.get("", ())


def _status_word(ctx: Ctx, cond: Cond) -> str:
    if cond.status:
        return _pick(ctx.rng, cond.status)
    key = "injury_" + ctx.seventh() if cond.type == "injury" else cond.type
    table = ctx.d.phr["status"]
    return _pick(ctx.rng, table.get(key, table["acute"]))


def _plan_text(ctx: Ctx, cond: Cond, side: str) -> str:
    rng = ctx.rng
    if cond.plan_d and ctx.seventh() == "D" and cond.type == "injury":
        return _sentence(_cap(_side_text(rng, _pick(rng, cond.plan_d), side)))
    if cond.plan and (cond.type != "injury" or ctx.seventh() == "A" or rng.random() < 0.3):
        return _sentence(_cap(_side_text(rng, _pick(rng, cond.plan), side)))
    key = "injury_" + ctx.seventh() if cond.type == "injury" else cond.type
    table = ctx.d.phr["plan_generic"]
    return _sentence(_pick(rng, table.get(key, table["acute"])))


def _ap_text(ctx: Ctx, phrase: str, status: str, plan: str) -> str:
    forms = ctx.d.phr["ap_forms"] if status else [f for f in ctx.d.phr["ap_forms"] if "{status}" not in f]
    form = _pick(ctx.rng, forms)
    return _fill(ctx.rng, form, P=_cap(phrase), status=status, plan=plan).strip()


def _duration(ctx: Ctx) -> str:
    return _pick(ctx.rng, ctx.d.phr["durations"])


def _symptom(ctx: Ctx, sx_id: str) -> tuple[str, str]:
    s = ctx.d.phr["symptoms"][sx_id]
    return str(s["code"]), _pick(ctx.rng, s["terms"])


def _hpi_symptoms(ctx: Ctx, terms: list[str], codes: tuple[str, ...] = ()) -> Line:
    form = _pick(ctx.rng, ctx.d.phr["hpi_symptom_forms"])
    text = _sentence(_cap(_fill(ctx.rng, form, sx=_join_words(terms, "and"), dur=_duration(ctx), pt=ctx.she)))
    return Line("hpi", text, codes)


def _present(ctx: Ctx, cond: Cond, *, main: bool, rank: int, side: str | None = None, new: bool = False) -> Problem:
    """A condition the note documents as present: coded."""
    rng = ctx.rng
    side = _side(rng, cond) if side is None else side
    phrase = _term(rng, cond, side)
    codes = _cond_codes(ctx, cond, side)
    p = Problem(cond.id, "present", codes, phrase=phrase, side=side, rank=rank, clash=cond.clash, new_finding=new)
    plan = _plan_text(ctx, cond, side)
    if new:
        plan = _sentence(_pick(rng, ctx.d.kinds["preventive"]["finding_plans"]))
    elif cond.drugs and rng.random() < cond.drug_p:
        drug = _pick(rng, cond.drugs)
        taken = drug.code is not None and drug.code in ctx.icd_codes()
        if drug.code and not taken:
            p.codes.append(drug.code)
            p.lines.append(Line("meds", drug.med, (drug.code,)))
            plan = _sentence(drug.plan)
        elif drug.code is None:
            p.lines.append(Line("meds", drug.med, (), False))
            plan = _sentence(drug.plan)
    elif cond.med:
        p.lines.append(Line("meds", _pick(rng, cond.med), (), False))
    if ctx.kind == "discharge":
        p.lines.append(Line("dx", _cap(phrase), tuple(p.codes)))
        if main or cond.course:
            course = _side_text(rng, _pick(rng, cond.course), side) if cond.course else plan
            form = _pick(rng, ctx.d.phr["course_forms"])
            p.lines.append(
                Line(
                    "course", _sentence(_cap(_fill(rng, form, pt=ctx.she, P=phrase, plan=_low(course)))), tuple(p.codes)
                )
            )
    else:
        p.lines.append(Line("ap", _ap_text(ctx, phrase, _status_word(ctx, cond), plan), tuple(p.codes)))
        if cond.type == "chronic" and not main and not new and rng.random() < 0.85:
            p.lines.append(Line("pmh", _term(rng, cond, side), tuple(p.codes)))
    if main:
        _main_details(ctx, cond, p, side)
    for system, text in cond.exam.items():
        if main or rng.random() < 0.5:
            ctx.exam_override[system] = _sentence(_cap(_side_text(rng, text, side)))
    return p


def _ros_related(ctx: Ctx, codes: Sequence[str]) -> None:
    """Keep the review of systems from denying what the main problem is about (no 'denies joint pain' for a sprain)."""
    related = ctx.d.phr["ros_related"]
    for code in codes:
        ctx.sx_used.extend(related.get(code[:1], []))


def _main_details(ctx: Ctx, cond: Cond, p: Problem, side: str) -> None:
    """HPI, chief complaint, tests and in-visit procedures for the reason of the encounter."""
    rng = ctx.rng
    _ros_related(ctx, p.codes)
    terms: list[str] = []
    for sx_id in cond.sx:
        code, term = _symptom(ctx, sx_id)
        terms.append(term)
        p.withheld.append(code)
        ctx.sx_used.append(sx_id)
        if sx_id == "fever":
            ctx.febrile = True
    if cond.unc is not None:
        unc = _side_text(rng, _pick(rng, cond.unc.terms), side)
        unc_codes = [c for c in _unc_codes(cond, side) if c not in p.codes]
        if not any(c in p.withheld for c in unc_codes):
            terms.insert(0, unc)
            p.withheld.extend(unc_codes)
    terms = [t for i, t in enumerate(terms) if t not in terms[:i]]
    if cond.hpi:
        p.lines.append(
            Line(
                "hpi",
                _sentence(
                    _cap(_fill(rng, _side_text(rng, _pick(rng, cond.hpi), side), pt=ctx.she, dur=_duration(ctx)))
                ),
            )
        )
    elif terms:
        p.lines.append(_hpi_symptoms(ctx, terms[:3]))
    if ctx.kind in ("urgent", "ed", "office", "consult", "hp"):
        ctx.cc.append(_cap(terms[0]) if terms else _cap(p.phrase))
    for test in cond.poc:
        _poc(ctx, p, test, positive=True)
    for proc in cond.procs:
        _inline_proc(ctx, p, proc, side)
    if cond.xray and ctx.kind in ("urgent", "ed"):
        code, text = cond.xray
        line = _sentence(_cap(_side_text(rng, text, side)))
        if ctx.kind == "urgent":
            p.procedures.append((code, CPT))
            p.lines.append(Line("results", line, (code,)))
        else:
            p.lines.append(Line("results", line))
    if cond.dme and ctx.kind == "urgent":
        for code in cond.dme:
            item = ctx.d.procs["dme"][code]
            p.procedures.append((code, HCPCS))
            p.lines.append(Line("ap_extra", _sentence(_cap(_side_text(rng, _pick(rng, item), side))), (code,)))


def _poc(ctx: Ctx, p: Problem, test_id: str, *, positive: bool) -> None:
    test = ctx.d.procs["poc"][test_id]
    if ctx.kind not in test.get("where", ["urgent", "office"]):
        return
    if not test["ages"][0] <= ctx.age <= test["ages"][1]:
        return
    text = _sentence(_fill(ctx.rng, _pick(ctx.rng, test["pos" if positive else "neg"])))
    code = str(test["code"])
    if any(code == c for q in ctx.problems + [p] for c, _ in q.procedures):
        return
    p.procedures.append((code, str(test.get("system", CPT))))
    p.lines.append(Line("results", text, (code,)))


def _inline_proc(ctx: Ctx, p: Problem, proc_id: str, side: str) -> None:
    proc = ctx.d.procs["inline"][proc_id]
    if ctx.kind not in proc.get("where", ["urgent", "ed", "office"]):
        return
    ages = proc.get("ages", [0, 200])
    if not ages[0] <= ctx.age <= ages[1]:
        return
    rng = ctx.rng
    text = _sentence(_cap(_fill(rng, _side_text(rng, _pick(rng, proc["text"]), side))))
    codes: list[tuple[str, str]] = [(str(c), str(s)) for c, s in proc["codes"]]
    if "drugs" in proc:
        drug = _pick(rng, proc["drugs"])
        text = _sentence(_fill(rng, text, drug=drug["text"]))
        codes.append((str(drug["code"]), HCPCS))
    have = [c for q in ctx.problems + [p] for c, _ in q.procedures]
    codes = [(c, s) for c, s in codes if c not in have]
    p.procedures.extend(codes)
    p.lines.append(Line("procedure" if ctx.kind != "office" else "ap_extra", text, tuple(c for c, _ in codes)))


def _uncertain(ctx: Ctx, cond: Cond, *, rank: int, main: bool = True) -> Problem | None:
    """An uncertain diagnosis: the symptom in an outpatient note, the condition itself at discharge."""
    rng = ctx.rng
    if cond.unc is None:
        return None
    allowed = [s for s in cond.codes if s in cond.unc.codes or "" in cond.unc.codes]
    if not allowed:
        return None
    side = _side(rng, cond, allowed)
    cond_phrase = _term(rng, cond, side)
    sym_codes = _unc_codes(cond, side)
    sym = _side_text(rng, _pick(rng, cond.unc.terms), side)
    full = _cond_codes(ctx, cond, side)
    if ctx.setting == "inpatient":
        cue = _pick(rng, ctx.d.phr["uncertain_in"])
        p = Problem(cond.id, "uncertain", full, [c for c in sym_codes if c not in full], cond_phrase, side, rank=rank)
        p.clash = cond.clash
        dx = _cap(_fill(rng, cue, cond=cond_phrase))
        p.lines.append(Line("dx", dx, tuple(full)))
        course = _side_text(rng, _pick(rng, cond.course), side) if cond.course else _plan_text(ctx, cond, side)
        form = _pick(rng, ctx.d.phr["course_uncertain"])
        text = _fill(rng, form, pt=ctx.she, sym=sym, cond=cond_phrase, plan=_low(course))
        p.lines.append(Line("course", _sentence(_cap(text)), tuple(full)))
        return p
    cue = _pick(rng, ctx.d.phr["uncertain_out"])
    plan = _pick(rng, ctx.d.phr["uncertain_plan"])
    p = Problem(cond.id, "uncertain", list(sym_codes), full, cond_phrase, side, rank=rank, clash=cond.clash)
    text = _cap(_fill(rng, cue, sym=sym, cond=cond_phrase))
    p.lines.append(Line("ap", _sentence(text) + " " + _sentence(plan), tuple(sym_codes)))
    if main:
        _ros_related(ctx, full + list(sym_codes))
        p.lines.append(_hpi_symptoms(ctx, [sym], tuple(sym_codes)))
        ctx.cc.append(_cap(sym))
        for sx_id in cond.sx[:1]:
            code, term = _symptom(ctx, sx_id)
            if code not in sym_codes:
                p.withheld.append(code)  # never written as present: keeps ROS from denying it
                ctx.sx_used.append(sx_id)
    return p


def _negatables(ctx: Ctx) -> list[dict[str, Any]]:
    """Conditions a note of this kind may rule out without a linked complaint."""
    return [
        n
        for n in ctx.d.phr["negatable"]
        if ctx.kind in n.get("random", ())
        and (not n.get("sex") or n["sex"] == ctx.sex)
        and ctx.age >= n.get("min_age", 12)
    ]


def _negated(ctx: Ctx, neg: dict[str, Any], *, rank: int = 8) -> Problem:
    """A condition the note rules out: not coded (a point-of-care test that ruled it out is billed)."""
    rng = ctx.rng
    term = _pick(rng, neg["terms"])
    tests = list(neg.get("tests") or [])
    poc = ctx.d.procs["poc"].get(str(neg.get("poc", "")))
    poc_code = ""
    if poc and ctx.kind in poc.get("where", ["urgent", "office"]) and poc["ages"][0] <= ctx.age <= poc["ages"][1]:
        poc_code = str(poc["code"])
        if any(poc_code == c for q in ctx.problems for c, _ in q.procedures):
            poc_code = ""
        else:
            tests = [_low(t) for t in poc["neg"]]
    forms = ctx.d.phr["negation_forms"] if tests else ctx.d.phr["negation_forms_no_test"]
    text = _sentence(_cap(_fill(rng, _pick(rng, forms), term=term, test=_pick(rng, tests) if tests else "")))
    codes = [str(c) for c in _tuple(neg["code"])]
    p = Problem(str(neg["id"]), "negated", [], codes, term, rank=rank, clash=_tuple(neg.get("clash")))
    section = {"discharge": "course", "ed": "mdm"}.get(ctx.kind, "ap" if rng.random() < 0.5 else "results")
    if poc_code:
        p.procedures.append((poc_code, str(poc.get("system", CPT)) if poc else CPT))
        p.lines.append(Line("results", text, (poc_code,)))
    else:
        p.lines.append(Line(section, text))
    return p


def _denials(ctx: Ctx, k: int, section: str = "hpi") -> None:
    """'Denies chest pain or fever': symptoms named as absent, none coded."""
    rng = ctx.rng
    table = ctx.d.phr["symptoms"]
    ids = [s for s in table if s not in ctx.sx_used and ctx.age >= table[s].get("min_age", 0)]
    chosen: list[tuple[str, str]] = []
    for _ in range(k * 3):
        if len(chosen) >= k or not ids:
            break
        sid = _pick(rng, ids)
        ids.remove(sid)
        if ctx.febrile and sid in ("fever", "chills"):
            continue
        code, term = _symptom(ctx, sid)
        probe = Problem("denial", "negated", [], [code])
        if ctx.conflicts([probe]):
            continue
        ctx.sx_used.append(sid)
        chosen.append((code, term))
    if not chosen:
        return
    form = _pick(rng, ctx.d.phr["denial_forms"])
    text = _sentence(_cap(_fill(rng, form, sx=_join_words([t for _, t in chosen]))))
    p = Problem("denial", "negated", [], [c for c, _ in chosen], rank=9)
    p.lines.append(Line(section, text))
    ctx.add(p, force=True)


def _ros(ctx: Ctx) -> None:
    rng = ctx.rng
    if rng.random() < 0.15:
        return
    table = ctx.d.phr["symptoms"]
    systems = ctx.d.phr["ros_systems"]
    for system in systems:
        if rng.random() < 0.35:
            continue
        ids = [s for s in system["sx"] if s not in ctx.sx_used and ctx.age >= table[s].get("min_age", 0)]
        if ctx.febrile:
            ids = [s for s in ids if s not in ("fever", "chills")]
        if not ids:
            continue
        rng.shuffle(ids)
        keep: list[tuple[str, str]] = []
        for sid in ids[: rng.randint(1, 3)]:
            code, term = _symptom(ctx, sid)
            if ctx.conflicts([Problem("ros", "negated", [], [code])]):
                continue
            keep.append((code, term))
            ctx.sx_used.append(sid)
        if not keep:
            continue
        label = _pick(rng, system["labels"])
        form = _pick(rng, ctx.d.phr["ros_forms"])
        text = _fill(rng, form, sys=label, sx=_join_words([t for _, t in keep]))
        p = Problem("ros", "negated", [], [c for c, _ in keep], rank=9)
        p.lines.append(Line("ros", _sentence(text), (), False))
        ctx.add(p, force=True)
    if rng.random() < 0.5:
        ctx.extra.append(Line("ros", _pick(rng, ctx.d.phr["ros_closers"]), (), False))


# ----------------------------------------------------------------------------------------------- histories
def _year(ctx: Ctx, back: tuple[int, int] = (1, 25)) -> int:
    span = max(1, min(back[1], ctx.age - 3))
    return ctx.when.year - ctx.rng.randint(min(back[0], span), span)


def _family(ctx: Ctx, k: int) -> None:
    rng = ctx.rng
    entries = ctx.d.hist["family"]
    rels = ctx.d.phr["relatives"]
    added = 0
    for _ in range(k * 4):
        if added >= k:
            break
        e = _pick(rng, entries)
        pool = [r for r in rels[e.get("rel", "any")] if ctx.age >= 35 or r not in ("son", "daughter")]
        rel = _pick(rng, pool)
        term = _pick(rng, e["terms"])
        form = _pick(rng, ctx.d.phr["family_forms"])
        text = _cap(_fill(rng, form, rel=rel, cond=term, age=rng.randint(38, 82), her=ctx.her))
        code = str(e["code"])
        p = Problem("family", "family", [code], list(_tuple(e["cond"])), term, rank=7)
        p.lines.append(Line("fh", _sentence(text), (code,)))
        if ctx.add(p):
            added += 1


def _personal_history(ctx: Ctx, k: int) -> None:
    rng = ctx.rng
    entries = [
        e
        for e in ctx.d.hist["personal"]
        if e["age"][0] <= ctx.age <= e["age"][1] and (not e.get("sex") or e["sex"] == ctx.sex)
    ]
    added = 0
    for _ in range(k * 4):
        if added >= k or not entries:
            break
        e = _wpick(rng, entries, [x.get("w", 1) for x in entries])
        code = str(e["code"])
        text = _sentence(_cap(_fill(rng, _pick(rng, e["text"]), year=_year(ctx))))
        p = Problem(
            "history", "history", [code], list(_tuple(e.get("cond"))), text, rank=6, clash=_tuple(e.get("clash"))
        )
        p.lines.append(Line(str(e.get("section", "pmh")), text, (code,)))
        if ctx.add(p):
            added += 1


def _status(ctx: Ctx, k: int) -> None:
    rng = ctx.rng
    entries = [
        e
        for e in ctx.d.hist["status"]
        if e["age"][0] <= ctx.age <= e["age"][1] and (not e.get("sex") or e["sex"] == ctx.sex)
    ]
    added = 0
    for _ in range(k * 4):
        if added >= k or not entries:
            break
        e = _pick(rng, entries)
        if "sides" in e:
            sides = list(e["sides"])
            side = _wpick(rng, sides, [SIDE_WEIGHTS.get(s, 1.0) for s in sides])
            codes = list(_tuple(e["sides"][side]))
        else:
            side, codes = "", list(_tuple(e["code"]))
        text = _sentence(_cap(_side_text(rng, _fill(rng, _pick(rng, e["text"]), year=_year(ctx)), side)))
        p = Problem("status", "status", codes, [], text, side, rank=6, clash=_tuple(e.get("clash")))
        p.lines.append(Line(str(e.get("section", "psh")), text, tuple(codes)))
        if ctx.add(p):
            added += 1


def _tobacco(ctx: Ctx, *, allow_current: bool = True) -> None:
    rng = ctx.rng
    if ctx.age < 18:
        return
    tob = ctx.d.hist["tobacco"]
    r = rng.random()
    if r < 0.17 and allow_current:
        e = _wpick(rng, tob["current"], [x.get("w", 1) for x in tob["current"]])
        code = str(e["code"])
        p = Problem("tobacco", "present", [code], [], "", rank=4)
        sh = _sentence(_cap(_fill(rng, _pick(rng, e["sh"]), n=rng.randint(5, 40), year=_year(ctx, (3, 30)))))
        p.lines.append(Line("sh", sh, (code,)))
        if ctx.kind == "discharge":
            p.lines.append(Line("dx", _cap(_pick(rng, e["dx"])), (code,)))
        elif ctx.kind != "procedure":
            plan = _pick(rng, tob["plans"])
            p.lines.append(Line("ap", _ap_text(ctx, _pick(rng, e["dx"]), "counseled", plan), (code,)))
            if ctx.kind == "office" and rng.random() < 0.5:
                minutes = rng.randint(3, 15)
                cpt = "99406" if minutes <= 10 else "99407"
                p.procedures.append((cpt, CPT))
                text = _sentence(_fill(rng, _pick(rng, tob["counseling"]), n=minutes))
                p.lines.append(Line("ap_extra", text, (cpt,)))
        ctx.add(p)
    elif r < 0.38:
        p = Problem("tobacco", "history", ["Z87.891"], ["F17.210"], "", rank=6)
        text = _sentence(_cap(_fill(rng, _pick(rng, tob["former"]), n=rng.randint(5, 40), year=_year(ctx, (2, 30)))))
        p.lines.append(Line("sh", text, ("Z87.891",)))
        ctx.add(p)
    elif r < 0.85:
        p = Problem("tobacco", "negated", [], ["F17.210", "Z87.891"], "", rank=9)
        p.lines.append(Line("sh", _sentence(_pick(rng, tob["never"]))))
        ctx.add(p)


def _social_distractors(ctx: Ctx) -> None:
    rng = ctx.rng
    sh = ctx.d.phr["social"]
    if ctx.age >= 18:
        alcohol = (
            sh["alcohol_pregnant"] if ctx.pregnant_weeks else sh["alcohol"] if ctx.age >= 21 else sh["alcohol_young"]
        )
        ctx.extra.append(Line("sh", _sentence(_pick(rng, alcohol)), (), True))
        if rng.random() < 0.6:
            ctx.extra.append(Line("sh", _sentence(_pick(rng, sh["drugs"])), (), True))
        if rng.random() < 0.7:
            job = _pick(rng, sh["jobs"])
            forms = sh["work"] + (sh["work_retired"] if ctx.age >= 60 else [])
            article = "an" if job[0] in "aeiou" else "a"
            text = _fill(rng, _pick(rng, forms), job=job, a=article)
            ctx.extra.append(Line("sh", _sentence(_cap(text)), (), False))
    else:
        grade = min(12, max(1, ctx.age - 5))
        pool = sh["child"] if ctx.age >= 6 else sh["toddler"]
        ctx.extra.append(Line("sh", _sentence(_fill(rng, _pick(rng, pool), grade=grade)), (), False))
    if rng.random() < 0.5 and ctx.age >= 18:
        ctx.extra.append(Line("sh", _sentence(_pick(rng, sh["living"])), (), False))
    if ctx.age >= 18 and rng.random() < 0.06:
        e = _pick(rng, ctx.d.hist["sdoh"])
        code = str(e["code"])
        p = Problem("sdoh", "social", [code], [], "", rank=5)
        p.lines.append(Line("sh", _sentence(_cap(_pick(rng, e["sh"]))), (code,)))
        if ctx.kind in ("office", "urgent", "ed"):
            p.lines.append(Line("ap", _sentence(_cap(_pick(rng, e["ap"]))), (code,)))
        ctx.add(p)


# ----------------------------------------------------------------------------------------------- combinations
def _weight(ctx: Ctx, *, rank: int = 3) -> bool:
    rng = ctx.rng
    w = ctx.d.combos["weight"]
    if ctx.age >= 20:
        e = _wpick(rng, w["adult"], [x.get("w", 1) for x in w["adult"]])
        bmi = round(rng.uniform(e["bmi"][0], e["bmi"][1]), 1)
        z68 = _z68_adult(bmi)
        bmi_text = f"BMI {bmi}"
    elif ctx.age >= 2:
        e = _wpick(rng, w["peds"], [x.get("w", 1) for x in w["peds"]])
        pct = rng.randint(e["pct"][0], e["pct"][1])
        z68 = str(e["z68"])
        bmi = round(rng.uniform(e["bmi"][0], e["bmi"][1]), 1)
        ctx.bmi_pct = pct
        bmi_text = f"BMI {_ordinal(pct)} percentile for age"
    else:
        return False
    code = str(e["code"])
    phrase = _pick(rng, e["terms"])
    p = Problem("weight", "present", [code, z68], [], phrase, rank=rank, clash=("E66", "Z68", "R63.6"))
    plan = _pick(rng, e.get("plans") or w["plans"])
    text = _fill(rng, _pick(rng, w["forms"]), P=_cap(phrase), bmi=bmi_text, plan=plan)
    if ctx.kind == "discharge":
        p.lines.append(Line("dx", _cap(_fill(rng, "{P}, {bmi}", P=phrase, bmi=bmi_text)), (code, z68)))
    else:
        p.lines.append(Line("ap", _sentence(text), (code, z68)))
    if ctx.add(p):
        ctx.bmi = bmi
        ctx.bmi_codes = (z68,)
        return True
    return False


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _dx_line(
    ctx: Ctx, phrase: str, status: str, plan: str, codes: Sequence[str], *, course: bool = False
) -> list[Line]:
    """The assessment line (or discharge-diagnosis line, with a hospital-course sentence) for a phrase."""
    if ctx.kind == "discharge":
        out = [Line("dx", _cap(phrase), tuple(codes))]
        if course:
            form = _pick(ctx.rng, ctx.d.phr["course_forms"])
            text = _fill(ctx.rng, form, pt=ctx.she, P=phrase, plan=_low(plan))
            out.append(Line("course", _sentence(_cap(text)), tuple(codes)))
        return out
    return [Line("ap", _ap_text(ctx, phrase, status, plan), tuple(codes))]


def _diabetes(ctx: Ctx, ckd_codes: list[str], *, dka: bool, rank: int, main: bool) -> Problem:
    rng = ctx.rng
    dm = ctx.d.combos["diabetes"]
    t1 = dka and rng.random() < 0.6 or rng.random() < (0.4 if ctx.age < 30 else 0.07)
    prefix = "e10" if t1 else "e11"
    name = _pick(rng, dm["t1_terms" if t1 else "t2_terms"])
    comps: list[str] = []
    if dka:
        comps.append("dka")
    else:
        if ckd_codes:
            comps.append("ckd")
        options = [k for k, v in dm["comps"].items() if v.get("w", 0) > 0 and (not v.get("e11_only") or not t1)]
        for _ in range(_wpick(rng, (0, 1, 2), (5, 4, 1)) - (1 if ckd_codes else 0)):
            extra = _wpick(rng, options, [dm["comps"][k]["w"] for k in options])
            clash = [extra] + list(dm["comps"][extra].get("excludes", []))
            if not any(c in comps for c in clash):
                comps.append(extra)
    p = Problem("diabetes", "present", [], [], name, rank=rank, clash=("E08", "E09", "E10", "E11", "E13", "O24", "R73"))
    if ctx.kind != "discharge" and rng.random() < 0.7:
        p.lines.append(Line("pmh", name, ("E1x",)))
    a1c_high = "hyperglycemia" in comps or "dka" in comps
    a1c = round(rng.uniform(8.2, 12.6) if a1c_high else rng.uniform(5.9, 7.8), 1)
    status = _fill(rng, _pick(rng, dm["status_high" if a1c_high else "status"]), a1c=a1c)
    # drugs
    drug_lines: list[str] = []
    if t1:
        drug_lines.append(_pick(rng, dm["t1_insulin"]))
        if rng.random() < 0.3:
            p.codes.append("Z96.41")
            p.lines.append(
                Line("psh", _sentence(_fill(rng, _pick(rng, dm["pump"]), year=_year(ctx, (1, 8)))), ("Z96.41",))
            )
    else:
        n = _wpick(rng, (0, 1, 2), (2, 5, 3))
        chosen: list[dict[str, Any]] = []
        for d in rng.sample(dm["t2_drugs"], len(dm["t2_drugs"])):
            if len(chosen) >= n:
                break
            if all(d["code"] != c["code"] for c in chosen):
                chosen.append(d)
        for d in chosen:
            code = str(d["code"])
            if code not in p.codes:
                p.codes.append(code)
            p.lines.append(Line("meds", str(d["med"]), (code,)))
            drug_lines.append(str(d["plan"]))
        if not chosen:
            drug_lines.append(_pick(rng, dm["diet"]))
    plan = " ".join(_sentence(x) for x in drug_lines[:2])
    first = True
    icd: list[str] = []
    for comp in comps or ["none"]:
        spec = dm["comps"].get(comp, dm["none"])
        side = ""
        if "sides" in spec:
            sides = list(spec["sides"][prefix])
            side = _wpick(rng, sides, [SIDE_WEIGHTS.get(s, 1.0) for s in sides])
            codes = list(_tuple(spec["sides"][prefix][side]))
        else:
            codes = list(_tuple(spec[prefix]))
        fill: dict[str, Any] = {"dm": name, "a1c": a1c}
        if comp == "ckd" and ckd_codes:
            fill["ckd"] = ctx.ckd_term
            codes.extend(ckd_codes)
        if comp == "foot_ulcer":
            ulcer = dm["ulcer"]
            uside = _pick(rng, ("right", "left"))
            site = _pick(rng, list(ulcer["sites"]))
            depth = _pick(rng, list(ulcer["depth"]))
            codes.append(f"{ulcer['sites'][site][uside]}{depth}")
            fill.update(site=site, depth=ulcer["depth"][depth])
            side = uside
        forms = spec["with"] if first else spec.get("alone", spec["with"])
        phrase = _side_text(rng, _fill(rng, _pick(rng, forms), **fill), side)
        for c in codes:
            if c not in icd:
                icd.append(c)
        line_plan = plan if first else _pick(rng, spec.get("plans", dm["plans"]))
        if comp == "dka":
            line_plan = _pick(rng, dm["dka_course"])
        line_status = status if first else _pick(rng, ctx.d.phr["status"]["chronic"])
        p.lines.extend(_dx_line(ctx, phrase, line_status, line_plan, codes, course=main and first))
        first = False
    p.codes = [c for c in icd if c not in ckd_codes] + [c for c in p.codes if c not in icd]
    for line in p.lines:
        if line.codes == ("E1x",):
            line.codes = tuple(c for c in p.codes if c[:3] in ("E10", "E11"))
    if (
        ctx.kind == "office"
        and rng.random() < 0.3
        and not any(c == "83036" for q in ctx.problems for c, _ in q.procedures)
    ):
        p.procedures.append(("83036", CPT))
        p.lines.append(Line("results", _sentence(_fill(rng, _pick(rng, dm["poc_a1c"]), a1c=a1c)), ("83036",)))
    if "neuropathy" in comps and ctx.kind == "office":
        ctx.exam_override["ext"] = _sentence(_pick(rng, dm["neuro_exam"]))
    return p


def _cardiometabolic(
    ctx: Ctx,
    *,
    dm: bool,
    htn: bool,
    ckd: bool,
    hf: bool,
    acute_hf: bool = False,
    dka: bool = False,
    rank: int = 2,
) -> bool:
    """Diabetes, hypertension, CKD and heart failure, coded together by the combination rules."""
    rng = ctx.rng
    cm = ctx.d.combos["cardiorenal"]
    main = acute_hf or dka
    stage: dict[str, Any] | None = None
    if ckd:
        stages = [s for s in cm["ckd"] if ctx.kind == "discharge" or s["key"] != "5"]
        stage = _wpick(rng, stages, [s["w"] for s in stages])
    ckd_code = str(stage["code"]) if stage else None
    esrd = bool(stage and stage["key"] in ("5", "esrd"))
    ckd_codes = ([ckd_code] if ckd_code else []) + (["Z99.2"] if stage and stage["key"] == "esrd" else [])
    ckd_term = _pick(rng, stage["terms"]) if stage else ""
    ctx.ckd_term = ckd_term
    hfe: dict[str, Any] | None = None
    if hf:
        hfe = _pick(rng, cm["hf_acute" if acute_hf else "hf_chronic"])
    hf_code = str(hfe["code"]) if hfe else None
    hf_term = _pick(rng, hfe["terms"]) if hfe else ""
    hcode = None
    if htn:
        if ckd and hf:
            hcode = "I13.2" if esrd else "I13.0"
        elif ckd:
            hcode = "I12.0" if esrd else "I12.9"
        elif hf:
            hcode = "I11.0"
        else:
            hcode = "I10"
    probs: list[Problem] = []
    htn_clash = ("I10", "I11", "I12", "I13", "I15", "I16", "O10", "O11", "O13", "O16")
    covered_ckd = covered_hf = False
    if hcode:
        p = Problem("hypertension", "present", [hcode], [], "", rank=0 if acute_hf else rank, clash=htn_clash)
        combine = rng.random() < 0.45 and (ckd or hf)
        if combine:
            key = "I13" if ckd and hf else "I12" if ckd else "I11"
            phrase = _fill(rng, _pick(rng, cm["combined"][key]), ckd=ckd_term, hf=hf_term)
            codes = [hcode] + ([hf_code] if hf_code and hf else []) + ckd_codes
            covered_hf, covered_ckd = bool(hf), bool(ckd)
        else:
            phrase = _pick(rng, cm["htn_terms"])
            codes = [hcode]
        ctx.bp = (rng.randint(118, 152), rng.randint(68, 94))
        status = _fill(rng, _pick(rng, cm["htn_status"]), sbp=ctx.bp[0], dbp=ctx.bp[1])
        p.phrase = _pick(rng, cm["htn_terms"])
        med = _pick(rng, cm["htn_meds"])
        plan = _fill(rng, _pick(rng, cm["htn_plans"]), med=med)
        if acute_hf and combine:
            plan = _pick(rng, cm["hf_course"])
        p.lines.extend(_dx_line(ctx, phrase, status, plan, codes, course=acute_hf and combine))
        if ctx.kind != "discharge" and rng.random() < 0.8:
            p.lines.append(Line("pmh", _pick(rng, cm["htn_terms"]), (hcode,)))
        p.lines.append(Line("meds", med, (), False))
        probs.append(p)
    if hfe and hf_code:
        hf_rank = 0 if acute_hf else rank + (1 if hcode else 0)
        p = Problem("heart_failure", "present", [hf_code], [], hf_term, rank=hf_rank, clash=("I50",))
        if not covered_hf or rng.random() < 0.5:
            codes = [hf_code] + ([hcode] if hcode else [])
            plan = _pick(rng, cm["hf_course" if acute_hf else "hf_plans"])
            p.lines.extend(_dx_line(ctx, hf_term, _pick(rng, cm["hf_status"]), plan, codes, course=acute_hf))
        if acute_hf:
            p.withheld.extend(["R06.02", "R60.0"])
            p.lines.append(
                Line("hpi", _sentence(_cap(_fill(rng, _pick(rng, cm["hf_hpi"]), pt=ctx.she, dur=_duration(ctx)))))
            )
            ctx.sx_used.extend(["sob", "leg_swelling"])
            ctx.exam_override["lungs"] = "Bibasilar crackles."
            ctx.exam_override["ext"] = "2+ pitting edema to the mid shins bilaterally."
        p.lines.append(Line("meds", _pick(rng, cm["hf_meds"]), (), False))
        probs.append(p)
    if stage and ckd_code:
        p = Problem(
            "ckd", "present", ckd_codes, [], ckd_term, rank=(1 if acute_hf else rank + 1), clash=("N18", "D63.1")
        )
        egfr = rng.randint(stage["egfr"][0], stage["egfr"][1])
        if not covered_ckd or not dm or rng.random() < 0.5:
            codes = ckd_codes + ([hcode] if hcode else []) + (["E10.22", "E11.22"] if dm else [])
            status = _fill(rng, _pick(rng, cm["ckd_status"]), egfr=egfr)
            p.lines.extend(_dx_line(ctx, ckd_term, status, _pick(rng, cm["ckd_plans"]), codes))
        probs.append(p)
        if rng.random() < 0.15:
            a = Problem(
                "anemia_ckd",
                "present",
                ["D63.1"],
                [],
                "",
                rank=(2 if acute_hf else rank + 2),
                clash=("D5", "D63", "D64"),
            )
            phrase = _pick(rng, cm["anemia_ckd"])
            a.lines.extend(
                _dx_line(
                    ctx,
                    phrase,
                    f"Hgb {round(rng.uniform(8.6, 10.9), 1)}",
                    _pick(rng, cm["anemia_plans"]),
                    ["D63.1", ckd_code],
                )
            )
            probs.append(a)
    if dm:
        p = _diabetes(ctx, ckd_codes, dka=dka, rank=0 if dka else rank, main=dka)
        probs.append(p)
    if not probs:
        return False
    # the CKD line lists both E10.22 and E11.22 as possibly supported; keep the one the diabetes problem has
    dm_codes = [c for q in probs if q.key == "diabetes" for c in q.codes]
    for q in probs:
        for line in q.lines:
            line.codes = tuple(c for c in line.codes if c not in ("E10.22", "E11.22") or c in dm_codes)
    if not main:
        rng.shuffle(probs)
    return ctx.add(*probs)


# ----------------------------------------------------------------------------------------------- encounters
def _vaccines(ctx: Ctx, *, rank: int, minimum: int = 1) -> bool:
    """Vaccines given today: Z23, the products, and the administration codes by age and payer."""
    rng = ctx.rng
    vx = ctx.d.procs["vaccines"]
    table = vx["products"]
    sets: list[list[str]] = []
    for sched in vx["schedules"]:
        if sched["ages"][0] <= ctx.age <= sched["ages"][1]:
            sets = sched["sets"]
    chosen: list[str] = list(_pick(rng, sets)) if sets and rng.random() < 0.85 else []
    chosen = [v for v in chosen if table[v]["ages"][0] <= ctx.age <= table[v]["ages"][1]]
    in_season = ctx.when.month in (9, 10, 11, 12, 1, 2, 3)
    if ctx.age >= 1 and (in_season and rng.random() < 0.7 or len(chosen) < minimum):
        flus = [k for k, v in table.items() if v.get("flu") and v["ages"][0] <= ctx.age <= v["ages"][1]]
        chosen.append(_pick(rng, flus))
    if ctx.age >= 12 and rng.random() < 0.12:
        chosen.append("covid")
    if ctx.medicare:
        chosen = [v for v in chosen if table[v].get("flu") or table[v].get("pneumo") or table[v].get("covid")]
    chosen = [v for i, v in enumerate(chosen) if v not in chosen[:i]]
    if len(chosen) < minimum:
        return False
    p = Problem("vaccination", "encounter", ["Z23"], [], "vaccination", rank=rank)
    sites = vx["sites_child"] if ctx.age < 3 else vx["sites_adult"]
    for v in chosen:
        prod = table[v]
        name = _pick(rng, prod["names"])
        route = "PO" if prod.get("route") == "oral" else "IM"
        site = "" if route == "PO" else f" {_pick(rng, sites)}"
        lot = f"{rng.choice('ABCDEFGHKLMNPRSTUVWXYZ')}{rng.randint(1000, 99999)}"
        text = _fill(rng, _pick(rng, vx["line_forms"]), name=name, route=route, site=site, lot=lot)
        code = str(prod["code"])
        p.procedures.append((code, CPT))
        p.lines.append(Line("vaccines", _sentence(text), ("Z23", code)))
    admin: list[tuple[str, str]] = []
    non_covid = [v for v in chosen if not table[v].get("covid")]
    if ctx.age <= 18 and non_covid and rng.random() < 0.85:
        admin.append(("90460", CPT))
        if any(int(table[v].get("components", 1)) > 1 for v in non_covid):
            admin.append(("90461", CPT))
        who = "parent" if ctx.age < 16 else "patient and parent"
        counsel = _fill(rng, _pick(rng, vx["counsel_peds"]), who=who)
    else:
        injected = oral = 0
        for v in non_covid:
            prod = table[v]
            if ctx.medicare and prod.get("flu"):
                admin.append(("G0008", HCPCS))
            elif ctx.medicare and prod.get("pneumo"):
                admin.append(("G0009", HCPCS))
            elif ctx.medicare and prod.get("hepb"):
                admin.append(("G0010", HCPCS))
            elif prod.get("route") == "oral":
                admin.append(("90473" if not injected and not oral else "90474", CPT))
                oral += 1
            else:
                admin.append(("90471" if not injected and not oral else "90472", CPT))
                injected += 1
        counsel = _pick(rng, vx["counsel_adult"])
    if any(table[v].get("covid") for v in chosen):
        admin.append(("90480", CPT))
    uniq: list[tuple[str, str]] = []
    for a in admin:
        if a not in uniq:
            uniq.append(a)
    p.procedures.extend(uniq)
    p.lines.append(Line("vaccines", _sentence(counsel), tuple(c for c, _ in uniq)))
    if ctx.kind != "procedure":
        p.lines.append(Line("ap", _sentence(_cap(_pick(rng, vx["ap"]))), ("Z23",)))
    return ctx.add(p)


def _preventive(ctx: Ctx) -> None:
    rng = ctx.rng
    prev = ctx.d.kinds["preventive"]
    peds = ctx.age < 18
    awv = ctx.age >= 65 and rng.random() < 0.45
    if awv:
        code, system = ("G0438" if ctx.new_patient else "G0439"), HCPCS
        title = _pick(rng, prev["awv_initial" if ctx.new_patient else "awv_subsequent"])
    else:
        idx = next(i for i, (lo, hi) in enumerate(PREVENTIVE_AGES) if lo <= ctx.age <= hi)
        code, system = f"99{'38' if ctx.new_patient else '39'}{idx + 1}", CPT
        title = _pick(rng, prev["title_peds" if peds else "title_adult"])
    ctx.cc.append(title)
    ctx.reason = "preventive"
    main = Problem("preventive", "encounter", [], [], title, rank=0)
    main.procedures.append((code, system))
    ctx.add(main, force=True)
    found = False
    if rng.random() < 0.4:
        if ctx.age >= 2 and rng.random() < 0.35:
            found = _weight(ctx, rank=2)
        ids = prev["findings_peds" if peds else "findings_adult"]
        for cid in rng.sample(ids, len(ids))[: rng.randint(1, 2)]:
            cond = ctx.d.conds[cid]
            fits = ctx.fits(cond, "office") or (cond.age[0] <= ctx.age <= cond.age[1] and not cond.sex)
            if fits and ctx.add(_present(ctx, cond, main=False, rank=2, new=True)):
                found = True
    z = {(True, True): "Z00.121", (True, False): "Z00.129", (False, True): "Z00.01", (False, False): "Z00.00"}[
        (peds, found)
    ]
    main.codes.append(z)
    forms = prev["ap_abnormal" if found else "ap_normal"]
    exam_name = _pick(rng, prev["exam_peds" if peds else "exam_adult"])
    main.lines.append(Line("ap", _sentence(_cap(_fill(rng, _pick(rng, forms), exam=exam_name))), (z, code)))
    main.lines.append(
        Line("hpi", _sentence(_cap(_fill(rng, _pick(rng, prev["hpi"]), pt=ctx.she, exam=exam_name))), (code,))
    )
    if awv and not ctx.new_patient and rng.random() < 0.5:
        main.procedures.append(("G0444", HCPCS))
        main.lines.append(
            Line(
                "results", _sentence(_fill(rng, _pick(rng, prev["depression_screen"]), n=rng.randint(0, 4))), ("G0444",)
            )
        )
    elif ctx.age >= 12 and rng.random() < 0.4:
        main.procedures.append(("96127", CPT))
        main.lines.append(
            Line("results", _sentence(_fill(rng, _pick(rng, prev["phq"]), n=rng.randint(0, 4))), ("96127",))
        )
    for scr in prev["screens"]:
        if scr["ages"][0] <= ctx.age <= scr["ages"][1] and rng.random() < scr.get("p", 0.5):
            main.procedures.append((str(scr["code"]), CPT))
            main.lines.append(Line("results", _sentence(_pick(rng, scr["text"])), (str(scr["code"]),)))
    for _ in range(rng.randint(1, 3)):
        pool = prev["maintenance_peds" if peds else "maintenance_adult"]
        ctx.extra.append(Line("ap_extra", _sentence(_fill(rng, _pick(rng, pool), year=ctx.when.year + 1)), (), False))
    if rng.random() < 0.55:
        _vaccines(ctx, rank=1)


def _prenatal(ctx: Ctx) -> None:
    rng = ctx.rng
    preg = ctx.d.combos["pregnancy"]
    weeks = rng.randint(6, 40)
    days = rng.randint(0, 6)
    tri = _trimester(weeks)
    grav = rng.randint(1, min(5, 1 + (ctx.age - 14) // 4))
    para = rng.randint(0, grav - 1)
    ama = ctx.age >= 35
    ctx.pregnant_weeks = weeks
    ctx.reason = "prenatal visit"
    ctx.cc.append(_pick(rng, preg["cc"]))
    clash = ("O", "Z3A", "Z34", "Z33", "I10", "I11", "I12", "I13", "E10", "E11", "E66", "Z68", "Z79")
    comps = [c for c in preg["complications"] if c["weeks"][0] <= weeks <= c["weeks"][1]]
    z3a = _z3a(weeks)
    ga = f"{weeks}w{days}d"
    main = Problem("pregnancy", "present", [], [], "", rank=0, clash=clash)
    comp = _pick(rng, comps) if comps and rng.random() < 0.45 else None
    if comp:
        codes = list(_tuple(comp["codes"][str(tri)] if isinstance(comp["codes"], dict) else comp["codes"]))
        codes += list(_tuple(comp.get("extra")))
        phrase = _pick(rng, comp["terms"])
        main.lines.append(Line("ap", _ap_text(ctx, phrase, f"{ga}", _pick(rng, comp["plans"])), tuple(codes)))
        if comp.get("withheld"):
            main.withheld.extend(_tuple(comp["withheld"]))
    else:
        key = "ama" if ama else "routine"
        spec = preg[key]["primi" if grav == 1 else "multi"]
        codes = [str(spec["codes"][str(tri)])]
        phrase = _pick(rng, spec["terms"])
        main.lines.append(Line("ap", _ap_text(ctx, phrase, ga, _pick(rng, preg["plans"])), tuple(codes)))
    if comp and ama:
        spec = preg["ama"]["primi" if grav == 1 else "multi"]
        ama_code = str(spec["codes"][str(tri)])
        codes.append(ama_code)
        main.lines.append(
            Line("ap", _ap_text(ctx, _pick(rng, spec["terms"]), "", _pick(rng, preg["plans"])), (ama_code,))
        )
    codes.append(z3a)
    main.codes = codes
    main.phrase = phrase
    hpi = _fill(rng, _pick(rng, preg["hpi"]), g=grav, p=para, ga=ga, weeks=weeks, days=days, pt=ctx.she)
    main.lines.append(Line("hpi", _sentence(_cap(hpi)), (z3a,)))
    main.lines.append(
        Line("ap", _sentence(_fill(rng, _pick(rng, preg["ga_lines"]), ga=ga, weeks=weeks, days=days)), (z3a,))
    )
    main.lines.append(Line("hpi", _sentence(_pick(rng, preg["denials"]))))
    if weeks >= 12:
        ctx.exam_override["abdomen"] = _sentence(
            _fill(rng, _pick(rng, preg["exam"]), fh=max(weeks - rng.randint(0, 2), 12), fht=rng.randint(128, 160))
        )
    ctx.add(main, force=True)


def _sepsis(ctx: Ctx) -> bool:
    rng = ctx.rng
    sp = ctx.d.combos["sepsis"]
    org = _pick(rng, sp["organisms"])
    sources = [s for s in sp["sources"] if org.get("sources") is None or s["id"] in org["sources"]]
    src = _pick(rng, sources)
    side = ""
    if "sides" in src:
        side = _pick(rng, list(src["sides"]))
        src_codes = list(_tuple(src["sides"][side]))
    else:
        src_codes = list(_tuple(src["code"]))
    sev = _wpick(rng, ("none", "severe", "shock"), (5, 3, 2))
    org_code = str(org["code"])
    p = Problem(
        "sepsis",
        "present",
        [org_code],
        ["R50.9", "R65.10", "R65.11"],
        "",
        rank=0,
        clash=("A40", "A41", "R65", "J18", "N39", "N10", "L03"),
    )
    org_term = _pick(rng, org["terms"])
    src_term = _side_text(rng, _pick(rng, src["terms"]), side)
    p.phrase = org_term
    p.lines.append(
        Line("dx", _cap(_fill(rng, _pick(rng, sp["dx_forms"]), org=org_term, src=src_term)), (org_code, *src_codes))
    )
    s = Problem("sepsis_source", "present", src_codes, [], src_term, side, rank=1)
    s.lines.append(Line("dx", _cap(src_term), tuple(src_codes)))
    probs = [p, s]
    course = _fill(rng, _pick(rng, sp["course"]), pt=ctx.she, src=src_term, org=org_term, abx=_pick(rng, src["abx"]))
    p.lines.append(Line("course", _sentence(_cap(course)), (org_code, *src_codes)))
    if sev != "none":
        rcode = "R65.21" if sev == "shock" else "R65.20"
        organ = _pick(rng, sp["organ_dysfunction"])
        phrase = _pick(rng, sp["shock_terms" if sev == "shock" else "severe_terms"])
        r = Problem("severe_sepsis", "present", [rcode], [], phrase, rank=2)
        r.lines.append(Line("dx", _cap(phrase), (rcode,)))
        o = Problem(organ["id"], "present", [str(organ["code"])], [], "", rank=3)
        o.lines.append(Line("dx", _cap(_pick(rng, organ["terms"])), (str(organ["code"]), rcode)))
        probs += [r, o]
    return ctx.add(*probs)


def _delivery(ctx: Ctx) -> bool:
    rng = ctx.rng
    dl = ctx.d.combos["delivery"]
    weeks = rng.randint(37, 41)
    days = rng.randint(0, 6)
    z3a = _z3a(weeks)
    p = Problem("delivery", "present", ["O80", "Z37.0", z3a], [], "", rank=0, clash=("O", "Z3A", "Z37", "Z34"))
    ga = f"{weeks}w{days}d"
    g = rng.randint(1, 4)
    p.lines.append(Line("dx", _cap(_fill(rng, _pick(rng, dl["dx"]), ga=ga)), ("O80", z3a)))
    p.lines.append(Line("dx", _cap(_pick(rng, dl["liveborn"])), ("Z37.0",)))
    course = _fill(
        rng,
        _pick(rng, dl["course"]),
        g=g,
        p=g - 1,
        ga=ga,
        baby=_pick(rng, ("male", "female")),
        wt=rng.randint(2700, 4100),
    )
    p.lines.append(Line("course", _sentence(_cap(course)), ("O80", "Z37.0", z3a)))
    ctx.pregnant_weeks = weeks
    return ctx.add(p)


def _pregnancy_ed(ctx: Ctx) -> bool:
    rng = ctx.rng
    ta = ctx.d.combos["threatened_abortion"]
    weeks = rng.randint(6, 19)
    z3a = _z3a(weeks)
    p = Problem(
        "threatened_abortion", "present", ["O20.0", z3a], ["N93.9", "O03.9"], "", rank=0, clash=("O", "Z3A", "N93")
    )
    p.lines.append(
        Line(
            "hpi",
            _sentence(_cap(_fill(rng, _pick(rng, ta["hpi"]), weeks=weeks, pt=ctx.she, g=rng.randint(1, 4)))),
            (z3a,),
        )
    )
    p.lines.append(Line("mdm", _sentence(_pick(rng, ta["mdm"]))))
    p.lines.append(Line("ap", _sentence(_cap(_fill(rng, _pick(rng, ta["dx"]), weeks=weeks))), ("O20.0", z3a)))
    ctx.cc.append(_pick(rng, ta["cc"]))
    ctx.pregnant_weeks = weeks
    return ctx.add(p)


def _em(ctx: Ctx, p_time: float) -> Problem | None:
    """Office/urgent-care E/M from a stated total time; no statement, no code."""
    rng = ctx.rng
    if rng.random() >= p_time:
        return None
    table = EM_NEW if ctx.new_patient else EM_EST
    lo, hi, code = _wpick(rng, table, (2, 5, 4, 2) if ctx.new_patient else (1, 5, 5, 2))
    minutes = rng.randint(lo, hi)
    text = _sentence(_fill(rng, _pick(rng, ctx.d.phr["time_statements"]), m=minutes))
    p = Problem("em", "procedure", [], [], text, rank=10)
    p.procedures.append((code, CPT))
    p.lines.append(Line("time", text, (code,)))
    ctx.add(p, force=True)
    return p


# ----------------------------------------------------------------------------------------------- procedures
def _by_threshold(table: Sequence[Any], value: float) -> list[tuple[str, str]]:
    for limit, codes in table:
        if value <= float(limit):
            return [(str(c), str(s)) for c, s in codes]
    limit, codes = table[-1]
    return [(str(c), str(s)) for c, s in codes]


def _laceration(ctx: Ctx, p: Problem, site: dict[str, Any], side: str) -> str:
    """Repair of one laceration: the CPT code follows the site group, the repair type and the length."""
    rng = ctx.rng
    lac = ctx.d.procs["laceration"]
    group = str(site["group"])
    kinds = [k for k in ("simple", "intermediate") if group in lac["codes"][k]]
    kind = _wpick(rng, kinds, [3 if k == "simple" else 1 for k in kinds])
    table = lac["codes"][kind][group]
    max_len = float(table[-1][0])
    length = round(rng.uniform(0.8, min(max_len, 9.0)), 1)
    where = _side_text(rng, _pick(rng, site["names"]), side)
    glue = kind == "simple" and ctx.medicare and rng.random() < 0.3
    if glue:
        codes = [("G0168", HCPCS)]
        text = _fill(rng, _pick(rng, lac["glue"]), len=length, site=where)
    else:
        codes = _by_threshold([(lim, [(c, CPT)]) for lim, c in table], length)
        text = _fill(rng, _pick(rng, lac[kind]), len=length, site=where, sutures=_pick(rng, lac["sutures"][group]))
    p.procedures.extend(codes)
    p.lines.append(Line("procedure", _sentence(_cap(text)), tuple(c for c, _ in codes)))
    return where


def _procedure_note(ctx: Ctx) -> bool:
    rng = ctx.rng
    notes = [
        t
        for t in ctx.d.procs["notes"]
        if t["ages"][0] <= ctx.age <= t["ages"][1] and (not t.get("sex") or t["sex"] == ctx.sex)
    ]
    t = _wpick(rng, notes, [x.get("w", 1) for x in notes])
    ctx.reason = str(t["id"])
    if t.get("special") == "vaccine":
        ctx.extra.append(Line("procedure", _sentence(_pick(rng, t["title"])), (), True))
        return _vaccines(ctx, rank=0, minimum=1)
    cond = ctx.d.conds[_pick(rng, t["indications"])]
    if not (cond.age[0] <= ctx.age <= cond.age[1]) or (cond.sex and cond.sex != ctx.sex):
        return False
    side = _side(rng, cond, t.get("sides"))
    words: dict[str, Any] = {}
    codes: list[tuple[str, str]] = [(str(c), str(s)) for c, s in t.get("codes", [])]
    if "count" in t:
        n = rng.randint(t["count"]["range"][0], t["count"]["range"][1])
        codes += _by_threshold(t["count"]["codes"], n)
        words["n"] = n
    if "size" in t:
        size = round(rng.uniform(t["size"]["range"][0], t["size"]["range"][1]), 1)
        codes += _by_threshold(t["size"]["codes"], size)
        words["size"] = size
    if "variants" in t:
        v = _pick(rng, t["variants"])
        codes += [(str(c), str(s)) for c, s in v["codes"]]
        words.update(v.get("words", {}))
    drug_text = ""
    if "drugs" in t:
        drug = _pick(rng, t["drugs"])
        drug_text = str(drug["text"])
        words["drug"] = drug_text
    uncertain = bool(t.get("uncertain"))
    if uncertain:
        p = _uncertain(ctx, cond, rank=0, main=False)
        if p is None:
            return False
        p.lines = []
    else:
        p = Problem(cond.id, "present", _cond_codes(ctx, cond, side), [], _term(rng, cond, side), side, rank=0)
    side = p.side
    phrase = p.phrase if not uncertain else _side_text(rng, _pick(rng, cond.unc.terms), side)  # type: ignore[union-attr]
    words["P"] = phrase
    icd = tuple(p.codes)
    title = _cap(_side_text(rng, _fill(rng, _pick(rng, t["title"]), **words), side))
    if t.get("special") == "laceration":
        site = next(s for s in ctx.d.procs["laceration"]["sites"] if s["cond"] == cond.id)
        where = _laceration(ctx, p, site, side)
        title = _cap(_fill(rng, title, where=where))
    p.procedures.extend(codes)
    p.lines.insert(0, Line("proc_title", title, tuple(c for c, s in codes if s == CPT)))
    ind_forms = ctx.d.phr["indication_forms"] if t.get("conservative") else ["{P}"]
    ind_form = _pick(rng, ind_forms)
    if uncertain:
        cue = _pick(rng, ctx.d.phr["uncertain_out"])
        ind = _cap(_fill(rng, cue, sym=phrase, cond=_term(rng, cond, side)))
        p.lines.append(Line("indication", _sentence(ind), icd))
    else:
        p.lines.append(Line("indication", _sentence(_cap(_fill(rng, ind_form, P=phrase))), icd))
        if rng.random() < 0.6:
            p.lines.append(Line("postop", _cap(phrase), icd))
    for step in t["steps"]:
        text = _side_text(rng, _fill(rng, _pick(rng, step) if isinstance(step, list) else step, **words), side)
        supports: tuple[str, ...] = ()
        if drug_text and drug_text in text:
            supports = tuple(c for c, s in codes if s == HCPCS)
        p.lines.append(Line("description", _sentence(_cap(text)), supports))
    for key in ("findings", "after"):
        if key in t:
            p.lines.append(
                Line(
                    "findings" if key == "findings" else "after",
                    _sentence(_cap(_side_text(rng, _fill(rng, _pick(rng, t[key]), **words), side))),
                )
            )
    if not ctx.add(p):
        return False
    if "anesthesia" in t:
        ctx.extra.append(Line("anesthesia", _sentence(_pick(rng, t["anesthesia"])), (), True))
    return True


# ----------------------------------------------------------------------------------------------- planners
def _add_conditions(
    ctx: Ctx, types: Sequence[str], k: int, *, rank: int, main: bool = False, where: str | None = None
) -> int:
    rng = ctx.rng
    pool = [c for c in ctx.candidates(types, where) if not ctx.used(c.id)]
    added = 0
    tries = 0
    while added < k and pool and tries < k * 6:
        tries += 1
        cond = _wpick(rng, pool, [c.weight for c in pool])
        pool.remove(cond)
        if ctx.add(_present(ctx, cond, main=main, rank=rank)):
            added += 1
    return added


def _main_problem(ctx: Ctx, weights: dict[str, float]) -> bool:
    """The reason for the encounter: present, uncertain, an injury, a finding."""
    rng = ctx.rng
    for _ in range(6):
        how = _wpick(rng, list(weights), list(weights.values()))
        if how == "uncertain":
            pool = [c for c in ctx.candidates(("acute", "injury", "inpatient", "chronic")) if c.unc is not None]
            if ctx.kind in ("ed", "hp"):
                pool += [c for c in ctx.candidates(("inpatient",), "discharge") if c.unc is not None and c.unc_in]
            if not pool:
                continue
            cond = _wpick(rng, pool, [c.weight for c in pool])
            p = _uncertain(ctx, cond, rank=0)
            if p is not None and ctx.add(p):
                _link_negations(ctx, cond)
                return True
            continue
        types = {
            "acute": ("acute",),
            "injury": ("injury",),
            "finding": ("finding",),
            "inpatient": ("inpatient",),
            "encounter": ("encounter",),
        }[how]
        pool = ctx.candidates(types)
        if not pool:
            continue
        cond = _wpick(rng, pool, [c.weight for c in pool])
        if ctx.add(_present(ctx, cond, main=True, rank=0)):
            _link_negations(ctx, cond)
            return True
    return False


def _link_negations(ctx: Ctx, cond: Cond) -> None:
    """Tests the clinician did for the main problem that came back negative ('rapid strep negative')."""
    table = {n["id"]: n for n in ctx.d.phr["negatable"]}
    for nid in cond.negs:
        neg = table[nid]
        if ctx.kind in neg["where"] and ctx.rng.random() < 0.8:
            ctx.add(_negated(ctx, neg))


def _random_negation(ctx: Ctx, p: float) -> None:
    if ctx.rng.random() >= p:
        return
    pool = _negatables(ctx)
    if not pool:
        return
    for _ in range(3):
        neg = _pick(ctx.rng, pool)
        if ctx.add(_negated(ctx, neg)):
            return


def _extras(ctx: Ctx, *, family: float, history: float, status: float, smoker: bool = True) -> None:
    rng = ctx.rng
    if rng.random() < history:
        _personal_history(ctx, _wpick(rng, (1, 2), (3, 1)))
    if rng.random() < status and ctx.age >= 30:
        _status(ctx, 1)
    if rng.random() < family:
        _family(ctx, _wpick(rng, (1, 2, 3), (5, 3, 1)))
    _tobacco(ctx, allow_current=smoker)
    _social_distractors(ctx)


def _plan_office(ctx: Ctx) -> str:
    rng = ctx.rng
    subs = ctx.d.kinds["office"]["subtypes"]
    sub = _wpick(rng, list(subs), list(subs.values()))
    if sub == "prenatal" and not (ctx.sex == "F" and 16 <= ctx.age <= 44):
        ctx.sex, ctx.age = "F", rng.randint(18, 42)  # a prenatal visit is drawn for a patient who can be pregnant
        ctx.medicare = False
    if sub == "chronic" and ctx.age < 18:
        sub = _pick(rng, ("acute", "chronic_peds"))
    if sub == "preventive":
        _preventive(ctx)
    elif sub == "prenatal":
        _prenatal(ctx)
    elif sub == "chronic":
        ctx.reason = "follow-up"
        if ctx.age >= 30 and rng.random() < 0.6:
            htn = rng.random() < 0.75
            dm = rng.random() < (0.55 if htn else 0.9)
            _cardiometabolic(ctx, dm=dm, htn=htn, ckd=rng.random() < 0.25, hf=rng.random() < 0.12, rank=1)
        if rng.random() < 0.2:
            _weight(ctx, rank=3)
        _add_conditions(ctx, ("chronic",), _wpick(rng, (1, 2, 3), (4, 4, 2)), rank=2)
    elif sub == "chronic_peds":
        ctx.reason = "follow-up"
        _add_conditions(ctx, ("chronic",), _wpick(rng, (1, 2), (3, 1)), rank=1)
        if not ctx.problems:
            _main_problem(ctx, {"acute": 1.0})
    elif sub == "injury":
        ctx.reason = "injury follow-up"
        if not _main_problem(ctx, {"injury": 1.0}):
            _main_problem(ctx, {"acute": 1.0})
        _add_conditions(ctx, ("chronic",), _wpick(rng, (0, 1), (1, 1)), rank=2)
    else:
        ctx.reason = "acute visit"
        _main_problem(ctx, {"acute": 6.0, "uncertain": 2.5, "finding": 1.5, "encounter": 1.0})
        _add_conditions(ctx, ("chronic",), _wpick(rng, (0, 1, 2), (3, 3, 1)), rank=2)
        _random_negation(ctx, 0.25)
    if not any(p.codes for p in ctx.problems):
        _add_conditions(ctx, ("chronic", "acute"), 1, rank=1, main=True)
    if sub != "prenatal":
        _extras(ctx, family=0.45, history=0.35, status=0.25)
    else:
        _extras(ctx, family=0.35, history=0.15, status=0.0, smoker=False)
    _denials(ctx, _wpick(rng, (0, 1, 2, 3), (1, 2, 3, 2)))
    _ros(ctx)
    if sub not in ("preventive", "prenatal"):
        _em(ctx, 0.75)
    return sub


def _plan_urgent(ctx: Ctx) -> str:
    rng = ctx.rng
    ctx.reason = "urgent care visit"
    _main_problem(ctx, {"acute": 5.5, "injury": 2.5, "uncertain": 2.0, "finding": 0.4, "encounter": 0.3})
    if rng.random() < 0.3 and ctx.age >= 18:
        _add_conditions(ctx, ("chronic",), 1, rank=2)
    if rng.random() < 0.15:
        _main_problem(ctx, {"acute": 1.0})
    _random_negation(ctx, 0.2)
    _extras(ctx, family=0.1, history=0.2, status=0.1)
    _denials(ctx, _wpick(rng, (1, 2, 3), (2, 3, 2)))
    _ros(ctx)
    _em(ctx, 0.5)
    return "urgent"


def _plan_ed(ctx: Ctx) -> str:
    rng = ctx.rng
    ctx.reason = "emergency visit"
    sub = "ed"
    if ctx.sex == "F" and 16 <= ctx.age <= 44 and rng.random() < 0.05 and _pregnancy_ed(ctx):
        sub = "pregnancy"
    else:
        _main_problem(ctx, {"acute": 4.0, "injury": 2.5, "uncertain": 2.5, "inpatient": 1.0, "finding": 0.8})
    if ctx.age >= 40 and rng.random() < 0.35 and sub == "ed":
        _cardiometabolic(
            ctx, dm=rng.random() < 0.4, htn=rng.random() < 0.8, ckd=rng.random() < 0.15, hf=rng.random() < 0.1, rank=2
        )
    _add_conditions(ctx, ("chronic",), _wpick(rng, (0, 1, 2), (3, 3, 1)), rank=2)
    _random_negation(ctx, 0.45)
    _extras(ctx, family=0.15, history=0.3, status=0.2, smoker=sub != "pregnancy")
    _denials(ctx, _wpick(rng, (1, 2, 3), (2, 3, 3)))
    _ros(ctx)
    ekg_for = ("R07", "R55", "R00", "I48", "I21", "I20", "R42", "I26")
    main = [c for p in ctx.problems if p.role in ("present", "uncertain") for c in p.codes + p.withheld]
    if ctx.age >= 18 and any(c.startswith(ekg_for) for c in main) and rng.random() < 0.6:
        p = Problem("ekg", "procedure", [], [], "", rank=10)
        p.procedures.append(("93010", CPT))
        p.lines.append(Line("mdm", _sentence(_pick(rng, ctx.d.procs["ekg_read"])), ("93010",)))
        ctx.add(p, force=True)
    return sub


def _plan_discharge(ctx: Ctx) -> str:
    rng = ctx.rng
    subs = dict(ctx.d.kinds["discharge"]["subtypes"])
    sub = _wpick(rng, list(subs), list(subs.values()))
    if sub == "delivery" and not (ctx.sex == "F" and 18 <= ctx.age <= 42):
        ctx.sex, ctx.age = "F", rng.randint(18, 42)
        ctx.medicare = False
    ok = False
    if sub == "delivery":
        ok = _delivery(ctx)
    elif sub == "hf":
        ok = _cardiometabolic(
            ctx, dm=rng.random() < 0.4, htn=rng.random() < 0.8, ckd=rng.random() < 0.4, hf=True, acute_hf=True
        )
    elif sub == "sepsis":
        ok = _sepsis(ctx)
    elif sub == "dka":
        ok = _cardiometabolic(ctx, dm=True, htn=False, ckd=False, hf=False, dka=True)
    elif sub == "uncertain":
        pool = [c for c in ctx.candidates(("inpatient", "acute")) if c.unc is not None and c.unc_in]
        if pool:
            p = _uncertain(ctx, _wpick(rng, pool, [c.weight for c in pool]), rank=0)
            ok = p is not None and ctx.add(p)
    elif sub == "surgical":
        ok = _surgical_main(ctx, inpatient=True)
        if ok:
            ctx.extra.append(Line("procedures_done", _cap(ctx.title_low), (), True))
            course = _fill(rng, _pick(rng, ctx.d.phr["surgical_course"]), pt=_cap(ctx.she), title_low=ctx.title_low)
            ctx.extra.append(Line("course", _sentence(_cap(course)), (), False))
    if not ok:
        sub = "condition"
        pool = ctx.candidates(("inpatient", "acute", "injury"))
        cond = _wpick(rng, pool, [c.weight for c in pool])
        principal = _present(ctx, cond, main=True, rank=0)
        if ctx.add(principal):
            _associated(ctx, cond, principal.side)
    ctx.reason = "admission"
    if sub != "delivery":
        _add_conditions(ctx, ("secondary",), _wpick(rng, (0, 1, 2), (4, 3, 1)), rank=1)
        if ctx.age >= 35 and sub not in ("hf", "dka") and rng.random() < 0.5:
            _cardiometabolic(
                ctx,
                dm=rng.random() < 0.45,
                htn=rng.random() < 0.85,
                ckd=rng.random() < 0.2,
                hf=rng.random() < 0.12,
                rank=2,
            )
        _add_conditions(ctx, ("chronic",), _wpick(rng, (1, 2, 3), (3, 3, 2)), rank=3)
        _random_negation(ctx, 0.4)
        _extras(ctx, family=0.15, history=0.4, status=0.35)
    else:
        _extras(ctx, family=0.1, history=0.1, status=0.0, smoker=False)
    _admitting_diagnosis(ctx)
    return sub


def _admitting_diagnosis(ctx: Ctx) -> None:
    """What the patient was admitted for: the principal diagnosis's sign (withheld: the final diagnosis explains
    it) or the principal diagnosis itself; a working diagnosis, never the source of a code."""
    principal = next((p for p in ctx.problems if p.rank == 0 and p.codes), None)
    if principal is None:
        return
    cond = ctx.d.conds.get(principal.key)
    rng = ctx.rng
    if cond is not None and cond.unc is not None and rng.random() < 0.6:
        unc = [c for c in _unc_codes(cond, principal.side) if c not in principal.codes]
        if unc and all(c in principal.withheld for c in unc):
            text = _side_text(rng, _pick(rng, cond.unc.terms), principal.side)
            ctx.extra.append(Line("admit_dx", _cap(text), (), True))
            return
    if principal.phrase:
        ctx.extra.append(Line("admit_dx", _cap(principal.phrase), (), True))


def _associated(ctx: Ctx, cond: Cond, side: str) -> None:
    """Deficits that come with a principal diagnosis (hemiparesis and aphasia with a stroke)."""
    rng = ctx.rng
    for cid in cond.also:
        other = ctx.d.conds[cid]
        if rng.random() >= 0.55:
            continue
        other_side = ""
        if other.lateral:
            opposite = {"right": "left", "left": "right"}.get(side, "")
            other_side = opposite if cond.also_opposite and opposite else _side(rng, other)
        ctx.add(_present(ctx, other, main=False, rank=1, side=other_side))


def _plan_procedure(ctx: Ctx) -> str:
    for _ in range(5):
        if _procedure_note(ctx):
            break
    if ctx.rng.random() < 0.15:
        _personal_history(ctx, 1)
    return ctx.reason


# ----------------------------------------------------------------------------------------------- surgery
def _cond_ok(ctx: Ctx, cond: Cond) -> bool:
    """Age and sex allow the condition (an operation names its conditions, so `where` does not apply)."""
    return cond.age[0] <= ctx.age <= cond.age[1] and (not cond.sex or cond.sex == ctx.sex)


def _op_ok(ctx: Ctx, op: dict[str, Any]) -> bool:
    if not op["ages"][0] <= ctx.age <= op["ages"][1] or (op.get("sex") and op["sex"] != ctx.sex):
        return False
    return any(_cond_ok(ctx, ctx.d.conds[c]) for c in op["dx"])


def _pick_op(ctx: Ctx, pool: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """An operation for this patient; when none fits, the patient is redrawn to fit one (as for prenatal visits)."""
    rng = ctx.rng
    fitting = [op for op in pool if _op_ok(ctx, op)]
    if fitting:
        return _wpick(rng, fitting, [float(op.get("w", 1)) for op in fitting])
    op = _wpick(rng, list(pool), [float(op.get("w", 1)) for op in pool])
    ctx.sex = str(op.get("sex") or ctx.sex)
    for _ in range(20):
        ctx.age = rng.randint(op["ages"][0], op["ages"][1])
        if _op_ok(ctx, op):
            break
    ctx.medicare = ctx.age >= 65
    return op


def _op_side(ctx: Ctx, op: dict[str, Any], cond: Cond, prefer: str = "") -> str:
    """The side of a condition an operation treats: one the operation allows, never 'unspecified'."""
    if not cond.lateral:
        return ""
    allowed = [s for s in cond.codes if s != "unspecified" and s in op.get("sides", cond.codes)]
    allowed = allowed or [s for s in cond.codes if s != "unspecified"] or list(cond.codes)
    if prefer in allowed:
        return prefer
    return _side(ctx.rng, cond, allowed)


def _title(ctx: Ctx, template: str, side: str, phrase: str) -> str:
    return _cap(_side_text(ctx.rng, _fill(ctx.rng, template, P=_low(phrase)), side))


def _comorbid(ctx: Ctx, k: int, section: str, *, sentence: bool) -> None:
    """Conditions named only in the past history: written, not coded (optional for a coder), never contradicted
    by a coded code of the same category."""
    rng = ctx.rng
    pool = [e for e in ctx.d.ops["comorbid"] if e["age"][0] <= ctx.age <= e["age"][1]]
    terms: list[str] = []
    for e in rng.sample(pool, len(pool))[: k * 2]:
        if len(terms) >= k:
            break
        term = str(_pick(rng, e["terms"]))
        p = Problem("comorbid", "optional", [], [str(e["code"])], term, rank=9)
        if ctx.add(p):
            terms.append(term)
            if not sentence:
                p.lines.append(Line(section, term, (), True))
    if sentence and terms:
        form = _pick(rng, ctx.d.ops["comorbid_forms"])
        text = _fill(rng, form, list=_join_words(terms, "and"), Her=_cap(ctx.her), Pt=_cap(ctx.she))
        ctx.extra.append(Line(section, _sentence(_cap(text)), (), True))


def _ebl(ctx: Ctx, op: dict[str, Any]) -> str:
    rng = ctx.rng
    lo, hi = int(op["ebl"][0]), int(op["ebl"][1])
    ops = ctx.d.ops
    if hi == 0:
        return str(_pick(rng, ("None", "Minimal", "None.")))
    n = rng.randint(lo, hi)
    n = n if n < 20 else int(round(n / 10.0) * 10)
    if n <= 10 and rng.random() < 0.7:
        return str(_pick(rng, ops["ebl_small"]))
    return _fill(rng, _pick(rng, ops["ebl_forms"]), n=max(n, 5))


def _plan_operative(ctx: Ctx) -> str:
    """An operative (or endoscopy) report: the postoperative diagnosis is coded; "Same" means the preoperative
    list; a refined postoperative diagnosis replaces the preoperative one, whose code is withheld."""
    rng = ctx.rng
    ops = ctx.d.ops
    op = _pick_op(ctx, ops["operations"])
    ctx.reason = str(op["id"])
    if op.get("report") == "endoscopy":
        ctx.headings = dict(ctx.d.phr["headings_endoscopy"])
    conds = ctx.d.conds
    refines = [
        r
        for r in op.get("refine", [])
        if _cond_ok(ctx, conds[r["post"]])
        and not (isinstance(r["pre"], str) and r["pre"] != "unc" and not _cond_ok(ctx, conds[r["pre"]]))
        and not (r["pre"] == "unc" and conds[r["post"]].unc is None)
    ]
    mode = _wpick(rng, ("same", "repeat", "refine"), (45, 25, 30 if refines else 0))
    pre_spec: Any = None
    if mode == "refine":
        r = _wpick(rng, refines, [float(x.get("p", 1)) for x in refines])
        cond, pre_spec = conds[r["post"]], r["pre"]
    else:
        pool = [conds[c] for c in op["dx"] if _cond_ok(ctx, conds[c])]
        cond = _wpick(rng, pool, [c.weight for c in pool])
    side = _op_side(ctx, op, cond)
    tside = side or (_pick(rng, ("right", "left")) if op.get("side_free") else "")
    phrase = _term(rng, cond, side)
    main = Problem(cond.id, "present", _cond_codes(ctx, cond, side), [], phrase, side, rank=0, clash=cond.clash)
    # the preoperative diagnosis the report starts from
    pre_phrase, pre_codes = phrase, list(main.codes)
    if mode == "refine":
        if pre_spec == "unc":
            assert cond.unc is not None
            pre_phrase = _side_text(rng, _pick(rng, cond.unc.terms), side)
            pre_codes = list(_unc_codes(cond, side))
        elif isinstance(pre_spec, str):
            pre_cond = conds[pre_spec]
            pre_side = _op_side(ctx, op, pre_cond, prefer=side)
            pre_phrase = _term(rng, pre_cond, pre_side)
            pre_codes = _cond_codes(ctx, pre_cond, pre_side)
        else:
            pre_codes = [str(pre_spec["sides"][side or "right"])] if "sides" in pre_spec else [str(pre_spec["code"])]
            pre_phrase = _side_text(rng, _pick(rng, pre_spec["terms"]), side or tside)
        main.withheld = [c for c in pre_codes if c not in main.codes]
    pre_lines: list[Line] = [Line("preop", _cap(pre_phrase), tuple(main.codes) if mode != "refine" else ())]
    post_lines: list[Line] = [] if mode == "same" else [Line("postop", _cap(phrase), tuple(main.codes))]
    titles = [_title(ctx, str(_pick(rng, op["title"])), tside, phrase)]
    if not ctx.add(main):
        return "failed"
    extra_probs: list[Problem] = []
    for e in op.get("dx2", []):  # listed before and after the operation
        other = conds[e["cond"]]
        if rng.random() >= float(e.get("p", 0.5)) or not _cond_ok(ctx, other):
            continue
        oside = _op_side(ctx, op, other, prefer=side)
        p2 = Problem(other.id, "present", _cond_codes(ctx, other, oside), [], _term(rng, other, oside), oside, rank=1)
        p2.clash = other.clash
        if ctx.add(p2):
            extra_probs.append(p2)
            pre_lines.append(Line("preop", _cap(p2.phrase), tuple(p2.codes)))
            if mode != "same":
                post_lines.append(Line("postop", _cap(p2.phrase), tuple(p2.codes)))
            if e.get("title"):
                titles.append(_title(ctx, str(e["title"]), oside or tside, p2.phrase))
    for e in op.get("add", []):  # found at operation: only in the postoperative list
        other = conds[e["cond"]]
        if rng.random() >= float(e.get("p", 0.3)) or not _cond_ok(ctx, other):
            continue
        oside = _op_side(ctx, op, other, prefer=side)
        p3 = Problem(other.id, "present", _cond_codes(ctx, other, oside), [], _term(rng, other, oside), oside, rank=2)
        p3.clash = other.clash
        if ctx.add(p3):
            extra_probs.append(p3)
            if mode == "same":  # the list now differs from the preoperative one: written out in full
                mode = "repeat"
                post_lines = [Line("postop", ln.text, ln.codes) for ln in pre_lines]
            post_lines.append(Line("postop", _cap(p3.phrase), tuple(p3.codes)))
            if e.get("title"):
                titles.append(_title(ctx, str(e["title"]), oside or tside, p3.phrase))
    if mode == "same":
        post_lines = [Line("postop", _sentence(str(_pick(rng, ops["same"]))), (), True)]
    main.lines.extend(pre_lines + post_lines)
    ctx.title_low = _low(titles[0]).rstrip(".")
    main.lines.extend(Line("proc_title", t) for t in titles)
    # the story that led to the operation: the preoperative diagnosis and its signs, never coded from here
    stories = ops["refine_story"] if mode == "refine" else op.get("story") or list(cond.hpi) or ["{P}"]
    story = _fill(rng, _side_text(rng, _pick(rng, stories), tside), P=_low(pre_phrase), dur=_duration(ctx), pt=ctx.she)
    words = {"age": _age_words(ctx), "sex": _sex_word(ctx), "Pt": _cap(ctx.she), "title_low": ctx.title_low}
    opener = _fill(rng, _pick(rng, ops["indication_openers"]), story=_low(story), **words)
    ctx.extra.append(Line("indications", _sentence(_cap(opener)), (), True))
    if rng.random() < 0.45:
        _comorbid(ctx, _wpick(rng, (1, 2, 3), (3, 3, 1)), "indications", sentence=True)
    if rng.random() < 0.6:
        ctx.extra.append(Line("indications", _sentence(_pick(rng, ops["risk_forms"])), (), False))
    if rng.random() < 0.5:
        tail = _fill(rng, _pick(rng, ops["indication_tails"]), **words)
        ctx.extra.append(Line("indications", _sentence(tail), (), False))
    # who, what anesthesia, blood loss, drains, specimens: written, never coded
    anesthesia = _pick(rng, op["anesthesia"])
    ctx.extra.append(Line("anesthesia", _sentence(_pick(rng, ops["anesthesia"][anesthesia])), (), True))
    ctx.extra.append(Line("surgeon", str(_pick(rng, ops["surgeons"])), (), True))
    ctx.extra.append(Line("assistant", str(_pick(rng, ops["assistants"])), (), True))
    ctx.extra.append(Line("ebl", _sentence(_ebl(ctx, op)), (), True))
    ctx.extra.append(Line("complications", _sentence(_pick(rng, ops["complications"])), (), True))
    if op["ebl"][1]:
        fluids = _fill(rng, _pick(rng, ops["fluids"]), n=rng.randint(3, 25) * 100)
        ctx.extra.append(Line("fluids", _sentence(fluids), (), True))
    drains = op.get("drains") or ops["drains_none"]
    ctx.extra.append(Line("drains", _sentence(_pick(rng, drains)), (), True))
    specimen = _side_text(rng, _pick(rng, op.get("specimens") or ["None"]), tside)
    ctx.extra.append(Line("specimens", _sentence(_cap(specimen)), (), True))
    if op.get("implants"):
        ctx.extra.append(Line("implants", "See implant record", (), True))
    if op.get("tourniquet"):
        ctx.extra.append(Line("tourniquet", f"{rng.randint(12, 95)} minutes", (), True))
    findings = list(op.get("findings_by", {}).get(cond.id, [])) or list(op.get("findings", []))
    if findings:
        ctx.extra.append(Line("findings", _sentence(_cap(_side_text(rng, _pick(rng, findings), tside))), (), True))
    # the description: access, the operation's own steps, closure; integral steps are never coded
    approach = ops["approaches"][op["approach"]]
    steps: list[Any] = [*approach["open"], *op["steps"], *approach.get("close", [])]
    for step in steps:
        text = _side_text(rng, _pick(rng, step) if isinstance(step, list) else str(step), tside)
        ctx.extra.append(Line("description", _sentence(_cap(text)), (), False))
    if op["approach"] not in ("gi_endo",) and rng.random() < 0.5:
        ctx.extra.append(Line("description", _sentence(_pick(rng, ops["counts"])), (), False))
    ctx.extra.append(Line("description", _sentence(_pick(rng, ops["tolerated"])), (), False))
    return f"{op['id']}:{mode}"


def _surgical_main(ctx: Ctx, *, inpatient: bool = False) -> bool:
    """A condition that an operation treats, as the reason for a consult, a preoperative H&P or a surgical
    admission; the operation is named (planned or done), never coded."""
    rng = ctx.rng
    pool = [op for op in ctx.d.ops["operations"] if not inpatient or op.get("inpatient")]
    op = _pick_op(ctx, pool)
    conds = [ctx.d.conds[c] for c in op["dx"] if _cond_ok(ctx, ctx.d.conds[c])]
    cond = _wpick(rng, conds, [c.weight for c in conds])
    side = _op_side(ctx, op, cond)
    ctx.title_low = _low(_title(ctx, str(_pick(rng, op["title"])), side, _term(rng, cond, side))).rstrip(".")
    p = _present(ctx, cond, main=True, rank=0, side=side)
    if ctx.kind != "discharge":  # a surgeon's assessment: the operation planned (not coded), not a referral
        status = _pick(rng, ctx.d.phr["status"]["surgical"])
        plan = _sentence(_fill(rng, _pick(rng, ctx.d.phr["plan_surgical"]), title_low=ctx.title_low))
        for line in p.lines:
            if line.section == "ap" and line.codes:
                line.text = _ap_text(ctx, p.phrase, status, plan)
    if not ctx.add(p):
        return False
    ctx.reason = str(op["id"])
    return True


def _plan_consult(ctx: Ctx) -> str:
    rng = ctx.rng
    ctx.letter = rng.random() < 0.4
    ctx.ref = _pick(rng, ctx.d.phr["referring"])
    title = ("Mr." if ctx.sex == "M" else "Ms.") if ctx.age >= 18 else ""
    ctx.name = f"{title} {_pick(rng, ctx.d.phr['surnames'])}".strip()
    sub = _wpick(rng, ("surgical", "medical"), (45, 55))
    ok = sub == "surgical" and _surgical_main(ctx)
    if sub == "surgical" and ok:
        recs = _fill(rng, _pick(rng, ctx.d.phr["recs_surgical"]), title_low=ctx.title_low)
        ctx.extra.append(Line("recs", _sentence(recs), (), False))
    else:
        sub = "medical"
        ctx.reason = "consultation"
        if rng.random() < 0.4:
            _add_conditions(ctx, ("chronic",), 1, rank=0, main=True)
        if not ctx.problems:
            _main_problem(ctx, {"acute": 1.5, "uncertain": 3.0, "finding": 2.0, "injury": 0.5})
    if not any(p.codes for p in ctx.problems):
        _add_conditions(ctx, ("chronic", "acute"), 1, rank=1, main=True)
    _add_conditions(ctx, ("chronic",), _wpick(rng, (0, 1, 2), (3, 3, 1)), rank=2)
    _comorbid(ctx, _wpick(rng, (0, 1, 2, 3), (3, 3, 2, 1)), "pmh", sentence=False)
    _random_negation(ctx, 0.2)
    _extras(ctx, family=0.3, history=0.3, status=0.2)
    _denials(ctx, _wpick(rng, (0, 1, 2), (1, 2, 2)))
    _ros(ctx)
    for _ in range(rng.randint(0, 2)):
        pool = ctx.d.phr["recs_workup" if rng.random() < 0.5 else "recs_generic"]
        ctx.extra.append(Line("recs", _sentence(_pick(rng, pool)), (), False))
    if ctx.letter:
        who = _fill(rng, _pick(rng, ctx.d.phr["letter_salutation"]), ref=ctx.ref, name=ctx.name)
        ctx.extra.append(Line("letter_open", who, (), True))
        close = _fill(rng, _pick(rng, ctx.d.phr["letter_close"]), her=ctx.her)
        ctx.extra.append(Line("letter_close", _sentence(close), (), False))
    return f"{sub}:{'letter' if ctx.letter else 'note'}"


def _plan_hp(ctx: Ctx) -> str:
    rng = ctx.rng
    sub = _wpick(rng, ("admission", "preop"), (65, 35))
    if sub == "preop" and _surgical_main(ctx):
        line = _fill(rng, _pick(rng, ctx.d.phr["hp_plan_preop"]), title_low=ctx.title_low)
        ctx.extra.append(Line("ap_extra", _sentence(line), (), False))
    else:
        sub = "admission"
        ctx.reason = "admission"
        _main_problem(ctx, {"inpatient": 4.0, "acute": 2.5, "uncertain": 2.5, "injury": 0.5})
        for line in rng.sample(ctx.d.phr["hp_plan_admit"], 2):
            ctx.extra.append(Line("ap_extra", _sentence(line), (), False))
    if ctx.age >= 40 and rng.random() < 0.45:
        _cardiometabolic(
            ctx, dm=rng.random() < 0.45, htn=rng.random() < 0.8, ckd=rng.random() < 0.2, hf=rng.random() < 0.1, rank=2
        )
    if not any(p.codes for p in ctx.problems):
        _add_conditions(ctx, ("chronic", "acute"), 1, rank=1, main=True)
    _add_conditions(ctx, ("chronic",), _wpick(rng, (0, 1, 2, 3), (2, 3, 3, 1)), rank=2)
    _comorbid(ctx, _wpick(rng, (0, 1, 2), (3, 3, 2)), "pmh", sentence=False)
    _random_negation(ctx, 0.3)
    _extras(ctx, family=0.35, history=0.35, status=0.3)
    _denials(ctx, _wpick(rng, (0, 1, 2, 3), (1, 2, 3, 2)))
    _ros(ctx)
    return sub


def _rad_indication(ctx: Ctx, spec: Any, side: str) -> tuple[list[str], str]:
    """The sign of an imaging indication: a symptom id of phrasing.yaml or an inline {code | sides, terms}."""
    rng = ctx.rng
    if isinstance(spec, str):
        code, term = _symptom(ctx, spec)
        return [code], term
    codes = [str(spec["sides"][side])] if "sides" in spec else [str(spec["code"])]
    return codes, _side_text(rng, _pick(rng, spec["terms"]), side)


def _plan_radiology(ctx: Ctx) -> str:
    """An imaging report (OCG IV.K): a definitive impression is coded; a normal study, or an impression that
    only raises a condition, codes the sign in the indication."""
    rng = ctx.rng
    rad = ctx.d.rad
    exams = [e for e in rad["exams"] if e["ages"][0] <= ctx.age <= e["ages"][1]]
    if not exams:
        exams = list(rad["exams"])
        ctx.age = rng.randint(30, 80)
        ctx.medicare = ctx.age >= 65
    ex = _wpick(rng, exams, [float(e.get("w", 1)) for e in exams])
    ctx.reason = str(ex["id"])
    side = _pick(rng, ("right", "left")) if ex.get("sided") else ""
    name = _fill(rng, _pick(rng, ex["names"]), side=side, SIDE=side.upper())
    usable = [
        e
        for e in ex["dx"]
        if _cond_ok(ctx, ctx.d.conds[e["cond"]])
        and (not ctx.d.conds[e["cond"]].lateral or side in ctx.d.conds[e["cond"]].codes)
    ]
    outcome = _wpick(rng, ("definitive", "uncertain", "normal"), (50 if usable else 0, 20 if usable else 0, 30))
    ind_spec = _pick(rng, [i for i in ex["indications"] if not isinstance(i, str) or _sx_age_ok(ctx, i)])
    sym_codes, sym = _rad_indication(ctx, ind_spec, side)
    form = _pick(rng, rad["indication_forms"])
    ind_text = _fill(rng, form, Sx=_cap(sym), sx=sym, dur=_duration(ctx), rule=_pick(rng, ex["rule"]))
    ind_text = _fill(rng, ind_text, age=_age_words(ctx), sex=_sex_word(ctx))
    study = Problem("imaging", "procedure", [], [], name, rank=10)
    if ex.get("cpt"):
        study.procedures.append((str(ex["cpt"]), CPT))
    study.lines.append(Line("rad_exam", _sentence(_cap(name)), tuple(c for c, _ in study.procedures)))
    ctx.add(study, force=True)
    normal = [_side_text(rng, str(_pick(rng, slot)), side) for slot in ex["normal"]]
    findings: list[str] = []
    impression: list[Line] = []
    if outcome == "definitive":
        e = _pick(rng, usable)
        cond = ctx.d.conds[e["cond"]]
        cside = side if cond.lateral else ""
        phrase = _term(rng, cond, cside)
        p = Problem(cond.id, "present", _cond_codes(ctx, cond, cside), [], phrase, cside, rank=0, clash=cond.clash)
        p.withheld = [c for c in sym_codes if c not in p.codes]
        p.lines.append(Line("rad_indication", _sentence(_cap(ind_text)), ()))
        p.lines.append(Line("impression", _sentence(_cap(phrase)), tuple(p.codes)))
        if not ctx.add(p):
            outcome = "normal"
        else:
            findings = [_sentence(_cap(_side_text(rng, e["finding"], cside)))] + normal[1:]
    if outcome == "uncertain":
        e = _pick(rng, usable)
        cond = ctx.d.conds[e["cond"]]
        cside = side if cond.lateral else ""
        phrase = _term(rng, cond, cside)
        p = Problem(cond.id, "uncertain", list(sym_codes), _cond_codes(ctx, cond, cside), phrase, cside, rank=0)
        finding = _side_text(rng, _pick(rng, ex["uncertain_finding"]), side)
        text = _fill(rng, _pick(rng, rad["uncertain_forms"]), finding=finding, P=_low(phrase))
        p.lines.append(Line("rad_indication", _sentence(_cap(ind_text)), tuple(sym_codes)))
        p.lines.append(Line("impression", _sentence(_cap(text)), tuple(sym_codes)))
        if not ctx.add(p):
            outcome = "normal"
        else:
            findings = [_sentence(_cap(finding))] + normal[1:]
    if outcome == "normal":
        p = Problem("indication", "present", list(sym_codes), [], sym, side, rank=0)
        p.lines.append(Line("rad_indication", _sentence(_cap(ind_text)), tuple(sym_codes)))
        ctx.add(p, force=True)
        findings = normal
        text = _side_text(rng, _pick(rng, ex["normal_impression"]), side)
        impression.append(Line("impression", _sentence(text), ()))
    incidental = [
        e
        for e in ex["incidental"]
        if _cond_ok(ctx, ctx.d.conds[e["cond"]]) and not ctx.used(str(e["cond"])) and outcome != "uncertain"
    ]
    if incidental and rng.random() < 0.3:
        e = _pick(rng, incidental)
        cond = ctx.d.conds[e["cond"]]
        cside = side if cond.lateral and side in cond.codes else ""
        if not cond.lateral or cside:
            phrase = _term(rng, cond, cside)
            q = Problem(cond.id, "present", _cond_codes(ctx, cond, cside), [], phrase, cside, rank=2, clash=cond.clash)
            q.lines.append(Line("impression", _sentence(_cap(phrase)), tuple(q.codes)))
            if ctx.add(q):
                findings.append(_sentence(_cap(_side_text(rng, e["finding"], cside))))
    findings.append(_pick(rng, rad["closing"]))
    for text in findings:
        ctx.extra.append(Line("findings", _sentence(_cap(text)), (), True))
    ctx.extra.extend(impression)
    ctx.extra.append(Line("technique", _sentence(_side_text(rng, _pick(rng, ex["technique"]), side)), (), False))
    ctx.extra.append(Line("comparison", _sentence(_pick(rng, rad["comparison"])), (), False))
    return f"{ex['id']}:{outcome}"


def _sx_age_ok(ctx: Ctx, sx_id: str) -> bool:
    return ctx.age >= int(ctx.d.phr["symptoms"][sx_id].get("min_age", 0))


# ----------------------------------------------------------------------------------------------- rendering
@dataclass
class _Style:
    upper_headings: bool
    colon: bool
    blank: bool
    ap: str  # num | dash | hash | plain | dx
    lists: str  # dash | num | plain | comma
    caps: bool
    date_fmt: int
    caps_section: str  # one section dictated in capitals ("" for none)
    layout: str = "lines"  # lines | csv | flat (see Plan.layout)
    us: bool = False  # the headings of U.S. transcriptions (phrasing `headings_us`)
    num_sep: str = ""  # "1.  " in transcriptions; "" picks ". " or ") " per list


INLINE_SECTIONS = frozenset(("vaccines", "ap_extra", "time"))
FALLBACK = {
    "psh": ("pmh", "sh", "hpi"),
    "fh": ("sh", "pmh", "hpi"),
    "pmh": ("hpi", "indication", "indications"),
    "sh": ("pmh", "hpi"),
    "results": ("mdm", "ap", "procedure"),
    "mdm": ("results", "ap", "course"),
    "ap": ("dx", "indication"),
    "meds": ("pmh",),
    "procedure": ("description", "ap"),
    "hpi": ("course", "indication", "indications"),
    "recs": ("ap",),
}
PROSE = frozenset(("hpi", "course", "mdm", "description", "findings", "after", "indications"))
PROSE |= frozenset(("letter_open", "letter_close"))
LISTS = frozenset(("pmh", "psh", "meds", "fh", "results", "procedure", "vaccines", "dm_meds", "recs"))
LINES = frozenset(("ros", "exam", "sh", "header", "disposition", "followup", "condition"))
# Diagnosis and procedure lists of operative, imaging and discharge documents: one item on the heading's line,
# several numbered (the heading in its plural form when there is one).
DX_LISTS = frozenset(("preop", "postop", "proc_title", "impression", "admit_dx", "procedures_done"))
PLURAL = {"preop": "preop_pl", "postop": "postop_pl", "proc_title": "proc_title_pl"}
HEAD_SEPS = (":,  ", ": , ", ":  ,", ":, ", ":,", ":,  ")


@dataclass
class _Blk:
    """One section ready to be laid out: its heading, its body lines, and how they sit."""

    head: str
    body: list[str]
    inline: bool = False  # line form: a one-line body goes on the heading's line
    listed: bool = False  # the body is list items (numbered, dashed...)
    then: _Blk | None = None  # a second heading of the same section (principal / secondary diagnoses)


def _fmt_date(d: date, how: int) -> str:
    if how == 0:
        return d.isoformat()
    if how == 1:
        return f"{d.month:02d}/{d.day:02d}/{d.year}"
    return f"{d.strftime('%B')} {d.day}, {d.year}"


def _age_words(ctx: Ctx) -> str:
    if ctx.age == 0:
        months = ctx.rng.randint(1, 11)
        return f"{months}-month-old"
    return _pick(ctx.rng, (f"{ctx.age}-year-old", f"{ctx.age} y/o", f"{ctx.age} yo", f"{ctx.age}-year-old"))


def _sex_word(ctx: Ctx) -> str:
    if ctx.age < 13:
        return "girl" if ctx.sex == "F" else "boy"
    if ctx.age < 18:
        return _pick(ctx.rng, ("female", "girl")) if ctx.sex == "F" else _pick(ctx.rng, ("male", "boy"))
    if ctx.rng.random() < 0.25:
        return ctx.sex
    return _pick(ctx.rng, ("female", "woman")) if ctx.sex == "F" else _pick(ctx.rng, ("male", "man"))


def _vitals(ctx: Ctx) -> Line:
    rng = ctx.rng
    temp = round(rng.uniform(100.6, 102.9), 1) if ctx.febrile else round(rng.uniform(97.6, 99.0), 1)
    parts = []
    if ctx.age >= 3:
        if ctx.bp:
            sbp, dbp = ctx.bp
        elif ctx.age < 13:
            sbp, dbp = rng.randint(92, 114), rng.randint(52, 74)
        else:
            sbp, dbp = rng.randint(104, 138), rng.randint(62, 88)
        parts.append(f"BP {sbp}/{dbp}")
    parts += [f"HR {rng.randint(58, 104) if ctx.age >= 12 else rng.randint(80, 130)}", f"RR {rng.randint(12, 20)}"]
    parts.append(_pick(rng, (f"T {temp} F", f"Temp {temp}", f"Temp {temp} F")))
    parts.append(f"SpO2 {rng.randint(94, 100)}%" + _pick(rng, ("", " on RA", " RA")))
    codes: tuple[str, ...] = ()
    if ctx.age >= 20:
        bmi = ctx.bmi if ctx.bmi is not None else round(rng.uniform(19.5, 29.4), 1)
        height = rng.uniform(61, 74) if ctx.sex == "M" else rng.uniform(58, 69)
        wt = round(bmi * height * height / 703)
        parts.append(f"Wt {wt} lb")
        if ctx.bmi is not None or rng.random() < 0.7:
            parts.append(f"BMI {bmi}")
            codes = ctx.bmi_codes
    elif ctx.age >= 2:
        parts.append(f"Wt {round(rng.uniform(3.0, 4.2) * ctx.age + 8, 1)} kg")
        if ctx.bmi_pct is not None:
            parts.append(f"BMI {_ordinal(ctx.bmi_pct)} %ile")
            codes = ctx.bmi_codes
    sep = _pick(rng, (", ", " | ", "  "))
    label = _pick(rng, ("Vitals: ", "VS: ", "Vital signs: ", ""))
    return Line("exam", label + sep.join(parts), codes, True)


def _exam_lines(ctx: Ctx, n: tuple[int, int]) -> list[Line]:
    rng = ctx.rng
    phr = ctx.d.phr
    systems = list(phr["exam_normal"])
    keep = [s for s in systems if s in ctx.exam_override]
    others = [s for s in systems if s not in keep]
    rng.shuffle(others)
    chosen = keep + others[: max(0, rng.randint(*n) - len(keep))]
    chosen.sort(key=systems.index)
    out = [_vitals(ctx)]
    for s in chosen:
        label = _pick(rng, phr["exam_labels"][s])
        if s in ctx.exam_override:
            out.append(Line("exam", f"{label}: {ctx.exam_override[s]}", (), True))
        else:
            out.append(Line("exam", f"{label}: {_pick(rng, phr['exam_normal'][s])}", (), False))
    return out


def _opener(ctx: Ctx) -> Line:
    rng = ctx.rng
    chronic = [
        p.phrase
        for p in ctx.problems
        if p.role == "present"
        and p.phrase
        and not p.new_finding
        and not (ctx.kind == "discharge" and p.rank < 2)
        and (
            p.key in ("hypertension", "diabetes", "ckd", "heart_failure")
            or (p.key in ctx.d.conds and ctx.d.conds[p.key].type == "chronic")
        )
    ]
    who = f"{_age_words(ctx)} {_sex_word(ctx)}"
    cc = _low(ctx.cc[0]) if ctx.cc else ""
    if ctx.kind == "discharge":
        why = (
            _pick(rng, ("who presented with", "admitted with", "who was admitted for"))
            + " "
            + (cc or "the problems below")
        )
    elif ctx.kind == "consult":
        form = _pick(rng, ctx.d.phr["consult_opener"])
        return Line("hpi", _sentence(_cap(_fill(rng, form, who=who, ref=ctx.ref, cc=cc or "evaluation"))), (), True)
    elif ctx.reason in ("preventive", "prenatal visit") and cc:
        why = _pick(rng, ("here for", "presenting for", "seen today for")) + " " + cc
    elif cc and ctx.reason != "follow-up":
        why = _pick(rng, ("presents with", "here for", "presenting with", "who comes in with")) + " " + cc
    else:
        why = _pick(
            rng,
            ("here for follow-up", "presents for routine follow-up", "seen today for follow-up of chronic conditions"),
        )
    if ctx.age < 18 and ctx.kind != "discharge":
        who += _pick(rng, (" brought in by mother", " brought in by father", " accompanied by parent", ""))
    if chronic and ctx.age >= 18 and rng.random() < 0.8:
        pmh = _join_words(chronic[:3], "and")
        text = f"{who} with {_pick(rng, ('PMH of', 'a history significant for', 'PMHx', 'hx of'))} {pmh} {why}"
    else:
        text = f"{who} {why}"
    return Line("hpi", _sentence(_cap(text)), (), True)


DATE_LABELS = {
    "operative": ("Date of operation", "Date of surgery", "Date of procedure", "DOS"),
    "radiology": ("Date of exam", "Exam date", "Date of study"),
    "hp": ("Date of admission", "Date of service", "Date"),
    "consult": ("Date of consultation", "Date of service", "Date"),
}
EXAM_SYSTEMS = {"office": (5, 9), "urgent": (3, 6), "ed": (5, 9), "discharge": (3, 5), "procedure": (1, 2)}
EXAM_SYSTEMS |= {"operative": (1, 2), "consult": (4, 8), "hp": (6, 10), "radiology": (1, 2)}


def _render(ctx: Ctx, plan: Plan) -> tuple[str, dict[str, list[str]]]:
    rng = ctx.rng
    phr = ctx.d.phr
    kind = ctx.kind
    style = _Style(
        upper_headings=rng.random() < 0.45,
        colon=rng.random() < 0.88,
        blank=rng.random() < 0.85,
        ap=_wpick(rng, ("num", "dash", "hash", "plain", "dx"), (5, 2, 1.5, 1, 1.5 if kind in ("urgent", "ed") else 0)),
        lists=_wpick(rng, ("dash", "num", "plain", "comma"), (4, 2, 2, 2)),
        caps=rng.random() < 0.03,
        date_fmt=rng.randrange(3),
        caps_section=_pick(rng, ("ap", "hpi", "dx", "course", "exam", "ros")) if rng.random() < 0.06 else "",
    )
    spec = ctx.d.kinds[kind]
    # the transcription form of U.S. dictation: headings in capitals inline, "HEADER:,  text.,NEXT:, ..." on one
    # line (or, flattened, "HEADER: text. NEXT: ..."), numbered lists inline; its headings are the transcriptions'
    if rng.random() < float(spec.get("csv", 0.0)):
        style.layout = "csv" if rng.random() < 0.8 else "flat"
        style.us, style.colon, style.upper_headings, style.caps_section = True, True, True, ""
        style.ap = _wpick(rng, ("num", "plain"), (4, 1))
        style.lists = _wpick(rng, ("num", "comma", "plain"), (2, 3, 1))
        style.num_sep = _pick(rng, (".  ", ".  ", ". "))
    else:
        style.us = rng.random() < float(spec.get("us", 0.0))
    plan.layout = style.layout
    by: dict[str, list[Line]] = {}
    for p in sorted(ctx.problems, key=lambda q: q.rank):
        for line in p.lines:
            by.setdefault(line.section, []).append(line)
    for line in ctx.extra:
        by.setdefault(line.section, []).append(line)
    for key, lines in by.items():  # one copy of a repeated line per section
        uniq: list[Line] = []
        for line in lines:
            twin = next((u for u in uniq if u.text == line.text), None)
            if twin is None:
                uniq.append(line)
            else:
                twin.codes = twin.codes + tuple(c for c in line.codes if c not in twin.codes)
        by[key] = uniq
    title = _pick(rng, spec.get(f"titles_{plan.subtype.split(':')[0]}") or spec["titles"])
    header = [Line("header", title.upper() if rng.random() < 0.5 else title)]
    when = _fmt_date(ctx.when, style.date_fmt)
    if kind == "discharge":
        admitted = ctx.when - timedelta(days=rng.randint(1, 7))
        header.append(Line("header", f"Admission date: {_fmt_date(admitted, style.date_fmt)}"))
        header.append(Line("header", f"Discharge date: {when}"))
    else:
        labels = DATE_LABELS.get(kind, ("Date of service", "DOS", "Visit date", "Date"))
        header.append(Line("header", f"{_pick(rng, labels)}: {when}"))
    age_text = f"{ctx.age} y/o" if ctx.age else "under 1 yr"
    header.append(Line("header", f"Patient: {age_text} {ctx.sex}"))
    em = list(by.get("time", []))
    if plan.patient_status:
        status_codes = em[0].codes if em else ()
        header.append(Line("header", f"Visit type: {plan.patient_status} patient", status_codes))
    if kind == "consult" and ctx.letter:
        header.append(Line("header", f"RE: {ctx.name}"))
    by["header"] = header + by.get("header", [])
    if kind == "consult" and ctx.letter:
        cc = _low(ctx.cc[0]) if ctx.cc else "evaluation"
        slots = {"name": ctx.name, "age": _age_words(ctx), "sex": _sex_word(ctx), "cc": cc}
        thanks = _fill(rng, _pick(rng, phr["letter_thanks"]), **slots)
        by.setdefault("letter_open", []).append(Line("letter_open", _sentence(thanks), (), True))
    elif kind not in ("procedure", "operative", "radiology"):
        by.setdefault("hpi", []).insert(0, _opener(ctx))
    if kind == "discharge":
        by.pop("cc", None)
    if ctx.cc:
        by["cc"] = [Line("cc", _cap(ctx.cc[0]))]
    elif kind in phr["cc_generic"]:
        by["cc"] = [Line("cc", _cap(_pick(rng, phr["cc_generic"][kind])))]
    sections = spec["sections"]
    if "sections_alt" in spec and rng.random() < 0.35:
        sections = spec["sections_alt"]
    order = [key if isinstance(key, str) else key[0] for key in sections]
    chronic = any(p.role == "present" and ctx.d.conds.get(p.key, None) is not None for p in ctx.problems)
    if not by.get("pmh") and not chronic and "pmh" in order:
        by["pmh"] = [Line("pmh", _pick(rng, phr["pmh_none"]), (), False)]
    elif not by.get("pmh") and kind in ("hp", "consult"):  # an H&P or a consult always has a past history
        by["pmh"] = [Line("pmh", _pick(rng, phr["pmh_filler"]), (), False)]
    if "meds" in order:
        if not by.get("meds"):
            by["meds"] = [Line("meds", _pick(rng, phr["meds_none"]), (), False)]
        elif rng.random() < 0.5 and ctx.age >= 18:
            by["meds"].append(Line("meds", _pick(rng, phr["meds_filler"]), (), False))
    by["allergies"] = [Line("allergies", _pick(rng, phr["allergies"]), (), True)]
    if not by.get("fh") and "fh" in order:
        by["fh"] = [Line("fh", _pick(rng, phr["fh_none"]), (), True)]
    if not by.get("psh") and "psh" in order:
        psh_pool = phr["psh_filler"] + (phr["psh_filler_f"] if ctx.sex == "F" else []) if ctx.age >= 18 else ["None"]
        # not the operation this note plans or reports (no prior tonsillectomy before a tonsillectomy)
        planned = set(re.findall(r"[a-z]{6,}", ctx.title_low))
        psh_pool = [x for x in psh_pool if not planned & set(re.findall(r"[a-z]{6,}", x.lower()))] or ["None"]
        by["psh"] = [Line("psh", _pick(rng, psh_pool), (), False)]
    by["exam"] = _exam_lines(ctx, EXAM_SYSTEMS[kind])
    if kind in ("urgent", "ed"):
        admit = kind == "ed" and any(
            p.rank == 0 and p.key in ctx.d.conds and ctx.d.conds[p.key].type == "inpatient" for p in ctx.problems
        )
        dispo = phr["disposition"]["ed_admit" if admit else kind]
        by["disposition"] = [Line("disposition", _sentence(_pick(rng, dispo)), (), False)]
    if kind == "discharge":
        by["condition"] = [Line("condition", _sentence(_pick(rng, phr["discharge"]["condition"])), (), False)]
        by["disposition"] = [Line("disposition", _sentence(_pick(rng, phr["discharge"]["disposition"])), (), False)]
        by["followup"] = [Line("followup", _sentence(_pick(rng, phr["discharge"]["followup"])), (), False)]
        by.setdefault("course", []).append(
            Line("course", _sentence(_pick(rng, phr["discharge"]["course_filler"])), (), False)
        )
    if kind == "procedure":
        by.setdefault("after", []).append(
            Line("after", _sentence(_pick(rng, phr["procedure"]["tolerated"])), (), False)
        )
        by["complications"] = [Line("complications", _pick(rng, phr["procedure"]["complications"]), (), True)]
        by["consent"] = [Line("consent", _sentence(_pick(rng, phr["procedure"]["consent"])), (), False)]
    if kind in ("office", "urgent") and rng.random() < 0.5:
        by.setdefault("ap_extra", []).append(Line("ap_extra", _sentence(_pick(rng, phr["ap_closers"])), (), False))
    by["signature"] = [Line("signature", _fill(rng, _pick(rng, phr["signature"]), who=phr["providers"]), (), True)]
    # typos in words that carry no code, and the all-caps dictation style
    if rng.random() < 0.15:
        typo_pool = [ln for lines in by.values() for ln in lines if not ln.protected]
        for _ in range(rng.randint(1, 3)):
            if not typo_pool:
                break
            ln = _pick(rng, typo_pool)
            words = [m for m in re.finditer(r"\b[a-z]{5,}\b", ln.text) if m.group(0) not in CRITICAL_WORDS]
            if words:
                m = _pick(rng, words)
                ln.text = ln.text[: m.start()] + _typo(rng, m.group(0)) + ln.text[m.end() :]
                plan.typos += 1
    plan.all_caps = style.caps
    for name, lines in by.items():
        if style.caps or name == style.caps_section:
            for ln in lines:
                ln.text = ln.text.upper()
    for name in list(by):  # a line whose section this kind does not write moves to the nearest one it does
        if name not in order and name not in INLINE_SECTIONS:
            target = next((f for f in FALLBACK.get(name, ()) if f in order), None)
            if target is not None:
                by.setdefault(target, []).extend(by.pop(name))
    must = {id(ln) for p in ctx.problems if p.codes or p.withheld for ln in p.lines}
    blocks: list[_Blk] = []
    for key in sections:
        name, p_show = (key, 1.0) if isinstance(key, str) else (key[0], float(key[1]))
        section = by.get(name) or []
        if not section:
            continue
        if rng.random() >= p_show and not any(ln.codes or id(ln) in must for ln in section):
            continue
        if style.layout != "lines" and name in ("header", "signature"):
            # a transcription keeps no letterhead or signature block; a line that carries a code stays
            section = [ln for ln in section if ln.codes]
            if not section:
                continue
        block = _block(ctx, style, name, section, by)
        blocks.append(block)
        plan.sections.append((name, block.head))
        if block.then is not None:
            plan.sections.append((name, block.then.head))
    if style.layout == "lines":
        text = ("\n\n" if style.blank else "\n").join(_line_form(style, b) for b in blocks).strip() + "\n"
    else:
        joiner = "," if style.layout == "csv" else " "
        text = joiner.join(_transcribed(ctx, style, b) for b in blocks).strip() + "\n"
    evidence: dict[str, list[str]] = {}
    for lines in by.values():
        for ln in lines:
            for c in ln.codes:
                if ln.text and ln.text in text and ln.text not in evidence.setdefault(c, []):
                    evidence[c].append(ln.text)
    return text, evidence


def _heading(ctx: Ctx, style: _Style, key: str) -> str:
    """A heading for a section: the note's own choices (an endoscopy report's), the kind's, the transcriptions'
    when the note uses them, else the common ones."""
    table = ctx.headings.get(key) or ctx.d.kinds[ctx.kind].get("headings", {}).get(key)
    if not table and style.us:
        table = ctx.d.phr["headings_us"].get(key)
    h = _pick(ctx.rng, table or ctx.d.phr["headings"][key])
    return h.upper() if style.upper_headings or style.caps or key == style.caps_section else h


def _items(ctx: Ctx, style: _Style, lines: list[Line], how: str) -> list[str]:
    if how == "num":
        sep = style.num_sep or _pick(ctx.rng, (". ", ") "))
        return [f"{i}{sep}{ln.text}" for i, ln in enumerate(lines, 1)]
    if how == "dash":
        return [f"- {ln.text}" for ln in lines]
    if how == "hash":
        return [f"# {ln.text}" for ln in lines]
    if how == "dx":
        return [f"Dx: {ln.text}" if i == 0 else f"Dx {i + 1}: {ln.text}" for i, ln in enumerate(lines)]
    return [ln.text for ln in lines]


def _paragraphs(ctx: Ctx, lines: list[Line]) -> list[str]:
    """A long narrative (an operative description) in paragraphs of three to five sentences."""
    out: list[str] = []
    i = 0
    while i < len(lines):
        n = ctx.rng.randint(3, 5)
        out.append(" ".join(ln.text for ln in lines[i : i + n]))
        i += n
    return out


def _block(ctx: Ctx, style: _Style, name: str, lines: list[Line], by: dict[str, list[Line]]) -> _Blk:
    rng = ctx.rng
    if name in ("header", "signature"):
        return _Blk("", [ln.text for ln in lines])
    head = ""
    if name in ctx.d.phr["headings"]:
        key = PLURAL[name] if name in PLURAL and len(lines) > 1 else name
        head = _heading(ctx, style, key)
    if name in PROSE:
        if name == "description" and len(lines) > 6:
            return _Blk(head, _paragraphs(ctx, lines))
        return _Blk(head, [" ".join(ln.text for ln in lines)], inline=style.colon and rng.random() < 0.3)
    if name in DX_LISTS:
        if len(lines) == 1:
            return _Blk(head, [lines[0].text], inline=style.colon and rng.random() < 0.7)
        return _Blk(head, _items(ctx, style, lines, "num"), listed=True)
    if name == "ap":
        body = _items(ctx, style, lines, style.ap)
        body += [ln.text for ln in by.get("ap_extra", [])]
        body += [ln.text for ln in by.get("time", [])]
        return _Blk(head, body, listed=style.ap != "plain")
    if name == "dx":
        if rng.random() < 0.5 and len(lines) > 1:
            how = style.lists if style.lists != "comma" else "dash" if style.layout == "lines" else "num"
            rest = _items(ctx, style, lines[1:], how)
            second = _Blk(_heading(ctx, style, "secondary"), rest, listed=True)
            return _Blk(_heading(ctx, style, "principal"), [lines[0].text], inline=True, then=second)
        how = "num" if style.lists in ("num", "comma") else style.lists
        return _Blk(head, _items(ctx, style, lines, how), listed=True)
    if name in LISTS:
        texts = [ln.text for ln in lines]
        if (
            style.lists == "comma"
            and name in ("pmh", "psh", "meds")
            and all(len(t) < 60 and "." not in t for t in texts)
        ):
            return _Blk(head, [", ".join(texts)], inline=style.colon)
        how = style.lists if style.lists != "comma" else "dash" if style.layout == "lines" else "num"
        return _Blk(head, _items(ctx, style, lines, how), listed=True)
    if name in LINES:
        body = [ln.text for ln in lines]
        if name == "sh" and rng.random() < 0.5:
            return _Blk(head, [" ".join(body)], inline=style.colon and rng.random() < 0.5)
        return _Blk(head, body)
    return _Blk(head, [" ".join(ln.text for ln in lines)], inline=style.colon)


def _line_form(style: _Style, b: _Blk) -> str:
    colon = ":" if style.colon else ""
    if not b.head:
        out = "\n".join(b.body)
    elif b.inline and len(b.body) == 1:
        out = f"{b.head}{colon} {b.body[0]}"
    else:
        out = f"{b.head}{colon}\n" + "\n".join(b.body)
    return out + ("\n" + _line_form(style, b.then) if b.then else "")


def _end(text: str) -> str:
    """A transcribed item ends with a period, as dictation does ("1.  Cholelithiasis.")."""
    return text if text.endswith((".", "!", "?", ":")) else text + "."


def _transcribed(ctx: Ctx, style: _Style, b: _Blk) -> str:
    """A section in the transcription form: 'HEADER:,  text.' with list items and paragraphs joined by commas
    (or all on one run, '1.  Xxx.  2.  Yyy.'); flattened: 'HEADER: text.' joined by spaces."""
    rng = ctx.rng
    csv = style.layout == "csv"
    if b.listed:
        joiner = "," if csv and rng.random() < 0.6 else "  "
        body = joiner.join(_end(x) for x in b.body)
    else:
        body = ("," if csv else " ").join(_end(x) for x in b.body)
    if not b.head:
        out = body
    elif csv:
        sep = _pick(rng, HEAD_SEPS)
        out = f"{b.head}{sep}{body}" if not (b.listed and sep.endswith(" ")) else f"{b.head}:,{body}"
    else:
        out = f"{b.head}: {body}"
    if b.then is not None:
        out += ("," if csv else " ") + _transcribed(ctx, style, b.then)
    return out


# ----------------------------------------------------------------------------------------------- public API
PLANNERS = {
    "office": _plan_office,
    "urgent": _plan_urgent,
    "ed": _plan_ed,
    "discharge": _plan_discharge,
    "procedure": _plan_procedure,
    "operative": _plan_operative,
    "consult": _plan_consult,
    "hp": _plan_hp,
    "radiology": _plan_radiology,
}


def _patient(rng: random.Random, kind: str) -> tuple[int, str]:
    sex = "F" if rng.random() < 0.53 else "M"
    peds = {"office": 0.16, "urgent": 0.28, "ed": 0.14, "discharge": 0.0, "procedure": 0.12}.get(kind, 0.06)
    if rng.random() < peds:
        return (rng.randint(0, 17) if kind == "office" else rng.randint(1, 17)), sex
    band = _wpick(rng, ((18, 44), (45, 64), (65, 95)), (3, 3, 3) if kind != "discharge" else (2, 3, 5))
    return rng.randint(*band), sex


def _one(seed: int, index: int) -> tuple[Record, Plan]:
    rng = random.Random(f"chartcoder-synthetic:{seed}:{index}")
    weights = _data().kinds["weights"]
    kind = _wpick(rng, list(weights), list(weights.values()))
    age, sex = _patient(rng, kind)
    when = date(2025, 1, 1) + timedelta(days=rng.randrange(730))
    ctx = Ctx(rng, kind, age, sex, when)
    status: str | None = None
    if kind in ("office", "urgent"):
        ctx.new_patient = rng.random() < (0.2 if kind == "office" else 0.45)
        status = "new" if ctx.new_patient else "established"
    subtype = PLANNERS[kind](ctx)
    em = next((p for p in ctx.problems if p.key == "em"), None)
    em_code = em.procedures[0][0] if em else None
    minutes = int(re.findall(r"(\d+) ?min", em.phrase)[0]) if em else None
    age, sex = ctx.age, ctx.sex
    plan = Plan(index, kind, ctx.setting, sex, age, when.isoformat(), status, ctx.problems, minutes, em_code, subtype)
    text, evidence = _render(ctx, plan)
    ordered = sorted(ctx.problems, key=lambda p: p.rank)
    icd: list[str] = []
    for p in ordered:
        for c in p.codes:
            if c not in icd:
                icd.append(c)
    procs: list[tuple[str, str]] = []
    visit_first = sorted(ordered, key=lambda p: (p.key not in ("em", "preventive"), p.rank))
    for p in visit_first:
        for c, s in p.procedures:
            if (c, s) not in procs:
                procs.append((c, s))
    codes = [GoldCode(c, ICD) for c in icd] + [GoldCode(c, s) for c, s in procs]
    wanted = [g.code for g in codes]
    encounter: dict[str, Any] = {"setting": ctx.setting, "sex": sex, "age": age, "date": when.isoformat()}
    if status:
        encounter["patient_status"] = status
    encounter["kind"] = KIND_NAMES[kind]
    record = Record(
        id=f"syn-{seed}-{index:05d}",
        text=text,
        codes=codes,
        encounter=encounter,
        source="synthetic",
        evidence={c: evidence[c] for c in wanted if c in evidence},
    )
    return record, plan


def generate_with_plans(n: int, seed: int = 0) -> list[tuple[Record, Plan]]:
    """The records and the decisions behind them (for tests and error analysis)."""
    if n < 0:
        raise ValueError("n must be >= 0")
    return [_one(seed, i) for i in range(n)]


def generate(n: int, seed: int = 0) -> list[Record]:
    """`n` synthetic notes with gold codes; the same (n, seed) always gives the same records."""
    return [r for r, _ in generate_with_plans(n, seed)]


# ----------------------------------------------------------------------------------------------- coverage
def _cov_codes(value: Any) -> list[str]:
    return [str(c) for c in _tuple(value)]


@lru_cache(maxsize=1)
def _coverage() -> dict[str, tuple[str, ...]]:
    d = _data()
    icd: list[str] = []
    cpt: list[str] = []
    hcpcs: list[str] = []

    def add(code: str, system: str = ICD) -> None:
        target = {ICD: icd, CPT: cpt, HCPCS: hcpcs}[system]
        if code not in target:
            target.append(code)

    for cond in d.conds.values():
        sevenths = []
        if "A" in cond.seventh and (cond.type == "proc" or any(w != "office" for w in cond.where)):
            sevenths.append("A")
        if "D" in cond.seventh and "office" in cond.where:
            sevenths.append("D")
        for codes in cond.codes.values():
            for c in codes:
                if _needs_seventh(c):
                    for ch in sevenths:
                        add(c + ch)
                else:
                    add(c)
        for drug in cond.drugs:
            if drug.code:
                add(drug.code)
        if cond.unc:
            for codes in cond.unc.codes.values():
                for c in codes:
                    add(c)
        if cond.xray:
            add(cond.xray[0], CPT)
        for c in cond.dme:
            add(c, HCPCS)
    procs = d.procs
    for test in procs["poc"].values():
        add(str(test["code"]), str(test.get("system", CPT)))
    for proc in procs["inline"].values():
        for c, s in proc["codes"]:
            add(str(c), str(s))
        for drug in proc.get("drugs", []):
            add(str(drug["code"]), HCPCS)
    lac = procs["laceration"]
    for kind in ("simple", "intermediate"):
        for table in lac["codes"][kind].values():
            for _, c in table:
                add(str(c), CPT)
    add("G0168", HCPCS)
    for t in procs["notes"]:
        for c, s in t.get("codes", []):
            add(str(c), str(s))
        for key in ("count", "size"):
            for _, codes in t.get(key, {}).get("codes", []):
                for c, s in codes:
                    add(str(c), str(s))
        for v in t.get("variants", []):
            for c, s in v["codes"]:
                add(str(c), str(s))
        for drug in t.get("drugs", []):
            add(str(drug["code"]), HCPCS)
    for prod in procs["vaccines"]["products"].values():
        add(str(prod["code"]), CPT)
    for c in (
        "90460",
        "90461",
        "90471",
        "90472",
        "90473",
        "90474",
        "90480",
        "93010",
        "83036",
        "99406",
        "99407",
        "96127",
    ):
        add(c, CPT)
    for c in ("G0008", "G0009", "G0010", "G0438", "G0439", "G0444"):
        add(c, HCPCS)
    for scr in d.kinds["preventive"]["screens"]:
        add(str(scr["code"]), CPT)
    for i in range(len(PREVENTIVE_AGES)):
        add(f"9938{i + 1}", CPT)
        add(f"9939{i + 1}", CPT)
    for _, _, c in EM_NEW + EM_EST:
        add(c, CPT)
    for c in ("Z00.00", "Z00.01", "Z00.121", "Z00.129", "Z23", "F17.210", "Z87.891"):
        add(c)
    for exam in d.rad["exams"]:  # imaging: the study read, and the sign of a normal or uncertain study
        if exam.get("cpt"):
            add(str(exam["cpt"]), CPT)
        for ind in exam["indications"]:
            if isinstance(ind, str):
                add(str(d.phr["symptoms"][ind]["code"]))
            else:
                for c in ind["sides"].values() if "sides" in ind else [ind["code"]]:
                    add(str(c))
    h = d.hist
    for e in h["family"] + h["personal"] + h["sdoh"]:
        add(str(e["code"]))
    for e in h["status"]:
        for codes in e["sides"].values() if "sides" in e else [e["code"]]:
            for c in _cov_codes(codes):
                add(c)
    for e in h["tobacco"]["current"]:
        add(str(e["code"]))
    cb = d.combos
    dm = cb["diabetes"]
    for spec in [dm["none"], *dm["comps"].values()]:
        for prefix in ("e10", "e11"):
            if "sides" in spec:
                for codes in spec["sides"].get(prefix, {}).values():
                    for c in _cov_codes(codes):
                        add(c)
            elif prefix in spec:
                for c in _cov_codes(spec[prefix]):
                    add(c)
    for site in dm["ulcer"]["sites"].values():
        for base in site.values():
            for depth in dm["ulcer"]["depth"]:
                add(f"{base}{depth}")
    for drug in dm["t2_drugs"]:
        add(str(drug["code"]))
    add("Z96.41")
    cr = cb["cardiorenal"]
    for c in ("I10", "I11.0", "I12.0", "I12.9", "I13.0", "I13.2", "Z99.2", "D63.1"):
        add(c)
    for s in cr["ckd"]:
        add(str(s["code"]))
    for e in cr["hf_chronic"] + cr["hf_acute"]:
        add(str(e["code"]))
    w = cb["weight"]
    for e in w["adult"]:
        add(str(e["code"]))
        lo, hi = e["bmi"]
        b = float(lo)
        while b <= float(hi):
            add(_z68_adult(round(b, 1)))
            b += 0.1
        add(_z68_adult(float(hi)))
    for e in w["peds"]:
        add(str(e["code"]))
        add(str(e["z68"]))
    preg = cb["pregnancy"]
    for key in ("routine", "ama"):
        for spec in preg[key].values():
            for c in spec["codes"].values():
                add(str(c))
    for comp in preg["complications"]:
        values = comp["codes"].values() if isinstance(comp["codes"], dict) else [comp["codes"]]
        for v in values:
            for c in _cov_codes(v):
                add(c)
        for c in _cov_codes(comp.get("extra")):
            add(c)
    for wk in range(6, 42):
        add(_z3a(wk))
    for c in ("O80", "Z37.0", "O20.0"):
        add(c)
    sp = cb["sepsis"]
    for o in sp["organisms"]:
        add(str(o["code"]))
    for s in sp["sources"]:
        for codes in s["sides"].values() if "sides" in s else [s["code"]]:
            for c in _cov_codes(codes):
                add(c)
    for o in sp["organ_dysfunction"]:
        add(str(o["code"]))
    add("R65.20")
    add("R65.21")
    return {ICD: tuple(icd), CPT: tuple(cpt), HCPCS: tuple(hcpcs)}


def coverage() -> dict[str, set[str]]:
    """Every code the generator can emit, by system."""
    return {system: set(codes) for system, codes in _coverage().items()}
