"""The shop's error pages. Django calls error handlers synchronously, so these stay sync."""

import sys

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse
from django.template import loader
from psycopg_pool import PoolTimeout


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """Render the shop's 404 page. Never touches the database."""
    return HttpResponse(
        loader.render_to_string("404.html", {"request_path": request.path}, request),
        status=404,
    )


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
