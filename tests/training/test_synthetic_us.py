"""The synthetic corpus's U.S. documents: operative reports, consults, H&Ps, imaging reports and the transcription
form, checked against docs/coding-policy.md.

As in test_synthetic.py, the checks read the text and the gold codes; the cues they look for (postoperative
headings, "Same", integral steps, impression wording) are restated here, not taken from the generator's tables.
"""

from __future__ import annotations

import re
from collections import Counter

import pytest

from chartcoder.codes.icd10cm import icd10cm
from chartcoder.training import synthetic
from chartcoder.training.records import Record

ICD = "ICD-10-CM"
N = 2000
SAME = re.compile(r"^same\b", re.I)
POSTOP_HEAD = re.compile(r"post[- ]?(operative|procedure)|final diagnos", re.I)
PREOP_HEAD = re.compile(r"pre[- ]?(operative|procedure)|^indication$", re.I)
# Words of the parts of an operation that are never coded (coding policy: integral steps, blood loss, lines,
# closure, anesthesia) and codes that would code them.
NEVER_CODED = ("D62", "R58", "K66.0", "T81.4XXA", "Z48.01", "Z48.02", "Z97.8")


@pytest.fixture(scope="module")
def corpus() -> list[tuple[Record, synthetic.Plan]]:
    return synthetic.generate_with_plans(N, seed=3)


def _icd(record: Record) -> list[str]:
    return [c.code for c in record.codes if c.system == ICD]


def _of(corpus, kind: str):  # type: ignore[no-untyped-def]
    return [(r, p) for r, p in corpus if p.kind == kind]


# ----------------------------------------------------------------------------------------------- operative reports
def test_operative_reports_code_the_postoperative_diagnosis_first(corpus) -> None:  # type: ignore[no-untyped-def]
    modes: Counter[str] = Counter()
    for r, plan in _of(corpus, "operative"):
        op, mode = plan.subtype.split(":")
        modes[mode] += 1
        main = min((p for p in plan.problems if p.role == "present"), key=lambda p: p.rank)
        gold = _icd(r)
        assert gold[: len(main.codes)] == main.codes, (r.id, gold, main.codes)
        assert r.encounter["kind"] == "operative_report" and r.encounter["setting"] == "outpatient"
        assert not [c for c in r.codes if c.system != ICD], (r.id, r.codes)  # surgical CPT is not in the set
        headings = [h for name, h in plan.sections if name == "postop"]
        assert headings and POSTOP_HEAD.search(headings[0]), (r.id, plan.sections)
        if mode == "refine":
            # the preoperative sign or working diagnosis is replaced: its code is withheld, never coded
            assert main.withheld and not set(main.withheld) & set(gold), (r.id, main.withheld, gold)
    assert modes["same"] >= 80 and modes["repeat"] >= 40 and modes["refine"] >= 40, modes


def test_same_means_the_preoperative_list(corpus) -> None:  # type: ignore[no-untyped-def]
    seen = 0
    for r, plan in _of(corpus, "operative"):
        if not plan.subtype.endswith(":same"):
            continue
        seen += 1
        pre = [ln for p in plan.problems for ln in p.lines if ln.section == "preop"]
        post = [ln for p in plan.problems for ln in p.lines if ln.section == "postop"]
        assert len(post) == 1 and SAME.match(post[0].text) and not post[0].codes, (r.id, post)
        assert post[0].text in r.text
        # every preoperative diagnosis is written, is what the gold codes are, and is their evidence
        coded = [c for ln in pre for c in ln.codes]
        assert coded and set(coded) == set(_icd(r)), (r.id, coded, _icd(r))
        for ln in pre:
            assert ln.text in r.text
            for c in ln.codes:
                assert ln.text in r.evidence[c], (r.id, c, r.evidence[c])
        # "Same" comes after the preoperative list
        assert r.text.index(pre[0].text) < r.text.index(post[0].text, r.text.index(pre[0].text))
    assert seen >= 80


def test_operative_gold_is_supported_by_the_diagnosis_lists_only(corpus) -> None:  # type: ignore[no-untyped-def]
    seen = 0
    for r, plan in _of(corpus, "operative"):
        lists = {ln.text for p in plan.problems for ln in p.lines if ln.section in ("preop", "postop")}
        for code in _icd(r):
            assert r.evidence[code] and set(r.evidence[code]) <= lists, (r.id, code, r.evidence[code])
            assert code not in NEVER_CODED, (r.id, code)
        seen += 1
    assert seen >= 250


