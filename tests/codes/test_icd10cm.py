"""ICD10CM over the real FY2026 tabular (simple-icd-10-cm): validity, hierarchy, notes, search."""

from __future__ import annotations

import pytest

from chartcoder.codes.icd10cm import ICD10CM, codes_cited, icd10cm, normalize_code
from chartcoder.domain.errors import UnknownCodeError


@pytest.fixture(scope="module")
def icd() -> ICD10CM:
    return icd10cm()


# -- normalization and validity ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("e1165", "E11.65"),
        (" e11.65 ", "E11.65"),
        ("E11 65", "E11.65"),
        ("I10", "I10"),
        ("i10", "I10"),
        ("t8140xa", "T81.40XA"),
        ("E11", "E11"),
    ],
)
def test_normalize_code(raw: str, expected: str) -> None:
    assert normalize_code(raw) == expected


def test_icd10cm_is_a_process_wide_singleton(icd: ICD10CM) -> None:
    assert icd10cm() is icd
    assert "FY2026" in icd.release


def test_e11_65_is_billable_and_e11_6_is_a_header(icd: ICD10CM) -> None:
    assert icd.is_valid("E11.65")
    assert icd.is_billable("E11.65")
    assert icd.is_billable("e1165")  # undotted, lower case
    assert icd.is_valid("E11.6")
    assert not icd.is_billable("E11.6")
    assert not icd.is_billable("E11")
    children = icd.children("E11.6")
    assert "E11.65" in children
    assert {"E11.61", "E11.64", "E11.69"} <= set(children)
    assert icd.children("E11.65") == []


@pytest.mark.parametrize("code", ["E11.999", "E11.", "E08-E13", "ZZZ99", "", "11.65", "E1"])
def test_invalid_codes_are_not_valid(icd: ICD10CM, code: str) -> None:
    assert not icd.is_valid(code)
    assert not icd.is_billable(code)


def test_hierarchy_parent_ancestors_kind(icd: ICD10CM) -> None:
    assert icd.parent("E11.65") == "E11.6"
    assert icd.parent("E11.6") == "E11"
    assert icd.parent("E11") is None  # blocks and chapters are left out
    assert icd.ancestors("E11.65") == ["E11.6", "E11"]
    assert icd.category("e1165") == "E11"
    assert icd.kind("E11") == "category"
    assert icd.kind("E11.6") == "subcategory"
    assert icd.kind("T81.40XA") == "extended subcategory"
    assert icd.description("E11.65") == "Type 2 diabetes mellitus with hyperglycemia"


def test_billable_descendants(icd: ICD10CM) -> None:
    desc = icd.billable_descendants("E11.6")
    assert "E11.65" in desc and "E11.610" in desc
    assert "E11.61" not in desc and "E11.6" not in desc  # headers are not billable
    assert all(icd.is_billable(c) for c in desc)
    assert icd.billable_descendants("E11.65") == ["E11.65"]


def test_every_enumerated_code_is_unique_and_no_block_is_listed(icd: ICD10CM) -> None:
    codes = icd.all_codes
    assert len(codes) == len(set(codes))
    assert "E08-E13" not in codes
    assert "E11.65" in codes and "E11" in codes


def test_every_enumerated_code_is_accepted_by_is_valid(icd: ICD10CM) -> None:
    """all_codes comes from the tabular; is_valid must accept every one of them."""
    rejected = [c for c in icd.all_codes if not icd.is_valid(c)]
    assert rejected == []


def test_billable_code_count_matches_fy2026_tabular(icd: ICD10CM) -> None:
    # 74,719 billable codes in the bundled April 1 2026 tabular (simple-icd-10-cm 1.5.0), the
    # published FY2026 count; categories that share their code with a block (C50) count once.
    billable = sum(1 for c in icd.all_codes if icd.is_billable(c))
    assert billable == 74_719


@pytest.mark.parametrize("code", ["QA0.0101", "QA0.011", "QA0.8"])
def test_new_qa0_codes_are_valid_and_billable(icd: ICD10CM, code: str) -> None:
    """FY2026 category QA0 (neurodevelopmental disorders due to gene variants) is in the tabular."""
    assert code in icd.all_codes
    assert icd.is_valid(code)
    assert icd.is_billable(code)
    assert icd.require(code.replace(".", "").lower()) == code


