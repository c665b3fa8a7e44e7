"""Faults made at the transport, on loopback: an HTTP proxy in front of an outside API whose
behaviour a test switches while it runs, and a TCP proxy in front of PostgreSQL that a test can cut.

Each proxy runs its own event loop in a thread of the test process.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from dataclasses import dataclass, field
from enum import StrEnum

from tests.servers import free_port


class Fault(StrEnum):
    PASS = "pass"  # forward the request, return the answer
    DOWN = "down"  # nothing listens: connections are refused (open ones are dropped)
    HANG = "hang"  # hold the request, sending nothing, until the fault is switched; then obey the new one
    ERROR = "error"  # answer 500 without forwarding
    GARBAGE = "garbage"  # answer 200 with a body that is not JSON, without forwarding
    TRUNCATED = "truncated"  # start a 200 answer, then drop the connection halfway through its body
    LOSE_ANSWER = "lose_answer"  # forward the request (the work is done), then answer 500 instead


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    fault: Fault


@dataclass
class FaultyProxy:
    """An HTTP proxy on loopback in front of `target`; `set()` switches what it does to requests."""

    target: str
    fault: Fault = Fault.PASS
    # Only requests whose path matches this pattern get the fault; the rest pass.
    only: re.Pattern | None = None
    seen: list[Seen] = field(default_factory=list)
    _busy: int = 0

    def start(self) -> FaultyProxy:
        from aiohttp import ClientSession, web

        async def forward(request: web.Request, body: bytes) -> tuple[int, bytes, str]:
            headers = {
                k: v for k, v in request.headers.items() if k.lower() not in {"host", "content-length"}
            }
            async with self.session.request(
                request.method, self.target + request.path_qs, data=body, headers=headers
            ) as upstream:
                return upstream.status, await upstream.read(), upstream.content_type

        async def handle(request: web.Request) -> web.StreamResponse:
            self._busy += 1
            try:
                return await answer(request)
            finally:
                self._busy -= 1

        async def answer(request: web.Request) -> web.StreamResponse:
            body = await request.read()
            fault = self.fault_for(request.path)
            self.seen.append(Seen(request.method, request.path, fault))
            while fault is Fault.HANG:
                await asyncio.sleep(0.02)
                fault = self.fault_for(request.path)
            if fault is Fault.DOWN:
                request.transport.close()  # a connection opened before the fault: dropped
                return web.Response(status=503)
            if fault is Fault.ERROR:
                return web.json_response({"error": {"type": "api_error", "message": "boom"}}, status=500)
            if fault is Fault.GARBAGE:
                return web.Response(status=200, text="<html><body>Bad gateway</body></html>")
            if fault is Fault.TRUNCATED:
                response = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
                response.content_length = 1000
                await response.prepare(request)
                await response.write(b'{"id": "trunc')
                request.transport.close()
                return response
            # Like a real server, finish the work even if the caller stopped waiting.
            status, payload, content_type = await asyncio.shield(forward(request, body))
            if fault is Fault.LOSE_ANSWER:
                return web.json_response({"error": {"type": "api_error", "message": "lost"}}, status=500)
            return web.Response(status=status, body=payload, content_type=content_type)

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

        async def setup() -> None:
            self.session = ClientSession()
            app = web.Application()
            app.router.add_route("*", "/{tail:.*}", handle)
            self.runner = web.AppRunner(app, access_log=None, handler_cancellation=False)
            await self.runner.setup()
            await self._listen()

        self._run(setup())
        return self

    async def _listen(self) -> None:
        from aiohttp import web

        self.site = web.TCPSite(self.runner, "127.0.0.1", self.port, reuse_address=True)
        await self.site.start()

    def _run(self, coroutine) -> object:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=10)

    def fault_for(self, path: str) -> Fault:
        if self.only is not None and not self.only.search(path):
            return Fault.PASS
        return self.fault

    def set(self, fault: Fault, *, only: str | None = None) -> None:
        """Switch to `fault`, for every request or only those whose path matches `only` (a regex)."""
        was_down = self.fault is Fault.DOWN and self.only is None
        self.only = re.compile(only) if only else None
        self.fault = fault
        down = fault is Fault.DOWN and only is None
        if down and not was_down:
            self._run(self.site.stop())
        elif was_down and not down:
            self._run(self._listen())

    @property
    def busy(self) -> int:
        """Return how many requests the proxy is handling now."""
        return self._busy

    def wait_idle(self, timeout: float = 10.0) -> None:
        """Wait until no request is being handled (e.g. held ones, forwarded once released)."""
        deadline = time.monotonic() + timeout
        while self._busy and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not self._busy, f"{self._busy} requests still in the proxy"

    def stop(self) -> None:
        self.fault, self.only = Fault.PASS, None

        async def cleanup() -> None:
            await self.runner.cleanup()
            await self.session.close()

        self._run(cleanup())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)


@dataclass
class TcpProxy:
    """A TCP relay on loopback (e.g. in front of PostgreSQL) whose connections a test can cut."""

    target_host: str
    target_port: int
    connections: set = field(default_factory=set)

    def start(self) -> TcpProxy:
        self.port = free_port()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self._run(self._listen())
        return self

    async def _listen(self) -> None:
        self.server = await asyncio.start_server(self._relay, "127.0.0.1", self.port, reuse_address=True)

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(
                self.target_host, self.target_port
            )
        except OSError:
            writer.close()
            return
        self.connections.update({writer, upstream_writer})

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            try:
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                sink.close()

        await asyncio.gather(pipe(reader, upstream_writer), pipe(upstream_reader, writer))
        self.connections.difference_update({writer, upstream_writer})

    def _run(self, coroutine) -> object:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=10)

    def cut(self) -> None:
        """Drop every open connection and refuse new ones, as when the database goes away."""

        async def cut() -> None:
            self.server.close()
            for writer in list(self.connections):
                writer.transport.abort()
            self.connections.clear()

        self._run(cut())

    def restore(self) -> None:
        """Accept connections again."""
        self._run(self._listen())

    def stop(self) -> None:
        self.cut()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
