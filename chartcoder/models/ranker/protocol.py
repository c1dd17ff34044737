"""`Ranker`: what the service, the pack loader, evaluation and stacking use of a fitted ranker.

`CodeRanker` (one learned model) and `StackedRanker` (a practice's ranker over a base pack's,
chartcoder.models.stacked) both satisfy it, so code that takes "a ranker" is typed against this
protocol, not against either class. It is runtime-checkable: `isinstance(obj, Ranker)` holds for a
fitted ranker of either kind (an unfitted CodeRanker has no `labels_` yet). Which classes a pack may
hold is decided by the allow-list unpickler and `chartcoder.models.pack.check_ranker`, not by this.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class Ranker(Protocol):
    @property
    def system_(self) -> str:
        """The code system ranked ("ICD-10-CM", "ICD-10-PCS")."""
        ...

    @property
    def labels_(self) -> list[str]:
        """Every code the ranker can propose from what it learned."""
        ...

    @property
    def threshold_(self) -> float:
        """The calibrated score from which a code is predicted (chosen on held-out data)."""
        ...

    @property
    def use_knowledge_(self) -> bool:
        """Whether `rank` reads the knowledge engine's analysis of each note."""
        ...

    @property
    def oof_map_(self) -> float:
        """Mean average precision of its out-of-fold rankings of the training notes."""
        ...

    def get_params(self) -> dict[str, Any]:
        """The hyperparameters, as the model card records them."""
        ...

    def rank(self, texts: Sequence[str], knowledge: Sequence[Any] | None = None) -> list[list[tuple[str, float]]]:
        """For each note, (code, calibrated score in [0, 1]) best first. `knowledge` holds the knowledge
        engine's analysis per note, or None."""
        ...
