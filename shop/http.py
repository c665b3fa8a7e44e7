"""Small request helpers shared by the shop's views."""

from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

from shop.exceptions import InvalidInput, RequestTooLarge


def is_storable(text: str) -> bool:
    """Return whether PostgreSQL can store `text`: no NUL and no lone surrogate (JSON's "\\ud800")."""
    if "\x00" in text:
        return False
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def body_size_check(request: HttpRequest, *, limit: int) -> None:
    """Refuse a body over `limit` bytes (RequestTooLarge), by its Content-Length before reading it."""
    declared = request.META.get("CONTENT_LENGTH") or "0"
    if not declared.isdigit():
        raise InvalidInput("The Content-Length header is not a number.")
    if int(declared) > limit or len(request.body) > limit:
        raise RequestTooLarge(f"The request body must be at most {limit} bytes.")


def canonical_url(request: HttpRequest, path: str, page_number: int = 1) -> str:
    """Return the absolute canonical URL of `path`, naming the page when it is not the first."""
    suffix = f"?page={page_number}" if page_number > 1 else ""
    return request.build_absolute_uri(path + suffix)


def page_number(request: HttpRequest) -> int:
    """Return the page number asked for in the query string; 404 for one that is not a number."""
    raw_number = request.GET.get("page", "1")
    if not raw_number.isdigit() or len(raw_number) > 6:
        raise Http404("That page number is not valid.")
    return int(raw_number)


def safe_next_url(request: HttpRequest, fallback: str) -> str:
    """Return the form's `next` address when it is one of ours, else `fallback`."""
    target = request.POST.get("next") or ""
    if url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return fallback


def login_redirect(request: HttpRequest) -> HttpResponse:
    """Send the visitor to sign in, coming back here afterwards."""
    return redirect_to_login(request.get_full_path(), reverse("account:login"))
