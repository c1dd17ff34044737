"""CPT/HCPCS code sets: the built-in demo sets, the licensed/CMS loaders and their error messages."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from chartcoder.codes import procedures
from chartcoder.codes.procedures import (
    CPT_CODE,
    HCPCS_CODE,
    ProcedureCodeSet,
    load_cpt_csv,
    load_hcpcs_file,
    parse_code_csv,
)
from chartcoder.config import get_settings
from chartcoder.domain.errors import CodeFileError, UnknownCodeError

FIXTURES = Path(__file__).parent / "fixtures"
ANWEB = FIXTURES / "hcpcs_anweb_demo.txt"


def anweb_record(code: str, seq: str, rid: str, long: str, short: str = "") -> str:
    """One record of the CMS HCPCS fixed-width layout, padded to 320 characters."""
    return f"{code:<5}{seq:>5}{rid}{long:<80.80}{short:<28.28}".ljust(320)


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    p = tmp_path / name
    if isinstance(content, bytes):
        p.write_bytes(content)
    else:
        p.write_text(content, encoding="utf-8", newline="")
    return p


def error_of(loader, path: Path) -> CodeFileError:  # type: ignore[no-untyped-def]
    with pytest.raises(CodeFileError) as exc:
        loader(path)
    return exc.value


# -- built-in demo sets ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def builtin_cpt() -> ProcedureCodeSet:
    return procedures.cpt()


@pytest.fixture(scope="module")
def builtin_hcpcs() -> ProcedureCodeSet:
    return procedures.hcpcs()


def test_builtin_cpt_set_size_and_key_codes(builtin_cpt: ProcedureCodeSet) -> None:
    assert builtin_cpt.system == "CPT"
    assert len(builtin_cpt) >= 140
    office = ["99202", "99203", "99204", "99205", "99212", "99213", "99214", "99215"]
    hospital = ["99221", "99222", "99223", "99231", "99232", "99233", "99238", "99239"]
    emergency = ["99281", "99282", "99283", "99284", "99285"]
    for code in [*office, *hospital, *emergency, "93000", "90471"]:
        assert code in builtin_cpt, code
    assert {builtin_cpt.lookup(c).category for c in hospital} == {"E/M hospital"}
    assert {builtin_cpt.lookup(c).category for c in emergency} == {"E/M emergency"}
    assert all(CPT_CODE.match(c.code) for c in builtin_cpt)
    assert all(c.system == "CPT" for c in builtin_cpt)


def test_builtin_cpt_wording_is_short_and_present(builtin_cpt: ProcedureCodeSet) -> None:
    for c in builtin_cpt:
        assert c.description.strip(), c.code
        assert len(c.description) <= 120, (c.code, len(c.description))
        assert c.category, c.code
        assert c.source == "chartcoder/codes/data/cpt_demo.csv"


def test_builtin_hcpcs_set(builtin_hcpcs: ProcedureCodeSet) -> None:
    assert builtin_hcpcs.system == "HCPCS"
    assert "J1885" in builtin_hcpcs
    assert "G0439" in builtin_hcpcs
    assert "ketorolac" in builtin_hcpcs.lookup("j1885").description.lower()
    for c in builtin_hcpcs:
        assert HCPCS_CODE.match(c.code), c.code
        assert c.description.strip() and len(c.description) <= 120, c.code


def test_code_set_get_and_contains_normalize(builtin_cpt: ProcedureCodeSet) -> None:
    assert " 99214 " in builtin_cpt
    assert builtin_cpt.get(" 99214 ") is builtin_cpt.get("99214")
    assert 99214 not in builtin_cpt  # only strings are codes
    assert builtin_cpt.get("00000") is None


def test_lookup_unknown_well_formed_code(builtin_cpt: ProcedureCodeSet) -> None:
    with pytest.raises(UnknownCodeError) as exc:
        builtin_cpt.lookup("99999")
    assert "Not in the loaded code set" in str(exc.value)
    assert exc.value.system == "CPT"


def test_lookup_malformed_code_explains_shape(builtin_cpt: ProcedureCodeSet, builtin_hcpcs: ProcedureCodeSet) -> None:
    with pytest.raises(UnknownCodeError, match="5 digits"):
        builtin_cpt.lookup("9921")
    with pytest.raises(UnknownCodeError, match="a letter A-V and 4 digits"):
        builtin_hcpcs.lookup("Z1234")


def test_code_set_search(builtin_cpt: ProcedureCodeSet) -> None:
    prefix = [c.code for c in builtin_cpt.search("9921")]
    # code-prefix hits first, in code order; then word hits (99417's wording cites 99215)
    assert prefix[:5] == ["99211", "99212", "99213", "99214", "99215"]
    assert set(prefix[5:]) <= {"99417"}
    words = [c.code for c in builtin_cpt.search("knee x-ray")]
    assert set(words) == {"73560", "73562", "73564"}
    assert len(builtin_cpt.search("vaccine", limit=3)) == 3


def test_to_dict(builtin_cpt: ProcedureCodeSet) -> None:
    d = builtin_cpt.lookup("93000").to_dict()
    assert d["code"] == "93000" and d["system"] == "CPT" and d["billable"] is True
    assert d["category"] == "Cardiology"


# -- load_cpt_csv --------------------------------------------------------------------------------


def test_load_cpt_csv_with_header(tmp_path: Path) -> None:
    p = write(
        tmp_path,
        "cpt.csv",
        "code,description\n99213,Licensed office visit wording\n1036F,Tobacco use assessed\n",
    )
    codes = load_cpt_csv(p)
    assert [c.code for c in codes] == ["99213", "1036F"]
    assert codes[0].description == "Licensed office visit wording"
    assert codes[0].source == str(p)
    assert codes[0].category == ""


def test_load_cpt_csv_without_header_and_with_category_bom_blank_lines(tmp_path: Path) -> None:
    p = write(tmp_path, "cpt.csv", '\ufeff99213,Office visit,E/M\n\n 0001t ,"Category III, lower case"\n')
    codes = load_cpt_csv(p)
    assert [(c.code, c.description, c.category) for c in codes] == [
        ("99213", "Office visit", "E/M"),
        ("0001T", "Category III, lower case", ""),
    ]


def test_cpt_bad_code_on_line_3(tmp_path: Path) -> None:
    p = write(tmp_path, "bad.csv", "code,description\n99213,Office visit\nABCDE,Not a code\n")
    err = error_of(load_cpt_csv, p)
    assert err.line == 3
    assert str(p) in str(err) and "line 3" in str(err)
    assert "ABCDE" in str(err)


def test_cpt_empty_description(tmp_path: Path) -> None:
    p = write(tmp_path, "bad.csv", "99213,Office visit\n99214,   \n")
    err = error_of(load_cpt_csv, p)
    assert err.line == 2 and "line 2" in str(err)
    assert "99214" in str(err) and "empty description" in str(err)


def test_cpt_duplicate_code_names_both_lines(tmp_path: Path) -> None:
    p = write(tmp_path, "dup.csv", "code,description\n99213,Office visit\n99214,Other\n99213,Again\n")
    err = error_of(load_cpt_csv, p)
    assert err.line == 4
    assert "line 4" in str(err) and "line 2" in str(err)
    assert "99213" in str(err)


def test_cpt_one_column_row(tmp_path: Path) -> None:
    p = write(tmp_path, "one.csv", "99213,Office visit\n99214\n")
    err = error_of(load_cpt_csv, p)
    assert err.line == 2 and "line 2" in str(err)
    assert "1 column" in str(err)


def test_cpt_non_utf8_bytes(tmp_path: Path) -> None:
    p = write(tmp_path, "latin.csv", b"99213,Office visit\n99214,Other\n99215,Caf\xe9 visit\n")
    err = error_of(load_cpt_csv, p)
    assert err.line == 3 and "line 3" in str(err)
    assert "UTF-8" in str(err)


@pytest.mark.parametrize("content", ["", "\n\n", "code,description\n"])
def test_cpt_empty_file(tmp_path: Path, content: str) -> None:
    p = write(tmp_path, "empty.csv", content)
    err = error_of(load_cpt_csv, p)
    assert err.line == 1 and str(p) in str(err)
    assert "no CPT codes" in str(err)


def test_cpt_line_number_counts_physical_lines_after_multiline_field(tmp_path: Path) -> None:
    """A quoted description spanning two lines pushes the bad code to physical line 4."""
    p = write(tmp_path, "multi.csv", 'code,description\n99213,"Office visit\nsecond line"\nABCDE,bad\n')
    err = error_of(load_cpt_csv, p)
    assert err.line == 4


def test_cpt_header_after_leading_blank_line_is_accepted(tmp_path: Path) -> None:
    p = write(tmp_path, "lead.csv", "\ncode,description\n99213,Office visit\n")
    assert [c.code for c in load_cpt_csv(p)] == ["99213"]


def test_parse_code_csv_checks_hcpcs_shape() -> None:
    with pytest.raises(CodeFileError, match=r"mem, line 2: '99213' is not a HCPCS code"):
        parse_code_csv("J1885,Ketorolac\n99213,visit\n", "mem", "HCPCS", HCPCS_CODE)


# -- CMS HCPCS fixed-width (ANWEB) ---------------------------------------------------------------


def test_fixture_has_the_cms_layout() -> None:
    lines = ANWEB.read_text("utf-8").splitlines()
    assert all(len(line) == 320 for line in lines)
    assert [line[10] for line in lines] == ["3", "3", "4", "7", "8", "3"]


def test_load_hcpcs_fixed_width_fixture() -> None:
    codes = load_hcpcs_file(ANWEB)
    assert [c.code for c in codes] == ["A0999", "J1885", "G0439"]  # modifier records skipped
    by = {c.code: c for c in codes}
    assert by["J1885"].description == (
        "Demo injection of a pain medicine, per 15 mg, wording written for "
        "chartcoder tests and continued on a second record"
    )
    assert by["A0999"].description == "Demo ambulance service, one-way trip, our own test wording"
    assert all(c.system == "HCPCS" and c.source == str(ANWEB) for c in codes)
    assert not any("modifier" in c.description for c in codes)


def test_hcpcs_fixed_width_uses_short_description_when_long_is_blank(tmp_path: Path) -> None:
    p = write(tmp_path, "a.txt", anweb_record("J1885", "00100", "3", "", "Short only") + "\n")
    assert load_hcpcs_file(p)[0].description == "Short only"


def _fixture_lines() -> list[str]:
    return ANWEB.read_text("utf-8").splitlines()


def test_hcpcs_short_line_names_line(tmp_path: Path) -> None:
    lines = _fixture_lines()
    lines[2] = lines[2][:60]
    p = write(tmp_path, "short.txt", "\n".join(lines) + "\n")
    err = error_of(load_hcpcs_file, p)
    assert err.line == 3 and "line 3" in str(err) and str(p) in str(err)
    assert "60 characters" in str(err)


def test_hcpcs_bad_record_id_names_line(tmp_path: Path) -> None:
    lines = _fixture_lines()
    lines[3] = lines[3][:10] + "5" + lines[3][11:]
    p = write(tmp_path, "rid.txt", "\n".join(lines) + "\n")
    err = error_of(load_hcpcs_file, p)
    assert err.line == 4 and "line 4" in str(err)
    assert "'5'" in str(err)


def test_hcpcs_bad_code_names_line(tmp_path: Path) -> None:
    lines = _fixture_lines()
    lines[5] = "W12X4" + lines[5][5:]
    p = write(tmp_path, "code.txt", "\n".join(lines) + "\n")
    err = error_of(load_hcpcs_file, p)
    assert err.line == 6 and "line 6" in str(err)
    assert "W12X4" in str(err)


def test_hcpcs_bad_sequence_number_names_line(tmp_path: Path) -> None:
    lines = _fixture_lines()
    lines[0] = lines[0][:5] + "00A00" + lines[0][10:]
    p = write(tmp_path, "seq.txt", "\n".join(lines) + "\n")
    err = error_of(load_hcpcs_file, p)
    assert err.line == 1 and "sequence number" in str(err)


def test_hcpcs_continuation_before_first_line(tmp_path: Path) -> None:
    text = anweb_record("J1885", "00200", "4", "orphan continuation") + "\n"
    err = error_of(load_hcpcs_file, write(tmp_path, "orphan.txt", text))
    assert err.line == 1 and "before its first line" in str(err)


def test_hcpcs_only_modifiers_is_an_error(tmp_path: Path) -> None:
    text = anweb_record("25", "00100", "7", "Modifier only", "Mod") + "\n"
    err = error_of(load_hcpcs_file, write(tmp_path, "mods.txt", text))
    assert "no HCPCS procedure records" in str(err)


def test_hcpcs_empty_file(tmp_path: Path) -> None:
    err = error_of(load_hcpcs_file, write(tmp_path, "empty.txt", ""))
    assert err.line == 1


# -- CMS HCPCS CSV export ------------------------------------------------------------------------

CSV_HEADER = "HCPC,SEQNUM,RECID,LONG DESCRIPTION,SHORT DESCRIPTION\n"


def test_load_hcpcs_csv_export(tmp_path: Path) -> None:
    p = write(
        tmp_path,
        "hcpcs.csv",
        CSV_HEADER
        + "A0999,00100,3,Demo ambulance trip long,Demo ambulance\n"
        + "25,00100,7,Demo modifier text,Demo mod\n"
        + "g0439,00100,3,,Demo wellness later\n"
        + '"J1885","00100","3","Demo pain shot, per 15 mg","Demo pain shot"\n',
    )
    codes = load_hcpcs_file(p)
    assert [(c.code, c.description) for c in codes] == [
        ("A0999", "Demo ambulance trip long"),
        ("G0439", "Demo wellness later"),  # falls back to the short description
        ("J1885", "Demo pain shot, per 15 mg"),
    ]


def test_hcpcs_csv_bad_code_names_line(tmp_path: Path) -> None:
    p = write(tmp_path, "bad.csv", CSV_HEADER + "A0999,00100,3,Demo,Demo\nX12,00100,3,bad,bad\n")
    err = error_of(load_hcpcs_file, p)
    assert err.line == 3 and "line 3" in str(err) and "X12" in str(err)


def test_hcpcs_csv_missing_description_names_line(tmp_path: Path) -> None:
    p = write(tmp_path, "nodesc.csv", CSV_HEADER + "A0999,00100,3,Demo,Demo\nJ1885,00100,3,,\n")
    err = error_of(load_hcpcs_file, p)
    assert err.line == 3 and "J1885" in str(err)


def test_hcpcs_csv_line_number_after_blank_line(tmp_path: Path) -> None:
    p = write(tmp_path, "gap.csv", CSV_HEADER + "A0999,00100,3,Demo,Demo\n\nX12,00100,3,bad,bad\n")
    err = error_of(load_hcpcs_file, p)
    assert err.line == 4  # physical line of the bad record


def test_hcpcs_csv_export_keeps_continuation_text_like_fixed_width(tmp_path: Path) -> None:
    """The same two records (first line + continuation) must give the same description in both forms."""
    p = write(
        tmp_path,
        "cont.csv",
        CSV_HEADER
        + 'J1885,00100,3,"Demo injection of a pain medicine, per 15 mg, wording written for",'
        + "Demo pain shot 15 mg\n"
        + "J1885,00200,4,chartcoder tests and continued on a second record,\n",
    )
    csv_desc = {c.code: c.description for c in load_hcpcs_file(p)}
    fixed_desc = {c.code: c.description for c in load_hcpcs_file(ANWEB)}
    assert csv_desc["J1885"] == fixed_desc["J1885"]


# -- settings-driven overlays ----------------------------------------------------------------------


@pytest.fixture
def fresh_caches(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """Empty the settings and code-set caches before and after; env changes are undone by monkeypatch."""

    def clear() -> None:
        get_settings.cache_clear()
        procedures.clear_caches()

    clear()
    yield monkeypatch
    monkeypatch.undo()
    clear()


def test_cpt_uses_licensed_file_from_settings(tmp_path: Path, fresh_caches: pytest.MonkeyPatch) -> None:
    lic = write(
        tmp_path,
        "licensed.csv",
        "CPT Code,Description\n99214,LICENSED WORDING FOR 99214\n0002U,LICENSED PLA CODE\n",
    )
    fresh_caches.setenv("CHARTCODER_CPT_FILE", str(lic))
    s = procedures.cpt()
    assert get_settings().cpt_file == lic
    c = s.lookup("99214")
    assert c.description == "LICENSED WORDING FOR 99214"
    assert c.source == str(lic)
    assert c.category == "E/M office"  # demo category kept
    assert s.lookup("0002U").description == "LICENSED PLA CODE"
    # codes the licensed file does not carry keep the demo wording
    assert s.lookup("93000").source == "chartcoder/codes/data/cpt_demo.csv"
    demo = procedures._builtin("cpt_demo.csv", "CPT", CPT_CODE)
    assert len(s) == len(demo) + 1  # 99214 replaced, 0002U added


def test_cpt_broken_licensed_file_raises(tmp_path: Path, fresh_caches: pytest.MonkeyPatch) -> None:
    lic = write(tmp_path, "licensed.csv", "99214,ok\n9921,bad\n")
    fresh_caches.setenv("CHARTCODER_CPT_FILE", str(lic))
    with pytest.raises(CodeFileError, match="line 2"):
        procedures.cpt()


def test_hcpcs_uses_cms_file_from_settings(fresh_caches: pytest.MonkeyPatch) -> None:
    fresh_caches.setenv("CHARTCODER_HCPCS_FILE", str(ANWEB))
    s = procedures.hcpcs()
    j = s.lookup("J1885")
    assert j.description.startswith("Demo injection of a pain medicine")
    assert j.category == "Drug"
    assert s.lookup("A0999").source == str(ANWEB)
    assert "J0171" in s  # demo codes not in the CMS file stay


@pytest.mark.skipif("CHARTCODER_CPT_FILE" in os.environ, reason="a licensed CPT file is configured")
def test_overlay_is_gone_after_caches_restored() -> None:
    """Runs after the overlay tests: with the environment restored the demo wording is back."""
    assert get_settings().cpt_file is None
    assert procedures.cpt().lookup("99214").source == "chartcoder/codes/data/cpt_demo.csv"
