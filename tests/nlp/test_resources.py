"""The data files the engine runs on: every code they name exists, and no phrase means two things."""

from __future__ import annotations

import pytest
import yaml

from chartcoder.codes.icd10cm import icd10cm
from chartcoder.codes.procedures import cpt, hcpcs
from chartcoder.nlp.concepts import abbreviation_key, term_key
from chartcoder.nlp.resources import load_yaml_resource

SYN = load_yaml_resource("synonyms.yaml")
HISTORY = load_yaml_resource("history.yaml", "chartcoder.models.resources")
PROCEDURES = load_yaml_resource("procedures.yaml", "chartcoder.models.resources")
COMBOS = load_yaml_resource("combinations.yaml", "chartcoder.models.resources")


def test_synonym_codes_exist():
    icd = icd10cm()
    bad = [e["code"] for e in SYN if not icd.is_valid(str(e["code"]))]
    assert bad == []
    assert len(SYN) >= 250


def test_no_phrase_points_at_two_codes():
    seen: dict[tuple[str, ...], str] = {}
    clashes = []
    for e in SYN:
        keys = [("t", *term_key(str(t))) for t in e.get("terms") or []]
        keys += [("a", *abbreviation_key(str(a))) for a in e.get("abbreviations") or []]
        for key in keys:
            if key in seen and seen[key] != e["code"]:
                clashes.append((key, seen[key], e["code"]))
            seen[key] = e["code"]
    assert clashes == []


@pytest.mark.parametrize(
    "abbreviation, code",
    [
        ("HTN", "I10"),
        ("DM2", "E11.9"),
        ("T2DM", "E11.9"),
        ("CHF", "I50.9"),
        ("HFrEF", "I50.20"),
        ("COPD", "J44.9"),
        ("AFib", "I48.91"),
        ("CAD", "I25.10"),
        ("MI", "I21.9"),
        ("GERD", "K21.9"),
        ("UTI", "N39.0"),
        ("URI", "J06.9"),
        ("OA", "M19.90"),
        ("CKD 3b", "N18.32"),
    ],
)
def test_issue_abbreviations_resolve(service, abbreviation, code):
    """The abbreviations the issue names, each in a sentence, become the code a coder expects."""
    _, mentions = service.pipeline(f"Assessment: {abbreviation}.")
    assert [t.code for t in mentions[0].targets][:1] == [code]


@pytest.mark.parametrize("part", ["family", "personal"])
def test_history_targets_are_billable(part):
    icd = icd10cm()
    bad = [r["code"] for r in HISTORY[part] if not icd.is_billable(str(r["code"]))]
    assert bad == []


def test_procedure_triggers_name_known_codes():
    missing = []
    for e in PROCEDURES:
        code_set = hcpcs() if e.get("system") == "HCPCS" else cpt()
        if code_set.get(str(e["code"])) is None:
            missing.append(e["code"])
    assert missing == []


def test_combination_targets_are_billable():
    icd = icd10cm()
    bad = [
        (rule["id"], new)
        for rule in COMBOS["combinations"]
        for new in (rule.get("replace") or {}).values()
        if not icd.is_billable(str(new))
    ]
    assert bad == []
    ids = [r["id"] for r in COMBOS["combinations"]]
    assert len(ids) == len(set(ids))


def test_resources_are_plain_yaml_without_booleans():
    """YAML 1.1 reads unquoted no/yes/on/off as booleans: a rule token 'no' would silently vanish."""
    from importlib import resources

    text = resources.files("chartcoder.nlp.resources").joinpath("context_rules.yaml").read_text("utf-8")

    def walk(x):
        assert not isinstance(x, bool), "a boolean in context_rules.yaml: quote yes/no/on/off"
        if isinstance(x, dict):
            for v in x.values():
                walk(v)
        elif isinstance(x, list):
            for v in x:
                walk(v)

    for rule in yaml.safe_load(text)["rules"]:
        walk(rule.get("pattern", []))


def test_section_rules_have_known_keys_and_one_label_per_header():
    """sections.yaml: `sections` (label -> headers, labels from SECTION_LABELS) and `subheaders`; a header
    (as matched: lower case, single spaces, no "(s)") names one section, and a subheader is no section."""
    from chartcoder.nlp.sections import OTHER, SECTION_LABELS, normalize_header

    raw = load_yaml_resource("sections.yaml")
    assert set(raw) == {"sections", "subheaders"}
    assert set(raw["sections"]) == SECTION_LABELS - {OTHER}
    owner: dict[str, str] = {}
    clashes = []
    for label, headers in raw["sections"].items():
        for h in headers:
            key = normalize_header(str(h))
            if key in owner and owner[key] != label:
                clashes.append((key, owner[key], label))
            owner[key] = label
    assert clashes == []
    assert [h for h in raw["subheaders"] if normalize_header(str(h)) in owner] == []


def test_document_rules_have_known_keys_types_and_labels():
    from chartcoder.nlp.documents import DOCUMENT_TYPES, RULE_KEYS, document_rules
    from chartcoder.nlp.sections import SECTION_LABELS

    raw = load_yaml_resource("documents.yaml")
    assert set(raw) == {"rules"}
    for rule in raw["rules"]:
        assert set(rule) <= RULE_KEYS, rule
        assert rule["type"] in DOCUMENT_TYPES and rule.get("why"), rule
        for key in ("labels_any", "labels_all", "labels_none", "labels_only"):
            assert set(rule.get(key) or []) <= SECTION_LABELS, (key, rule)
    assert len(document_rules()) == len(raw["rules"])  # every rule compiles
    assert {r["type"] for r in raw["rules"]} == set(DOCUMENT_TYPES)  # every type can be reached
