"""Domain errors raised by services; the web layer turns them into messages or problem+json bodies."""

from __future__ import annotations


class DomainError(Exception):
    status = 400
    title = "Bad request"

    def __init__(self, detail: str, *, errors: dict[str, list[str]] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or {}


class NotFound(DomainError):
    status = 404
    title = "Not found"


class PermissionDenied(DomainError):
    status = 403
    title = "Forbidden"


class Conflict(DomainError):
    """The request clashes with the current state: a duplicate, or a transition not allowed from here."""

    status = 409
    title = "Conflict"


class Gone(DomainError):
    """It existed and is withdrawn for good: a revoked certificate's PDF, for its holder."""

    status = 410
    title = "Gone"


class ValidationFailed(DomainError):
    status = 422
    title = "Unprocessable content"
