"""Real servers on loopback for tests: localstripe, the shop under uvicorn, a delaying proxy."""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import ctypes
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import uvicorn

ROOT = Path(__file__).resolve().parent.parent
RUN_TOKEN_HEADER = "X-Shop-Run-Token"  # what /healthz answers with when SHOP_RUN_TOKEN is set
_PR_SET_PDEATHSIG = 1
_prctl = ctypes.CDLL(None, use_errno=True).prctl if sys.platform == "linux" else None
# Every server process started here and not yet stopped, stopped at the latest when pytest exits.
_running: set[ServerProcess] = set()


def _die_with_parent() -> None:
    """In the child between fork and exec: Linux sends it SIGTERM if the test process dies,
    even by SIGKILL, so no server outlives the run that started it."""
    if _prctl is not None:
        _prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class ServerProcess:
    """A server in its own process group, stopped with everything it started (uvicorn's workers
    too): by `stop()`, by the `with` block, at interpreter exit, or when the test process dies."""

    def __init__(self, command: list[str], **options: object) -> None:
        self.process = subprocess.Popen(
            command,
            start_new_session=True,  # its own process group, killed as one
            preexec_fn=_die_with_parent,
            **options,  # type: ignore[arg-type]
        )
        self.pid = self.process.pid
        _running.add(self)

    def poll(self) -> int | None:
        return self.process.poll()

    def _signal_group(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signum)

    def stop(self, timeout: float = 15.0) -> None:
        """Stop the process group: SIGTERM, then SIGKILL after `timeout`. Safe to call twice."""
        _running.discard(self)
        self._signal_group(signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self._signal_group(signal.SIGKILL)
            self.process.wait(timeout=5)
        self._signal_group(signal.SIGKILL)  # anything the leader started and left behind

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


@atexit.register
def _stop_every_server() -> None:
    for server in list(_running):
        server.stop(timeout=5)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_http(
    url: str, timeout: float = 20.0, *, process: ServerProcess | None = None, token: str = ""
) -> None:
    """Wait until `url` answers (any status). With `process`, fail as soon as it exits; with
    `token`, only an answer carrying it counts (another program on the port is not the shop)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the server for {url} exited with status {process.poll()}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                headers = response.headers
        except urllib.error.HTTPError as error:
            headers = error.headers
        except OSError:
            time.sleep(0.05)
            continue
        if not token or headers.get(RUN_TOKEN_HEADER) == token:
            return
        time.sleep(0.05)
    raise RuntimeError(f"the server started for {url} did not answer within {timeout} s")


@contextlib.contextmanager
def _stopped_on_error(process: ServerProcess):
    """Stop a server that was started but failed to come up (or was interrupted meanwhile)."""
    try:
        yield
    except BaseException:
        process.stop(timeout=5)
        raise


class LocalStripe:
    """localstripe in its own process, state in memory, on a free loopback port."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = ServerProcess(
            [
                sys.executable,
                str(ROOT / "scripts" / "localstripe_server.py"),
                "--port",
                str(self.port),
                "--quiet",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        with _stopped_on_error(self.process):
            wait_for_http(f"{self.url}/js.stripe.com/v3/", process=self.process)

    def stop(self) -> None:
        self.process.stop(timeout=10)


class ThreadedShop:
    """The shop's ASGI app under uvicorn in a thread of the test process, on a pre-bound socket."""

    def __init__(self) -> None:
        from config.asgi import application

        self.socket = socket.socket()
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.socket.bind(("127.0.0.1", 0))
        self.port = self.socket.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(application, lifespan="off", log_level="warning", access_log=False)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True)
        self.thread.start()
        wait_for_http(f"{self.url}/healthz")

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.socket.close()


class ShopProcess:
    """The shop under uvicorn in its own process, production-like (pool on), on the test database."""

    def __init__(
        self, *, database_url: str, env: dict[str, str], workers: int = 1, port: int | None = None
    ) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        full_env = dict(os.environ)
        full_env.update(
            DJANGO_SETTINGS_MODULE="config.test_settings",
            DATABASE_URL=database_url,
            DATABASE_POOL="true",
            DATABASE_POOL_MIN_SIZE="2",
            DATABASE_POOL_MAX_SIZE="20",
            INVENTORY_API_URL=f"{self.url}/inventory/v1",
            SHOP_RUN_TOKEN=secrets.token_urlsafe(16),
        )
        full_env.update(env)
        self.env = full_env
        self.process = ServerProcess(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "config.asgi:application",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--lifespan",
                "off",
                "--workers",
                str(workers),
                "--log-level",
                "warning",
                "--no-access-log",
            ],
            cwd=ROOT,
            env=full_env,
        )
        with _stopped_on_error(self.process):
            wait_for_http(
                f"{self.url}/healthz", timeout=30, process=self.process, token=full_env["SHOP_RUN_TOKEN"]
            )

    def stop(self) -> None:
        self.process.stop(timeout=15)


@dataclass
class DelayProxy:
    """An HTTP proxy on loopback that holds every request for `delay` seconds and logs
    when each one started and finished, to show which calls overlapped."""

    target: str
    name: str
    delay: float
    events: list[tuple[str, str, float]] = field(default_factory=list)
    pending: set = field(default_factory=set)

    def start(self) -> DelayProxy:
        from aiohttp import ClientSession, web

        async def forward(method: str, path: str, body: bytes, headers: dict) -> tuple[int, bytes, str]:
            await asyncio.sleep(self.delay)
            async with ClientSession() as session:
                async with session.request(
                    method, self.target + path, data=body, headers=headers
                ) as upstream:
                    payload = await upstream.read()
            self.events.append(("end", self.name, time.monotonic()))
            return upstream.status, payload, upstream.content_type

        async def handle(request: web.Request) -> web.StreamResponse:
            self.events.append(("start", self.name, time.monotonic()))
            body = await request.read()
            headers = {
                k: v for k, v in request.headers.items() if k.lower() not in {"host", "content-length"}
            }
            # Like a real slow server, finish the work even if the caller gave up waiting.
            work = asyncio.ensure_future(forward(request.method, request.path_qs, body, headers))
            self.pending.add(work)
            work.add_done_callback(self.pending.discard)
            status, payload, content_type = await asyncio.shield(work)
            return web.Response(status=status, body=payload, content_type=content_type)

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.loop = asyncio.new_event_loop()
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handle)
        runner = web.AppRunner(app, access_log=None)
        self.loop.run_until_complete(runner.setup())
        self.loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", self.port).start())
        self.runner = runner
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(timeout=10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
