"""benchmarks/us_notes.py and the gold files of the coded U.S. development set it reads.

Every part is checked for shape (known split, first-listed among the codes, no id in two parts); part 5
(tune-c) is also checked code by code against the ICD-10-CM tabular and our CPT/HCPCS set, and its ids
against the written selection rule. The checks name a record by file and line only: the measure part's
gold is never printed, even by a failing test."""

from __future__ import annotations

import importlib.util
import json
import random
import sys
from pathlib import Path

import pytest

from chartcoder.codes.procedures import cpt, hcpcs

ROOT = Path(__file__).resolve().parents[1]
GOLD_DIR = ROOT / "benchmarks" / "data" / "us_notes"
PART5 = GOLD_DIR / "mtsamples_gold_part5.jsonl"
SELECTION = GOLD_DIR / "mtsamples_selection.json"
MTSAMPLES = ROOT.parent / "shared" / "data" / "mtsamples" / "notes.jsonl"
_spec = importlib.util.spec_from_file_location("us_notes", ROOT / "benchmarks" / "us_notes.py")
assert _spec is not None and _spec.loader is not None
us_notes = importlib.util.module_from_spec(_spec)
sys.modules["us_notes"] = us_notes  # its dataclasses look their module up while the class is made
_spec.loader.exec_module(us_notes)

SPLITS = {"tune", "tune-c", "measure"}


def _records() -> list[tuple[str, dict]]:
    out = []
    for path in sorted(GOLD_DIR.glob("*.jsonl")):
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if line.strip():
                out.append((f"{path.name}:{n}", json.loads(line)))
    return out


def test_every_part_has_the_shape_the_scorer_reads():
    problems = []
    seen: dict[str, str] = {}
    for where, rec in _records():
        if rec.get("split") not in SPLITS:
            problems.append(f"{where}: unknown split")
        if rec["id"] in seen:
            problems.append(f"{where}: id also in {seen[rec['id']]}")
        seen[rec["id"]] = where
        codes = rec.get("codes") or []
        if codes and rec.get("first_listed") not in {c["code"] for c in codes}:
            problems.append(f"{where}: first_listed is not one of the codes")
        if not codes and not rec.get("note"):
            problems.append(f"{where}: no codes and no reason")
    assert problems == []


def _bad_code(code: str, system: str) -> bool:
    import simple_icd_10_cm as cm

    if system == "ICD-10-CM":
        return not (cm.is_valid_item(code) and cm.is_leaf(code))
    if system == "CPT":
        return code not in cpt()
    if system == "HCPCS":
        return code not in hcpcs()
    return True