# -- require -------------------------------------------------------------------------------------


def test_require_returns_normalized_code(icd: ICD10CM) -> None:
    assert icd.require(" e1165 ") == "E11.65"


def test_require_unknown_code_names_nearest_ancestor(icd: ICD10CM) -> None:
    with pytest.raises(UnknownCodeError) as exc:
        icd.require("E11.999")
    msg = str(exc.value)
    assert "E11.999" in msg
    assert "ICD-10-CM" in msg
    assert "Nearest valid code: E11.9" in msg
    assert "Type 2 diabetes mellitus without complications" in msg
    assert exc.value.code == "E11.999"
    assert exc.value.system == "ICD-10-CM"


def test_require_without_any_valid_prefix_has_no_hint(icd: ICD10CM) -> None:
    with pytest.raises(UnknownCodeError) as exc:
        icd.require("ZZZ99")
    assert "Nearest" not in str(exc.value)


@pytest.mark.parametrize("method", ["description", "children", "parent", "excludes1", "lookup"])
def test_accessors_reject_unknown_codes(icd: ICD10CM, method: str) -> None:
    with pytest.raises(UnknownCodeError):
        getattr(icd, method)("E11.999")


# -- tabular notes -------------------------------------------------------------------------------


def test_i10_includes_hypertension(icd: ICD10CM) -> None:
    includes = icd.includes("I10")
    assert any("hypertension" in note.lower() for note in includes)
    assert "high blood pressure" in includes


def test_e11_excludes1_notes_and_codes(icd: ICD10CM) -> None:
    notes = icd.excludes1("E11")
    assert any("type 1 diabetes" in n.lower() for n in notes)
    codes = icd.excludes1_codes("E11")
    assert {"E10", "E08", "E09", "E13", "O24.4", "P70.2"} <= set(codes)
    assert "E11" not in codes


def test_excludes1_is_inherited_by_descendants(icd: ICD10CM) -> None:
    assert "E10" in icd.excludes1_codes("E11.65")
    assert set(icd.excludes1("E11")) <= set(icd.excludes1("E11.65"))


@pytest.mark.parametrize(
    ("note", "expected"),
    [
        ("type 1 diabetes mellitus (E10.-)", ["E10"]),
        ("code to identify stage of chronic kidney disease (N18.1-N18.6)", ["N18.1", "N18.6"]),
        ("Creutzfeldt-Jakob disease (A81.0-)", ["A81.0"]),
        ("trypanosomiasis (B56.-, B57.-)", ["B56", "B57"]),
        ("postprocedural (E13.-) and secondary (E13.-)", ["E13"]),
        ("no code here", []),
    ],
)
def test_codes_cited(note: str, expected: list[str]) -> None:
    assert codes_cited(note) == expected


@pytest.mark.parametrize(
    ("code", "must_contain", "note_word"),
    [
        ("J09", "J10", "H1N1"),  # 'influenza A/H1N1 (J10.-)'
        ("D55.0", "D75.A", "G6PD"),  # 'glucose-6-phosphate dehydrogenase (G6PD) deficiency ... (D75.A)'
    ],
)
def test_excludes1_codes_are_real_codes_not_acronyms(
    icd: ICD10CM, code: str, must_contain: str, note_word: str
) -> None:
    notes = icd.excludes1(code)
    assert any(note_word in n for n in notes)  # the note really contains the acronym
    cited = icd.excludes1_codes(code)
    assert must_contain in cited
    assert [c for c in cited if not icd.is_valid(c)] == []


def test_e11_22_use_additional_code_mentions_ckd_stage(icd: ICD10CM) -> None:
    notes = icd.use_additional_code("E11.22")
    assert any("N18" in n for n in notes)
    assert any("chronic kidney disease" in n for n in notes)
    cited = [c for n in notes for c in codes_cited(n)]
    assert "N18.1" in cited


def test_manifestation_code_first_note(icd: ICD10CM) -> None:
    notes = icd.code_first("G63")
    assert any("underlying disease" in n for n in notes)
    assert any("E85" in n for n in notes)
    assert icd.code_first("I10") == []


