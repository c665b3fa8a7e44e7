"""The shop's error pages. Django calls error handlers synchronously, so these stay sync."""

from django.http import HttpRequest, HttpResponse
from django.template import loader


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """Render the shop's 404 page. Never touches the database."""
    return HttpResponse(
        loader.render_to_string("404.html", {"request_path": request.path}, request),
        status=404,
    )


def server_error(request: HttpRequest) -> HttpResponse:
    """Render a minimal 500 page without any context processors."""
    return HttpResponse(loader.render_to_string("500.html"), status=500)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """Render the shop's page for a form refused by CSRF protection (403), saying what to do."""
    return HttpResponse(loader.render_to_string("403_csrf.html", {}, request), status=403)
