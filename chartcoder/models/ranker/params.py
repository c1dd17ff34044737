"""Hyperparameter validation in the manner of scikit-learn's `_parameter_constraints`: each estimator
states, as data, what every constructor parameter may hold, and `fit` checks them all before any work
starts, with an error that names the parameter, what it may be and what it got.

`__init__` only stores (the scikit-learn contract: `clone` and `set_params` must round-trip any
value), so a bad value is reported by `fit`, not by the constructor.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any, Protocol

import numpy as np

from chartcoder.domain.errors import InvalidInputError


class InvalidParameterError(InvalidInputError, TypeError):
    """A hyperparameter of the wrong type or outside its range. A ValueError and a TypeError, as
    scikit-learn's own InvalidParameterError is, so callers that catch either keep working."""


class Constraint(Protocol):
    def allows(self, value: Any) -> bool: ...

    def describe(self) -> str: ...


@dataclass(frozen=True)
class Interval:
    """A number of `kind` ("int" or "real") between `low` and `high` (None: unbounded), with each
    end included or not. Booleans are not numbers here (True is an int to Python, not to a user)."""

    kind: str
    low: float | None
    high: float | None
    closed: str = "both"  # "both", "left", "right" or "neither"

    def allows(self, value: Any) -> bool:
        if isinstance(value, (bool, np.bool_)):
            return False
        if not isinstance(value, Integral if self.kind == "int" else Real):
            return False
        x = float(value)
        if math.isnan(x):
            return False
        low_ok = self.low is None or x > self.low or (x == self.low and self.closed in ("both", "left"))
        high_ok = self.high is None or x < self.high or (x == self.high and self.closed in ("both", "right"))
        return low_ok and high_ok

    def describe(self) -> str:
        left = "[" if self.closed in ("both", "left") and self.low is not None else "("
        right = "]" if self.closed in ("both", "right") and self.high is not None else ")"
        low = "-inf" if self.low is None else _number(self.low)
        high = "inf" if self.high is None else _number(self.high)
        noun = "an int" if self.kind == "int" else "a number"
        return f"{noun} in the range {left}{low}, {high}{right}"


@dataclass(frozen=True)
class Options:
    """One of a closed set of strings."""

    values: tuple[str, ...]

    def allows(self, value: Any) -> bool:
        return isinstance(value, str) and value in self.values

    def describe(self) -> str:
        return "a str among {" + ", ".join(repr(v) for v in self.values) + "}"


@dataclass(frozen=True)
class Flag:
    """True or False (a NumPy bool too)."""

    def allows(self, value: Any) -> bool:
        return isinstance(value, (bool, np.bool_))

    def describe(self) -> str:
        return "a bool"


@dataclass(frozen=True)
class NoneValue:
    """None, where a parameter may be left unset."""

    def allows(self, value: Any) -> bool:
        return value is None

    def describe(self) -> str:
        return "None"


def validate_params(owner: str, params: Mapping[str, Any], constraints: Mapping[str, list[Constraint]]) -> None:
    """Check every parameter against its constraints (any one of them suffices); raise an
    InvalidParameterError for the first that meets none. A parameter without constraints is an error
    in the estimator, not in the caller's value, and is reported as such."""
    for name, value in params.items():
        allowed = constraints.get(name)
        if allowed is None:
            raise InvalidParameterError(f"{owner} has no constraints for its parameter {name!r}")
        if any(c.allows(value) for c in allowed):
            continue
        described = [c.describe() for c in allowed]
        what = described[0] if len(described) == 1 else ", ".join(described[:-1]) + " or " + described[-1]
        raise InvalidParameterError(f"The {name!r} parameter of {owner} must be {what}. Got {value!r} instead.")


def _number(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)
