"""`ModelCard`: what a pack's `model_card.json` says about its ranker, typed.

The file is what it always was (a JSON object written with sorted keys, listed in the signed manifest):
`ModelCard.from_dict` reads it and `to_dict` gives back the same object, key for key. A key this
version does not know is kept in `extra` and written back; a key the card holds as null stays null,
and a key it does not hold is not written. So a card read from any pack and written again is the
same JSON, and packs made before the card was typed load unchanged.

    name, version        the pack's identity (`name@version`)
    format, ranker       the pack format and ranker version it was made for (checked on load)
    chartcoder_version   the chartcoder that wrote it; created: when (ISO 8601, UTC)
    task, system         what it codes ("diagnosis" / "ICD-10-CM", "procedure" / "ICD-10-PCS")
    code_set_release     the code set it was trained against
    knowledge_engine     the knowledge engine whose evidence it was trained with (null: none)
    label_count          codes its ranker learned; threshold: its decision threshold
    ranker_params        the ranker's hyperparameters (a stacked pack: its primary's and its base)
    training             sources, records, their digest, the time taken and where it ran
    base                 for a stacked pack, the base pack it falls back to (else null)
    metrics              out-of-fold MAP, and held-out metrics when it was evaluated
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

# Each typed field: the Python types its JSON value may have (besides null), and their name in errors.
_STRING = ((str,), "string")
_OBJECT = ((dict,), "JSON object")
_TYPES: dict[str, tuple[tuple[type, ...], str]] = {
    "name": _STRING,
    "version": _STRING,
    "format": _STRING,
    "ranker": _STRING,
    "chartcoder_version": _STRING,
    "created": _STRING,
    "task": _STRING,
    "system": _STRING,
    "code_set_release": _STRING,
    "knowledge_engine": _STRING,
    "label_count": ((int,), "whole number"),
    "threshold": ((int, float), "number"),
    "ranker_params": _OBJECT,
    "training": _OBJECT,
    "base": _OBJECT,
    "metrics": _OBJECT,
}


@dataclass(frozen=True)
class ModelCard:
    """A pack's model card (the fields are described in the module docstring)."""

    name: str | None = None
    version: str | None = None
    format: str | None = None
    ranker: str | None = None
    chartcoder_version: str | None = None
    created: str | None = None
    task: str | None = None
    system: str | None = None
    code_set_release: str | None = None
    knowledge_engine: str | None = None
    label_count: int | None = None
    threshold: float | None = None
    ranker_params: dict[str, Any] | None = None
    training: dict[str, Any] | None = None
    base: dict[str, Any] | None = None
    metrics: dict[str, Any] | None = None
    # Keys this version does not know, as read.
    extra: dict[str, Any] = field(default_factory=dict)
    # Typed fields the card holds as null (written back as null; other unset fields are left out).
    nulls: frozenset[str] = frozenset()

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelCard:
        """The card of a JSON object; a ValueError naming the key when a known key holds the wrong type."""
        typed: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        nulls = set()
        for key, value in data.items():
            expected = _TYPES.get(key)
            if expected is None:
                extra[key] = value
            elif value is None:
                nulls.add(key)
            elif isinstance(value, bool) or not isinstance(value, expected[0]):
                raise ValueError(f"{key!r} must be a {expected[1]} or null, not {type(value).__name__}")
            else:
                typed[key] = value
        return cls(**typed, extra=extra, nulls=frozenset(nulls))

    def to_dict(self) -> dict[str, Any]:
        """The JSON object: the typed fields that are set or held as null, then the unknown keys."""
        out: dict[str, Any] = {}
        for f in fields(self):
            if f.name in ("extra", "nulls"):
                continue
            value = getattr(self, f.name)
            if value is not None or f.name in self.nulls:
                out[f.name] = value
        return {**out, **self.extra}

    @property
    def ref(self) -> str:
        """`name@version`, how packs are named in the registry, the API and reports."""
        return f"{self.name}@{self.version}"

    def with_metrics(self, metrics: Mapping[str, Any]) -> ModelCard:
        """The card with `metrics` added to (or replacing entries of) its metrics."""
        return replace(self, metrics={**(self.metrics or {}), **metrics}, nulls=self.nulls - {"metrics"})
