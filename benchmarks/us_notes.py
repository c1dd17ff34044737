"""Quality on real U.S. documentation: the coded U.S. development set, scored through the served path.

The set (`benchmarks/data/us_notes/`) is 294 MTSamples transcriptions coded by hand (ids and gold
codes here, texts read from `../shared/data/mtsamples/notes.jsonl`) and notes we wrote of the kinds
that pool lacks (texts here), coded by `docs/coding-policy.md`. Each note belongs to one part:

- `tune` (parts 1-4 and the written notes): what we look at while improving the engine, in two fixed
  halves by a hash of the id: `tune-a` (read its errors and notes) and `tune-b` (summary line only).
  Earlier rounds read the whole of it before it was halved, so tune-b no longer shows generalization;
- `tune-c` (part 5, 70 ids drawn after the first 224 of the same seeded shuffle, 65 coded; the rule is in
  `mtsamples_selection.json`): notes nobody had read while writing rules, coded blind. It is the
  summary-only check that a change generalizes: whoever writes rules never reads its per-note errors
  or notes, so this script withholds its per-note lines and its most-missed / most-wrong code lists,
  and pools its document types of fewer than 5 notes (a group of one is one note's result);
- `measure`: what we report, run once per configuration by the lead; never tuned on, never read.

`--split tune` scores tune-a and tune-b together; tune-c is never part of it (so that nothing fitted or
tuned on `--split tune` ever sees tune-c); `all` is every part.

Scored per note, through `SuggestionService.suggest` exactly as the API serves it:

- recall@10: gold codes (any accepted alternative counts) among the first 10 suggestions;
- first-listed in the top 3: the note's first-listed gold code among the first 3;
- first-listed first (`first_listed_top1`): the note's first-listed gold code ranked first;
- shown precision: of the suggestions the served path shows (those in the "suggested" group, above
  the shown threshold; the "consider" group is not counted as shown), the share that are gold codes,
  alternatives or accepted optional codes;
- forbidden shown: notes where a code the policy marks as a guideline error on that note is shown;
- shown recall (reported beside precision, no target): gold codes that are in the shown group.

    .venv/bin/python benchmarks/us_notes.py [--model PACK | --knowledge]
        [--split measure|tune|tune-a|tune-b|tune-c|all]
        [--json benchmarks/results/us_notes.json] [--errors] [--ids ID,...] [--show-all]

Without `--model` or `--knowledge` it scores the served default: the pack in models/default.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
GOLD_DIR = ROOT / "benchmarks" / "data" / "us_notes"
MTSAMPLES = ROOT.parent / "shared" / "data" / "mtsamples" / "notes.jsonl"
TOP_K = 10
FIRST_K = 3
SPLITS = ("measure", "tune", "tune-a", "tune-b", "tune-c", "all")
# Parts scored for their summary only: their per-note errors and code lists are never printed, and a
# document-type group holding their notes is shown only from this many notes (a group of one is a note).
SUMMARY_ONLY = frozenset({"tune-c"})
MIN_SUMMARY_GROUP = 5


@dataclass
class GoldCode:
    codes: frozenset[str]  # the code and its accepted alternatives
    system: str


@dataclass
class GoldNote:
    id: str
    split: str
    doc_type: str
    encounter: dict[str, Any]
    text: str
    codes: list[GoldCode]
    first_listed: frozenset[str]
    optional: frozenset[str]
    forbidden: frozenset[str]
    source: str = "mtsamples"


def _item_codes(item: dict[str, Any]) -> frozenset[str]:
    return frozenset([str(item["code"]), *(str(a) for a in item.get("alternatives") or [])])


def load_gold(gold_dir: Path = GOLD_DIR, mtsamples: Path = MTSAMPLES) -> list[GoldNote]:
    """Every coded note, its text joined from the MTSamples pool or carried in the record."""
    texts: dict[str, str] = {}
    if mtsamples.exists():
        for line in mtsamples.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                texts[row["id"]] = row["text"]
    notes: list[GoldNote] = []
    for path in sorted(gold_dir.glob("*.jsonl")):
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            rec = json.loads(line)
            if not rec.get("codes"):
                continue  # a pool entry with no text to code (kept in the file with its reason)
            text = rec.get("text") or texts.get(rec["id"])
            if text is None:
                raise SystemExit(f"{path.name}:{n}: no text for {rec['id']} (is {mtsamples} there?)")
            codes = [GoldCode(_item_codes(c), str(c.get("system", "ICD-10-CM"))) for c in rec["codes"]]
            first = next((c.codes for c in codes if rec["first_listed"] in c.codes), frozenset([rec["first_listed"]]))
            allowed_encounter = {"setting", "sex", "age", "patient_status"}
            notes.append(
                GoldNote(
                    id=rec["id"],
                    split=rec["split"],
                    doc_type=rec.get("doc_type", "other"),
                    encounter={k: v for k, v in (rec.get("encounter") or {}).items() if k in allowed_encounter},
                    text=text,
                    codes=codes,
                    first_listed=first,
                    optional=frozenset(str(o["code"]) for o in rec.get("optional") or []),
                    forbidden=frozenset(str(f["code"]) for f in rec.get("forbidden") or []),
                    source=rec.get("source", "mtsamples"),
                )
            )
    return notes


@dataclass
class NoteScore:
    id: str
    doc_type: str
    gold: int
    hit10: int
    first_top3: bool
    shown: list[str]
    shown_right: int
    gold_shown: int  # gold codes (or an alternative) in the shown group
    forbidden_shown: list[str]
    missed: list[str] = field(default_factory=list)
    wrong_shown: list[str] = field(default_factory=list)
    ranked: list[str] = field(default_factory=list)
    first_top1: bool = False


def tune_half(note_id: str) -> str:
    """'a' or 'b': a fixed half of the tune part, by a hash of the note id."""
    return "a" if int(hashlib.sha256(f"half:{note_id}".encode()).hexdigest()[:8], 16) % 2 == 0 else "b"


def score_note(note: GoldNote, suggestions: list[Any], show_all: bool = False) -> NoteScore:
    ranked = [s.code for s in suggestions]
    top = set(ranked[:TOP_K])
    shown = [s.code for s in suggestions if show_all or getattr(s, "group", "suggested") == "suggested"]
    right = set().union(*(c.codes for c in note.codes)) | note.optional if note.codes else set(note.optional)
    hits = [c for c in note.codes if c.codes & top]
    missed = ["|".join(sorted(c.codes)) for c in note.codes if not c.codes & top]
    return NoteScore(
        id=note.id,
        doc_type=note.doc_type,
        gold=len(note.codes),
        hit10=len(hits),
        first_top3=bool(note.first_listed & set(ranked[:FIRST_K])),
        shown=shown,
        shown_right=sum(1 for c in shown if c in right),
        gold_shown=sum(1 for c in note.codes if c.codes & set(shown)),
        forbidden_shown=[c for c in shown if c in note.forbidden],
        missed=missed,
        wrong_shown=[c for c in shown if c not in right],
        ranked=ranked[:TOP_K],
        first_top1=bool(note.first_listed & set(ranked[:1])),
    )


def summarize(scores: list[NoteScore]) -> dict[str, Any]:
    n = len(scores)
    gold = sum(s.gold for s in scores)
    shown = sum(len(s.shown) for s in scores)
    return {
        "notes": n,
        "gold_codes": gold,
        "recall_at_10": round(sum(s.hit10 for s in scores) / gold, 4) if gold else None,
        "first_listed_top3": round(sum(s.first_top3 for s in scores) / n, 4) if n else None,
        "first_listed_top1": round(sum(s.first_top1 for s in scores) / n, 4) if n else None,
        "shown_precision": round(sum(s.shown_right for s in scores) / shown, 4) if shown else None,
        "shown_per_note": round(shown / n, 2) if n else None,
        "shown_recall": round(sum(s.gold_shown for s in scores) / gold, 4) if gold else None,
        "forbidden_shown_notes": round(sum(bool(s.forbidden_shown) for s in scores) / n, 4) if n else None,
    }


def build_service(model: Path | None, knowledge: bool) -> Any:
    from chartcoder.config import get_settings
    from chartcoder.models.pack import active_pack_path, load_pack
    from chartcoder.models.service import SuggestionService

    settings = get_settings()
    if knowledge:
        return SuggestionService(settings, pack=None)
    path = model if model is not None else active_pack_path("default", settings.model_dir)
    if path is None:
        raise SystemExit("no default pack under models/: build it (`make serve` does) or pass --model / --knowledge")
    return SuggestionService(settings, pack=load_pack(path))


def select_notes(notes: list[GoldNote], split: str, ids: str = "") -> list[GoldNote]:
    """The notes of one split: `tune-a`/`tune-b` are the hash halves of `tune`, `tune` is those two
    halves (never tune-c), `all` is every part."""
    if split in ("tune-a", "tune-b"):
        chosen = [n for n in notes if n.split == "tune" and tune_half(n.id) == split[-1]]
    elif split == "tune":
        chosen = [n for n in notes if n.split == "tune"]
    elif split == "all":
        chosen = list(notes)
    else:
        chosen = [n for n in notes if n.split == split]
    if ids:
        wanted = set(ids.split(","))
        chosen = [n for n in chosen if n.id in wanted]
    return chosen


def _parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, default=None, help="A model pack (default: models/default).")
    ap.add_argument("--knowledge", action="store_true", help="Score the knowledge engine alone.")
    ap.add_argument(
        "--split",
        choices=list(SPLITS),
        default="measure",
        help="tune-a / tune-b: two fixed halves of the tune part. Change the engine looking at tune-a only and "
        "keep a change when tune-b (not looked at) improves too. tune-c: a later part nobody read while writing "
        "rules, scored for its summary only (its per-note lines and code lists are withheld): the honest check "
        "that a change generalizes before the measure part is run once.",
    )
    ap.add_argument("--gold", type=Path, default=GOLD_DIR)
    ap.add_argument("--mtsamples", type=Path, default=MTSAMPLES)
    ap.add_argument("--ids", default="", help="Only these note ids (comma-separated).")
    ap.add_argument(
        "--errors", action="store_true", help="Print each note's misses and wrong shown codes (not for tune-c notes)."
    )
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument(
        "--show-all",
        action="store_true",
        help="Count every returned suggestion (top 20) as shown, as the first-wave page did: the comparison "
        "for the consider group.",
    )
    return ap.parse_args()


def _by_doc_type(pairs: list[tuple[NoteScore, GoldNote]]) -> dict[str, Any]:
    """Summaries by document type; groups that hold summary-only notes and are smaller than
    MIN_SUMMARY_GROUP are pooled as "small groups" so that no single such note's result shows."""
    groups: dict[str, list[tuple[NoteScore, GoldNote]]] = {}
    for s, n in pairs:
        groups.setdefault(s.doc_type, []).append((s, n))
    out: dict[str, Any] = {}
    pooled: list[NoteScore] = []
    for doc_type in sorted(groups):
        group = groups[doc_type]
        if len(group) < MIN_SUMMARY_GROUP and any(n.split in SUMMARY_ONLY for _, n in group):
            pooled += [s for s, _ in group]
        else:
            out[doc_type] = summarize([s for s, _ in group])
    if pooled:
        out["small groups"] = summarize(pooled)
    return out


