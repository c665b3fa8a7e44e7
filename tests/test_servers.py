"""Servers that tests start never outlive the test process, however it ends."""

import http.server
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest

from tests.servers import ShopProcess

ROOT = Path(__file__).resolve().parent.parent

# A test process that starts localstripe and the shop (two uvicorn workers) the way the
# fixtures do, says which processes it started, then waits to be killed.
CHILD = """
import os, sys, time
import psutil
from tests.servers import LocalStripe, ShopProcess
stripe = LocalStripe()
shop = ShopProcess(
    database_url=sys.argv[1], env={"DATABASE_POOL_TIMEOUT": "1", "LOG_LEVEL": "CRITICAL"}, workers=2
)
pids = [child.pid for child in psutil.Process().children(recursive=True)]
print(" ".join(map(str, pids)), flush=True)
time.sleep(120)
"""


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def alive(pids: set[int]) -> set[int]:
    running = set()
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                running.add(pid)
        except psutil.NoSuchProcess:
            pass
    return running


@pytest.mark.slow
def test_servers_stop_when_the_test_process_is_killed():
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="config.test_settings")
    # The database is out of reach: /healthz still answers (503), which is all the servers need here.
    database_url = f"postgres://postgres@127.0.0.1:{closed_port()}/shop"
    test_process = subprocess.Popen(
        [sys.executable, "-c", CHILD, database_url],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    started: set[int] = set()
    try:
        line = test_process.stdout.readline()
        started = {int(pid) for pid in line.split()}
        # localstripe, the uvicorn supervisor and its two workers (and multiprocessing's helper).
        assert len(started) >= 4, line
        test_process.send_signal(signal.SIGKILL)  # no finalizer, no atexit: only the kernel can help
        test_process.wait(timeout=10)
        deadline = time.monotonic() + 10
        while alive(started) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert alive(started) == set()
    finally:
        for pid in alive(started):
            os.kill(pid, signal.SIGKILL)
        if test_process.poll() is None:
            test_process.kill()
            test_process.wait()


def test_a_shop_process_on_a_port_another_server_holds_is_not_taken_for_the_shop():
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    other = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=other.serve_forever, daemon=True).start()
    database_url = f"postgres://postgres@127.0.0.1:{closed_port()}/shop"
    try:
        started = time.monotonic()
        with pytest.raises(RuntimeError, match="exited with status"):
            ShopProcess(
                database_url=database_url, env={"LOG_LEVEL": "CRITICAL"}, port=other.server_address[1]
            )
        assert time.monotonic() - started < 25
    finally:
        other.shutdown()
        other.server_close()
