"""The CMS index files (External Cause Index, Neoplasm Table, Table of Drugs and Chemicals, FY2023) read
against the FY2026 tabular. Needs the files in ../shared/data/cms (or CHARTCODER_CMS_DIR); the tests that
read them skip with the reason when they are not there."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from chartcoder.codes.cms_tables import DRUG_COLUMNS, NEOPLASM_COLUMNS, CmsTables, find_files
from chartcoder.codes.icd10cm import icd10cm

ROOT = Path(__file__).resolve().parents[2]
CMS_DIR = Path(os.environ.get("CHARTCODER_CMS_DIR") or ROOT.parent / "shared" / "data" / "cms")
HAVE_FILES = len(find_files(CMS_DIR)) == 3
needs_files = pytest.mark.skipif(
    not HAVE_FILES,
    reason=f"CMS ICD-10-CM index files (icd10cm_eindex/neoplasm/drug_YYYY.xml) not found in {CMS_DIR}; "
    "set CHARTCODER_CMS_DIR to the folder that holds them",
)


@pytest.fixture(scope="module")
def tables() -> CmsTables:
    return CmsTables(CMS_DIR)


@pytest.fixture(scope="module")
def icd():
    return icd10cm()


def _all_codes(book) -> list[str]:
    out = []
    for entry in book.entries():
        if entry.code:
            out.append(entry.code)
        out.extend(entry.cells.values())
    return out


def _completes(icd, code: str) -> bool:
    """Billable as given, with placeholder X's and a 7th character, or through its billable children."""
    if icd.is_billable(code):
        return True
    if icd.seventh_characters(code):
        return icd.with_seventh_character(code, "A") is not None or any(
            c.endswith("A") for c in icd.billable_descendants(code)
        )
    return bool(icd.billable_descendants(code))


# -- without the files ----------------------------------------------------------------------------------
def test_missing_folder_turns_the_features_off_with_one_log_line(tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="chartcoder.codes"):
        tables = CmsTables(tmp_path / "nowhere")
        assert not tables.available
        assert tables.external_cause_index is None
        assert tables.neoplasm_table is None
        assert tables.drug_table is None
    lines = [r for r in caplog.records if "CMS index files not found" in r.getMessage()]
    assert len(lines) == 1


def test_no_folder_configured_is_off(caplog):
    with caplog.at_level(logging.WARNING, logger="chartcoder.codes"):
        tables = CmsTables(None)
    assert not tables.available and tables.drug_table is None
    assert any("no folder configured" in r.getMessage() for r in caplog.records)


def test_unreadable_file_is_off_not_an_error(tmp_path, caplog):
    (tmp_path / "icd10cm_drug_2030.xml").write_text("<ICD10CM.index><letter>", encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="chartcoder.codes"):
        tables = CmsTables(tmp_path)
        assert tables.available
        assert tables.drug_table is None
        assert tables.neoplasm_table is None  # not there at all
    assert any("could not be read" in r.getMessage() for r in caplog.records)


def test_newest_release_wins_and_release_folders_are_searched(tmp_path):
    (tmp_path / "cm_2023").mkdir()
    (tmp_path / "cm_2025").mkdir()
    for year in ("2023", "2025"):
        (tmp_path / f"cm_{year}" / f"icd10cm_eindex_{year}.xml").write_text("<x/>", encoding="utf-8")
    (tmp_path / "icd10cm_neoplasm_2024.xml").write_text("<x/>", encoding="utf-8")
    (tmp_path / "notes.xml").write_text("<x/>", encoding="utf-8")
    files = find_files(tmp_path)
    assert files["eindex"].name == "icd10cm_eindex_2025.xml"
    assert files["neoplasm"].name == "icd10cm_neoplasm_2024.xml"
    assert "drug" not in files


def test_cms_dir_setting_reads_the_environment(monkeypatch, tmp_path):
    from chartcoder.config import Settings

    monkeypatch.setenv("CHARTCODER_CMS_DIR", str(tmp_path))
    assert Settings().cms_dir == tmp_path


# -- External Cause Index -------------------------------------------------------------------------------
@needs_files
def test_external_cause_index_counts(tables):
    book = tables.external_cause_index
    assert book is not None and book.release == "2023"
    assert len(book.main_terms) == 314
    # 6,591 <code> elements plus 11 <subcat> and 3 <seecat>; none dropped against FY2026.
    assert book.codes == 6605
    assert book.dropped == []
    assert sum(1 for e in book.entries() if e.see) == 791
    assert sum(1 for e in book.entries() if e.see_also) == 98


@needs_files
@pytest.mark.parametrize(
    "reference, code",
    [
        ("Fall, falling > from, off, out of > ladder", "W11"),
        ("Fall > from > ladder", "W11"),
        ("Fall, falling", "W19"),
        ("Slipping > on > ice", "W00.0"),
        ("Fall, falling > same level > from > slipping, stumbling, tripping", "W01.0"),
        ("Bite, bitten by > dog", "W54.0"),
        ("Contact > with > knife", "W26.0"),
        ("Assault > fight", "Y04.0"),
        ("Struck by > ball > basketball", "W21.05"),
        ("Accident, transport, car occupant, driver, collision, motor vehicle NOS", "V49.40"),
        ("Place of occurrence > residence > kitchen", "Y92.000"),
        ("Place of occurrence, school", "Y92.219"),
        ("Activity > basketball", "Y93.67"),
        ("Activity > running", "Y93.02"),
        ("External cause status > civilian activity done for income or pay", "Y99.0"),
        ("External cause status > military activity", "Y99.1"),
        ("External cause status > volunteer activity", "Y99.2"),
        ("External cause status > leisure activity", "Y99.8"),
    ],
)
def test_external_cause_lookups(tables, reference, code):
    entry = tables.external_cause_index.find(reference)
    assert entry is not None, reference
    assert entry.code == code


