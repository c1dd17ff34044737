"""A fast rule-based sentence splitter for notes: punctuation, line breaks and section headers.

PyRuSH is accurate but takes most of a note's processing time; clinical notes mark most
boundaries with a line break or a header, so simple rules get nearly all of them.
"""

# No `from __future__ import annotations` here: spaCy reads the factory signature at runtime.

import bisect
import re

import numpy
from spacy.attrs import SENT_START
from spacy.language import Language
from spacy.tokens import Doc

_FINAL = {".", "!", "?"}
_BLANK_LINE = re.compile(r"\n[ \t\r]*\n")


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
        text = doc.text  # Doc.text rebuilds the string on every access: read it once
        sections = doc._.sections
        cuts = set()
        if sections is not None:
            for s in sections.sections:
                cuts.add(s.header_start)
                cuts.add(s.header_end)
        for i in range(n - 1):
            tok = doc[i]
            nxt = doc[i + 1]
            if tok.text in _FINAL and not nxt.is_punct:
                starts[i + 1] = True
            elif tok.is_space and "\n" in tok.text or "\n" in tok.whitespace_ and not nxt.is_space:
                starts[i + 1] = not self._continues(doc, text, i)
        if cuts:
            token_starts = [t.idx for t in doc]
            for c in cuts:
                i = bisect.bisect_left(token_starts, c)  # first token starting at or after the cut
                if 0 < i < n:
                    starts[i] = True
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
