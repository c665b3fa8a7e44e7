"""Middleware written to work natively in both sync and async stacks."""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import BinaryIO

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.conf import settings
from django.contrib.auth import get_user
from django.contrib.auth import middleware as auth_middleware
from django.contrib.messages import middleware as messages_middleware
from django.contrib.messages.storage.cookie import CookieStorage
from django.contrib.sessions import middleware as sessions_middleware
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse
from django.middleware import clickjacking, common, csp, csrf, security
from django.utils.cache import add_never_cache_headers
from django.utils.module_loading import import_string
from whitenoise.middleware import WhiteNoiseMiddleware

from shop.http import is_storable


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

        return middleware

    def sync_middleware(request: HttpRequest) -> HttpResponse:
        # Under WSGI an async view still runs in an event loop, where the lazy
        # user could not load itself either. `auser()` (used by login_required on
        # async views) then answers with the same user instead of loading it again.
        user = get_user(request)
        request.user = user

        async def auser() -> object:
            return user

        request.auser = auser
        return get_response(request)  # type: ignore[return-value]

    return sync_middleware


resolve_user_middleware.sync_capable = True  # type: ignore[attr-defined]
resolve_user_middleware.async_capable = True  # type: ignore[attr-defined]


class InlineHooksMixin:
    """Run a `MiddlewareMixin` middleware's hooks in the event loop under ASGI.

    `MiddlewareMixin.__acall__` sends `process_request` and `process_response`
    each to a thread (two `sync_to_async` hops a middleware, seven middleware a
    request). The hooks of the middleware below do no I/O (they read headers and
    cookies and set headers), so calling them directly is safe and saves the hops.
    Under WSGI nothing changes. A subclass whose hook may do I/O in some requests
    says so in `needs_thread`.
    """

    async def __acall__(self, request: HttpRequest) -> HttpResponse:
        response = None
        if hasattr(self, "process_request"):
            response = self.process_request(request)  # type: ignore[attr-defined]
        response = response or await self.get_response(request)  # type: ignore[attr-defined]
        if hasattr(self, "process_response"):
            if self.needs_thread(request, response):
                response = await sync_to_async(self.process_response, thread_sensitive=True)(  # type: ignore[attr-defined]
                    request, response
                )
            else:
                response = self.process_response(request, response)  # type: ignore[attr-defined]
        return response

    def needs_thread(self, request: HttpRequest, response: HttpResponse) -> bool:
        return False


class SecurityMiddleware(InlineHooksMixin, security.SecurityMiddleware):
    pass


class CommonMiddleware(InlineHooksMixin, common.CommonMiddleware):
    pass


class XFrameOptionsMiddleware(InlineHooksMixin, clickjacking.XFrameOptionsMiddleware):
    pass


class ContentSecurityPolicyMiddleware(InlineHooksMixin, csp.ContentSecurityPolicyMiddleware):
    """Sets a lazy nonce, then builds the policy header from settings."""


class AuthenticationMiddleware(InlineHooksMixin, auth_middleware.AuthenticationMiddleware):
    """`process_request` only installs a lazy `request.user` and `request.auser`."""


class MessageMiddleware(InlineHooksMixin, messages_middleware.MessageMiddleware):
    """Messages live in a signed cookie (`MESSAGE_STORAGE`), so storing them is no I/O."""

    def __init__(self, get_response: Callable) -> None:
        super().__init__(get_response)
        if not issubclass(import_string(settings.MESSAGE_STORAGE), CookieStorage):
            raise ImproperlyConfigured("shop.middleware.MessageMiddleware needs the cookie message storage.")


class SessionMiddleware(InlineHooksMixin, sessions_middleware.SessionMiddleware):
    """Reading a session is async already (`request.auser()`, `session.aget()`); only a
    session that must be saved at the end of the request goes to a thread."""

    def needs_thread(self, request: HttpRequest, response: HttpResponse) -> bool:
        session = getattr(request, "session", None)
        if session is None:
            return False
        return (session.modified or settings.SESSION_SAVE_EVERY_REQUEST) and not session.is_empty()


class CsrfViewMiddleware(InlineHooksMixin, csrf.CsrfViewMiddleware):
    """The token lives in a cookie (`CSRF_USE_SESSIONS` is off), so the request and
    response hooks are no I/O. The view hook of an unsafe request reads the form body,
    which may sit in a temporary file, so it keeps its thread; safe methods are checked
    in the loop."""

    def __init__(self, get_response: Callable) -> None:
        super().__init__(get_response)
        if settings.CSRF_USE_SESSIONS:
            raise ImproperlyConfigured("shop.middleware.CsrfViewMiddleware needs CSRF_USE_SESSIONS off.")
        if iscoroutinefunction(get_response):
            self.process_view = self._aprocess_view  # type: ignore[method-assign]

    async def _aprocess_view(self, request, callback, callback_args, callback_kwargs):
        if request.method in ("GET", "HEAD", "OPTIONS", "TRACE"):
            return super().process_view(request, callback, callback_args, callback_kwargs)
        return await sync_to_async(super().process_view, thread_sensitive=True)(
            request, callback, callback_args, callback_kwargs
        )


