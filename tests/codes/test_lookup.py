"""show/search over every code system (ICD-10-CM, CPT, HCPCS)."""

from __future__ import annotations

import pytest

from chartcoder.codes import lookup
from chartcoder.codes.lookup import CodeHit, guess_system, search, show
from chartcoder.domain.errors import UnknownCodeError


@pytest.mark.parametrize(
    ("code", "system"),
    [
        ("99214", "CPT"),
        ("1036F", "CPT"),
        ("J1885", "HCPCS"),
        ("g0439", "HCPCS"),
        ("E11.65", "ICD-10-CM"),
        ("E1165", "ICD-10-CM"),
        ("G04.39", "ICD-10-CM"),
        ("I10", "ICD-10-CM"),
    ],
)
def test_guess_system(code: str, system: str) -> None:
    assert guess_system(code) == system


def test_show_icd10cm_billable() -> None:
    d = show("E11.65")
    assert d["system"] == "ICD-10-CM"
    assert d["code"] == "E11.65"
    assert d["billable"] is True
    assert d["description"] == "Type 2 diabetes mellitus with hyperglycemia"
    assert show("e1165")["code"] == "E11.65"


def test_show_icd10cm_header_is_not_billable() -> None:
    d = show("E11.6")
    assert d["billable"] is False
    assert "E11.65" in d["children"]


def test_show_cpt() -> None:
    d = show("99214")
    assert d["system"] == "CPT"
    assert d["code"] == "99214"
    assert d["billable"] is True
    assert "office visit" in d["description"].lower()


def test_show_hcpcs() -> None:
    d = show("J1885")
    assert d["system"] == "HCPCS"
    assert "ketorolac" in d["description"].lower()
    assert show(" j1885 ", system="HCPCS")["code"] == "J1885"


@pytest.mark.parametrize("code", ["ZZZ99", "E11.999", "99999"])
def test_show_unknown_raises(code: str) -> None:
    with pytest.raises(UnknownCodeError) as exc:
        show(code)
    assert repr(code) in str(exc.value)


def test_show_unknown_system() -> None:
    with pytest.raises(UnknownCodeError, match="Known systems: ICD-10-CM, CPT, HCPCS"):
        show("E11.65", system="SNOMED")


def test_show_explicit_system_overrides_guess() -> None:
    # G0439 is a demo HCPCS code and, undotted, also ICD-10-CM G04.39
    assert show("G0439")["system"] == "HCPCS"
    assert show("G0439", system="ICD-10-CM")["code"] == "G04.39"


def test_search_influenza_vaccine_in_cpt() -> None:
    hits = search("influenza vaccine", system="CPT")
    assert hits, "a coder's 'influenza vaccine' should find a flu vaccine product or administration code"
    assert all(h.system == "CPT" for h in hits)
    assert {h.code for h in hits} & {"90656", "90662", "90674", "90682", "90686", "90688"}


def test_search_flu_vaccine_in_cpt() -> None:
    codes = [h.code for h in search("flu vaccine", system="CPT")]
    assert "90686" in codes


def test_search_restricted_to_one_system() -> None:
    hits = search("ketorolac", system="HCPCS")
    assert [h.code for h in hits] == ["J1885"]
    assert all(isinstance(h, CodeHit) and h.billable for h in hits)
    assert search("ketorolac", system="CPT") == []


def test_search_icd_marks_billable() -> None:
    hits = search("E11.6", system="ICD-10-CM", limit=10)
    by = {h.code: h.billable for h in hits}
    assert by["E11.6"] is False
    assert by["E11.65"] is True


def test_search_all_mixes_systems_within_limit() -> None:
    hits = search("vaccine", limit=10)
    systems = {h.system for h in hits}
    assert len(hits) <= 10
    assert "ICD-10-CM" in systems and systems & {"CPT", "HCPCS"}


def test_search_all_diagnosis_query_returns_icd() -> None:
    hits = search("type 2 diabetes hyperglycemia")
    assert "E11.65" in [h.code for h in hits if h.system == "ICD-10-CM"]


@pytest.mark.parametrize("system", ["all", "CPT", "HCPCS", "ICD-10-CM"])
def test_search_empty_query_returns_nothing(system: str) -> None:
    assert search("   ", system=system) == []


def test_systems_constant() -> None:
    assert lookup.SYSTEMS == ("ICD-10-CM", "CPT", "HCPCS")


def test_search_offers_initial_encounters_before_subsequent_before_sequela():
    # OCG I.C.19.a: A (initial) before D (subsequent) before S (sequela), whatever the descriptions' length.
    from chartcoder.codes.icd10cm import encounter_rank

    assert search("fracture of shaft of right femur", system="ICD-10-CM", limit=1)[0].code.endswith("A")
    for query in ("concussion", "S06.0X0"):
        codes = [h.code for h in search(query, system="ICD-10-CM", limit=100)]
        seventh = [c for c in codes if len(c.replace(".", "")) == 7]
        assert {c[-1] for c in seventh} >= {"A", "D", "S"}, (query, codes)
        ranks = [encounter_rank(c) for c in seventh]
        assert ranks == sorted(ranks), (query, codes)  # every A before any D, every D before any S
    assert [encounter_rank(c) for c in ("S06.0X0A", "S06.0X0D", "S06.0X0S", "E11.22", "O36.5931")] == [0, 1, 2, 0, 0]
