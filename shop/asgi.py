"""The shop's ASGI handler: Django's, with each request's thread reused rather than started anew."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import ThreadSensitiveContext
from django.core.handlers.asgi import ASGIHandler

# Idle request threads kept for the next requests; a burst beyond this starts (and
# then ends) extra threads, as Django does for every request.
IDLE_THREADS_KEPT = 32


class ShopASGIHandler(ASGIHandler):
    """Django's ASGI handler, running each request's thread-sensitive work on a reused thread.

    Django serves every request in a new `ThreadSensitiveContext`, which starts a
    thread at the request's first `sync_to_async` call (its `request_started` signal
    makes one always) and joins it at the end: about half a millisecond a request,
    as much as a cached page costs to render. asgiref lets a context be given its
    executor instead; here it comes from a pool of one-thread executors and goes back
    after the request, as a WSGI server's threads do. Each request still has a thread
    of its own for as long as it runs, so the database connection, which belongs to
    the thread, is returned to the pool by `request_finished` as before.
    """

    def __init__(self) -> None:
        super().__init__()
        self._idle: list[ThreadPoolExecutor] = []

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await super().__call__(scope, receive, send)
        executor = self._idle.pop() if self._idle else ThreadPoolExecutor(1, "request")
        try:
            async with ThreadSensitiveContext(executor=executor):
                await self.handle(scope, receive, send)
        finally:
            if len(self._idle) < IDLE_THREADS_KEPT:
                self._idle.append(executor)
            else:
                executor.shutdown(wait=False)
