"""The one family of errors that services raise; interfaces turn them into responses.

The API maps `code` to an HTTP status in one exception handler (see demands/api/).
"""


class DomainError(Exception):
    """A rule of the domain refused the request; `message` says what to do about it."""

    code = "invalid"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidTransition(DomainError):
    """The status change is not in the transitions table, or lacks what it requires."""

    code = "invalid_transition"


class StaleVersion(DomainError):
    """The caller saw an older version of the object than the one stored."""

    code = "stale_version"


class Conflict(DomainError):
    """The request clashes with the current state (for example a duplicate slug)."""

    code = "conflict"


class Forbidden(DomainError):
    """This person may not do this to this object (for example publish what they recorded themselves)."""

    code = "forbidden"


class ValidationFailed(DomainError):
    """Field values break the model's rules; `errors` maps each field to its messages."""

    code = "validation_failed"

    def __init__(self, errors: dict[str, list[str]]) -> None:
        self.errors = errors
        parts = [f"{field}: {' '.join(messages)}" for field, messages in errors.items()]
        super().__init__("; ".join(parts) or "Invalid input.")