def test_operative_reports_write_what_is_never_coded(corpus) -> None:  # type: ignore[no-untyped-def]
    texts = [r.text for r, _ in _of(corpus, "operative")]
    share = {
        "blood loss": sum(bool(re.search(r"blood loss|\bEBL\b", t, re.I)) for t in texts),
        "complications": sum(bool(re.search(r"complications", t, re.I)) for t in texts),
        "anesthesia": sum(bool(re.search(r"anesthesia|sedation", t, re.I)) for t in texts),
        "closure": sum(bool(re.search(r"closed|closure", t, re.I)) for t in texts),
        "foley": sum(bool(re.search(r"foley|catheter", t, re.I)) for t in texts),
        "risks": sum(bool(re.search(r"bleeding|infection", t, re.I)) for t in texts),
    }
    assert share["blood loss"] >= 0.75 * len(texts) and share["complications"] >= 0.95 * len(texts), share
    assert share["anesthesia"] >= 0.95 * len(texts) and share["closure"] >= 0.6 * len(texts), share
    assert share["foley"] >= 0.15 * len(texts) and share["risks"] >= 0.4 * len(texts), share


def test_comorbidities_named_only_in_the_history_are_not_coded(corpus) -> None:  # type: ignore[no-untyped-def]
    seen = 0
    for r, plan in corpus:
        for p in plan.problems:
            if p.role == "optional":
                assert p.withheld and not set(p.withheld) & set(_icd(r)), (r.id, p.withheld)
                assert p.phrase.lower() in r.text.lower(), (r.id, p.phrase)
                seen += 1
    assert seen >= 300


def test_neoplasms_being_operated_on_are_current(corpus) -> None:  # type: ignore[no-untyped-def]
    seen = 0
    for r, _ in _of(corpus, "operative"):
        gold = _icd(r)
        if any(c.startswith(("C", "D0")) for c in gold):
            seen += 1
            assert not [c for c in gold if c.startswith("Z85")], (r.id, gold)
    assert seen >= 20


# ----------------------------------------------------------------------------------------------- other kinds
def test_consults_hps_and_imaging_follow_the_outpatient_rules(corpus) -> None:  # type: ignore[no-untyped-def]
    counts: Counter[str] = Counter()
    for r, plan in corpus:
        if plan.kind not in ("consult", "hp", "radiology"):
            continue
        counts[plan.kind] += 1
        assert r.encounter["setting"] == "outpatient"
        gold = set(_icd(r))
        assert gold, r.id
        for p in plan.problems:
            if p.role == "uncertain":  # coded as its sign or symptom, the condition withheld
                assert set(p.codes) <= gold and not set(p.withheld) & gold, (r.id, p.codes, p.withheld)
                counts[f"{plan.kind}:uncertain"] += 1
    assert counts["consult"] >= 80 and counts["hp"] >= 60 and counts["radiology"] >= 50, counts
    assert counts["consult:uncertain"] >= 5 and counts["radiology:uncertain"] >= 5, counts


def test_imaging_codes_the_impression_or_the_indication(corpus) -> None:  # type: ignore[no-untyped-def]
    outcomes: Counter[str] = Counter()
    for r, plan in _of(corpus, "radiology"):
        outcome = plan.subtype.split(":")[1]
        outcomes[outcome] += 1
        main = min((p for p in plan.problems if p.codes and p.role != "procedure"), key=lambda p: p.rank)
        impression = [ln for ln in main.lines if ln.section == "impression"]
        indication = [ln for ln in main.lines if ln.section == "rad_indication"]
        assert indication and indication[0].text in r.text, r.id
        if outcome == "definitive":
            assert impression and set(impression[0].codes) == set(main.codes), (r.id, impression)
            assert not indication[0].codes and not set(main.withheld) & set(_icd(r)), (r.id, main.withheld)
        else:  # normal or uncertain: the sign of the indication is what is coded
            assert set(indication[0].codes) == set(main.codes) <= set(_icd(r)), (r.id, indication)
            assert all(c[0] in "RMHN" for c in main.codes), (r.id, main.codes)
    assert min(outcomes.values()) >= 8 and set(outcomes) == {"definitive", "uncertain", "normal"}, outcomes


def test_discharge_summaries_name_the_admission_and_surgical_stays(corpus) -> None:  # type: ignore[no-untyped-def]
    discharges = _of(corpus, "discharge")
    admitting = [(r, p) for r, p in discharges if any(name == "admit_dx" for name, _ in p.sections)]
    assert len(admitting) >= 0.3 * len(discharges)
    for r, _ in admitting:
        assert re.search(r"admi(ssion|tting) diagnos", r.text, re.I), r.id
    surgical = [(r, p) for r, p in discharges if p.subtype == "surgical"]
    assert len(surgical) >= 0.06 * len(discharges)
    assert sum(bool(re.search(r"underwent|taken to the operating room|after ", r.text, re.I)) for r, _ in surgical) >= (
        0.8 * len(surgical)
    )