def build_report(
    notes: list[GoldNote], scores: list[NoteScore], times: list[float], model: str, split: str
) -> dict[str, Any]:
    """The summary of a run; the code lists leave out the summary-only parts' notes."""
    overall = summarize(scores)
    pairs = list(zip(scores, notes, strict=True))
    sources = sorted({n.source for n in notes})
    by_source = {src: summarize([s for s, n in pairs if n.source == src]) for src in sources}
    by_type = _by_doc_type(pairs)
    readable = [s for s, n in pairs if n.split not in SUMMARY_ONLY]
    wrong = Counter(c for s in readable for c in s.wrong_shown)
    missed = Counter(c for s in readable for c in s.missed)
    out: dict[str, Any] = {
        "model": model,
        "split": split,
        "overall": overall,
        "by_source": by_source,
        "by_doc_type": by_type,
        "median_ms_per_note": round(statistics.median(times) * 1000, 2),
        "most_wrong_shown": wrong.most_common(15),
        "most_missed": missed.most_common(15),
    }
    withheld = len(scores) - len(readable)
    if withheld:
        out["summary_only_notes"] = withheld
    return out


def main() -> int:
    args = _parse_args()

    from chartcoder.domain.encounter import Encounter

    notes = select_notes(load_gold(args.gold, args.mtsamples), args.split, args.ids)
    if not notes:
        raise SystemExit("no gold notes selected")
    service = build_service(args.model, args.knowledge)
    scores: list[NoteScore] = []
    times: list[float] = []
    for note in notes:
        t0 = time.perf_counter()
        result = service.suggest(note.text, Encounter.from_dict(note.encounter), top_k=20)
        times.append(time.perf_counter() - t0)
        scores.append(score_note(note, result.suggestions, args.show_all))
    out = build_report(notes, scores, times, service.model_name, args.split)
    if args.errors:
        for s, n in zip(scores, notes, strict=True):
            if n.split in SUMMARY_ONLY:
                continue
            if s.missed or s.wrong_shown or s.forbidden_shown or not s.first_top3:
                print(
                    f"{s.id} [{s.doc_type}] missed={s.missed} wrong_shown={s.wrong_shown} "
                    f"forbidden={s.forbidden_shown} first_top3={s.first_top3} top10={s.ranked}"
                )
    print(json.dumps(out, indent=1))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
