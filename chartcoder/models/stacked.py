"""A ranker learned from a practice's own charts, over a base pack that fills in what they do not hold.

`chartcoder train --base PACK` (e.g. `--base models/default`) trains a CodeRanker on the given sources
alone (the primary) and keeps the base pack's ranker beside it. The primary ranks every code, as a pack
trained on those charts alone would; the base ranker only adds codes that are outside the primary's
label space and that the primary did not propose, each scored `fallback_weight` x its own score.

Why not pool the sources: the synthetic corpus behind the default pack codes by US conventions that a
practice's coders may not follow (I10 beside combination codes, templates of negated findings), and
pooled with audited charts it pulled every code towards them (docs/benchmarks.md, learning curve).
Audited charts are the authority for the codes they hold; the base pack speaks only where they are
silent, and its scores are discounted because it was calibrated on other notes. The weight (0.1) was
chosen on validation splits of CodiEsp train (the first 50 or 400 charts of a fixed shuffle to train
on, the last 100 to score; never dev): 400 charts alone 0.5499 MAP, with the default pack's codes at
x0.05 / 0.1 / 0.3 / 1.0 0.5503 / 0.5504 / 0.5503 / 0.5488; 50 charts alone 0.4316, stacked 0.4326 /
0.4327 / 0.4333 / 0.4265. At its own scores (x1.0) the base pack costs more than it adds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cached_property
from typing import Any

from chartcoder.models.ranker import CodeRanker, Ranker

FALLBACK_WEIGHT = 0.1


class StackedRanker:
    """A `Ranker` (chartcoder.models.ranker.protocol), as CodeRanker is, so a pack holding one serves,
    evaluates and compares like any other. `base_card` is the base pack's card (as a JSON object);
    the name, version, ranker version and label count are kept from it."""

    def __init__(
        self, primary: CodeRanker, base: Ranker, base_card: Mapping[str, Any], fallback_weight: float = FALLBACK_WEIGHT
    ) -> None:
        if primary.system_ != base.system_:
            raise ValueError(f"the base pack codes {base.system_}; these sources code {primary.system_}")
        if not 0 < fallback_weight <= 1:
            raise ValueError(f"fallback_weight must be in (0, 1]; got {fallback_weight}")
        self.primary = primary
        self.base = base
        self.base_card = {k: base_card.get(k) for k in ("name", "version", "ranker", "label_count")}
        self.fallback_weight = fallback_weight

    @property
    def system_(self) -> str:
        return str(self.primary.system_)

    @cached_property
    def labels_(self) -> list[str]:
        """Every code either ranker can propose (the service maps the knowledge engine's evidence onto
        these on every request, so the union is made once)."""
        return sorted(set(self.primary.labels_) | set(self.base.labels_))

    @property
    def threshold_(self) -> float:
        return float(self.primary.threshold_)

    @property
    def oof_map_(self) -> float:
        return float(self.primary.oof_map_)

    @property
    def use_knowledge_(self) -> bool:
        return bool(self.primary.use_knowledge_ or self.base.use_knowledge_)

    def get_params(self) -> dict[str, Any]:
        return {
            "primary": self.primary.get_params(),
            "base": self.base_card,
            "fallback_weight": self.fallback_weight,
        }

    def rank(self, texts: Sequence[str], knowledge: Sequence[Any] | None = None) -> list[list[tuple[str, float]]]:
        """For each note, (code, score) best first: the primary's list with the base ranker's codes
        outside the primary's label space merged in at `fallback_weight` x their score."""
        primary = self.primary.rank(texts, knowledge if self.primary.use_knowledge_ else None)
        base = self.base.rank(texts, knowledge if self.base.use_knowledge_ else None)
        held = self.primary.label_index_
        out = []
        for own, other in zip(primary, base, strict=True):
            proposed = {code for code, _ in own}
            extra = [
                (code, score * self.fallback_weight)
                for code, score in other
                if code not in held and code not in proposed
            ]
            # A stable sort: the primary's own order survives among its codes, and a base code sorts
            # after a primary code of the same score.
            out.append(sorted(own + extra, key=lambda item: -item[1]))
        return out