# ----------------------------------------------------------------------------------------------- the transcription form
def test_about_a_third_of_notes_are_transcriptions(corpus) -> None:  # type: ignore[no-untyped-def]
    layouts = Counter(p.layout for _, p in corpus)
    share = (layouts["csv"] + layouts["flat"]) / N
    assert 0.25 <= share <= 0.36, layouts
    assert layouts["csv"] > 2 * layouts["flat"] > 0, layouts
    for kind in ("office", "ed", "discharge", "operative", "consult", "hp", "radiology"):
        assert any(p.layout == "csv" for _, p in corpus if p.kind == kind), kind


def test_the_transcription_form_renders_every_section(corpus) -> None:  # type: ignore[no-untyped-def]
    required = {
        "operative": {"preop", "postop", "proc_title", "anesthesia", "complications", "indications", "description"},
        "radiology": {"rad_exam", "rad_indication", "technique", "findings", "impression"},
        "discharge": {"dx", "course", "condition", "disposition", "followup"},
        "hp": {"cc", "hpi", "pmh", "meds", "allergies", "exam", "ap"},
    }
    seen = 0
    for r, plan in corpus:
        if plan.layout != "csv":
            continue
        seen += 1
        assert "\n" not in r.text[:-1] and r.text.endswith("\n"), r.id
        names = {name for name, _ in plan.sections}
        assert required.get(plan.kind, set()) <= names, (r.id, required[plan.kind] - names)
        # each section's heading is in capitals, inline, followed by a colon (and a comma or spaces), in order
        at = 0
        for name, head in plan.sections:
            if not head:
                continue
            assert head == head.upper(), (r.id, head)
            m = re.compile(rf"(?:^|[,.] ?){re.escape(head)}:[ ,]").search(r.text, at)
            assert m, (r.id, name, head, r.text[at : at + 200])
            at = m.end()
        # numbered lists stay on the line: "1.  Xxx.,2.  Yyy." or "1.  Xxx.  2.  Yyy."
        for m in re.finditer(r"(?:,|:|  )\s?2[.)]\s", r.text):
            assert re.search(r"(?:,|:|  )\s?1[.)]\s", r.text[: m.start()]), r.id
        for code in r.evidence:
            assert all(s in r.text for s in r.evidence[code])
    assert seen >= 0.2 * N


def test_transcriptions_use_us_headings(corpus) -> None:  # type: ignore[no-untyped-def]
    texts = [r.text for r, p in corpus if p.layout == "csv"]
    for heading in ("HISTORY OF PRESENT ILLNESS:", "PHYSICAL EXAMINATION:", "PREOPERATIVE DIAGNOSIS:", "IMPRESSION:"):
        assert sum(heading in t for t in texts) >= 30, heading
    assert sum(bool(re.search(r"POSTOPERATIVE DIAGNOSIS:[ ,]+Same", t)) for t in texts) >= 20
    discharge_ed = [r.text for r, p in corpus if p.kind in ("discharge", "ed") and p.layout == "lines"]
    us = re.compile(r"^(DISCHARGE DIAGNOSIS|COURSE IN THE HOSPITAL|EMERGENCY DEPARTMENT COURSE|LABORATORY DATA)", re.M)
    assert sum(bool(us.search(t)) for t in discharge_ed) >= 30


# ----------------------------------------------------------------------------------------------- catalogues
def test_written_but_withheld_codes_are_valid_too() -> None:
    """Codes the operations catalogue only withholds (a preoperative sign) or never codes (a comorbidity named
    in the history) are still real FY2026 billable codes: a wrong one would teach the ranker a wrong negative."""
    d = synthetic._data()
    cm = icd10cm()
    codes: list[str] = [str(e["code"]) for e in d.ops["comorbid"]]
    for op in d.ops["operations"]:
        for r in op.get("refine", []):
            pre = r["pre"]
            if isinstance(pre, dict):
                codes += [str(c) for c in (pre["sides"].values() if "sides" in pre else [pre["code"]])]
    assert codes and sorted(c for c in codes if not cm.is_billable(c)) == []


def test_every_surgical_condition_can_be_drawn(corpus) -> None:  # type: ignore[no-untyped-def]
    d = synthetic._data()
    drawable = {c for op in d.ops["operations"] for c in op["dx"]}
    drawable |= {r["post"] for op in d.ops["operations"] for r in op.get("refine", [])}
    surgical = {c.id for c in d.conds.values() if c.type == "surgical"}
    reachable = drawable | {e["cond"] for op in d.ops["operations"] for e in op.get("dx2", []) + op.get("add", [])}
    assert surgical <= reachable, sorted(surgical - reachable)
    drawn = {p.key for _, plan in corpus for p in plan.problems}
    assert len(drawable & drawn) >= 0.8 * len(drawable), sorted(drawable - drawn)
