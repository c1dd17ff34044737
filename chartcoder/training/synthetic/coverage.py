"""Every code the generator can emit, by system, read from the catalogues rather than from generated notes.

One reader per catalogue, each adding to one `_Found` in the order the codes appear there."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from chartcoder.training.synthetic.coding import _needs_seventh, _z3a, _z68_adult
from chartcoder.training.synthetic.loading import _Data, _data, _tuple
from chartcoder.training.synthetic.model import Cond
from chartcoder.training.synthetic.tables import CPT, EM_EST, EM_NEW, HCPCS, ICD, PREVENTIVE_AGES

# Codes the planners write in code rather than read from a catalogue: vaccine administration, the ECG read, the
# office A1c, tobacco counselling, depression screening, Medicare administration and wellness visits.
FIXED_CPT = ("90460", "90461", "90471", "90472", "90473", "90474", "90480", "93010", "83036", "99406", "99407", "96127")
FIXED_HCPCS = ("G0008", "G0009", "G0010", "G0438", "G0439", "G0444")
FIXED_VISIT_ICD = ("Z00.00", "Z00.01", "Z00.121", "Z00.129", "Z23", "F17.210", "Z87.891")
FIXED_CARDIORENAL_ICD = ("I10", "I11.0", "I12.0", "I12.9", "I13.0", "I13.2", "Z99.2", "D63.1")


def _cov_codes(value: Any) -> list[str]:
    return [str(c) for c in _tuple(value)]


class _Found:
    """The codes found so far, by system, each once, in the order first found."""

    def __init__(self) -> None:
        self.by_system: dict[str, list[str]] = {ICD: [], CPT: [], HCPCS: []}

    def add(self, code: str, system: str = ICD) -> None:
        target = self.by_system[system]
        if code not in target:
            target.append(code)

    def add_all(self, codes: Any, system: str = ICD) -> None:
        for c in _cov_codes(codes):
            self.add(c, system)

    def add_pairs(self, pairs: Any) -> None:
        """(code, system) pairs as the procedure catalogues write them."""
        for c, s in pairs:
            self.add(str(c), str(s))


def _sides_or_code(entry: dict[str, Any]) -> list[Any]:
    """An entry's codes: one value per side, or its single `code`."""
    return list(entry["sides"].values()) if "sides" in entry else [entry["code"]]


def _cov_condition(found: _Found, cond: Cond) -> None:
    sevenths = []
    if "A" in cond.seventh and (cond.type == "proc" or any(w != "office" for w in cond.where)):
        sevenths.append("A")
    if "D" in cond.seventh and "office" in cond.where:
        sevenths.append("D")
    for codes in cond.codes.values():
        for c in codes:
            if _needs_seventh(c):
                for ch in sevenths:
                    found.add(c + ch)
            else:
                found.add(c)
    for drug in cond.drugs:
        if drug.code:
            found.add(drug.code)
    if cond.unc:
        for codes in cond.unc.codes.values():
            found.add_all(codes)
    if cond.xray:
        found.add(cond.xray[0], CPT)
    found.add_all(cond.dme, HCPCS)


def _cov_procedures(found: _Found, procs: dict[str, Any]) -> None:
    for test in procs["poc"].values():
        found.add(str(test["code"]), str(test.get("system", CPT)))
    for proc in procs["inline"].values():
        found.add_pairs(proc["codes"])
        for drug in proc.get("drugs", []):
            found.add(str(drug["code"]), HCPCS)
    lac = procs["laceration"]
    for kind in ("simple", "intermediate"):
        for table in lac["codes"][kind].values():
            for _, c in table:
                found.add(str(c), CPT)
    found.add("G0168", HCPCS)
    for t in procs["notes"]:
        found.add_pairs(t.get("codes", []))
        for key in ("count", "size"):
            for _, codes in t.get(key, {}).get("codes", []):
                found.add_pairs(codes)
        for v in t.get("variants", []):
            found.add_pairs(v["codes"])
        for drug in t.get("drugs", []):
            found.add(str(drug["code"]), HCPCS)


