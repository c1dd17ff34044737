"""Domain exceptions. The API maps them to HTTP in one handler; the CLI prints their message."""

from __future__ import annotations


class ChartcoderError(Exception):
    """Base class for every error chartcoder raises on purpose."""


class InvalidInputError(ChartcoderError, ValueError):
    """The caller sent something we cannot work with (empty, too long, malformed)."""


class NoteTooLongError(InvalidInputError):
    """The note is longer than the configured limit."""


class UnknownCodeError(ChartcoderError, LookupError):
    """A code that no loaded code set knows."""

    def __init__(self, code: str, system: str | None = None, hint: str | None = None) -> None:
        self.code = code
        self.system = system
        where = f" in {system}" if system else ""
        msg = f"Unknown code {code!r}{where}."
        if hint:
            msg += f" {hint}"
        super().__init__(msg)


class CodeFileError(ChartcoderError, ValueError):
    """A code-set file that does not have the expected layout; the message names the line."""

    def __init__(self, path: str, line: int, problem: str) -> None:
        self.path = path
        self.line = line
        super().__init__(f"{path}, line {line}: {problem}")


class ResourceError(ChartcoderError, ValueError):
    """A bundled or user-supplied rule/synonym file that does not follow its schema."""


class NotFoundError(ChartcoderError, LookupError):
    """A stored thing (encounter, user, key) that does not exist."""


class ConflictError(ChartcoderError):
    """The change cannot apply to the current state: a stale version, or a finalized encounter.
    `error` names which; `current_version` tells the client what to reload."""

    def __init__(
        self,
        message: str,
        error: str = "conflict",
        current_version: int | None = None,
        extra: dict[str, object] | None = None,
    ) -> None:
        self.error = error
        self.current_version = current_version
        self.extra = extra or {}  # more fields of the answer (who holds a chart lock, who changed it)
        super().__init__(message)


class AuthenticationError(ChartcoderError):
    """No valid credentials."""


class PermissionDeniedError(ChartcoderError):
    """Valid credentials, wrong role."""