STATIC_BLOCK_SIZE = 64 * 1024


async def _file_blocks(file: BinaryIO | None, first: bytes) -> AsyncIterator[bytes]:
    """Yield `first`, then the rest of `file` a block at a time, each read in a thread."""
    block = first
    while block:
        yield block
        if file is None or len(block) < STATIC_BLOCK_SIZE:  # a short read of a file is its end
            return
        block = await asyncio.to_thread(file.read, STATIC_BLOCK_SIZE)


class StaticFilesMiddleware(WhiteNoiseMiddleware):
    """WhiteNoise, able to run in an async stack.

    WhiteNoise's middleware is sync only, so under ASGI Django ran every request's
    whole inner stack through a thread and back. Here a request for anything but a
    static file passes straight through; a static file is served from a thread
    (it opens the file and reads its first block). The body is an async iterator:
    WhiteNoise's file iterator is synchronous, which Django's ASGI handler could only
    consume by reading the whole file into a list in a thread, with a warning each time.
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable) -> None:
        super().__init__(get_response)
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest):
        if self.async_mode:
            return self.__acall__(request)
        return super().__call__(request)

    async def __acall__(self, request: HttpRequest) -> HttpResponse:
        if self.autorefresh:
            static_file = await sync_to_async(self.find_file)(request.path_info)
        else:
            static_file = self.files.get(request.path_info)
        if static_file is not None:
            return await sync_to_async(self._serve_streaming_async)(static_file, request)
        return await self.get_response(request)

    def _serve_streaming_async(self, static_file, request: HttpRequest) -> HttpResponse:
        response = self.serve(static_file, request)
        file = response.file_to_stream  # None for HEAD and 304 (no body); closed with the response
        first = file.read(STATIC_BLOCK_SIZE) if file is not None else b""
        response.streaming_content = _file_blocks(file, first)
        return response


def in_loop_middleware(
    *,
    before: Callable[[HttpRequest], None] | None = None,
    after: Callable[[HttpRequest, HttpResponse], HttpResponse] | None = None,
) -> Callable:
    """Return a middleware, sync and async capable, that calls `before(request)` and
    `after(request, response)` around the view. They must do no I/O: under ASGI they run in
    the event loop."""

    def middleware_factory(
        get_response: Callable[[HttpRequest], HttpResponse | Awaitable[HttpResponse]],
    ) -> Callable:
        if iscoroutinefunction(get_response):

            async def middleware(request: HttpRequest) -> HttpResponse:
                if before is not None:
                    before(request)
                response = await get_response(request)  # type: ignore[misc]
                return after(request, response) if after is not None else response

            return middleware

        def sync_middleware(request: HttpRequest) -> HttpResponse:
            if before is not None:
                before(request)
            response = get_response(request)
            return after(request, response) if after is not None else response  # type: ignore[arg-type]

        return sync_middleware

    middleware_factory.sync_capable = True  # type: ignore[attr-defined]
    middleware_factory.async_capable = True  # type: ignore[attr-defined]
    return middleware_factory


def _forget_unstorable_cookies(request: HttpRequest) -> None:
    """Ignore any cookie whose value PostgreSQL could not store (a NUL, say).

    Such a cookie is never one the shop set; the session middleware would look it up
    as a session key and fail with a server error. Ignored, it is like no cookie at
    all: the visitor gets a fresh session.
    """
    for name, value in list(request.COOKIES.items()):
        if not is_storable(name) or not is_storable(value):
            del request.COOKIES[name]


unstorable_cookie_middleware = in_loop_middleware(before=_forget_unstorable_cookies)


# URL namespaces whose pages show or change personal data: the cart, checkout and
# orders, accounts, the dashboard, the admin (and the inventory API's reservations).
PRIVATE_NAMESPACES = frozenset({"checkout", "account", "dashboard", "admin", "inventory"})


def _mark_private(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    """Send `Cache-Control: no-store, private` (as `never_cache` does) on private pages.

    Decided by the URL namespace the request resolved to, so a page added to one of
    those apps is covered without a decorator of its own; the catalogue keeps its own
    caching.
    """
    match = getattr(request, "resolver_match", None)
    if match is not None and PRIVATE_NAMESPACES.intersection(match.namespaces):
        add_never_cache_headers(response)
    return response


private_pages_middleware = in_loop_middleware(after=_mark_private)