def test_seventh_characters_of_a_fracture(icd: ICD10CM) -> None:
    sev = icd.seventh_characters("S52.501")
    assert {"A", "D", "S"} <= set(sev)
    assert sev["A"] == "initial encounter for closed fracture"
    assert sev["S"] == "sequela"
    assert "subsequent" in sev["D"]
    assert icd.seventh_characters("I10") == {}


def test_with_seventh_character_adds_placeholders(icd: ICD10CM) -> None:
    assert icd.is_valid("T81.40")
    assert not icd.is_billable("T81.40")
    assert icd.is_billable("T81.40XA")
    assert icd.with_seventh_character("T81.40", "A") == "T81.40XA"
    assert icd.with_seventh_character("t8140", "d") == "T81.40XD"
    assert icd.with_seventh_character("S52.501", "a") == "S52.501A"


@pytest.mark.parametrize(("code", "char"), [("I10", "A"), ("T81.40", "Z"), ("S52.501A", "A")])
def test_with_seventh_character_returns_none_when_invalid(icd: ICD10CM, code: str, char: str) -> None:
    assert icd.with_seventh_character(code, char) is None


@pytest.mark.parametrize("code", ["G63", "F02.80", "G99.2"])
def test_manifestation_codes(icd: ICD10CM, code: str) -> None:
    assert "classified elsewhere" in icd.description(code)
    assert icd.is_manifestation(code)


@pytest.mark.parametrize("code", ["I10", "E11.65", "G30.9"])
def test_non_manifestation_codes(icd: ICD10CM, code: str) -> None:
    assert not icd.is_manifestation(code)


@pytest.mark.parametrize("code", ["G01", "G47.37", "F02"])
def test_manifestation_titles_worded_in_other_ways(icd: ICD10CM, code: str) -> None:
    """'Meningitis in bacterial diseases classified elsewhere', 'Central sleep apnea in conditions classified
    elsewhere', 'Dementia in other diseases classified elsewhere': each carries a code-first note."""
    assert icd.code_first(code)  # the tabular asks for the underlying condition first
    assert icd.is_manifestation(code)


@pytest.mark.parametrize("code", ["B95.0", "B96.20", "B97.29"])
def test_infectious_agent_codes_are_not_manifestations(icd: ICD10CM, code: str) -> None:
    """B95-B97 ('... as the cause of diseases classified elsewhere') are supplementary agent codes with no
    code-first note; is_manifestation's contract is 'manifestation codes carry a code-first note'."""
    assert icd.code_first(code) == []
    assert not icd.is_manifestation(code)


def test_lookup_to_dict(icd: ICD10CM) -> None:
    d = icd.lookup("e1165").to_dict()
    assert d["code"] == "E11.65"
    assert d["system"] == "ICD-10-CM"
    assert d["billable"] is True
    assert d["parent"] == "E11.6"
    assert d["kind"] == "subcategory"
    assert d["manifestation"] is False
    assert "type 1 diabetes mellitus (E10.-)" in d["excludes1"]
    assert any("Z79.4" in n for n in d["use_additional_code"])


# -- search --------------------------------------------------------------------------------------


def test_search_words_finds_e11_65_first(icd: ICD10CM) -> None:
    hits = icd.search("type 2 diabetes hyperglycemia")
    codes = [c for c, _ in hits]
    assert "E11.65" in codes[:3]
    assert all("diabetes" in d.lower() for _, d in hits)


def test_search_by_code_prefix(icd: ICD10CM) -> None:
    hits = icd.search("E11.6")
    codes = [c for c, _ in hits]
    assert codes[0] == "E11.6"
    assert "E11.65" in codes
    assert all(c.startswith("E11.6") for c in codes)
    assert [c for c, _ in icd.search("e116")] == codes


def test_search_billable_only_and_limit(icd: ICD10CM) -> None:
    hits = icd.search("E11.6", limit=5, billable_only=True)
    assert 0 < len(hits) <= 5
    assert all(icd.is_billable(c) for c, _ in hits)
    assert "E11.6" not in [c for c, _ in hits]


def test_search_empty_query(icd: ICD10CM) -> None:
    assert icd.search("   ") == []


def test_search_nonsense_finds_nothing(icd: ICD10CM) -> None:
    assert icd.search("qwxzzy flurbo") == []
