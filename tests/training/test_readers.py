"""Dataset readers on small synthetic fixtures: CodiEsp, MIMIC-IV and audited-chart JSONL."""

from __future__ import annotations

import re
import shutil
from collections import Counter

import pytest
from training_support import CODIESP, JSONL, MIMIC

from chartcoder.domain.errors import InvalidInputError
from chartcoder.training.readers import (
    ReadReport,
    iter_audited_jsonl,
    normalize_gold,
    read_audited_jsonl,
    read_codiesp,
    read_mimic,
    write_audited_jsonl,
)
from chartcoder.training.records import GoldCode, Record

UNKNOWN = "T40.4X1A"  # valid in FY2018 (CodiEsp's release), deleted when T40.4 was expanded in FY2025


# -- CodiEsp ------------------------------------------------------------------------------------------


def test_codiesp_diagnoses_counts_normalization_and_encounter():
    report = ReadReport()
    records = read_codiesp(CODIESP, ["train"], "diagnosis", report)
    assert [r.id for r in records] == [f"SYN-TR-{i:02d}" for i in range(1, 25)]
    assert report.records == 24
    assert report.codes == 29  # the repeated "J18.9" line of SYN-TR-01 counts once
    by_id = {r.id: r for r in records}
    # lower-case "j18.9" and a repeated upper-case "J18.9" are one code, upper case with its dot
    assert by_id["SYN-TR-01"].codes == [GoldCode("J18.9", "ICD-10-CM", "accepted")]
    assert by_id["SYN-TR-02"].positives() == ["J18.9", "I10"]  # file order kept
    assert by_id["SYN-TR-14"].positives() == ["E11.65"]
    assert by_id["SYN-TR-21"].positives() == ["K35.80"]
    for r in records:
        assert r.encounter == {"setting": "inpatient"}
        assert r.source == "codiesp:train"
        assert r.negatives() == []
        assert r.text == (CODIESP / "train" / "text_files_en" / f"{r.id}.txt").read_text(encoding="utf-8")
        assert all(c.system == "ICD-10-CM" and c.code == c.code.upper() for c in r.codes)


def test_codiesp_unknown_code_is_kept_with_a_warning_and_counted():
    report = ReadReport()
    records = read_codiesp(CODIESP, ["train"], "diagnosis", report)
    by_id = {r.id: r for r in records}
    overdose = by_id["SYN-TR-24"]
    assert overdose.positives() == [UNKNOWN]  # kept: it is still the gold answer for that chart
    assert len(overdose.warnings) == 1 and UNKNOWN in overdose.warnings[0]
    assert report.unknown_codes == Counter({UNKNOWN: 1})
    assert [r.id for r in records if r.warnings] == ["SYN-TR-24"]
    summary = report.summary()
    assert summary.startswith("24 records, 29 codes")
    assert "1 codes unknown" in summary and UNKNOWN in summary


def test_codiesp_check_codes_off_skips_the_code_set():
    report = ReadReport()
    records = read_codiesp(CODIESP, ["train"], "diagnosis", report, check_codes=False)
    assert report.records == 24 and not report.unknown_codes
    assert not any(r.warnings for r in records)


def test_codiesp_procedures_and_cases_without_codes():
    report = ReadReport()
    records = read_codiesp(CODIESP, ["train"], "procedure", report)
    assert len(records) == 24  # every case of the split, coded or not
    coded = [r for r in records if r.codes]
    assert len(coded) == 15 and report.codes == 15
    by_id = {r.id: r for r in records}
    assert by_id["SYN-TR-01"].codes == [GoldCode("BW03ZZZ", "ICD-10-PCS")]
    assert by_id["SYN-TR-21"].positives({"ICD-10-PCS"}) == ["0DTJ4ZZ"]
    assert by_id["SYN-TR-21"].positives({"ICD-10-CM"}) == []
    assert by_id["SYN-TR-05"].codes == []
    assert not report.unknown_codes


def test_codiesp_several_splits_share_one_report():
    report = ReadReport()
    both = read_codiesp(CODIESP, ["train", "dev"], "diagnosis", report)
    assert len(both) == 32 and report.records == 32
    assert {r.source for r in both} == {"codiesp:train", "codiesp:dev"}
    dev = {r.id: r for r in both if r.source == "codiesp:dev"}
    assert dev["SYN-DV-08"].codes == []
    assert dev["SYN-DV-07"].positives() == ["J18.9", "I10"]
    # a second call with the same report keeps counting
    read_codiesp(CODIESP, ["dev"], "diagnosis", report)
    assert report.records == 40


def test_codiesp_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(InvalidInputError, match=r"nowhere.*trainD\.tsv.*text_files_en"):
        read_codiesp(tmp_path / "nowhere", ["train"], "diagnosis")
    with pytest.raises(InvalidInputError, match=r"testP\.tsv"):
        read_codiesp(CODIESP, ["test"], "procedure")


def test_codiesp_split_without_texts_is_a_clear_error(tmp_path):
    (tmp_path / "train").mkdir()
    shutil.copy(CODIESP / "train" / "trainD.tsv", tmp_path / "train" / "trainD.tsv")
    with pytest.raises(InvalidInputError, match="text_files_en"):
        read_codiesp(tmp_path, ["train"], "diagnosis")


