"""How unsure the model was about an encounter, for the active-learning worklist order.

The suggestions' calibrated scores are read as independent per-code probabilities, and the
encounter's uncertainty is the sum of their binary entropies in bits: a code at 0.5 adds 1 bit, one at
0.95 or 0.05 about 0.29. The sum favours encounters with several borderline codes, where a coder's
decisions settle the most of what the model did not know (uncertainty sampling). Codes the model
ranked below the suggestion floor are near-certain negatives and add almost nothing, so leaving them
out changes little. An encounter with no suggestion at all has no uncertainty value (None): the model
found nothing to say about it, and the worklist puts those first, as blind spots.
"""

from __future__ import annotations

import math
from collections.abc import Iterable


def uncertainty(scores: Iterable[float]) -> float | None:
    total, seen = 0.0, False
    for score in scores:
        seen = True
        p = min(max(float(score), 1e-9), 1 - 1e-9)
        total -= p * math.log2(p) + (1 - p) * math.log2(1 - p)
    return round(total, 6) if seen else None