def test_part5_codes_are_billable_and_in_our_code_sets():
    records = [json.loads(line) for line in PART5.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert len(records) >= 60 and {r["split"] for r in records} == {"tune-c"}
    assert sum(1 for r in records if r["codes"]) >= 60
    bad = []
    for rec in records:
        items = [(c["code"], c["system"]) for c in rec["codes"]]
        items += [(a, c["system"]) for c in rec["codes"] for a in c["alternatives"]]
        items += [(o["code"], o.get("system", "ICD-10-CM")) for o in rec["optional"] + rec["forbidden"]]
        bad += [(rec["id"], code) for code, system in items if _bad_code(code, system)]
        gold = {c["code"] for c in rec["codes"]} | {a for c in rec["codes"] for a in c["alternatives"]}
        bad += [(rec["id"], f"forbidden {f['code']} is also gold") for f in rec["forbidden"] if f["code"] in gold]
    assert bad == []


def test_part5_ids_follow_the_written_selection_rule():
    if not MTSAMPLES.exists():
        pytest.skip(f"MTSamples notes not found at {MTSAMPLES}")
    selection = json.loads(SELECTION.read_text(encoding="utf-8"))
    ids = sorted(json.loads(line)["id"] for line in MTSAMPLES.read_text(encoding="utf-8").splitlines() if line.strip())
    random.Random(selection["seed"]).shuffle(ids)
    assert set(ids[:224]) == set(selection["ids"])
    skipped = set(selection["tune_c"]["skipped_named_in_repo"])
    drawn = [i for i in ids[224:] if i not in skipped][:70]
    assert skipped < set(ids[224 : 224 + 70 + len(skipped)])  # every skip falls inside the draw
    part5 = [json.loads(line)["id"] for line in PART5.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert part5 == drawn == selection["tune_c"]["ids"]
    empty = [json.loads(line)["id"] for line in PART5.read_text(encoding="utf-8").splitlines() if '"codes": []' in line]
    assert empty == selection["tune_c"]["excluded_nothing_to_code"]


def _gold() -> list:
    if not MTSAMPLES.exists():
        pytest.skip(f"MTSamples notes not found at {MTSAMPLES}")
    return us_notes.load_gold(GOLD_DIR, MTSAMPLES)


def test_splits_select_their_parts():
    notes = _gold()
    by = {s: {n.id for n in us_notes.select_notes(notes, s)} for s in us_notes.SPLITS}
    tune_c = {n.id for n in notes if n.split == "tune-c"}
    assert len(tune_c) >= 60 and by["tune-c"] == tune_c
    assert by["tune-a"] | by["tune-b"] == by["tune"]  # tune-c is never part of what is tuned on
    assert not by["tune-a"] & by["tune-b"] and not by["tune"] & tune_c
    assert not by["tune"] & by["measure"] and by["tune"] | tune_c | by["measure"] == by["all"]
    one = sorted(tune_c)[0]
    assert [n.id for n in us_notes.select_notes(notes, "tune-c", one)] == [one]


def test_report_withholds_the_code_lists_of_tune_c_notes():
    notes = us_notes.select_notes(_gold(), "tune-c")[:5]
    scores = [us_notes.score_note(n, []) for n in notes]  # nothing suggested: every gold code is missed
    assert all(s.missed for s in scores)
    out = us_notes.build_report(notes, scores, [0.01] * len(notes), "none", "tune-c")
    assert out["most_missed"] == [] and out["most_wrong_shown"] == []
    assert out["summary_only_notes"] == 5 and out["overall"]["recall_at_10"] == 0.0
    assert all(group["notes"] >= us_notes.MIN_SUMMARY_GROUP for group in out["by_doc_type"].values())


def test_small_document_type_groups_of_tune_c_are_pooled_but_tune_ones_are_not():
    notes = _gold()
    tune_c = [n for n in notes if n.split == "tune-c"]
    counts = {t: sum(1 for n in tune_c if n.doc_type == t) for t in {n.doc_type for n in tune_c}}
    small = {t for t, k in counts.items() if k < us_notes.MIN_SUMMARY_GROUP}
    assert small  # the part has document types with one to four notes
    scores = [us_notes.score_note(n, []) for n in tune_c]
    by_type = us_notes.build_report(tune_c, scores, [0.01] * len(scores), "none", "tune-c")["by_doc_type"]
    assert not small & set(by_type) and by_type["small groups"]["notes"] == sum(counts[t] for t in small)
    one_tune = next(n for n in notes if n.split == "tune")
    alone = us_notes.build_report([one_tune], [us_notes.score_note(one_tune, [])], [0.01], "none", "tune-a")
    assert list(alone["by_doc_type"]) == [one_tune.doc_type]


def test_first_listed_first_counts_only_the_top_suggestion():
    from types import SimpleNamespace

    note = next(n for n in _gold() if n.split == "tune" and n.first_listed)
    first = sorted(note.first_listed)[0]

    def ranked(*codes: str) -> list[SimpleNamespace]:
        return [SimpleNamespace(code=c, group="suggested") for c in codes]

    top = us_notes.score_note(note, ranked(first, "not-a-code"))
    second = us_notes.score_note(note, ranked("not-a-code", first))
    assert top.first_top1 and top.first_top3 and not second.first_top1 and second.first_top3
    summary = us_notes.summarize([top, second])
    assert summary["first_listed_top1"] == 0.5 and summary["first_listed_top3"] == 1.0