def test_codiesp_unknown_task_is_refused():
    with pytest.raises(InvalidInputError, match="task"):
        read_codiesp(CODIESP, ["train"], "billing")


def test_codiesp_malformed_tsv_names_file_and_line(tmp_path):
    shutil.copytree(CODIESP / "train", tmp_path / "train")
    tsv = tmp_path / "train" / "trainD.tsv"
    lines = tsv.read_text(encoding="utf-8").splitlines()
    lines.insert(2, "SYN-TR-02 i10")  # a space where the tab belongs
    tsv.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(InvalidInputError, match=re.escape(f"{tsv}, line 3")):
        read_codiesp(tmp_path, ["train"], "diagnosis")


def test_normalize_gold():
    assert normalize_gold(" e1165 ", "ICD-10-CM") == "E11.65"
    assert normalize_gold("n44.8", "ICD-10-CM") == "N44.8"
    assert normalize_gold("i10", "ICD-10-CM") == "I10"
    assert normalize_gold("bw03zzz", "ICD-10-PCS") == "BW03ZZZ"  # PCS never gets a dot
    assert normalize_gold("99214", "CPT") == "99214"


# -- MIMIC-IV -----------------------------------------------------------------------------------------


def test_mimic_icd10_only_in_seq_order():
    report = ReadReport()
    records = read_mimic(MIMIC, report)
    # admission 800003 has only ICD-9 rows: skipped
    assert [r.id for r in records] == ["90001-DS-1", "90002-DS-2"]
    first, second = records
    assert first.positives() == ["E11.65", "I10"]  # seq_num 1 before 2, dots added
    assert second.positives() == ["J18.9", "N39.0"]  # the ICD-9 "486" row of the admission is dropped
    assert first.text.startswith("Discharge summary (synthetic).\nDiagnoses:")
    assert '"sliding scale"' in first.text  # CSV quoting undone, embedded newlines kept
    for r in records:
        assert r.encounter == {"setting": "inpatient"}
        assert r.source == "mimic-iv"
        assert all(c.system == "ICD-10-CM" for c in r.codes)
        assert not r.warnings
    assert report.records == 2 and report.codes == 4 and not report.unknown_codes


def test_mimic_limit():
    assert [r.id for r in read_mimic(MIMIC, limit=1)] == ["90001-DS-1"]


def test_mimic_missing_folder_and_missing_columns(tmp_path):
    with pytest.raises(InvalidInputError, match="discharge.csv"):
        read_mimic(tmp_path)
    shutil.copytree(MIMIC, tmp_path / "m")
    dx = tmp_path / "m" / "hosp" / "diagnoses_icd.csv"
    dx.write_text("subject_id,hadm_id,seq_num,icd_code\n1,2,1,I10\n", encoding="utf-8")
    with pytest.raises(InvalidInputError, match=r"diagnoses_icd\.csv.*icd_version"):
        read_mimic(tmp_path / "m")


def test_mimic_malformed_row_names_file_and_line(tmp_path):
    """The readers' contract: malformed input raises InvalidInputError naming the file and line."""
    shutil.copytree(MIMIC, tmp_path / "m")
    dx = tmp_path / "m" / "hosp" / "diagnoses_icd.csv"
    dx.write_text(
        "subject_id,hadm_id,seq_num,icd_code,icd_version\n90001,800001,1,E1165,10\n90001,800001,first,I10,10\n",
        encoding="utf-8",
    )
    with pytest.raises(InvalidInputError, match=r"diagnoses_icd\.csv.*line 3"):
        read_mimic(tmp_path / "m")


# -- audited-chart JSONL ------------------------------------------------------------------------------


def test_jsonl_decisions_map_to_positives_and_negatives():
    report = ReadReport()
    records = read_audited_jsonl(JSONL / "audited.jsonl", report)
    assert [r.id for r in records] == ["chart-1", "2", "chart-3"]  # blank line skipped, id as text
    one, two, three = records
    assert one.encounter == {"setting": "outpatient", "age": 58, "sex": "F"}
    assert one.codes == [
        GoldCode("E11.65", "ICD-10-CM", "accepted"),
        GoldCode("I10", "ICD-10-CM", "added"),
        GoldCode("J18.9", "ICD-10-CM", "rejected"),
        GoldCode("99214", "CPT", "accepted"),
    ]
    assert one.positives() == ["E11.65", "I10", "99214"]
    assert one.positives({"ICD-10-CM"}) == ["E11.65", "I10"]
    assert one.negatives() == ["J18.9"] and one.negatives({"CPT"}) == []
    # defaults: system ICD-10-CM, decision accepted; a code accepted and added is one positive
    assert two.codes == [GoldCode("N39.0", "ICD-10-CM", "accepted"), GoldCode("N39.0", "ICD-10-CM", "added")]
    assert two.positives() == ["N39.0"] and two.encounter == {}
    assert three.positives() == [UNKNOWN] and three.negatives({"ICD-10-PCS"}) == ["0T9B70Z"]
    assert len(three.warnings) == 1 and UNKNOWN in three.warnings[0]
    assert not one.warnings and not two.warnings
    assert report.records == 3 and report.codes == 8 and report.unknown_codes == Counter({UNKNOWN: 1})
    assert {r.source for r in records} == {"jsonl:audited.jsonl"}


