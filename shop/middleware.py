"""Middleware written to work natively in both sync and async stacks."""

from collections.abc import Awaitable, Callable

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.contrib.auth import get_user
from django.http import HttpRequest, HttpResponse


def resolve_user_middleware(
    get_response: Callable[[HttpRequest], HttpResponse | Awaitable[HttpResponse]],
) -> Callable:
    """Resolve `request.user` with the async ORM before an async view runs.

    AuthenticationMiddleware leaves a lazy user that performs a synchronous
    query on first touch; templates touch it while an async view renders, which
    Django forbids. Resolving it here with `auser()` keeps the view path async.
    """
    if iscoroutinefunction(get_response):

        async def middleware(request: HttpRequest) -> HttpResponse:
            request.user = await request.auser()
            return await get_response(request)  # type: ignore[misc]

        markcoroutinefunction(middleware)
        return middleware

    def sync_middleware(request: HttpRequest) -> HttpResponse:
        # Under WSGI an async view still runs in an event loop, where the lazy
        # user could not load itself either.
        request.user = get_user(request)
        return get_response(request)  # type: ignore[return-value]

    return sync_middleware


resolve_user_middleware.sync_capable = True  # type: ignore[attr-defined]
resolve_user_middleware.async_capable = True  # type: ignore[attr-defined]
