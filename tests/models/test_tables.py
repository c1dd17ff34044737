"""The CMS-table part of the engine (chartcoder/models/tables.py): its rules files resolve to index
entries, bad rules are refused, and without the CMS files the engine suggests what it did before."""

from __future__ import annotations

from pathlib import Path

import pytest

from chartcoder.codes.cms_tables import KINDS, CmsTables, find_files
from chartcoder.config import get_settings
from chartcoder.domain.errors import ResourceError
from chartcoder.models import tables as T

CMS_DIR = get_settings().cms_dir
HAVE_FILES = CMS_DIR is not None and set(find_files(Path(CMS_DIR))) == set(KINDS)
needs_files = pytest.mark.skipif(
    not HAVE_FILES, reason=f"CMS ICD-10-CM index files not found in {CMS_DIR} (set CHARTCODER_CMS_DIR)"
)


@pytest.fixture(scope="module")
def coder(service):
    c = T.table_coder(service.engine.icd)
    if c is None:
        pytest.skip("no CMS index files configured")
    return c


@needs_files
def test_every_rule_names_an_index_entry(coder):
    assert coder.external_causes is not None and coder.external_causes.unresolved == []
    assert coder.drugs is not None and coder.drugs.unresolved == []
    assert coder.neoplasms is not None and coder.neoplasms.rows
    assert {m.id for m in coder.external_causes.mechanisms} >= {"fall", "slip", "bite", "struck", "contact", "assault"}


@needs_files
def test_rules_give_only_external_cause_codes_valid_in_fy2026(coder, service):
    icd = service.engine.icd
    causes = coder.external_causes
    for mech in causes.mechanisms:
        for t in mech.targets:
            assert t.code[0] in "VWXY" and icd.is_valid(t.code), (mech.id, t.code)
    for targets in causes.places.values():
        assert all(t.code.startswith("Y92") and t.code != "Y92.9" for t in targets)
    assert all(t.code.startswith("Y93") and t.code != "Y93.9" for t in causes.activities)


def test_unknown_keys_and_unquoted_booleans_are_refused():
    with pytest.raises(ResourceError, match="unknown key"):
        T._check_keys({"index": "Fall", "cue": ["fell"]}, ("index", "cues"), "mechanisms[0]")
    with pytest.raises(ResourceError, match="missing key"):
        T._check_keys({"cues": ["fell"]}, ("index", "cues"), "mechanisms[0]", ("index",))
    with pytest.raises(ResourceError, match="quote on, off"):
        T._strings(["from", False, "of"], "stop_words")  # YAML reads a bare `off` as False


def test_phrases_are_leftmost_longest():
    phrases = T.Phrases([(("adverse", "reaction"), "after"), (("adverse", "reaction", "to"), "before")])
    words = ["urticaria", "adverse", "reaction", "to", "amoxicillin"]
    assert list(phrases.find(words)) == [(1, 3, "before")]


def test_without_the_files_the_engine_adds_nothing(service, monkeypatch):
    from chartcoder.domain.encounter import Encounter

    text = "HPI: fell from a ladder at home. Assessment: closed fracture of right patella."
    monkeypatch.setitem(T._CODERS, (id(service.engine.icd), str(service.settings.cms_dir)), None)
    codes = [s.code for s in service.suggest(text, Encounter(setting="outpatient"), 20).suggestions]
    assert "S82.001A" in codes
    assert not any(c.startswith(("W", "Y9")) for c in codes)


def test_a_folder_without_files_gives_no_coder(tmp_path, service):
    from chartcoder.config import Settings

    assert T.table_coder(service.engine.icd, Settings(data_dir=tmp_path, cms_dir=tmp_path)) is None
    assert T.table_coder(service.engine.icd, Settings(data_dir=tmp_path, cms_dir=None)) is None


@needs_files
def test_each_service_reads_the_cms_folder_of_its_own_settings(service, settings):
    """Side by side in one process: the session service (CMS files configured) codes the external cause,
    a service whose Settings has no CMS folder does not (issue 17: settings passed down, not read globally)."""
    from chartcoder.models.service import SuggestionService

    assert service.settings.cms_dir is not None
    text = "HPI: fell from a ladder at home. Assessment: closed fracture of right patella."
    without = SuggestionService(settings.model_copy(update={"cms_dir": None}))
    assert T.table_coder(without.engine.icd, without.settings) is None
    assert T.table_coder(service.engine.icd, service.settings) is not None
    with_codes, without_codes = _codes(service, text, setting="outpatient"), _codes(without, text, setting="outpatient")
    assert "S82.001A" in with_codes and "S82.001A" in without_codes
    assert any(c.startswith("W") for c in with_codes)
    assert not any(c.startswith(("W", "Y9")) for c in without_codes)


@needs_files
def test_a_note_without_injury_neoplasm_or_drug_words_reads_no_table(service, monkeypatch):
    from chartcoder.domain.encounter import Encounter

    fresh = T.TableCoder(CmsTables(Path(CMS_DIR)), service.engine.icd)
    monkeypatch.setitem(T._CODERS, (id(service.engine.icd), str(service.settings.cms_dir)), fresh)
    service.suggest("Assessment: essential hypertension. Continue lisinopril.", Encounter(), 20)
    assert fresh.tables._books == {}  # nothing parsed


def _codes(service, text: str, **encounter) -> list[str]:
    from chartcoder.domain.encounter import Encounter

    return [s.code for s in service.suggest(text, Encounter(**encounter), 30).suggestions]


@needs_files
def test_metastatic_without_to_or_from_is_left_to_the_coder(service):
    codes = _codes(service, "Assessment: Metastatic adenocarcinoma of the liver. Oncology referral.")
    assert "C22.9" not in codes and "C22.8" not in codes  # not read as the liver's primary
    codes = _codes(service, "Assessment: Adenocarcinoma of the sigmoid colon, metastatic to the liver.")
    assert {"C18.7", "C78.7"} <= set(codes)


@needs_files
def test_words_that_only_look_like_causes_are_not_read(service):
    # A surgical stab incision is not an assault; the "slip" of a tendon is anatomy, not a fall.
    codes = _codes(
        service,
        "Postoperative diagnosis: Laceration of right ring finger with partial laceration of the ulnar slip "
        "of the FDS. The pins were cut short; the stab wounds for the pins were dressed.",
    )
    assert not any(c.startswith(("X99", "Y09", "W01", "W26")) for c in codes)
    # History between the event and the drug: an old treatment, not an adverse effect now.
    codes = _codes(service, "Cystectomy was difficult due to previous chemotherapy. Assessment: bladder cancer.")
    assert not any(c.startswith("T45.1") for c in codes)


@needs_files
def test_a_header_is_not_a_history_cue(service):
    codes = _codes(
        service,
        "HISTORY OF PRESENT ILLNESS: 52-year-old who slipped on a patch of ice on the sidewalk and fell.\n"
        "Assessment: Sprain of left ankle.",
    )
    assert "W00.0XXA" in codes