def test_goldcode_positive():
    assert GoldCode("I10", "ICD-10-CM", "accepted").positive
    assert GoldCode("I10", "ICD-10-CM", "added").positive
    assert not GoldCode("I10", "ICD-10-CM", "rejected").positive


@pytest.mark.parametrize(
    ("name", "line", "words"),
    [
        ("bad_json_line2.jsonl", 2, "not a JSON object"),
        ("bad_decision.jsonl", 3, "decision must be accepted, rejected or added; got 'maybe'"),
        ("missing_text.jsonl", 3, "expected an object with 'id', 'text'"),  # line 2 is blank
    ],
)
def test_jsonl_malformed_line_is_named(name, line, words):
    path = JSONL / name
    with pytest.raises(InvalidInputError) as info:
        read_audited_jsonl(path)
    message = str(info.value)
    assert f"{path}, line {line}:" in message
    assert words in message


def test_jsonl_iterator_yields_good_lines_before_the_bad_one():
    it = iter_audited_jsonl(JSONL / "bad_json_line2.jsonl")
    assert next(it).id == "a"
    with pytest.raises(InvalidInputError, match="line 2"):
        next(it)


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b'{"id": "a", "text": "x"}\n{"id": "b", "text": "caf\xe9"}\n', "UTF-8"),
        (b'{"id": "a", "text": "x"}\n["not", "an", "object"]\n', "expected an object"),
        (b'{"id": "a", "text": "x"}\n{"id": "b", "text": "x", "codes": ["I10"]}\n', "codes[0]"),
        (b'{"id": "a", "text": "x"}\n{"id": "b", "text": "x", "encounter": "inpatient"}\n', "encounter"),
        (b'{"id": "a", "text": "x"}\n{"text": "no id"}\n', "'id'"),
    ],
)
def test_jsonl_other_malformed_lines(tmp_path, content, words):
    path = tmp_path / "bad.jsonl"
    path.write_bytes(content)
    with pytest.raises(InvalidInputError) as info:
        read_audited_jsonl(path)
    assert f"{path}, line 2:" in str(info.value) and words in str(info.value)


def test_write_then_read_audited_jsonl_round_trips(tmp_path):
    records = read_codiesp(CODIESP, ["train"], "diagnosis") + read_audited_jsonl(JSONL / "audited.jsonl")
    records.append(
        Record(
            "odd-text",
            'Café résumé \u2028 line separator, CRLF\r\nand a tab\t and "quotes" \\ backslash\n',
            [GoldCode("E11.65", "ICD-10-CM", "rejected"), GoldCode("0DTJ4ZZ", "ICD-10-PCS", "added")],
            {"setting": "outpatient", "age": 7},
        )
    )
    path = tmp_path / "roundtrip.jsonl"
    assert write_audited_jsonl(records, path) == len(records)
    back = read_audited_jsonl(path)

    def key(r: Record) -> tuple:
        return r.id, r.text, r.codes, r.encounter, r.warnings

    assert [key(r) for r in back] == [key(r) for r in records]
    assert {r.source for r in back} == {"jsonl:roundtrip.jsonl"}


def test_audited_jsonl_carries_the_sentences_cited_for_kept_codes(tmp_path):
    record = Record(
        "cited",
        "Cough for two weeks. No fever.\nType 2 diabetes with hyperglycemia.",
        [
            GoldCode("R05.9", "ICD-10-CM", "accepted"),
            GoldCode("E11.65", "ICD-10-CM", "added"),
            GoldCode("R50.9", "ICD-10-CM", "rejected"),
        ],
        evidence={
            "R05.9": ["Cough for two weeks."],
            "E11.65": ["Type 2 diabetes with hyperglycemia."],
            "R50.9": ["No fever."],  # a rejected code's "evidence" is no evidence: not written
        },
    )
    path = tmp_path / "cited.jsonl"
    write_audited_jsonl([record], path)
    [back] = read_audited_jsonl(path)
    assert back.evidence == {"R05.9": ["Cough for two weeks."], "E11.65": ["Type 2 diabetes with hyperglycemia."]}
    assert back.codes == record.codes

    # read as given, repeats once, ignored on a rejected code; a bad value names the line and code
    path.write_text(
        '{"id": "x", "text": "t", "codes": [{"code": "I10", "evidence": ["a", "a"]},'
        ' {"code": "J18.9", "decision": "rejected", "evidence": ["b"]}]}\n'
        '{"id": "y", "text": "t", "codes": [{"code": "I10", "evidence": "a"}]}\n'
    )
    it = iter_audited_jsonl(path)
    assert next(it).evidence == {"I10": ["a"]}
    with pytest.raises(InvalidInputError) as info:
        next(it)
    assert f"{path}, line 2: codes[0].evidence must be a list" in str(info.value)
