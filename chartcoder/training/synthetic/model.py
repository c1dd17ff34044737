"""What the generator decides: conditions as loaded from the YAML catalogues (`Cond`), and for one note the
lines written (`Line`), the decisions with their gold codes (`Problem`) and the whole `Plan`."""

from __future__ import annotations

from dataclasses import dataclass, field


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
