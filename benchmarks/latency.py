"""Latency of the suggestion path over the CodiEsp background notes (English), in-process.

Reports p50/p95/p99 per note, notes per second and peak memory for the full suggestion path, and
the same for spaCy's bare tokenizer over the same notes in the same run: the floor that no
spaCy-based pipeline can beat. The machine is shared and noisy, so each note's time is the median of
`--repeat` passes, and the headline figure is the ratio to the tokenizer.

Each note is timed twice over: wall-clock time (what a caller waits) and the process's CPU time
(`time.process_time`, every thread of the process, BLAS helpers included). On a machine shared with
other work, wall time grows with the load, and more than proportionally for the longer step: a 1 ms
tokenizer call rarely waits for a core within its slice, a 10 ms suggestion often does. CPU time
does not count those waits, so its ratio to the tokenizer is the comparison that holds across runs on
a loaded machine; the wall figures are the ones the targets name.

    .venv/bin/python benchmarks/latency.py [--data ../shared/data/codiesp/background/text_files_en]
        [--limit N] [--repeat 3] [--json benchmarks/results/latency.json] [--model PACK]

`--model PACK` measures the path with a learned pack (the knowledge engine, then the pack's ranker);
without it, the knowledge engine alone.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "codiesp" / "background" / "text_files_en"


def percentile(values: list[float], q: float) -> float:
    s = sorted(values)
    k = (len(s) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def summarize(times: list[float]) -> dict[str, float]:
    ms = [t * 1000 for t in times]
    return {
        "p50_ms": round(percentile(ms, 0.50), 3),
        "p95_ms": round(percentile(ms, 0.95), 3),
        "p99_ms": round(percentile(ms, 0.99), 3),
        "mean_ms": round(statistics.fmean(ms), 3),
        "notes_per_s": round(len(ms) / (sum(ms) / 1000), 1),
    }


def time_notes(
    service: Any, tokenizer: Any, notes: list[str], encounter: Any, repeat: int
) -> tuple[list[float], list[float], list[float], list[float], int]:
    """Per note, the median over `repeat` passes of the suggestion path and of the spaCy tokenizer alone,
    wall-clock and CPU: (full, tokenizer, full CPU, tokenizer CPU, suggestions made in all passes)."""
    full: list[list[float]] = [[] for _ in notes]
    tok: list[list[float]] = [[] for _ in notes]
    full_cpu: list[list[float]] = [[] for _ in notes]
    tok_cpu: list[list[float]] = [[] for _ in notes]
    suggestions = 0
    wall, cpu = time.perf_counter, time.process_time
    for _ in range(repeat):
        for i, text in enumerate(notes):
            a, a_cpu = wall(), cpu()
            tokenizer(text)
            b, b_cpu = wall(), cpu()
            result = service.suggest(text, encounter)
            c, c_cpu = wall(), cpu()
            tok[i].append(b - a)
            full[i].append(c - b)
            tok_cpu[i].append(b_cpu - a_cpu)
            full_cpu[i].append(c_cpu - b_cpu)
            suggestions += len(result.suggestions)
    return (
        [statistics.median(t) for t in full],
        [statistics.median(t) for t in tok],
        [statistics.median(t) for t in full_cpu],
        [statistics.median(t) for t in tok_cpu],
        suggestions,
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--limit", type=int, default=0, help="Use only the first N notes (0 = all).")
    ap.add_argument("--repeat", type=int, default=3, help="Passes over the notes; per-note median is kept.")
    ap.add_argument("--json", type=Path, default=None, help="Also write the results here.")
    ap.add_argument("--model", type=Path, default=None, help="A model pack to rank with (default: none).")
    args = ap.parse_args()

    files = sorted(args.data.glob("*.txt"))
    if args.limit:
        files = files[: args.limit]
    if not files:
        print(f"no notes found in {args.data}", file=sys.stderr)
        return 2
    notes = [f.read_text(encoding="utf-8") for f in files]

    from chartcoder.config import get_settings
    from chartcoder.domain.encounter import Encounter
    from chartcoder.models.service import SuggestionService

    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    from chartcoder.models.pack import load_pack

    service = SuggestionService(get_settings(), pack=load_pack(args.model) if args.model else None)
    load_s = time.perf_counter() - t0
    tokenizer = service.pipeline.nlp.tokenizer
    encounter = Encounter(setting="outpatient")

    for text in notes[:20]:  # warm-up
        service.suggest(text, encounter)
        tokenizer(text)

    full_med, tok_med, full_cpu_med, tok_cpu_med, suggestions = time_notes(
        service, tokenizer, notes, encounter, args.repeat
    )
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    res = {
        "notes": len(notes),
        "characters_median": int(statistics.median(len(n) for n in notes)),
        "repeat": args.repeat,
        "engine": service.model_name,
        "load_s": round(load_s, 2),
        "suggestion_path": summarize(full_med),
        "spacy_tokenizer": summarize(tok_med),
        "ratio_p50": round(percentile(full_med, 0.5) / percentile(tok_med, 0.5), 1),
        "ratio_p99": round(percentile(full_med, 0.99) / percentile(tok_med, 0.99), 1),
        "cpu": {
            "suggestion_path": summarize(full_cpu_med),
            "spacy_tokenizer": summarize(tok_cpu_med),
            "ratio_p50": round(percentile(full_cpu_med, 0.5) / max(percentile(tok_cpu_med, 0.5), 1e-9), 1),
            "ratio_p99": round(percentile(full_cpu_med, 0.99) / max(percentile(tok_cpu_med, 0.99), 1e-9), 1),
        },
        "load_average": [round(x, 2) for x in __import__("os").getloadavg()],
        "suggestions_per_note": round(suggestions / (len(notes) * args.repeat), 1),
        "peak_rss_mb": round(peak_mb, 1),
        "rss_before_load_mb": round(rss_before / 1024, 1),
        "python": platform.python_version(),
        "machine": f"{platform.machine()}, {__import__('os').cpu_count()} cpu",
    }
    print(json.dumps(res, indent=2))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(res, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
