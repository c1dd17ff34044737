"""Each Settings object's CPT/HCPCS files are the ones its holder uses: two Settings naming different
CPT files, side by side in one process, describe and check the same code each by its own file
(issue 17). The files are written here in our own words (no AMA descriptors)."""

from __future__ import annotations

from pathlib import Path

import pytest

from chartcoder.codes import procedures
from chartcoder.config import Settings

ROOT = Path(__file__).resolve().parents[2]


def _cpt_file(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def two_settings(tmp_path: Path) -> tuple[Settings, Settings]:
    a = _cpt_file(tmp_path / "a", "cpt.csv", "code,description\n93000,HOUSE A WORDING FOR THE HEART TRACING\n")
    b = _cpt_file(
        tmp_path / "b",
        "cpt.csv",
        "code,description\n93000,HOUSE B WORDING FOR THE HEART TRACING\n0002U,HOUSE B LAB PANEL\n",
    )
    return Settings(data_dir=ROOT / "var", cpt_file=a), Settings(data_dir=ROOT / "var", cpt_file=b)


def test_code_sets_are_per_file_not_per_process(two_settings: tuple[Settings, Settings]) -> None:
    sa, sb = two_settings
    plain = Settings(data_dir=ROOT / "var", cpt_file=None, hcpcs_file=None)
    assert procedures.cpt(sa).lookup("93000").description == "HOUSE A WORDING FOR THE HEART TRACING"
    assert procedures.cpt(sb).lookup("93000").description == "HOUSE B WORDING FOR THE HEART TRACING"
    assert procedures.cpt(plain).lookup("93000").source == "chartcoder/codes/data/cpt_demo.csv"
    assert "0002U" in procedures.cpt(sb) and "0002U" not in procedures.cpt(sa)
    assert procedures.cpt(sa) is procedures.cpt(Settings(data_dir=ROOT / "var", cpt_file=sa.cpt_file))  # cached


def test_describe_and_lookup_use_the_given_settings(two_settings: tuple[Settings, Settings]) -> None:
    from chartcoder.codes.lookup import search, show
    from chartcoder.models.service import describe

    sa, sb = two_settings
    assert describe("93000", "CPT", sa) == "HOUSE A WORDING FOR THE HEART TRACING"
    assert describe("93000", "CPT", sb) == "HOUSE B WORDING FOR THE HEART TRACING"
    assert show("0002U", "CPT", sb)["description"] == "HOUSE B LAB PANEL"
    assert [h.code for h in search("house b lab", system="CPT", settings=sb)] == ["0002U"]
    assert search("house b lab", system="CPT", settings=sa) == []


def test_suggestion_services_side_by_side_describe_by_their_own_file(two_settings: tuple[Settings, Settings]) -> None:
    from chartcoder.models.service import SuggestionService

    sa, sb = two_settings
    note = "Patient with palpitations.\nProcedure: ECG performed; 12-lead electrocardiogram with interpretation.\n"
    found = {}
    for name, s in (("a", sa), ("b", sb)):
        result = SuggestionService(s).suggest(note, top_k=50)
        ecg = [x for x in result.suggestions if x.system == "CPT" and x.code == "93000"]
        assert ecg, f"93000 not suggested for {name}: {[(x.system, x.code) for x in result.suggestions]}"
        found[name] = ecg[0].description
    assert found == {
        "a": "HOUSE A WORDING FOR THE HEART TRACING",
        "b": "HOUSE B WORDING FOR THE HEART TRACING",
    }
