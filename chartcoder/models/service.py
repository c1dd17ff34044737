"""The suggestion service: validated note text in, a ranked SuggestionSet out. Used by API and CLI."""

from __future__ import annotations

import threading
from pathlib import Path

from chartcoder.config import Settings, get_settings
from chartcoder.errors import InvalidInputError, NoteTooLongError
from chartcoder.models.knowledge import KnowledgeSuggester
from chartcoder.models.schema import Encounter, SuggestionSet
from chartcoder.nlp.pipeline import ClinicalPipeline


def validate_note(text: object, max_chars: int) -> str:
    """The note text, or an InvalidInputError saying what was expected."""
    if not isinstance(text, str):
        raise InvalidInputError(f"'text' must be a string of note text; got {type(text).__name__}.")
    if not text.strip():
        raise InvalidInputError("'text' is empty; send the clinical note text to code.")
    if len(text) > max_chars:
        raise NoteTooLongError(
            f"'text' is {len(text):,} characters; the limit is {max_chars:,} (CHARTCODER_MAX_NOTE_CHARS)."
        )
    if "\x00" in text:
        raise InvalidInputError("'text' contains NUL characters; send plain note text, not binary data.")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidInputError(
            f"'text' contains characters that are not valid Unicode text (at position {exc.start})."
        ) from exc
    return text


class SuggestionService:
    """Owns the NLP pipeline and the engine; one per process."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or get_settings()
        cache = Path(self.settings.data_dir) / "cache"
        self.pipeline = ClinicalPipeline(cache)
        self.engine = KnowledgeSuggester()

    @property
    def model_name(self) -> str:
        return self.engine.name

    def suggest(
        self, text: object, encounter: Encounter | None = None, top_k: int | None = None, max_chars: int | None = None
    ) -> SuggestionSet:
        """Ranked suggestions for one note. `max_chars` overrides the configured note limit (the API
        passes its own settings)."""
        note = validate_note(text, max_chars or self.settings.max_note_chars)
        k = top_k if top_k is not None else self.settings.default_top_k
        if not 1 <= k <= self.settings.max_top_k:
            raise InvalidInputError(f"'top_k' must be between 1 and {self.settings.max_top_k}; got {k}.")
        doc, mentions = self.pipeline(note)
        return self.engine.suggest(note, mentions, encounter or Encounter(), top_k=k, note_words=doc._.note_words)


_SERVICE: SuggestionService | None = None
_LOCK = threading.Lock()


def get_service() -> SuggestionService:
    """The process-wide service, built on first use (loads ICD-10-CM and the term index)."""
    global _SERVICE
    with _LOCK:
        if _SERVICE is None:
            _SERVICE = SuggestionService()
        return _SERVICE
