"""CodeRanker's hyperparameters are validated by `fit`, scikit-learn style: every parameter has
constraints, a value outside them is refused before any work starts, and the error names the
parameter, what it may be and what it got."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from threadpoolctl import threadpool_limits

from chartcoder.domain.errors import InvalidInputError
from chartcoder.models.ranker import CodeRanker, InvalidParameterError
from chartcoder.models.ranker.params import Flag, Interval, NoneValue, Options, validate_params

NOTES = ["cough and fever for two days", "chest pain on exertion", "cough with wheeze", "fever and chills"] * 3
GOLD = [["R05.9"], ["R07.9"], ["R05.9"], ["R50.9"]] * 3


def test_every_parameter_has_constraints():
    assert set(CodeRanker.PARAMETER_CONSTRAINTS) == set(CodeRanker().get_params())


def test_defaults_and_documented_settings_pass():
    CodeRanker()._validate_params()
    # The default pack's settings (docs/models.md) and values at the edges of each range.
    CodeRanker(char_ngrams=False, knowledge_scope="all", top_lr=40, top_knn=20)._validate_params()
    CodeRanker(alpha=0, n_folds=2, n_neighbors=1, top_lr=0, top_knn=0, max_iter=1)._validate_params()
    CodeRanker(max_leaf_nodes=None, random_state=None, min_samples_leaf=1)._validate_params()
    CodeRanker(random_state=2**32 - 1, learning_rate=1e-9)._validate_params()
    # NumPy scalars are numbers and flags like Python's.
    CodeRanker(alpha=np.float64(0.5), n_folds=np.int64(3), use_knowledge=np.bool_(False))._validate_params()


@pytest.mark.parametrize(
    ("param", "value", "expected"),
    [
        ("alpha", -0.1, "a number in the range [0, inf)"),
        ("alpha", float("nan"), "a number in the range [0, inf)"),
        ("alpha", "0.7", "a number in the range [0, inf)"),
        ("n_folds", 1, "an int in the range [2, inf)"),
        ("n_folds", 2.0, "an int in the range [2, inf)"),
        ("n_neighbors", 0, "an int in the range [1, inf)"),
        ("n_neighbors", True, "an int in the range [1, inf)"),
        ("top_lr", -1, "an int in the range [0, inf)"),
        ("top_knn", None, "an int in the range [0, inf)"),
        ("use_knowledge", 1, "a bool"),
        ("use_knowledge", "yes", "a bool"),
        ("max_iter", 0, "an int in the range [1, inf)"),
        ("learning_rate", 0.0, "a number in the range (0, inf)"),
        ("max_leaf_nodes", 1, "an int in the range [2, inf) or None"),
        ("min_samples_leaf", 0, "an int in the range [1, inf)"),
        ("char_ngrams", None, "a bool"),
        ("knowledge_scope", "inside", "a str among {'outside', 'all'}"),
        ("random_state", -1, "an int in the range [0, 4294967295] or None"),
        ("random_state", 2**32, "an int in the range [0, 4294967295] or None"),
    ],
)
def test_fit_refuses_a_bad_value_naming_the_parameter_and_its_range(param, value, expected):
    ranker = CodeRanker(**{param: value})  # the constructor only stores (clone and set_params round-trip)
    assert clone(ranker).get_params()[param] is value
    with pytest.raises(InvalidParameterError) as info:
        ranker.fit(NOTES, GOLD, system="ICD-10-PCS")
    assert str(info.value) == f"The {param!r} parameter of CodeRanker must be {expected}. Got {value!r} instead."
    assert not hasattr(ranker, "labels_")  # refused before anything was fitted


def test_set_params_then_fit_is_checked_too():
    ranker = CodeRanker(n_folds=2, max_iter=5, min_samples_leaf=1, char_ngrams=False)
    with threadpool_limits(limits=1):  # one native thread: see tests/training/conftest.py
        ranker.fit(NOTES, GOLD, system="ICD-10-PCS")
    assert ranker.labels_ == ["R05.9", "R07.9", "R50.9"]
    ranker.set_params(n_folds=0)
    with pytest.raises(InvalidParameterError, match=r"'n_folds' parameter of CodeRanker must be an int"):
        ranker.fit(NOTES, GOLD, system="ICD-10-PCS")


def test_the_error_is_an_input_error_and_what_scikit_learn_callers_catch():
    assert issubclass(InvalidParameterError, InvalidInputError)
    assert issubclass(InvalidParameterError, ValueError) and issubclass(InvalidParameterError, TypeError)


def test_validate_params_reports_a_parameter_without_constraints():
    with pytest.raises(InvalidParameterError, match=r"Est has no constraints for its parameter 'beta'"):
        validate_params("Est", {"alpha": 1, "beta": 2}, {"alpha": [Interval("int", 0, None)]})


def test_constraint_descriptions():
    assert Interval("real", 0, 1, closed="right").describe() == "a number in the range (0, 1]"
    assert Interval("int", None, 10, closed="neither").describe() == "an int in the range (-inf, 10)"
    assert Interval("real", 0.5, None, closed="left").describe() == "a number in the range [0.5, inf)"
    assert Options(("a", "b")).describe() == "a str among {'a', 'b'}"
    assert Flag().describe() == "a bool" and NoneValue().describe() == "None"
    closed = Interval("real", 0, 1, closed="both")
    assert closed.allows(0) and closed.allows(1) and not closed.allows(1.0000001)
    opened = Interval("real", 0, 1, closed="neither")
    assert not opened.allows(0) and not opened.allows(1) and opened.allows(0.5)
