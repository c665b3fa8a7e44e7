"""How errors reach people: ShopError turned into a message and a redirect, a page or a JSON
answer (`shop_errors`), and the shop's error pages for what Django refuses itself (sync:
Django calls its error handlers synchronously)."""

import sys
from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.core.exceptions import DisallowedHost, RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse, QueryDict
from django.shortcuts import render
from django.template import loader
from django.urls import reverse
from django.views import debug
from psycopg_pool import PoolTimeout

from shop.exceptions import ShopError

View = Callable[..., Awaitable[HttpResponse]]
#: Where a page goes after an error: a URL name, or a function of the view's arguments returning a URL.
Target = str | Callable[..., str] | None

MESSAGE_LEVELS = {"error": messages.ERROR, "warning": messages.WARNING, "info": messages.INFO}
# Retry-After means "wait this long" only beside these statuses.
RETRY_AFTER_STATUSES = (429, 503)


def error_body(error: ShopError, *, staff: bool = False) -> dict[str, Any]:
    """Return the JSON body that reports `error`: its code, its message (the staff one for
    staff), whether the same request may succeed later, and its own details."""
    return {
        "error": error.code,
        "message": error.staff_message if staff else error.user_message,
        "retryable": error.retryable,
        **error.details(),
    }


def with_error_headers(response: HttpResponse, error: ShopError) -> HttpResponse:
    """Return `response` with the error's headers, and saying when to try again when it is a
    429 or 503 and the error knows."""
    for name, value in error.headers().items():
        response[name] = value
    if error.retry_after is not None and response.status_code in RETRY_AFTER_STATUSES:
        response["Retry-After"] = str(error.retry_after)
    return response


def error_json(error: ShopError, *, staff: bool = False, **fields: Any) -> JsonResponse:
    """Return the JSON answer reporting `error` with its status; `fields` come first in the body."""
    response = JsonResponse({**fields, **error_body(error, staff=staff)}, status=error.status)
    return with_error_headers(response, error)


def error_message(
    request: HttpRequest, error: ShopError, *, staff: bool = False, text: str = "{message}"
) -> None:
    """Show the error's message on the next page, at its level; `text` wraps it ("… {message} …")."""
    message = error.staff_message if staff else error.user_message
    messages.add_message(request, MESSAGE_LEVELS[error.message_level], text.format(message=message))


def error_page(request: HttpRequest, error: ShopError, *, staff: bool = False) -> HttpResponse:
    """Render the error page with the error's message and status."""
    message = error.staff_message if staff else error.user_message
    response = render(request, "shop/error.html", {"message": message, "error": error}, status=error.status)
    return with_error_headers(response, error)


def error_target(
    error: ShopError, target: Target, request: HttpRequest, *args: Any, **kwargs: Any
) -> str | None:
    """Return the URL a page goes to after `error`: the one the error names, else the view's."""
    if error.redirect_to:
        return reverse(error.redirect_to)
    if callable(target):
        return target(request, *args, **kwargs)
    return reverse(target) if target else None


def shop_errors(
    redirect_to: Target = None,
    *,
    json: bool = False,
    staff: bool = False,
    text: str = "{message}",
    fields: dict[str, Any] | None = None,
) -> Callable[[View], View]:
    """Decorate an async view so that a ShopError it raises becomes the answer.

    A page shows the error's message (the staff message with `staff`, wrapped in
    `text`) on the page it redirects to: the one the error names, else `redirect_to`
    (a URL name, or a function of the view's arguments); with neither, the error page
    with the error's status. A JSON view (`json`) answers `fields` plus
    {"error", "message", "retryable", …details} with the error's status, and a
    "redirect" when the error leaves the page. Retry-After goes with a 429 or 503.
    """

    def decorate(view: View) -> View:
        @wraps(view)
        async def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            try:
                return await view(request, *args, **kwargs)
            except ShopError as error:
                target = error_target(error, redirect_to, request, *args, **kwargs)
                if json:
                    leaves = target is not None and (error.leaves_page or error.redirect_to is not None)
                    extra = {**(fields or {}), **({"redirect": target} if leaves else {})}
                    return error_json(error, staff=staff, **extra)
                if target is None:
                    return error_page(request, error, staff=staff)
                error_message(request, error, staff=staff, text=text)
                return HttpResponseRedirect(target)

        return wrapper

    return decorate


# What each refusal tells the visitor: (status, title, reason).
BAD_REQUESTS: list[tuple[type[Exception], int, str, str]] = [
    (
        TooManyFieldsSent,
        400,
        "That request had too many fields",
        "The address or form sent more fields than we accept. Please go back and try again.",
    ),
    (
        TooManyFilesSent,
        400,
        "That request had too many files",
        "The form sent more files than we accept.",
    ),
    (
        RequestDataTooBig,
        413,
        "That request was too large",
        "The form sent more data than we accept. Please send less and try again.",
    ),
    (
        DisallowedHost,
        400,
        "That address is not a site we serve",
        "Please check the address you typed.",
    ),
]


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """Render the shop's 404 page. Never touches the database."""
    return HttpResponse(
        loader.render_to_string("404.html", {"request_path": request.path}, request),
        status=404,
    )


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """Render the page for a request Django refused as malformed or suspicious (400, or 413
    for a body too large). No context processors: they would read the request that failed."""
    status, title, reason = 400, "We couldn’t read that request", "Please go back and try again."
    for kind, kind_status, kind_title, kind_reason in BAD_REQUESTS:
        if isinstance(exception, kind):
            status, title, reason = kind_status, kind_title, kind_reason
            break
    page = loader.render_to_string("400.html", {"title": title, "reason": reason})
    return HttpResponse(page, status=status)


class ExceptionReporter(debug.ExceptionReporter):
    """Django's error report (the DEBUG page, and the e-mail to admins), able to report a
    request whose query string or form is the error: Django's own reads `request.GET`
    again, which raises the same TooManyFieldsSent, and the visitor got a bare
    "Internal Server Error" instead of the 400 page."""

    def get_traceback_data(self) -> dict:
        if self.request is not None:
            for name in ("GET", "COOKIES"):
                try:
                    getattr(self.request, name)
                except Exception:  # noqa: BLE001 (whatever it raises, the report shows none)
                    setattr(self.request, name, QueryDict() if name == "GET" else {})
        return super().get_traceback_data()


def server_error(request: HttpRequest) -> HttpResponse:
    """Render a minimal 500 page without any context processors.

    When the error is the database being out of reach (down, or every pooled
    connection busy for DATABASE_POOL_TIMEOUT under a burst), answer 503 with a
    Retry-After instead: the request changed nothing and is worth repeating.
    """
    error = sys.exc_info()[1]
    if isinstance(error, (OperationalError, InterfaceError, PoolTimeout)):
        response = HttpResponse(loader.render_to_string("503.html"), status=503)
        response["Retry-After"] = "10"
        return response
    return HttpResponse(loader.render_to_string("500.html"), status=500)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """Render the shop's page for a form refused by CSRF protection (403), saying what to do."""
    return HttpResponse(loader.render_to_string("403_csrf.html", {}, request), status=403)
