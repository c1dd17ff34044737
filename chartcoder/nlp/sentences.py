"""A fast rule-based sentence splitter for notes: punctuation, line breaks and section headers.

PyRuSH is accurate but takes most of a note's processing time; clinical notes mark most
boundaries with a line break or a header, so simple rules get nearly all of them.

Transcriptions in the MTSamples "CSV form" have no line breaks: a comma stands for one (".,She
began", "...,PLAN:,1.  She will try ...,2.  Samples of ..."). There a header and the next header are
boundaries, ".," ends a sentence like a line break, and a numbered list run into one line ("1.  Xxx.
2.  Yyy", "1. Right hernia 2. Left hydrocele") splits into its items, each item with its number.
Numbered lists at the start of lines keep the line-break rules.
"""

# No `from __future__ import annotations` here: spaCy reads the factory signature at runtime.

import bisect
import re

import numpy
from spacy.attrs import IDX, SENT_START
from spacy.language import Language
from spacy.tokens import Doc

from chartcoder.nlp.sections import note_text

_FINAL = {".", "!", "?"}
_BLANK_LINE = re.compile(r"\n[ \t\r]*\n")
# A list number inside a line: "1.  She will", ",2.  Samples", "hernia 2. Left".
_ITEM = re.compile(r"(?<![^\s.,;:])(\d{1,2})[.)][ \t]++(?=[A-Za-z(\"'])")
_ITEM_SPAN = 2000  # characters between two items of one list
# No sentence is longer than this many tokens: what runs per mention reads its sentence, so an unbroken
# 200,000-character line of problem words cost time with the square of its length. The longest sentence
# of 600 MTSamples notes has 124 tokens; ConText reads sentences in windows of 120 anyway.
MAX_SENTENCE_TOKENS = 200


def inline_list_items(text: str) -> list[tuple[int, int]]:
    """(start of the number, offset of its period or parenthesis) of every item of a numbered list run
    into one line: runs 1, 2, 3... of two or more items, none at the start of a line."""
    items: list[tuple[int, int]] = []
    run: list[tuple[int, int]] = []  # the items of the list being read
    last = 0  # offset of the last item's mark
    for m in _ITEM.finditer(text):
        start, mark = m.start(1), m.end(1)
        j = start - 1
        while j >= 0 and (text[j] == " " or text[j] == "\t"):
            j -= 1
        # A list at the start of lines (n = 0) keeps the line-break rules.
        n = 0 if j < 0 or text[j] == "\n" or text[j] == "\r" else int(m.group(1))
        if run and n == len(run) + 1 and start - last <= _ITEM_SPAN:
            run.append((start, mark))
        else:
            if len(run) >= 2:
                items += run
            run = [(start, mark)] if n == 1 else []
        last = mark
    if len(run) >= 2:
        items += run
    return items


@Language.factory("chartcoder_sentences")
def create_sentence_splitter(nlp: Language, name: str) -> "NoteSentenceSplitter":
    return NoteSentenceSplitter()


class NoteSentenceSplitter:
    """Sets `is_sent_start`: after . ! ?, at line breaks (unless the line clearly continues), and
    around section headers found by `chartcoder_sections` (which must run first)."""

    def __call__(self, doc: Doc) -> Doc:
        n = len(doc)
        if n == 0:
            return doc
        starts = [False] * n
        starts[0] = True
        text = note_text(doc)  # Doc.text rebuilds the string on every access: read it once
        sections = doc._.sections
        cuts = list(sections.cuts()) if sections is not None else []
        items = inline_list_items(text)
        cuts += [start for start, _ in items]
        item_marks = {mark for _, mark in items}  # the "." of "2." does not end a sentence
        toks = list(doc)  # one Token each; doc[i] builds a new one on every access
        for i in range(n - 1):
            tok = toks[i]
            nxt = toks[i + 1]
            final = tok.text in _FINAL
            if final and tok.idx in item_marks:
                continue
            if final and not nxt.is_punct:
                starts[i + 1] = True
            elif final and nxt.text == "," and i + 2 < n and not toks[i + 2].is_punct:
                starts[i + 2] = True  # ".,She began": a transcription's line break
            elif tok.is_space and "\n" in tok.text or "\n" in tok.whitespace_ and not nxt.is_space:
                starts[i + 1] = not self._continues(doc, text, i)
        if cuts:
            token_starts = doc.to_array(IDX).tolist()
            for c in cuts:
                i = bisect.bisect_right(token_starts, c) - 1  # the token at or around the cut
                if i < 0:
                    continue
                if token_starts[i] != c:
                    tok = toks[i]
                    # Inside a token only after leading punctuation (",PAST"): that token starts it.
                    inside = c < tok.idx + len(tok.text) and not any(ch.isalnum() for ch in text[tok.idx : c])
                    if not inside:
                        i += 1
                if 0 < i < n:
                    starts[i] = True
        run = 0
        for i in range(n):
            run = 0 if starts[i] else run + 1
            if run >= MAX_SENTENCE_TOKENS:
                starts[i], run = True, 0
        # One array write: setting Token.is_sent_start one token at a time rescans the doc each time.
        values = numpy.array([1 if x else -1 for x in starts], dtype="int64").astype("uint64").reshape(-1, 1)
        doc.from_array([SENT_START], values)  # type: ignore[arg-type]  # spaCy's Ints2d is a thinc alias
        return doc

    @staticmethod
    def _continues(doc: Doc, text: str, i: int) -> bool:
        """A line break inside a sentence: the line ends in a word or comma and the next starts lower-case."""
        prev = doc[i - 1] if doc[i].is_space and i > 0 else doc[i]
        j = i + 1
        while j < len(doc) and doc[j].is_space:
            j += 1
        if j >= len(doc):
            return False
        nxt = doc[j]
        if _BLANK_LINE.search(text, prev.idx + len(prev.text), nxt.idx):
            return False
        return (prev.text == "," or prev.is_alpha) and nxt.text[:1].islower()
