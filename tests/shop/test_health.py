"""The health check answers for the database, up or down; pages say when it is out of reach."""

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.servers import ServerProcess

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.django_db
def test_healthz_is_200_when_the_database_answers(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "up"}


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.slow
def test_healthz_is_503_when_the_database_is_down():
    """Run the real server against a database address where nothing listens."""
    port = _closed_port()
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="config.test_settings",
        DATABASE_URL=f"postgres://postgres@127.0.0.1:{_closed_port()}/shop",
        DATABASE_POOL="true",
        DATABASE_POOL_TIMEOUT="1",
    )
    server = ServerProcess(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "config.asgi:application",
            "--port",
            str(port),
            "--lifespan",
            "off",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        status, body = None, b""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as response:
                    status, body = response.status, response.read()
            except urllib.error.HTTPError as error:
                status, body = error.code, error.read()
            except OSError:
                time.sleep(0.2)
                continue
            break
        assert status == 503
        assert b'"database": "down"' in body
        # Any page that needs the database says so plainly, as a 503 worth retrying.
        with pytest.raises(urllib.error.HTTPError) as page:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10)
        assert page.value.code == 503
        assert page.value.headers["Retry-After"] == "10"
        assert b"nothing was changed or charged" in page.value.read()
    finally:
        server.stop(timeout=10)
