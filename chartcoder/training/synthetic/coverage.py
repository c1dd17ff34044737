"""Every code the generator can emit, by system, read from the catalogues rather than from generated notes."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from chartcoder.training.synthetic.coding import _needs_seventh, _z3a, _z68_adult
from chartcoder.training.synthetic.loading import _data, _tuple
from chartcoder.training.synthetic.tables import CPT, EM_EST, EM_NEW, HCPCS, ICD, PREVENTIVE_AGES


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