@needs_files
def test_external_cause_titles_keep_nonessential_modifiers_apart(tables):
    fall = tables.external_cause_index.find("Fall, falling")
    assert fall.title == "Fall, falling" and fall.nemod == "(accidental)"
    assert fall.alternatives == ("fall", "falling")
    fight = tables.external_cause_index.find("Fight")
    assert fight.code is None and fight.see == "Assault, fight"
    assert tables.external_cause_index.find(fight.see).code == "Y04.0"
    assert tables.external_cause_index.find("Fall > from > no such thing") is None


@needs_files
def test_every_external_cause_code_is_valid_in_fy2026_and_completes(tables, icd):
    codes = _all_codes(tables.external_cause_index)
    assert len(codes) == 6605
    for code in set(codes):
        assert icd.is_valid(code), code
        assert _completes(icd, code), code
    # Injury-chapter external causes take the injury's 7th character through placeholder X's.
    assert icd.with_seventh_character("W11", "A") == "W11.XXXA"
    assert icd.with_seventh_character("V49.40", "D") == "V49.40XD"


# -- Neoplasm Table -------------------------------------------------------------------------------------
@needs_files
def test_neoplasm_table_counts(tables):
    book = tables.neoplasm_table
    assert book is not None and book.columns == NEOPLASM_COLUMNS
    rows = list(book.entries())
    assert len(rows) == 1939  # the main term and its 1,938 rows
    # 10,916 cells, of which 1,898 are "-" (no code): 9,018 codes, none dropped against FY2026.
    assert book.codes == 9018
    assert book.dropped == []


@needs_files
@pytest.mark.parametrize(
    "reference, column, code",
    [
        ("Neoplasm > intestine > large > colon > sigmoid", "primary", "C18.7"),
        ("Neoplasm > liver", "secondary", "C78.7"),
        ("Neoplasm > liver", "primary", "C22.9"),
        ("Neoplasm > cervix", "in_situ", "D06.9"),
        ("Neoplasm > thyroid", "benign", "D34"),
        ("Neoplasm > intestine > large > colon", "uncertain", "D37.4"),
        ("Neoplasm > brain NEC", "unspecified", "D49.6"),
        ("Neoplasm > lung", "primary", "C34.9"),  # "C34.9-": more characters needed, kept as the header
        ("Neoplasm > ovary", "primary", "C56"),  # "C56.-" in the file
        ("Neoplasm, neoplastic", "unspecified", "D49.9"),
    ],
)
def test_neoplasm_lookups(tables, reference, column, code):
    row = tables.neoplasm_table.find(reference)
    assert row is not None, reference
    assert row.cells[column] == code


@needs_files
def test_neoplasm_empty_cells_are_left_out(tables):
    colon = tables.neoplasm_table.find("Neoplasm > colon")
    assert colon.cells == {"primary": "C18.9", "secondary": "C78.5"}
    assert colon.see_also == "Neoplasm, intestine, large"


@needs_files
def test_every_neoplasm_code_is_valid_in_fy2026_and_completes(tables, icd):
    for code in set(_all_codes(tables.neoplasm_table)):
        assert icd.is_valid(code), code
        assert _completes(icd, code), code


# -- Table of Drugs and Chemicals -----------------------------------------------------------------------
@needs_files
def test_drug_table_counts(tables):
    book = tables.drug_table
    assert book is not None and book.columns == DRUG_COLUMNS
    assert len(book.main_terms) == 5175
    # 43,182 cells, of which 3,182 are "--": 40,000 codes, none dropped against FY2026.
    assert book.codes == 40000
    assert book.dropped == []


@needs_files
def test_drug_lookups(tables):
    book = tables.drug_table
    acetaminophen = book.find("Acetaminophen")
    assert acetaminophen.cells == {
        "accidental": "T39.1X1",
        "self_harm": "T39.1X2",
        "assault": "T39.1X3",
        "undetermined": "T39.1X4",
        "adverse": "T39.1X5",
        "underdosing": "T39.1X6",
    }
    assert book.find("Amoxicillin").cells["adverse"] == "T36.0X5"
    assert book.find("Lisinopril").cells["underdosing"] == "T46.4X6"
    heroin = book.find("Heroin")
    assert "adverse" not in heroin.cells and heroin.cells["accidental"] == "T40.1X1"
    assert book.find("Blockers, calcium channel").cells["adverse"] == "T46.1X5"
    assert book.find("Antidepressant > selective serotonin reuptake inhibitor").cells["accidental"] == "T43.221"
    assert book.find("Aspirin").nemod == "(aluminum) (soluble)"


@needs_files
def test_every_drug_code_is_valid_in_fy2026_and_takes_a_seventh_character(tables, icd):
    for code in set(_all_codes(tables.drug_table)):
        assert icd.is_valid(code), code
        assert icd.with_seventh_character(code, "A") is not None, code


@needs_files
def test_each_file_is_parsed_once(tables):
    assert tables.drug_table is tables.drug_table
    assert tables.book("eindex") is tables.external_cause_index
    with pytest.raises(ValueError):
        tables.book("index")
