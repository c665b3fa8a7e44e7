"""The shop's error pages. Django calls error handlers synchronously, so these stay sync."""

import sys

from django.core.exceptions import DisallowedHost, RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, QueryDict
from django.template import loader
from django.views import debug
from psycopg_pool import PoolTimeout

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
