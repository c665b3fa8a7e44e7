"""The shop's error hierarchy: every app's errors derive from ShopError.

An error says how it reaches the person who caused it, as class attributes its
subclasses override: the HTTP status, a short machine code, the shopper's
message, the staff message, whether trying again may help (and after how long),
and where a page sends the shopper back to. One place turns it into a response:
`shop.errors.shop_errors` for pages and JSON endpoints alike.
"""

from collections.abc import Sequence
from typing import Any


class ShopError(Exception):
    """Base class for errors the shop raises on purpose."""

    #: The HTTP status of a response that reports this error.
    status = 400
    #: A short, stable name for machines (the "error" of a JSON answer).
    code = "error"
    #: Shown to the person who caused it; never contains internal detail.
    user_message = "Something went wrong. Please try again."
    #: Whether the same request may succeed later (timeouts, 5xx upstream), as opposed to final refusals.
    retryable = False
    #: Seconds to wait before trying again, sent as Retry-After with a 429 or 503; None when unknown.
    retry_after: int | None = None
    #: The URL name (without arguments) a page sends the shopper to with the message, whichever
    #: page raised it; None: the page's own target (see shop.errors.shop_errors).
    redirect_to: str | None = None
    #: Whether the page that asked can do nothing more: a JSON answer names where to go instead
    #: ("redirect"). True whenever redirect_to is set.
    leaves_page = False
    #: The level of the message shown on the next page ("error", "warning", "info").
    message_level = "error"

    def __init__(self, message: str | None = None, *, staff_message: str | None = None) -> None:
        super().__init__(message or self.user_message)
        if message:
            self.user_message = message
        self._staff_message = staff_message

    @property
    def staff_message(self) -> str:
        """Return what staff read when their action failed: what was refused and why, in their
        terms (the shopper's wording unless the error says more)."""
        return self._staff_message or self.user_message

    def details(self) -> dict[str, Any]:
        """Return the error's extra fields for a JSON answer (e.g. the lines that were short)."""
        return {}

    def headers(self) -> dict[str, str]:
        """Return the headers an answer reporting this error carries (Retry-After is added apart)."""
        return {}


class InvalidInput(ShopError):
    """Input that can never succeed as given."""

    code = "invalid_request"


class Conflict(ShopError):
    """A request refused because of the present state of what it is about."""

    status = 409


class NotFound(ShopError):
    """Nothing answers at this address (for JSON callers; pages raise Http404)."""

    status = 404
    code = "not_found"
    user_message = "Nothing was found here."


class NotAuthorized(ShopError):
    """A machine caller without valid credentials (a bearer token) for `realm`."""

    status = 401
    code = "unauthorized"
    user_message = "A valid bearer token is required."

    def __init__(self, *, realm: str) -> None:
        self.realm = realm
        super().__init__()

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": f'Bearer realm="{self.realm}"'}


class MethodNotAllowed(ShopError):
    """A request with a method the URL does not answer."""

    status = 405
    code = "method_not_allowed"

    def __init__(self, allowed: Sequence[str]) -> None:
        self.allowed = list(allowed)
        super().__init__(f"Use {' or '.join(self.allowed)} on this URL.")

    def headers(self) -> dict[str, str]:
        return {"Allow": ", ".join(self.allowed)}


class RequestTooLarge(ShopError):
    """A request body larger than the endpoint accepts; refused before it is read."""

    status = 413
    code = "body_too_large"
    user_message = "The request body is too large."
