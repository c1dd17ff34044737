"""Bounding a note before NLP: the shapes of text that make spaCy or a regular expression super-linear are
broken up, without moving a single character, so every offset the pipeline returns still indexes the text
the client sent.

- A run of non-space characters longer than `max_run_chars` (a row of `=`, a digit string, a pasted
  blob) is read in pieces: every (max_run_chars + 1)-th character of the run is read as a space. spaCy's
  tokenizer strips prefixes and suffixes one at a time, so its cost grows with the square of a run's
  length: 8,000 `=` took 14 s, a 200,000-character run would take hours.
- A run of symbols (neither letters, digits nor spaces: `=`, `*`, `'`, `-`, `_`) longer than
  `max_symbol_run` keeps its first `max_symbol_run` characters; the rest are read as spaces. Every symbol
  is a token of its own, and no clinical phrase needs nine in a row ("-->", "+/-", "***" stay).
- A run of whitespace holding more than `max_line_breaks` line breaks keeps its first and last ones; those
  between are read as spaces. A paragraph break stays a paragraph break, and patterns anchored at line starts see a
  few empty lines, not 20,000.

The substitution keeps the note's length and every other character, so a span (start, end) of the
bounded text is the same span of the original; only a span that covers a replaced character reads
differently, and `restore_evidence` gives such spans the original's words back.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import replace
from functools import lru_cache
from typing import Any

from chartcoder.config import DEFAULT_MAX_LINE_BREAKS, DEFAULT_MAX_RUN_CHARS, DEFAULT_MAX_SYMBOL_RUN

# What str.splitlines treats as a line break; \r\n counts as two.
LINE_BREAKS = frozenset("\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029")


@lru_cache(maxsize=8)
def _patterns(max_run_chars: int, max_symbol_run: int, max_line_breaks: int) -> tuple[re.Pattern[str], ...]:
    # Each starts only where its run starts (the lookbehind), so a run is scanned once: linear time.
    long_run = re.compile(rf"(?<!\S)\S{{{max_run_chars + 1},}}")
    long_symbols = re.compile(rf"(?<![^\w\s]|_)(?:[^\w\s]|_){{{max_symbol_run + 1},}}")
    long_space = re.compile(rf"(?<!\s)\s{{{max_line_breaks + 1},}}")
    return long_run, long_symbols, long_space


def _split_run(run: str, size: int) -> str:
    """The run with every (size + 1)-th character read as a space; same length."""
    return "".join(run[i : i + size] + " " for i in range(0, len(run), size + 1))[: len(run)]


def _fewer_breaks(space: str, keep: int) -> str:
    """The whitespace run with its first and last line breaks (`keep` in all) kept and those between read
    as spaces; same length. Keeping the last ones keeps the next line's start and indentation as sent."""
    head = keep - keep // 2
    breaks = [i for i, ch in enumerate(space) if ch in LINE_BREAKS]
    if len(breaks) <= keep:
        return space
    chars = list(space)
    for i in breaks[head : len(breaks) - keep // 2]:
        chars[i] = " "
    return "".join(chars)


def bound_note(
    text: str,
    max_run_chars: int = DEFAULT_MAX_RUN_CHARS,
    max_line_breaks: int = DEFAULT_MAX_LINE_BREAKS,
    max_symbol_run: int = DEFAULT_MAX_SYMBOL_RUN,
) -> str:
    """The note as the pipeline reads it: the same length, long runs broken (see the module docstring).
    Returns `text` itself when there is nothing to bound, the common case."""
    if min(max_run_chars, max_line_breaks, max_symbol_run) < 1:
        raise ValueError("max_run_chars, max_line_breaks and max_symbol_run must be at least 1")
    long_run, long_symbols, long_space = _patterns(max_run_chars, max_symbol_run, max_line_breaks)
    out = text
    if long_symbols.search(out):
        out = long_symbols.sub(lambda m: m.group(0)[:max_symbol_run].ljust(len(m.group(0))), out)
    if long_run.search(out):
        out = long_run.sub(lambda m: _split_run(m.group(0), max_run_chars), out)
    if long_space.search(out):
        out = long_space.sub(lambda m: _fewer_breaks(m.group(0), max_line_breaks), out)
    assert len(out) == len(text)
    return out


def restore_evidence(suggestions: Iterable[Any], original: str, bounded: str) -> None:
    """Give evidence whose span covers a character `bound_note` replaced the original's words (in place).
    Offsets are untouched: they are the same in both texts."""
    if bounded is original or bounded == original:
        return
    for s in suggestions:
        fixed = []
        for ev in s.evidence:
            if bounded[ev.start : ev.end] != original[ev.start : ev.end]:
                ev = replace(ev, text=original[ev.start : ev.end])
            fixed.append(ev)
        s.evidence = fixed
