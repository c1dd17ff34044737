"""Gold codes from an older ICD-10-CM release are brought to FY2026 where the successor is unambiguous,
and the change is reported; codes with no single successor are left alone."""

from __future__ import annotations

import pytest

from chartcoder.codes.icd10cm import icd10cm
from chartcoder.training.readers import ReadReport, read_codiesp


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("R05", "R05.9"),  # cough was expanded in FY2022; its unspecified child
        ("R51", "R51.9"),
        ("M54.5", "M54.50"),
        ("E87.2", "E87.20"),
        ("T14.90", "T14.90XA"),  # 7th character left off: initial encounter
        ("W19.XXX", "W19.XXXA"),
        ("I10", "I10"),  # billable already
    ],
)
def test_successor(old, new):
    assert icd10cm().successor(old) == new


@pytest.mark.parametrize("code", ["N46.0", "C50.9", "K56.60", "T81.4XX", "ZZZ.99"])
def test_no_single_successor(code):
    assert icd10cm().successor(code) is None


def test_reader_updates_codes_moves_evidence_and_reports(tmp_path):
    split = tmp_path / "train"
    (split / "text_files_en").mkdir(parents=True)
    (split / "text_files_en" / "case-1.txt").write_text("Dry cough and headache. He fell from a ladder.\n")
    (split / "trainD.tsv").write_text("case-1\tr05\ncase-1\tr51\ncase-1\tw19.xxx\ncase-1\tn46.0\n")
    (split / "trainX.tsv").write_text("case-1\tDIAGNOSTICO\tr05\ttos\t0 3\n")
    report = ReadReport()
    [record] = read_codiesp(tmp_path, ["train"], "diagnosis", report)
    assert record.positives() == ["R05.9", "R51.9", "W19.XXXA", "N46.0"]
    assert sum(report.updated_codes.values()) == 3
    assert "R05->R05.9" in report.updated_codes
    assert "brought to the current release" in report.summary()
    assert any("R05 is R05.9" in w for w in record.warnings)
    assert "R05" not in record.evidence


@pytest.mark.parametrize("code", ["E11", "F10.1", "F10.2"])
def test_a_with_unspecified_child_is_not_a_successor(code):
    # E11's only "unspecified" child is E11.8 "with unspecified complications": not E11 itself
    assert icd10cm().successor(code) is None


def test_audited_charts_are_not_rewritten(tmp_path):
    from chartcoder.training.readers import read_audited_jsonl

    path = tmp_path / "audited.jsonl"
    path.write_text(
        '{"id": "a1", "text": "Cough.", "encounter": {}, "codes": ['
        '{"code": "R05", "system": "ICD-10-CM", "decision": "rejected"},'
        '{"code": "R05.9", "system": "ICD-10-CM", "decision": "accepted"}]}\n'
    )
    [record] = read_audited_jsonl(path)
    assert record.negatives() == ["R05"] and record.positives() == ["R05.9"]
