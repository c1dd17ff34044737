"""The phrase matcher reads the tabular's wording as U.S. notes write the same anatomy
(nlp/resources/word_variants.yaml)."""

from __future__ import annotations

import pytest

from chartcoder.nlp.concepts import load_term_index, load_word_variants, words_of


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    return load_term_index(tmp_path_factory.mktemp("terms"))


def _codes(index, phrase: str) -> list[str]:
    words, _ = words_of(phrase)
    return [t.code for _, _, targets in index.match(words) for t in targets]


@pytest.mark.parametrize(
    ("phrase", "code"),
    [
        ("undescended testis", "Q53.9"),  # Undescended testicle, unspecified: the same organ by its other name
        ("undescended testes", "Q53.9"),
        ("renal cyst", "N28.1"),  # Cyst of kidney, acquired
        ("splenic infarction", "D73.5"),  # Infarction of spleen
        ("bowel perforation", "K63.1"),  # Perforation of intestine (nontraumatic)
        ("penile laceration", "S31.2"),  # Laceration of penis
    ],
)
def test_tabular_terms_meet_the_words_notes_write(index, phrase, code):
    assert any(c == code or c.startswith(code) for c in _codes(index, phrase)), _codes(index, phrase)


def test_an_adjective_is_never_the_last_word():
    """Fatty liver is K76.0; the adjective alone at the end ("fatty hepatic") is no term."""
    index = load_term_index()
    assert _codes(index, "fatty hepatic") == []
    variants = load_word_variants()
    assert ("hepatic", "abscess") in variants.keys(("liver", "abscess"))
    assert ("abscess", "hepatic") not in variants.keys(("abscess", "liver"))


def test_variant_words_are_not_tabular_fillers_and_targets_are_words():
    variants = load_word_variants()
    for table in (variants.nouns, variants.adjectives):
        for word, alternatives in table.items():
            assert alternatives, word
            assert word not in alternatives


def test_allergies_alone_name_no_code():
    index = load_term_index()
    assert _codes(index, "allergy") == []
    assert "J30.2" in _codes(index, "seasonal allergies")