def _cov_visits(found: _Found, d: _Data) -> None:
    """Vaccines, the codes written in code, preventive and office E/M visits, and imaging."""
    for prod in d.procs["vaccines"]["products"].values():
        found.add(str(prod["code"]), CPT)
    found.add_all(FIXED_CPT, CPT)
    found.add_all(FIXED_HCPCS, HCPCS)
    for scr in d.kinds["preventive"]["screens"]:
        found.add(str(scr["code"]), CPT)
    for i in range(len(PREVENTIVE_AGES)):
        found.add(f"9938{i + 1}", CPT)
        found.add(f"9939{i + 1}", CPT)
    for _, _, c in EM_NEW + EM_EST:
        found.add(c, CPT)
    found.add_all(FIXED_VISIT_ICD)
    for exam in d.rad["exams"]:  # imaging: the study read, and the sign of a normal or uncertain study
        if exam.get("cpt"):
            found.add(str(exam["cpt"]), CPT)
        for ind in exam["indications"]:
            if isinstance(ind, str):
                found.add(str(d.phr["symptoms"][ind]["code"]))
            else:
                found.add_all([str(c) for c in _sides_or_code(ind)])


def _cov_history(found: _Found, h: dict[str, Any]) -> None:
    for e in h["family"] + h["personal"] + h["sdoh"]:
        found.add(str(e["code"]))
    for e in h["status"]:
        for codes in _sides_or_code(e):
            found.add_all(codes)
    for e in h["tobacco"]["current"]:
        found.add(str(e["code"]))


def _cov_diabetes(found: _Found, dm: dict[str, Any]) -> None:
    for spec in [dm["none"], *dm["comps"].values()]:
        for prefix in ("e10", "e11"):
            if "sides" in spec:
                for codes in spec["sides"].get(prefix, {}).values():
                    found.add_all(codes)
            elif prefix in spec:
                found.add_all(spec[prefix])
    for site in dm["ulcer"]["sites"].values():
        for base in site.values():
            for depth in dm["ulcer"]["depth"]:
                found.add(f"{base}{depth}")
    for drug in dm["t2_drugs"]:
        found.add(str(drug["code"]))
    found.add("Z96.41")


def _cov_cardiorenal_and_weight(found: _Found, cb: dict[str, Any]) -> None:
    cr = cb["cardiorenal"]
    found.add_all(FIXED_CARDIORENAL_ICD)
    for s in cr["ckd"]:
        found.add(str(s["code"]))
    for e in cr["hf_chronic"] + cr["hf_acute"]:
        found.add(str(e["code"]))
    w = cb["weight"]
    for e in w["adult"]:
        found.add(str(e["code"]))
        lo, hi = e["bmi"]
        b = float(lo)
        while b <= float(hi):
            found.add(_z68_adult(round(b, 1)))
            b += 0.1
        found.add(_z68_adult(float(hi)))
    for e in w["peds"]:
        found.add(str(e["code"]))
        found.add(str(e["z68"]))


def _cov_pregnancy_and_sepsis(found: _Found, cb: dict[str, Any]) -> None:
    preg = cb["pregnancy"]
    for key in ("routine", "ama"):
        for spec in preg[key].values():
            for c in spec["codes"].values():
                found.add(str(c))
    for comp in preg["complications"]:
        values = comp["codes"].values() if isinstance(comp["codes"], dict) else [comp["codes"]]
        for v in values:
            found.add_all(v)
        found.add_all(comp.get("extra"))
    for wk in range(6, 42):
        found.add(_z3a(wk))
    found.add_all(("O80", "Z37.0", "O20.0"))
    sp = cb["sepsis"]
    for o in sp["organisms"]:
        found.add(str(o["code"]))
    for s in sp["sources"]:
        for codes in _sides_or_code(s):
            found.add_all(codes)
    for o in sp["organ_dysfunction"]:
        found.add(str(o["code"]))
    found.add_all(("R65.20", "R65.21"))


@lru_cache(maxsize=1)
def _coverage() -> dict[str, tuple[str, ...]]:
    d = _data()
    found = _Found()
    for cond in d.conds.values():
        _cov_condition(found, cond)
    _cov_procedures(found, d.procs)
    _cov_visits(found, d)
    _cov_history(found, d.hist)
    _cov_diabetes(found, d.combos["diabetes"])
    _cov_cardiorenal_and_weight(found, d.combos)
    _cov_pregnancy_and_sepsis(found, d.combos)
    return {system: tuple(codes) for system, codes in found.by_system.items()}


def coverage() -> dict[str, set[str]]:
    """Every code the generator can emit, by system."""
    return {system: set(codes) for system, codes in _coverage().items()}
